/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>

#include "allocation.h"
#include "bus-util.h"
#include "doctor.h"
#include "lease.h"
#include "liveness.h"
#include "log.h"
#include "manager.h"
#include "plan.h"
#include "pool.h"
#include "unit-watch-bus.h"
#include "util.h"

/* Strings a client can send us are bounded: owners by lease_owner_is_valid(), the rest here. */
#define BUS_STRING_MAX 4096

static int reply_error_errno(sd_bus_error *error, int r, const char *what)
{
        return sd_bus_error_set_errnof(error, r, "%s: %s", what, strerror(abs(r)));
}

static int method_list_pfs(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        PhysicalFunction *pf;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(osss)");
        if (r < 0)
                return r;
        HASHMAP_FOREACH(pf, m->pfs) {
                const char *p = pf_object_path(pf);

                if (!p)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "(osss)", p, pf->pci, strempty(pf->ifname),
                                          pf_state_to_string(pf->state));
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_list_vfs(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        PhysicalFunction *pf;
        VirtualFunction *vf;
        const char *pool;
        int r;

        r = sd_bus_message_read(message, "s", &pool);
        if (r < 0)
                return r;
        pools_sync(m); /* the deferred flush may not have run since the last change */
        if (!isempty(pool) && !pool_get(m, pool))
                return sd_bus_error_setf(error, SRIOVD_ERROR_NO_SUCH_POOL, "No pool '%.64s'.", pool);

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(osoussb)");
        if (r < 0)
                return r;
        HASHMAP_FOREACH(pf, m->pfs) {
                const char *pp = pf_object_path(pf);

                if (!pp)
                        return -ENOMEM;
                PF_FOREACH_VF(vf, pf) {
                        const char *p;

                        if (!isempty(pool) && !streq(vf->pool, pool))
                                continue;
                        p = vf_object_path(vf);
                        if (!p)
                                return -ENOMEM;
                        r = sd_bus_message_append(reply, "(osoussb)", p, vf->pci, pp, vf->index,
                                                  strempty(vf->ifname), vf->pool, vf->allocated);
                        if (r < 0)
                                return r;
                }
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        manager_heap_check(m); /* a large reply on a big host */
        return sd_bus_send(NULL, reply, NULL);
}

static int method_list_pools(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        Pool *p;
        int r;

        pools_sync(m);
        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(osuu)");
        if (r < 0)
                return r;
        HASHMAP_FOREACH(p, m->pools) {
                _cleanup_free_ char *path = pool_bus_path(p->name);

                if (!path)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "(osuu)", path, p->name, p->total, p->free);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ---- leases ----------------------------------------------------------------------------- */

#define HINT_NAME_MAX 64

/* What the lease is bound to, as the hints ask. */
typedef struct BindHints {
        bool caller;
        const char *unit;
        uint32_t pid;
} BindHints;

#define HINTS_MAX 7

static int parse_hints(sd_bus_message *message, AllocateHints *h, BindHints *ret_bind, sd_bus_error *error)
{
        int r;

        *h = (AllocateHints){.numa_node = -1};
        *ret_bind = (BindHints){};
        r = sd_bus_message_enter_container(message, 'a', "{sv}");
        if (r < 0)
                return r;
        for (unsigned seen = 0;; seen++) {
                const char *key, *contents;

                r = sd_bus_message_enter_container(message, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                /* Seven keys exist. A longer list is no accident, and polkit may pin the
                 * message while it decides. */
                if (seen >= HINTS_MAX)
                        return sd_bus_error_set(error, SRIOVD_ERROR_INVALID_ARGUMENT,
                                                "Too many hints (at most one of each).");
                r = sd_bus_message_read(message, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(message, NULL, &contents);
                if (r < 0)
                        return r;
#define EXPECT(sig)                                                    \
        if (!streq(contents, sig))                                     \
        return sd_bus_error_setf(error, SRIOVD_ERROR_INVALID_ARGUMENT, \
                                 "Hint '%.64s' must be of type '%s', got '%.16s'.", key, sig, contents)
                if (strlen(key) > 32)
                        return sd_bus_error_set(error, SRIOVD_ERROR_INVALID_ARGUMENT, "Unknown hint.");
                if (streq(key, "numa_node")) {
                        EXPECT("i");
                        r = sd_bus_message_read(message, "v", "i", &h->numa_node);
                } else if (streq(key, "pf")) {
                        EXPECT("s");
                        r = sd_bus_message_read(message, "v", "s", &h->pf);
                } else if (streq(key, "pci")) {
                        EXPECT("s");
                        r = sd_bus_message_read(message, "v", "s", &h->pci);
                } else if (streq(key, "bind_to_caller")) {
                        int b;

                        EXPECT("b");
                        r = sd_bus_message_read(message, "v", "b", &b);
                        ret_bind->caller = b;
                } else if (streq(key, "bind_unit")) {
                        EXPECT("s");
                        r = sd_bus_message_read(message, "v", "s", &ret_bind->unit);
                } else if (streq(key, "bind_pid")) {
                        EXPECT("u");
                        r = sd_bus_message_read(message, "v", "u", &ret_bind->pid);
                } else if (streq(key, "allow_degraded")) {
                        int b;

                        EXPECT("b");
                        r = sd_bus_message_read(message, "v", "b", &b);
                        h->allow_degraded = b;
                } else
                        return sd_bus_error_setf(error, SRIOVD_ERROR_INVALID_ARGUMENT,
                                                 "Unknown hint '%.64s' (known: numa_node, pf, pci, "
                                                 "bind_to_caller, bind_unit, bind_pid, allow_degraded).",
                                                 key);
#undef EXPECT
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;
        /* A PCI address is 12 characters, an interface name 15. */
        if ((h->pf && strlen(h->pf) > HINT_NAME_MAX) || (h->pci && strlen(h->pci) > HINT_NAME_MAX))
                return sd_bus_error_setf(error, SRIOVD_ERROR_INVALID_ARGUMENT,
                                         "Hints 'pf' and 'pci' are at most %d characters.", HINT_NAME_MAX);
        if (ret_bind->unit && !unit_name_is_valid(ret_bind->unit))
                return sd_bus_error_setf(error, SRIOVD_ERROR_INVALID_ARGUMENT,
                                         "Hint 'bind_unit' is not a unit name (like 'foo.service').");
        if (ret_bind->pid == 1 || ret_bind->pid > INT32_MAX)
                return sd_bus_error_set(error, SRIOVD_ERROR_INVALID_ARGUMENT,
                                        "Hint 'bind_pid' must name a process other than PID 1.");
        return 0;
}

/* Mutate and reply, once the unit (if any) is known to run as `invocation`. */
static int allocate_bound(Manager *m, sd_bus_message *message, const char *pool, const char *owner,
                          const AllocateHints *h, const BindHints *bind, const char *invocation,
                          sd_bus_error *error)
{
        _cleanup_close_ int pidfd = -EBADF;
        _cleanup_free_ char *path = NULL;
        char boot_id[ID128_STRING_MAX] = "";
        LeaseBinding b = {};
        VirtualFunction *vf;
        int r;

        b.caller = bind->caller ? sd_bus_message_get_sender(message) : NULL;
        if (b.caller) {
                /* Watched before the lease exists: one that has left by now (its leaving is
                 * still on its way to us, or the bus's answer says so) gets its lease ended
                 * right after, never one that nothing would end. */
                r = manager_track_caller(m, b.caller);
                if (r < 0)
                        return reply_error_errno(error, r, "Cannot watch the caller");
        }
        if (bind->pid > 0) {
                /* Same rule for a process: watched (pidfd) before the lease is written. */
                r = process_identify(NULL, (pid_t) bind->pid, &pidfd, &b.pid_start, boot_id);
                if (r == -ESRCH)
                        return sd_bus_error_setf(error, SRIOVD_ERROR_INVALID_ARGUMENT,
                                                 "No process %" PRIu32 "; no lease bound to it.", bind->pid);
                if (r == -EACCES)
                        return sd_bus_error_setf(error, SRIOVD_ERROR_INVALID_ARGUMENT,
                                                 "Process %" PRIu32
                                                 " is hidden from sriovd (another user's: "
                                                 "its start time cannot be read); no lease bound to it.",
                                                 bind->pid);
                if (r < 0)
                        return reply_error_errno(error, r, "Cannot identify the process to bind to");
                r = manager_watch_pid(m, bind->pid, b.pid_start, TAKE_FD(pidfd));
                if (r < 0)
                        return reply_error_errno(error, r, "Cannot watch the process");
                b.pid = bind->pid;
                b.boot_id = boot_id;
        }
        if (bind->unit) {
                b.unit = bind->unit;
                b.unit_invocation = invocation;
        }
        r = manager_allocate_bound(m, pool, owner, h, &b, &vf);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, SRIOVD_ERROR_NO_SUCH_POOL, "No pool '%.64s'.", pool);
        if (r == -EBUSY && h->pci && (vf = manager_get_vf(m, h->pci)) && vf->allocated)
                /* The one VF asked for is another consumer's: say whose (Owner is public). */
                return sd_bus_error_setf(error, SRIOVD_ERROR_POOL_EXHAUSTED,
                                         "VF %s is leased to '%.64s'; no lease for '%.64s'.", vf->pci,
                                         strempty(vf->owner), owner);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, SRIOVD_ERROR_POOL_EXHAUSTED,
                                         "No free, healthy VF in pool '%.64s'%s.", pool,
                                         h->numa_node >= 0 || h->pf || h->pci ? " matching the hints" : "");
        if (r < 0)
                return reply_error_errno(error, r, "Cannot record lease");
        path = vf_bus_path(vf);
        if (!path)
                return -ENOMEM;
        return sd_bus_reply_method_return(message, "o", path);
}

static void message_unref(void *p)
{
        sd_bus_message_unref(p);
}

/* systemd answered about the unit an Allocate binds to: read the call again, then go on. */
static int on_allocate_unit_state(Manager *m, const char *unit, const char *active_state,
                                  const char *invocation, const sd_bus_error *e, void *userdata)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *message = userdata;
        const char *pool, *owner;
        AllocateHints h;
        BindHints bind;
        int r;

        if (e)
                r = sd_bus_error_setf(&error, SRIOVD_ERROR_INVALID_ARGUMENT,
                                      "Cannot ask systemd about unit %s: %s", unit, e->message);
        else if (!unit_active_state_is_running(active_state) || isempty(invocation))
                r = sd_bus_error_setf(&error, SRIOVD_ERROR_INVALID_ARGUMENT,
                                      "Unit %s is not running (%s); no lease bound to it.", unit,
                                      active_state);
        else {
                r = sd_bus_message_rewind(message, true);
                if (r >= 0)
                        r = sd_bus_message_read(message, "ss", &pool, &owner);
                if (r >= 0)
                        r = parse_hints(message, &h, &bind, &error);
                if (r >= 0)
                        r = allocate_bound(m, message, pool, owner, &h, &bind, invocation, &error);
        }
        if (r < 0)
                (void) sd_bus_reply_method_errno(message, r, &error);
        return 0;
}

static int method_allocate(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        const char *pool, *owner;
        AllocateHints h;
        BindHints bind;
        int r;

        /* validate → authorize → mutate → reply */
        r = sd_bus_message_read(message, "ss", &pool, &owner);
        if (r < 0)
                return r;
        if (!lease_owner_is_valid(owner))
                return sd_bus_error_set(error, SRIOVD_ERROR_INVALID_ARGUMENT,
                                        "Owner must be 1-255 bytes of printable UTF-8.");
        if (strlen(pool) > BUS_STRING_MAX)
                return sd_bus_error_set(error, SRIOVD_ERROR_INVALID_ARGUMENT, "Pool name too long.");
        r = parse_hints(message, &h, &bind, error);
        if (r < 0)
                return r;
        pools_sync(m);
        if (!pool_get(m, pool))
                return sd_bus_error_setf(error, SRIOVD_ERROR_NO_SUCH_POOL, "No pool '%.64s'.", pool);

        r = bus_verify_manage(m, message, method_allocate, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit asked: handled, the reply comes when it answers */

        if (!bind.unit)
                return allocate_bound(m, message, pool, owner, &h, &bind, NULL, error);

        /* Bound to a unit: watch it first (as for a caller), then ask systemd whether and as
         * which run (InvocationID) it runs; the lease is made when it answers. */
        r = unit_watch_add(m, bind.unit);
        if (r < 0)
                return reply_error_errno(error, r, "Cannot watch the unit");
        r = unit_watch_query(m, bind.unit, on_allocate_unit_state, sd_bus_message_ref(message),
                             message_unref);
        if (r < 0)
                return reply_error_errno(error, r, "Cannot ask systemd about the unit");
        return 1;
}

static int release_one(Manager *m, VirtualFunction *vf, sd_bus_error *error)
{
        int r;

        r = manager_release_vf(m, vf);
        if (r < 0)
                return reply_error_errno(error, r, "Cannot remove lease");
        return 0;
}

static int method_release(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        const char *path, *owner;
        VirtualFunction *vf;
        int r;

        r = sd_bus_message_read(message, "os", &path, &owner);
        if (r < 0)
                return r;
        vf = vf_from_bus_path(m, path);
        if (!vf)
                return sd_bus_error_setf(error, SRIOVD_ERROR_INVALID_ARGUMENT, "No VF at %.128s.", path);
        if (!vf->allocated)
                return sd_bus_error_setf(error, SRIOVD_ERROR_NOT_ALLOCATED, "VF %s is not allocated.",
                                         vf->pci);
        if (!streq_ptr(vf->owner, owner))
                return sd_bus_error_setf(error, SRIOVD_ERROR_NOT_OWNER, "VF %s is not allocated to '%.64s'.",
                                         vf->pci, owner);
        r = bus_verify_manage(m, message, method_release, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit asked: handled, the reply comes when it answers */
        r = release_one(m, vf, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

static int method_release_owner(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        const char *owner;
        unsigned n = 0;
        int r;

        r = sd_bus_message_read(message, "s", &owner);
        if (r < 0)
                return r;
        if (!lease_owner_is_valid(owner))
                return sd_bus_error_set(error, SRIOVD_ERROR_INVALID_ARGUMENT,
                                        "Owner must be 1-255 bytes of printable UTF-8.");
        r = bus_verify_manage(m, message, method_release_owner, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit asked: handled, the reply comes when it answers */
        r = manager_release_owner(m, owner, &n);
        if (r < 0)
                return reply_error_errno(error, r, "Cannot remove leases");
        return sd_bus_reply_method_return(message, "u", n);
}

void manager_caller_gone(Manager *m, const char *caller)
{
        BusState *b = m->hooks_data;
        _cleanup_free_ char *name = NULL;
        unsigned n = 0;
        int r;

        name = b ? hashmap_remove(b->bound_callers, caller) : NULL;
        if (!name)
                return;
        r = manager_release_caller(m, name, &n);
        if (r < 0)
                /* Those not ended stay on disk and in the model alike; the next start ends
                 * them (the client is gone by then). */
                log_error_errno(r, "Bus client %s went away; released %u bound lease(s), the rest stay: %m",
                                name, n);
        else
                log_info("Bus client %s went away, released %u bound lease(s).", name, n);
}

/* A client not known to be connected, asked after: "who owns this name?" */
typedef struct CallerCheck {
        Manager *manager;
        char name[];
} CallerCheck;

/* An error means the client is gone (it left while we were down, or before we looked). One
 * that leaves after the answer is told by NameOwnerChanged, whose match was on the bus
 * before the question. */
static int on_caller_owner(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        CallerCheck *c = userdata;

        if (!sd_bus_message_is_method_error(reply, NULL))
                return 0;
        log_debug("Bus client %s: %s", c->name, sd_bus_message_get_error(reply)->message);
        manager_caller_gone(c->manager, c->name);
        return 0;
}

int manager_track_caller(Manager *m, const char *caller)
{
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *name = NULL;
        BusState *b = m->hooks_data;
        CallerCheck *c;
        int r;

        if (hashmap_get(b->bound_callers, caller))
                return 0;
        name = strdup(caller);
        if (!name)
                return -ENOMEM;
        /* Identified and not gone since: connected now, and its leaving is a signal still to
         * come (the bus keeps a client's calls and its NameOwnerChanged in order). Anyone
         * else is asked, and the loop goes on. */
        if (!bus_caller_is_known(caller)) {
                c = malloc(offsetof(CallerCheck, name) + strlen(caller) + 1);
                if (!c)
                        return -ENOMEM;
                c->manager = m;
                strcpy(c->name, caller);
                r = sd_bus_call_method_async(b->bus, &slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                             "org.freedesktop.DBus", "GetNameOwner", on_caller_owner, c, "s",
                                             caller);
                if (r < 0) {
                        free(c);
                        return r;
                }
                (void) sd_bus_slot_set_destroy_callback(slot, free);
                (void) sd_bus_slot_set_floating(slot, true);
        }
        r = hashmap_put(b->bound_callers, name, name);
        if (r < 0)
                return r;
        TAKE_PTR(name);
        return 0;
}

void bus_bound_callers_free(BusState *b)
{
        char *name;

        HASHMAP_FOREACH(name, b->bound_callers)
                free(hashmap_remove(b->bound_callers, name));
        b->bound_callers = hashmap_free(b->bound_callers);
}

void bus_leases_loaded(Manager *m)
{
        _cleanup_(strv_freep) char **units = NULL;
        int r;

        /* Leases bound to a bus connection from before a restart: re-watch them, they end
         * when that client is gone, or when the bus answers that it already is (it went
         * away while we were down). */
        LEASE_STORE_FOREACH(l, m->leases) {
                if (!l->bind_to_caller || isempty(l->caller))
                        continue;
                r = manager_track_caller(m, l->caller);
                if (r < 0)
                        log_warning_errno(r, "Cannot watch bus client %s, its leases stay: %m", l->caller);
        }
        /* Leases bound to a run of a systemd unit: ask systemd how that unit is now, and
         * follow it (unit-watch-bus.c); a run that ended while we were down ends them. */
        LEASE_STORE_FOREACH(l, m->leases) {
                if (isempty(l->bind_unit) || strv_contains(units, l->bind_unit))
                        continue;
                if (strv_extend(&units, l->bind_unit) < 0) {
                        log_oom();
                        return;
                }
        }
        STRV_FOREACH(u, units) {
                r = manager_watch_unit(m, *u);
                if (r < 0)
                        log_warning_errno(r, "Cannot watch unit %s, its leases stay: %m", *u);
        }
}

static int method_reload(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        int r;

        r = bus_verify_manage(m, message, method_reload, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit asked: handled, the reply comes when it answers */
        r = manager_reload(m);
        if (r < 0)
                return reply_error_errno(error, r, "Reload failed");
        return sd_bus_reply_method_return(message, NULL);
}

char *plan_item_bus_path(const PlanItem *i)
{
        char *p = NULL;

        switch (i->object) {
        case PLAN_OBJECT_PF:
                return sd_bus_path_encode(SRIOVD_PF_PREFIX, i->pci, &p) < 0 ? NULL : p;
        case PLAN_OBJECT_VF:
                return sd_bus_path_encode(SRIOVD_VF_PREFIX, i->pci, &p) < 0 ? NULL : p;
        default:
                return strdup(SRIOVD_BUS_PATH);
        }
}

static int method_plan(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        Manager *m = userdata;
        int r;

        r = manager_plan(m, &plan);
        if (r < 0)
                return reply_error_errno(error, r, "Cannot plan");
        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < plan->n_items; i++) {
                _cleanup_free_ char *path = plan_item_bus_path(&plan->items[i]);

                if (!path)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "(sss)", path, plan->items[i].action,
                                          plan->items[i].reason);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int property_get_version(sd_bus *bus, const char *path, const char *iface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_state(sd_bus *bus, const char *path, const char *iface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", manager_state_to_string(m->state));
}

static int property_get_files(sd_bus *bus, const char *path, const char *iface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        return sd_bus_message_append_strv(reply, m->config ? m->config->files : NULL);
}

static int property_get_errors(sd_bus *bus, const char *path, const char *iface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        return sd_bus_message_append_strv(reply, m->config ? m->config->errors : NULL);
}

/* Reading is open to every local user (SPEC §4): without SD_BUS_VTABLE_UNPRIVILEGED sd-bus
 * itself refuses a method to callers lacking CAP_SYS_ADMIN. The mutating methods are marked
 * too and authorize in the method (root or polkit), never by capability. */
const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ConfigFiles", "as", property_get_files, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ConfigErrors", "as", property_get_errors, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("ListPhysicalFunctions", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(osss)", pfs),
                                method_list_pfs, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListVirtualFunctions", SD_BUS_ARGS("s", pool),
                                SD_BUS_RESULT("a(osoussb)", vfs), method_list_vfs,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListPools", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(osuu)", pools),
                                method_list_pools, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Allocate", SD_BUS_ARGS("s", pool, "s", owner, "a{sv}", hints),
                                SD_BUS_RESULT("o", vf), method_allocate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Release", SD_BUS_ARGS("o", vf, "s", owner), SD_BUS_NO_RESULT,
                                method_release, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseOwner", SD_BUS_ARGS("s", owner), SD_BUS_RESULT("u", released),
                                method_release_owner, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Plan", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sss)", changes), method_plan,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        /* doctor-bus.c */
        SD_BUS_METHOD_WITH_ARGS("Diagnose", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssss)", checks),
                                bus_method_diagnose, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
