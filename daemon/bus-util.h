/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "hashmap.h"
#include "manager.h"
#include "plan.h"
#include "pool.h"

#define SRIOVD_BUS_NAME               "org.sriovd1"
#define SRIOVD_BUS_PATH               "/org/sriovd1"
#define SRIOVD_PF_PREFIX              "/org/sriovd1/pf"
#define SRIOVD_VF_PREFIX              "/org/sriovd1/vf"
#define SRIOVD_POOL_PREFIX            "/org/sriovd1/pool"
#define SRIOVD_MANAGER_IFACE          "org.sriovd1.Manager"
#define SRIOVD_PF_IFACE               "org.sriovd1.PhysicalFunction"
#define SRIOVD_VF_IFACE               "org.sriovd1.VirtualFunction"
#define SRIOVD_POOL_IFACE             "org.sriovd1.Pool"

#define SRIOVD_ERROR_NO_SUCH_POOL     "org.sriovd1.Error.NoSuchPool"
#define SRIOVD_ERROR_POOL_EXHAUSTED   "org.sriovd1.Error.PoolExhausted"
#define SRIOVD_ERROR_NOT_ALLOCATED    "org.sriovd1.Error.NotAllocated"
#define SRIOVD_ERROR_NOT_OWNER        "org.sriovd1.Error.NotOwner"
#define SRIOVD_ERROR_IN_USE           "org.sriovd1.Error.InUse"
#define SRIOVD_ERROR_INVALID_ARGUMENT "org.sriovd1.Error.InvalidArgument"

/* The bus layer: the model (manager.c and below) never includes this header. It reads the
 * model and hears of changes through the ManagerHooks that bus_setup() installs. */

/* The bus layer's state, hung on the Manager (m->hooks_data) by bus_setup(). */
typedef struct DiagnoseCache DiagnoseCache;

typedef struct BusState {
        sd_bus *bus;
        sd_event_source *flush;
        Hashmap *dirty_pfs, *dirty_vfs; /* PCI address -> object */
        Hashmap *new_vfs;               /* PCI address -> VF not announced yet */
        bool manager_dirty;
        /* Unique names of the bus clients holding bind_to_caller leases (manager-bus.c): name
         * -> the same string. They end when the bus says the name lost its owner. */
        Hashmap *bound_callers;
        DiagnoseCache *diagnose_cache; /* doctor-bus.c */
} BusState;

/* Connects to the system bus (or `address`), exports every object and requests the name. */
int bus_setup(Manager *m, const char *address);
/* The part of bus_setup() after connecting: installs the hooks and exports every object on
 * bus (a reference is taken). For tests and fuzzers that bring their own connection. */
int bus_attach(Manager *m, sd_bus *bus);
/* The connection bus_setup() made; NULL before. */
sd_bus *bus_get(Manager *m);

/* Watches a bus client; its bind_to_caller leases end when it disconnects (manager-bus.c).
 * Never waits for the bus: a client not known to be connected is asked after, and its
 * leases end when the answer says it is gone. */
int manager_track_caller(Manager *m, const char *unique_name);
/* The bus says unique_name lost its owner: its bound leases end (manager-bus.c). */
void manager_caller_gone(Manager *m, const char *unique_name);
void bus_bound_callers_free(BusState *b);
/* Whether the bus layer knows unique_name as connected now: it was identified (its uid
 * asked of the bus) and has not left since (bus-util.c). */
bool bus_caller_is_known(const char *unique_name);
/* ManagerHooks.leases_loaded: re-watches the clients of stored bind_to_caller leases and ends
 * the leases of those gone while we were down (manager-bus.c). */
void bus_leases_loaded(Manager *m);

/* ManagerHooks for pools: ObjectManager signals and PropertiesChanged (pool-bus.c). */
void pool_bus_added(Manager *m, Pool *p);
void pool_bus_changed(Manager *m, Pool *p);
void pool_bus_removed(Manager *m, Pool *p);

/* The ObjectManager on SRIOVD_BUS_PATH, GetManagedObjects built from the model (objects-bus.c). */
int bus_add_object_manager(Manager *m);

/* Object paths; the caller frees. */
char *pf_bus_path(const PhysicalFunction *pf);
char *vf_bus_path(const VirtualFunction *vf);
char *pool_bus_path(const char *name);
/* The same without an allocation per call. A PF's is kept in the PF (NULL only on OOM), valid
 * while it lives; a VF's is in a buffer of the bus layer's, valid until the next call of
 * vf_object_path() (append it to the message at once). */
const char *pf_object_path(PhysicalFunction *pf);
const char *vf_object_path(VirtualFunction *vf);

/* Authorization of a mutating call: 1 = go on, 0 = the reply comes later (polkit asked; the
 * method is re-dispatched when it answers), < 0 = error already set. */
int bus_verify_manage(Manager *m, sd_bus_message *message, sd_bus_message_handler_t handler,
                      sd_bus_error *error);

/* Getter for a C `bool` field (userdata + offset). sd-bus's default getter for "b" reads an
 * int: 4 bytes, of which 3 belong to the fields that follow the bool. */
int bus_property_get_bool(sd_bus *bus, const char *path, const char *iface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error);

extern const sd_bus_vtable manager_vtable[];
extern const sd_bus_vtable pf_vtable[];
/* VirtualFunction's vtable: fixed members plus one property per vf-attr.c property, built
 * once on first use. */
const sd_bus_vtable *vf_bus_vtable(void);
extern const sd_bus_vtable pool_vtable[];

int pf_bus_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                sd_bus_error *error);
int pf_bus_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);
int vf_bus_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                sd_bus_error *error);
int vf_bus_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);
int pool_bus_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                  sd_bus_error *error);
int pool_bus_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);

VirtualFunction *vf_from_bus_path(Manager *m, const char *path);
/* The object a Plan item is about, as Manager.Plan() names it (manager-bus.c); caller frees. */
char *plan_item_bus_path(const PlanItem *i);

/* Manager.Diagnose() → a(ssss) (doctor-bus.c). */
int bus_method_diagnose(sd_bus_message *message, void *userdata, sd_bus_error *error);
DiagnoseCache *diagnose_cache_free(DiagnoseCache *c);
