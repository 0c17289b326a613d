/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>

#include "allocation.h"
#include "bus-util.h"
#include "lease.h"
#include "liveness.h"
#include "log.h"
#include "unit-watch-bus.h"
#include "util.h"

#define SYSTEMD_NAME      "org.freedesktop.systemd1"
#define SYSTEMD_PATH      "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER   "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT      "org.freedesktop.systemd1.Unit"
#define SYSTEMD_UNIT_PATH "/org/freedesktop/systemd1/unit"

typedef struct UnitWatch {
        char *unit;
        char *path;
        sd_bus_slot *match; /* PropertiesChanged of the unit */
} UnitWatch;

typedef struct UnitWatches {
        Manager *manager;
        UnitWatch *watches;
        size_t n_watches;
        sd_bus_slot *job_removed, *unit_removed;
        bool subscribed;
} UnitWatches;

typedef struct UnitQuery {
        Manager *manager;
        char *unit;
        UnitStateHandler cb;
        void *userdata;
        void (*destroy)(void *userdata);
} UnitQuery;

bool unit_active_state_is_running(const char *active_state)
{
        return !isempty(active_state) && !streq(active_state, "inactive") && !streq(active_state, "failed");
}

static void unit_watches_free(void *p)
{
        UnitWatches *w = p;

        if (!w)
                return;
        for (size_t i = 0; i < w->n_watches; i++) {
                sd_bus_slot_unref(w->watches[i].match);
                free(w->watches[i].unit);
                free(w->watches[i].path);
        }
        free(w->watches);
        sd_bus_slot_unref(w->job_removed);
        sd_bus_slot_unref(w->unit_removed);
        free(w);
}

static UnitWatch *unit_watch_find(UnitWatches *w, const char *unit)
{
        for (size_t i = 0; w && i < w->n_watches; i++)
                if (streq(w->watches[i].unit, unit))
                        return &w->watches[i];
        return NULL;
}

static bool unit_has_leases(Manager *m, const char *unit)
{
        LEASE_STORE_FOREACH(l, m->leases)
                if (streq_ptr(l->bind_unit, unit))
                        return true;
        return false;
}

/* No lease left bound to the unit: stop listening to it. */
static void unit_watch_gc(Manager *m, const char *unit)
{
        UnitWatches *w = liveness_get_unit_data(m);
        UnitWatch *u = unit_watch_find(w, unit);

        if (!u || unit_has_leases(m, unit))
                return;
        log_debug("No lease bound to unit %s any more, no longer watching it.", unit);
        sd_bus_slot_unref(u->match);
        free(u->unit);
        free(u->path);
        *u = w->watches[--w->n_watches];
}

/* What a state seen for the unit means for the leases bound to it. */
static void unit_state_seen(Manager *m, const char *unit, const char *active_state, const char *invocation)
{
        _cleanup_free_ char *name = strdup(unit); /* the watch (owning `unit`) may go */
        bool running = unit_active_state_is_running(active_state);
        unsigned n = 0;
        int r;

        if (!name) {
                log_oom();
                return;
        }
        if (!running)
                r = manager_release_unit(m, name, NULL, &n);
        else if (!isempty(invocation))
                r = manager_release_unit(m, name, invocation, &n); /* leases of an earlier run */
        else
                return;
        if (r < 0)
                log_error_errno(r, "Unit %s is %s; released %u bound lease(s), the rest stay: %m", name,
                                strna(active_state), n);
        else if (n > 0)
                log_info("Unit %s %s, released %u bound lease(s).", name,
                         running                         ? "was started anew"
                         : streq(active_state, "failed") ? "failed"
                                                         : "stopped",
                         n);
        unit_watch_gc(m, name);
}

/* Reads ActiveState and InvocationID from an a{sv} of Unit properties; others skipped. The
 * message must be positioned at the array. *ret_invocation "" when absent or empty. */
static int read_unit_props(sd_bus_message *msg, const char **ret_active_state, char ret_invocation[33],
                           bool *ret_have_invocation)
{
        int r;

        *ret_active_state = NULL;
        ret_invocation[0] = 0;
        *ret_have_invocation = false;
        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read(msg, "s", &name);
                if (r < 0)
                        return r;
                if (streq(name, "ActiveState"))
                        r = sd_bus_message_read(msg, "v", "s", ret_active_state);
                else if (streq(name, "InvocationID")) {
                        const uint8_t *id;
                        size_t n;

                        r = sd_bus_message_enter_container(msg, 'v', "ay");
                        if (r < 0)
                                return r;
                        r = sd_bus_message_read_array(msg, 'y', (const void **) &id, &n);
                        if (r < 0)
                                return r;
                        if (n == 16)
                                for (size_t i = 0; i < 16; i++)
                                        (void) snprintf(ret_invocation + 2 * i, 3, "%02x", id[i]);
                        *ret_have_invocation = true;
                        r = sd_bus_message_exit_container(msg);
                } else
                        r = sd_bus_message_skip(msg, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

static void unit_query_free(void *p)
{
        UnitQuery *q = p;

        if (!q)
                return;
        if (q->destroy)
                q->destroy(q->userdata);
        free(q->unit);
        free(q);
}

static int on_unit_state(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        UnitQuery *q = userdata;
        const char *active_state = NULL;
        char invocation[33];
        bool have_invocation;
        int r;

        if (sd_bus_message_is_method_error(reply, NULL))
                return q->cb(q->manager, q->unit, NULL, NULL, sd_bus_message_get_error(reply), q->userdata);
        r = read_unit_props(reply, &active_state, invocation, &have_invocation);
        if (r < 0 || !active_state) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                (void) sd_bus_error_set(&e, SD_BUS_ERROR_INVALID_ARGS,
                                        "systemd's answer has no ActiveState");
                return q->cb(q->manager, q->unit, NULL, NULL, &e, q->userdata);
        }
        return q->cb(q->manager, q->unit, active_state, invocation, NULL, q->userdata);
}

int unit_watch_query(Manager *m, const char *unit, UnitStateHandler cb, void *userdata,
                     void (*destroy)(void *userdata))
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *path = NULL;
        UnitQuery *q;
        int r;

        q = calloc(1, sizeof(*q));
        if (!q) {
                if (destroy)
                        destroy(userdata);
                return -ENOMEM;
        }
        *q = (UnitQuery){
                .manager = m, .unit = strdup(unit), .cb = cb, .userdata = userdata, .destroy = destroy};
        if (!q->unit) {
                unit_query_free(q);
                return -ENOMEM;
        }
        r = sd_bus_path_encode(SYSTEMD_UNIT_PATH, unit, &path);
        if (r >= 0)
                r = sd_bus_message_new_method_call(bus_get(m), &call, SYSTEMD_NAME, path,
                                                   "org.freedesktop.DBus.Properties", "GetAll");
        if (r >= 0)
                r = sd_bus_message_append(call, "s", SYSTEMD_UNIT);
        if (r >= 0)
                r = sd_bus_call_async(bus_get(m), &slot, call, on_unit_state, q, 30 * 1000000ULL);
        if (r < 0) {
                unit_query_free(q);
                return r;
        }
        /* Floating: the slot (and with it q) lives until the answer, or with the bus. */
        r = sd_bus_slot_set_destroy_callback(slot, unit_query_free);
        if (r >= 0)
                r = sd_bus_slot_set_floating(slot, true);
        if (r < 0)
                return r;
        return 0;
}

static int on_state_for_watch(Manager *m, const char *unit, const char *active_state, const char *invocation,
                              const sd_bus_error *error, void *userdata)
{
        if (error) {
                /* Not an answer about the unit: the leases stay (a new signal asks again). */
                log_warning("Cannot ask systemd about unit %s, its leases stay: %s", unit, error->message);
                return 0;
        }
        unit_state_seen(m, unit, active_state, invocation);
        return 0;
}

static void unit_watch_recheck(Manager *m, const char *unit)
{
        int r = unit_watch_query(m, unit, on_state_for_watch, NULL, NULL);

        if (r < 0)
                log_warning_errno(r, "Cannot ask systemd about unit %s: %m", unit);
}

static int on_unit_properties_changed(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error)
{
        Manager *m = userdata;
        UnitWatches *w = liveness_get_unit_data(m);
        const char *iface, *active_state, *path = sd_bus_message_get_path(msg);
        _cleanup_free_ char *unit = NULL;
        char invocation[33];
        bool have_invocation;
        int r;

        for (size_t i = 0; w && i < w->n_watches; i++)
                if (streq_ptr(w->watches[i].path, path) && !(unit = strdup(w->watches[i].unit)))
                        return log_oom();
        if (!unit)
                return 0;
        r = sd_bus_message_read(msg, "s", &iface);
        if (r < 0 || !streq(iface, SYSTEMD_UNIT))
                return 0;
        r = read_unit_props(msg, &active_state, invocation, &have_invocation);
        if (r < 0)
                return 0;
        if (active_state && (have_invocation || !unit_active_state_is_running(active_state)))
                unit_state_seen(m, unit, active_state, have_invocation ? invocation : NULL);
        else
                unit_watch_recheck(m, unit); /* invalidated, or part of the state only */
        return 0;
}

/* JobRemoved (u id, o job, s unit, s result) and UnitRemoved (s unit, o path): the unit may
 * have stopped (a stop job done) or gone from memory (a transient unit is collected once
 * inactive, and a daemon-reload reloads it): ask. */
static int on_unit_job_or_removed(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error)
{
        Manager *m = userdata;
        const char *unit;
        int r;

        if (sd_bus_message_is_signal(msg, SYSTEMD_MANAGER, "JobRemoved"))
                r = sd_bus_message_read(msg, "uoss", NULL, NULL, &unit, NULL);
        else
                r = sd_bus_message_read(msg, "s", &unit);
        if (r < 0 || !unit_watch_find(liveness_get_unit_data(m), unit))
                return 0;
        unit_watch_recheck(m, unit);
        return 0;
}

static int on_subscribed(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        if (sd_bus_message_is_method_error(reply, NULL))
                log_warning("Subscribe() to systemd failed, unit-bound leases may outlive their unit: %s",
                            sd_bus_message_get_error(reply)->message);
        return 0;
}

static UnitWatches *unit_watches_get(Manager *m)
{
        UnitWatches *w = liveness_get_unit_data(m);
        int r;

        if (w)
                return w;
        w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->manager = m;
        /* Matches first, then Subscribe(): systemd emits unit signals only while someone is
         * subscribed. */
        r = sd_bus_match_signal_async(bus_get(m), &w->job_removed, SYSTEMD_NAME, SYSTEMD_PATH,
                                      SYSTEMD_MANAGER, "JobRemoved", on_unit_job_or_removed, NULL, m);
        if (r >= 0)
                r = sd_bus_match_signal_async(bus_get(m), &w->unit_removed, SYSTEMD_NAME, SYSTEMD_PATH,
                                              SYSTEMD_MANAGER, "UnitRemoved", on_unit_job_or_removed, NULL,
                                              m);
        if (r >= 0)
                r = sd_bus_call_method_async(bus_get(m), NULL, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                             "Subscribe", on_subscribed, NULL, NULL);
        if (r < 0) {
                log_warning_errno(r, "Cannot follow systemd's unit signals: %m");
                unit_watches_free(w);
                return NULL;
        }
        liveness_set_unit_data(m, w, unit_watches_free);
        return liveness_get_unit_data(m);
}

int unit_watch_add(Manager *m, const char *unit)
{
        _cleanup_free_ char *path = NULL, *name = NULL;
        UnitWatches *w;
        UnitWatch *a;
        int r;

        if (!bus_get(m))
                return -ENOTCONN;
        if (!unit_name_is_valid(unit))
                return -EINVAL;
        w = unit_watches_get(m);
        if (!w)
                return -ENOMEM;
        if (unit_watch_find(w, unit))
                return 0;
        r = sd_bus_path_encode(SYSTEMD_UNIT_PATH, unit, &path);
        if (r < 0)
                return r;
        name = strdup(unit);
        if (!name)
                return -ENOMEM;
        a = reallocarray(w->watches, w->n_watches + 1, sizeof(UnitWatch));
        if (!a)
                return -ENOMEM;
        w->watches = a;
        a = &w->watches[w->n_watches];
        *a = (UnitWatch){};
        r = sd_bus_match_signal_async(bus_get(m), &a->match, SYSTEMD_NAME, path,
                                      "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                      on_unit_properties_changed, NULL, m);
        if (r < 0)
                return r;
        a->unit = TAKE_PTR(name);
        a->path = TAKE_PTR(path);
        w->n_watches++;
        return 0;
}

int manager_watch_unit(Manager *m, const char *unit)
{
        int r;

        r = unit_watch_add(m, unit);
        if (r < 0)
                return r;
        return unit_watch_query(m, unit, on_state_for_watch, NULL, NULL);
}
