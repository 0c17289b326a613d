/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "config.h"
#include "hashmap.h"
#include "job.h"
#include "netlink.h"
#include "pf.h"

typedef struct UdevWatch UdevWatch;
typedef struct LeaseStore LeaseStore;
typedef struct PciNames PciNames;

typedef struct Manager Manager;
typedef struct Pool Pool;

/* Observers of the model (the D-Bus layer, bus-util.c): the model calls them and knows
 * nothing else. Every member may be NULL. Data flows one way: the model changes, then tells;
 * an observer reads the model, and acts on it only through the model's own functions (as a
 * D-Bus method does), never by writing its fields. */
typedef struct ManagerHooks {
        void (*pf_added)(Manager *m, PhysicalFunction *pf);
        void (*pf_removed)(Manager *m, PhysicalFunction *pf);
        /* Some observable property of the object moved (State, NumVFs, Driver, ...). */
        void (*pf_changed)(Manager *m, PhysicalFunction *pf);
        void (*vf_added)(Manager *m, VirtualFunction *vf);
        void (*vf_removed)(Manager *m, VirtualFunction *vf);
        void (*vf_changed)(Manager *m, VirtualFunction *vf);
        /* Pools (pool.c): a name appeared, its counts moved, it went away (p is freed after). */
        void (*pool_added)(Manager *m, Pool *p);
        void (*pool_changed)(Manager *m, Pool *p);
        void (*pool_removed)(Manager *m, Pool *p);
        void (*manager_changed)(Manager *m);
        /* The lease store was opened at start, before any VF exists: an observer that ends
         * leases on its own events (a bus client leaving) picks up the stored ones here. */
        void (*leases_loaded)(Manager *m);
        /* Output the observer has queued and not sent yet (D-Bus messages): the heap is
         * trimmed after a burst only once they are gone (manager.c, on_trim()). */
        size_t (*n_queued)(Manager *m);
        void (*manager_free)(Manager *m);
} ManagerHooks;

typedef enum ManagerState {
        MANAGER_STATE_STARTING,
        MANAGER_STATE_RUNNING,
        MANAGER_STATE_DEGRADED,
        _MANAGER_STATE_MAX,
        _MANAGER_STATE_INVALID = -EINVAL,
} ManagerState;

typedef struct ManagerOptions {
        const char *root;      /* alternative root for config (and machine-id); NULL = / */
        const char *state_dir; /* NULL = SRIOVD_STATE_DIR */
        const char *cdi_dir;   /* CDI specs of leased VFs (cdi.c); NULL = none written */
        const char *hint_dir;  /* udev hints for pooled VFs (netdev-hints.c); NULL = none */
        Netlink *netlink;      /* NULL = a real rtnetlink socket; the manager takes ownership */
        bool no_netlink_monitor;
        bool no_notify;         /* don't sd_notify (tests) */
        bool no_udev_monitor;   /* tests that feed events by hand */
        bool kernel_uevents;    /* also hear a new PF from the kernel's uevents (manager.c) */
        bool pci_names_no_hwdb; /* deterministic names for tests */
        const char *sys_root;   /* where Diagnose finds /sys and /proc; NULL = real ones */
        const char *proc_root;
} ManagerOptions;

struct Manager {
        sd_event *event;

        char *root;
        char *state_dir;
        char *cdi_dir;  /* NULL: no CDI specs */
        char *hint_dir; /* NULL: no udev hints */
        ConfigSet *config;
        ConfigSet **retained; /* older sets still used by PFs whose file is now rejected */
        size_t n_retained;

        UdevWatch *udev;
        Netlink *netlink;
        PciNames *pci_names;
        JobRunner *jobs;
        LeaseStore *leases;
        /* Plan()'s parse of the drop-ins, kept while their fingerprint holds. */
        ConfigSet *plan_config;
        uint64_t plan_config_fingerprint;
        uint64_t plan_config_loads; /* for tests */
        /* Bumped on every change the model announces: read paths cache per generation. */
        uint64_t model_generation;
        /* Process and unit watches of bound leases (liveness.c). */
        struct Liveness *liveness;

        Hashmap *pfs;          /* PCI address -> PhysicalFunction */
        Hashmap *vfs;          /* PCI address -> VirtualFunction */
        Hashmap *ifindexes;    /* PF ifindex -> PhysicalFunction */
        Hashmap *vf_ifindexes; /* VF netdev ifindex -> VirtualFunction */
        Hashmap *pools;        /* name -> Pool (pool.c) */
        Hashmap *busy_pcis;    /* PCI address -> count of jobs writing its sysfs (reconcile.c) */
        /* Parent PCI address -> UnclaimedNetdev (manager.c): netdevs rtnetlink announced on
         * PCI functions the model does not know as VFs (yet). */
        Hashmap *unclaimed_netdevs;
        uint64_t netdevs_claimed; /* new VFs whose netdev came from rtnetlink, not sysfs */
        uint64_t pf_generation;
        /* Netlink steps queued on the asynchronous queue and not answered yet (reconcile.c);
         * they name their PF by address and generation, never by pointer. */
        struct NetlinkStep *netlink_steps;

        sd_event_source *reconcile_source; /* defer: drains dirty PFs, coalescing bursts */
        sd_event_source *sigterm_source, *sigint_source, *sighup_source;

        uint8_t machine_key[16]; /* keys stable MACs/GUIDs; from machine-id */
        bool notify;
        bool status_sent; /* STATUS= sent for model_generation status_generation */
        uint64_t status_generation;
        bool initial_done; /* READY=1 sent */
        sd_event_source *startup_deadline;
        sd_event_source *rdma_retry_source; /* rdma.c: soft RDMA devices not mapped yet */
        unsigned rdma_retries;
        /* RDMA devices the last mapping found (rdma-assign.c), -1 before one or if it failed.
         * With none, a new VF or a moved netdev cannot change the mapping: only a device's own
         * uevent (or a resync) can, so those alone re-map. */
        int rdma_n_devices;
        /* rtnetlink has named a netdev's parent device (Linux >= 5.15): link events then tell
         * of every netdev on a PF or VF, and udevd's "net" uevents are heard only while RDMA
         * mapping needs them (manager_update_net_uevents()). */
        bool links_name_parents;
        bool net_filter_failed; /* the monitor's filter could not be changed: net stays on */
        ManagerState state;
        /* VFs this reconcile pass may still read from sysfs (pf.c): the rest waits for the next
         * pass, so VF creation on many PFs never holds the loop (and D-Bus) for long. */
        unsigned vf_reads_left;
        uint64_t n_reconcile_runs;   /* reconcile_pf() calls */
        uint64_t n_reconcile_passes; /* reconcile loop iterations (benches) */

        bool no_udev_monitor, no_netlink_monitor;
        bool kernel_uevents;
        bool pci_names_used;        /* pf.c looked names up: drop pci.ids after this pass */
        bool rdma_stale;            /* re-map RDMA devices before the next reconcile (rdma.c) */
        char *sys_root, *proc_root; /* for Diagnose (doctor.c); NULL = / */
        const ManagerHooks *hooks;
        void *hooks_data;              /* the observer's own state (bus-util.c: the connection) */
        sd_event_source *pools_source; /* defer: recounts pools after changes (pool.c) */
        /* Give the heap's free pages back once settled after a burst (manager.c, on_trim()):
         * when the loop goes idle, or after a later event while the bus still sends. */
        sd_event_source *trim_source, *trim_post_source;
        unsigned vf_churn;      /* VFs added and removed since the last trim */
        unsigned trim_vf_churn; /* that many make a burst: MANAGER_TRIM_VF_CHURN (tests lower it) */
        uint64_t n_trims;       /* malloc_trim() calls (tests, benches) */
        long rss_trimmed_kib;   /* RSS right after the last trim; 0: none yet */
};

/* VFs created or destroyed that make the heap worth trimming once the host is settled. */
#define MANAGER_TRIM_VF_CHURN 256u
/* After a first trim: RSS grown back by that much since, found settled, is trimmed again. */
#define MANAGER_TRIM_REGROWTH_KIB 2048L

/* VFs read (whole, or their stale parts) per reconcile pass: 128 VFs are ~1,000 sysfs
 * reads, a few ms on a real kernel. */
#define MANAGER_VF_READS_PER_PASS 128u

int manager_new(const ManagerOptions *o, Manager **ret);

Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Enumerates devices, loads config, starts monitors. Reconcile runs from the event loop. */
int manager_start(Manager *m);
/* Loads a fresh config set and swaps it in; PFs whose owner changed are re-planned. */
int manager_reload(Manager *m);
/* Resync everything from the kernel (after ENOBUFS / monitor overflow). */
void manager_resync(Manager *m);

PhysicalFunction *manager_get_pf(Manager *m, const char *pci);
VirtualFunction *manager_get_vf(Manager *m, const char *pci);
/* Whether rtnetlink announced a netdev on this new VF's PCI function before the VF was
 * added (manager.c, on_link_event()); manager_claim_netdev() then gives the VF its facts. */
bool manager_has_unclaimed_netdev(Manager *m, const char *pci);
void manager_claim_netdev(Manager *m, VirtualFunction *vf);
int manager_add_pf(Manager *m, const char *syspath, PhysicalFunction **ret);
void manager_remove_pf(Manager *m, PhysicalFunction *pf);
void manager_pf_dirty(Manager *m, PhysicalFunction *pf);
/* One reconcile pass over PF alone, now, instead of after the pending events (the other
 * dirty PFs keep waiting for the deferred pass). */
void manager_reconcile_pf_now(Manager *m, PhysicalFunction *pf);
/* The PF's VF table was read (reconcile.c): match its declaration again (the permanent MAC
 * may be what matches it) and announce what moved. */
void manager_pf_link_read(Manager *m, PhysicalFunction *pf);
/* Runs the event loop until cond(userdata) is true or the deadline (µs, CLOCK_MONOTONIC)
 * passes; for tests and tools. Returns 1 if the condition became true, 0 on timeout. */
int manager_run_until(Manager *m, bool (*cond)(Manager *m, void *userdata), void *userdata, uint64_t usec);
/* True once every PF is in a settled state (configured, blocked, failed, unmanaged). */
bool manager_is_settled(Manager *m);
void manager_update_state(Manager *m);

/* Called by the rest of the model whenever an object's observable state changed. */
void manager_pf_changed(Manager *m, PhysicalFunction *pf);
void manager_vf_changed(Manager *m, VirtualFunction *vf);
void manager_vf_added(Manager *m, VirtualFunction *vf);
void manager_vf_removed(Manager *m, VirtualFunction *vf);
/* A large reply was built (a listing of every VF): once sent, trim the heap if it grew back
 * since the last trim (on_trim()). */
void manager_heap_check(Manager *m);

DECLARE_STRING_TABLE(manager_state, ManagerState);
