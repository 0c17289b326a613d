/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Event-driven verbs: monitor and wait-online. Both keep an ObjectSet in step with the
 * signals, so wait-online decides from the same data monitor prints. */

#include <signal.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "client.h"
#include "log.h"
#include "objects.h"
#include "output.h"
#include "sriovctl.h"
#include "util.h"
#include "watch.h"

typedef struct Watch {
        sd_bus *bus;
        sd_event *event;
        ObjectSet *set;
        bool monitor;
        bool have_snapshot;
} Watch;

static const char *object_kind(const char *path, const char *iface)
{
        if (streq(iface, IFACE_MANAGER))
                return "manager";
        if (streq(iface, IFACE_PF))
                return "pf";
        if (streq(iface, IFACE_VF))
                return "vf";
        if (streq(iface, IFACE_POOL))
                return "pool";
        return "object";
}

static void print_value_human(const Prop *p)
{
        switch (p->kind) {
        case VALUE_STRING:
                if (isempty(p->s) || strpbrk(p->s, " \"'"))
                        json_string(p->s);
                else
                        fputs(p->s, stdout);
                break;
        case VALUE_BOOL:
                fputs(p->b ? "yes" : "no", stdout);
                break;
        case VALUE_STRV:
                STRV_FOREACH(s, p->strv)
                        printf("%s%s", s == p->strv ? "" : ",", *s);
                break;
        default:
                json_prop_value(p);
        }
}

static void watch_print_header(const char *path, const char *iface)
{
        _cleanup_free_ char *label = NULL;

        if (streq(iface, IFACE_MANAGER))
                fputs("manager:", stdout);
        else
                printf("%s %s:", object_kind(path, iface), path_label(path, &label));
}

static int watch_check_online(Watch *w);

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Watch *w = userdata;
        const char *path = sd_bus_message_get_path(m), *iface;
        _cleanup_(strv_freep) char **invalidated = NULL;
        Object *o, tmp = {};
        int r;

        r = sd_bus_message_read_basic(m, 's', &iface);
        if (r < 0 || !iface_is_ours(iface) || !path)
                return 0;
        /* Apply to a scratch object first so monitor prints exactly what changed. */
        r = object_read_props(m, &tmp);
        if (r >= 0)
                r = sd_bus_message_read_strv(m, &invalidated);
        if (r < 0) {
                object_done(&tmp);
                log_debug_errno(r, "Ignoring malformed PropertiesChanged from %s: %m", path);
                return 0;
        }

        if (w->monitor) {
                if (arg_json) {
                        fputs("{\"Event\":\"PropertiesChanged\",\"ObjectPath\":", stdout);
                        json_string(path);
                        fputs(",\"Interface\":", stdout);
                        json_string(iface);
                        fputs(",\"Changed\":{", stdout);
                        for (size_t i = 0; i < tmp.n_props; i++) {
                                printf("%s", i ? "," : "");
                                json_string(tmp.props[i].name);
                                putchar(':');
                                json_prop_value(&tmp.props[i]);
                        }
                        fputs("},\"Invalidated\":[", stdout);
                        STRV_FOREACH(s, invalidated) {
                                printf("%s", s == invalidated ? "" : ",");
                                json_string(*s);
                        }
                        puts("]}");
                } else {
                        watch_print_header(path, iface);
                        for (size_t i = 0; i < tmp.n_props; i++) {
                                printf(" %s=", tmp.props[i].name);
                                print_value_human(&tmp.props[i]);
                        }
                        STRV_FOREACH(s, invalidated)
                                printf(" %s=?", *s);
                        putchar('\n');
                }
                fflush(stdout);
        }

        if (w->set) {
                r = object_set_add(w->set, path, iface, &o);
                if (r >= 0)
                        for (size_t i = 0; i < tmp.n_props; i++) {
                                Prop *slot = NULL;
                                for (size_t j = 0; j < o->n_props; j++)
                                        if (streq(o->props[j].name, tmp.props[i].name))
                                                slot = &o->props[j];
                                if (slot) {
                                        prop_done(slot);
                                        *slot = tmp.props[i];
                                        tmp.props[i] = (Prop){};
                                }
                                /* new names are ignored: the snapshot told us the set */
                        }
        }
        object_done(&tmp);
        return watch_check_online(w);
}

static int on_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Watch *w = userdata;
        _cleanup_(object_set_freep) ObjectSet *added = calloc(1, sizeof(ObjectSet));
        const char *path;
        int r;

        if (!added)
                return log_oom();
        r = sd_bus_message_read_basic(m, 'o', &path);
        if (r >= 0)
                r = object_set_read_interfaces(added, m, path);
        if (r < 0) {
                log_debug_errno(r, "Ignoring malformed InterfacesAdded: %m");
                return 0;
        }

        for (size_t i = 0; i < added->n_objects; i++) {
                Object *a = &added->objects[i], *o;

                if (w->monitor) {
                        if (arg_json) {
                                fputs("{\"Event\":\"InterfacesAdded\",\"Interface\":", stdout);
                                json_string(a->iface);
                                fputs(",\"Object\":", stdout);
                                json_object(a, false);
                                puts("}");
                        } else {
                                watch_print_header(a->path, a->iface);
                                fputs(" added", stdout);
                                if (streq(a->iface, IFACE_VF))
                                        printf(" Pool=%s Interface=%s",
                                               strna(object_str(a, "Pool")[0] ? object_str(a, "Pool")
                                                                              : NULL),
                                               strna(object_str(a, "Interface")[0]
                                                             ? object_str(a, "Interface")
                                                             : NULL));
                                else if (streq(a->iface, IFACE_PF))
                                        printf(" Interface=%s State=%s",
                                               strna(object_str(a, "Interface")[0]
                                                             ? object_str(a, "Interface")
                                                             : NULL),
                                               object_str(a, "State"));
                                putchar('\n');
                        }
                        fflush(stdout);
                }
                if (w->set) {
                        object_set_remove(w->set, a->path, a->iface);
                        r = object_set_add(w->set, a->path, a->iface, &o);
                        if (r < 0)
                                return log_oom();
                        o->props = TAKE_PTR(a->props);
                        o->n_props = a->n_props;
                        a->n_props = 0;
                }
        }
        return watch_check_online(w);
}

static int on_interfaces_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Watch *w = userdata;
        _cleanup_(strv_freep) char **ifaces = NULL;
        const char *path;
        int r;

        r = sd_bus_message_read_basic(m, 'o', &path);
        if (r >= 0)
                r = sd_bus_message_read_strv(m, &ifaces);
        if (r < 0) {
                log_debug_errno(r, "Ignoring malformed InterfacesRemoved: %m");
                return 0;
        }
        STRV_FOREACH(i, ifaces) {
                if (!iface_is_ours(*i))
                        continue;
                if (w->monitor) {
                        if (arg_json) {
                                fputs("{\"Event\":\"InterfacesRemoved\",\"ObjectPath\":", stdout);
                                json_string(path);
                                fputs(",\"Interface\":", stdout);
                                json_string(*i);
                                puts("}");
                        } else {
                                watch_print_header(path, *i);
                                puts(" removed");
                        }
                        fflush(stdout);
                }
                if (w->set)
                        object_set_remove(w->set, path, *i);
        }
        return watch_check_online(w);
}

static int watch_snapshot(Watch *w);

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Watch *w = userdata;
        const char *name, *old_owner, *new_owner;
        int r;

        r = sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner);
        if (r < 0 || !streq(name, BUS_NAME))
                return 0;
        if (w->monitor) {
                if (arg_json)
                        printf("{\"Event\":\"%s\"}\n",
                               isempty(new_owner) ? "ServiceStopped" : "ServiceStarted");
                else
                        printf("sriovd: %s\n", isempty(new_owner) ? "stopped" : "started");
                fflush(stdout);
        }
        if (w->set && !isempty(new_owner)) {
                /* A (re)started daemon: its objects are new, take a fresh snapshot. */
                r = watch_snapshot(w);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Non-empty reason string if not online yet. */
static int watch_not_online_reason(Watch *w, char **ret)
{
        _cleanup_free_ char *reason = NULL;
        const Object *mgr;
        int r;

        if (!w->have_snapshot) {
                *ret = strdup("sriovd is not running");
                return *ret ? 0 : -ENOMEM;
        }
        mgr = object_set_find(w->set, ROOT_PATH, IFACE_MANAGER);
        if (!streq(object_str(mgr, "State"), "running")) {
                r = asprintf_safe(&reason, "sriovd is %s",
                                  isempty(object_str(mgr, "State")) ? "unknown" : object_str(mgr, "State"));
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < w->set->n_objects; i++) {
                const Object *o = &w->set->objects[i];
                const char *state = object_str(o, "State");
                char *n;

                if (!streq(o->iface, IFACE_PF) || streq(state, "unmanaged") || streq(state, "configured"))
                        continue;
                r = asprintf_safe(&n, "%s%s%s %s%s%s%s", strempty(reason),
                                  !reason                              ? "not configured: "
                                  : strstr(reason, "not configured: ") ? ", "
                                                                       : "; not configured: ",
                                  object_str(o, "PCIAddress"),
                                  isempty(object_str(o, "Interface")) ? "" : "(", object_str(o, "Interface"),
                                  isempty(object_str(o, "Interface")) ? "" : ") ", state);
                if (r < 0)
                        return r;
                free(reason);
                reason = n;
        }
        *ret = TAKE_PTR(reason);
        return 0;
}

static int watch_check_online(Watch *w)
{
        _cleanup_free_ char *reason = NULL;
        int r;

        if (w->monitor)
                return 0;
        r = watch_not_online_reason(w, &reason);
        if (r < 0)
                return log_oom();
        if (!reason) {
                log_debug("All managed physical functions are configured.");
                return sd_event_exit(w->event, 0);
        }
        log_debug("Not online yet: %s", reason);
        return 0;
}

static int watch_snapshot(Watch *w)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL, *mgr = NULL;
        _cleanup_(object_set_freep) ObjectSet *s = calloc(1, sizeof(ObjectSet));
        int r;

        if (!s)
                return log_oom();
        /* wait-online decides from the Manager and the PFs alone: on a host with 16,384 VFs
         * GetManagedObjects is megabytes that nothing here reads. */
        r = sd_bus_call_method(w->bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "ListPhysicalFunctions", &error,
                               &reply, NULL);
        if (r >= 0)
                r = sd_bus_call_method(w->bus, BUS_NAME, ROOT_PATH, "org.freedesktop.DBus.Properties",
                                       "GetAll", &error, &mgr, "s", IFACE_MANAGER);
        if (r < 0) {
                /* Not there yet: NameOwnerChanged will tell us when it is. */
                if (sd_bus_error_has_names(&error, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                           SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
                        log_debug("sriovd is not on the bus yet, waiting for it.");
                        return 0;
                }
                return log_bus_error(&error, r, "list objects");
        }
        r = object_set_read_pf_list(s, reply);
        if (r >= 0)
                r = object_set_read_manager(s, mgr);
        if (r < 0)
                return log_error_errno(r, "Failed to parse object list: %m");
        object_set_free(w->set);
        w->set = TAKE_PTR(s);
        w->have_snapshot = true;
        return watch_check_online(w);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        Watch *w = userdata;
        _cleanup_free_ char *reason = NULL;

        (void) watch_not_online_reason(w, &reason);
        log_error("Timed out after %" PRIu64 "s waiting for SR-IOV to be online: %s.",
                  arg_timeout_usec / 1000000, strna(reason));
        return sd_event_exit(w->event, ETIMEDOUT);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Watch *w = userdata;
        return sd_event_exit(w->event, w->monitor ? 0 : ECANCELED);
}

static int on_bus_gone(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Watch *w = userdata;
        log_error("Lost the bus connection.");
        return sd_event_exit(w->event, ECONNRESET);
}

/* A match on one of sriovd's signals; path and args (further match keys) may be NULL. */
static int add_sriovd_match(sd_bus *bus, const char *path, const char *iface, const char *member,
                            const char *args, sd_bus_message_handler_t callback, void *userdata)
{
        _cleanup_free_ char *match = NULL;

        if (asprintf_safe(&match, "type='signal',sender='%s',%s%s%sinterface='%s',member='%s'%s%s", BUS_NAME,
                          path ? "path='" : "", strempty(path), path ? "'," : "", iface, member,
                          args ? "," : "", strempty(args)) < 0)
                return -ENOMEM;
        return sd_bus_add_match(bus, NULL, match, callback, userdata);
}

static int run_watch(sd_bus *bus, bool monitor)
{
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Watch w = {.bus = bus, .monitor = monitor};
        sigset_t mask;
        int r, code = 0;

        r = sd_event_default(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");
        w.event = event;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        (void) sd_event_add_signal(event, NULL, SIGINT, on_signal, &w);
        (void) sd_event_add_signal(event, NULL, SIGTERM, on_signal, &w);

        r = sd_bus_attach_event(bus, event, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to attach bus to event loop: %m");
        (void) sd_bus_set_exit_on_disconnect(bus, false);
        r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_bus_gone, &w);

        /* Subscribe before the snapshot, so no change falls between the two. wait-online
         * asks only for the Manager's and the PFs' signals, so that the bus does not forward
         * it every VF's (PropertiesChanged's arg0 is the interface, the ObjectManager's
         * signals' arg0 the object path). */
        if (r >= 0)
                r = add_sriovd_match(bus, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                     monitor ? NULL : "arg0='" IFACE_MANAGER "'", on_properties_changed, &w);
        if (r >= 0 && !monitor)
                r = add_sriovd_match(bus, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                     "arg0='" IFACE_PF "'", on_properties_changed, &w);
        if (r >= 0)
                r = add_sriovd_match(bus, ROOT_PATH, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
                                     monitor ? NULL : "arg0path='" ROOT_PATH "/pf/'", on_interfaces_added,
                                     &w);
        if (r >= 0)
                r = add_sriovd_match(bus, ROOT_PATH, "org.freedesktop.DBus.ObjectManager",
                                     "InterfacesRemoved", monitor ? NULL : "arg0path='" ROOT_PATH "/pf/'",
                                     on_interfaces_removed, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed,
                                        &w);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to sriovd's signals: %m");

        if (monitor) {
                /* Lets a supervisor (or a test) know the subscriptions are in place. */
                (void) sd_notify(false, "READY=1");
        } else {
                w.set = calloc(1, sizeof(ObjectSet));
                if (!w.set)
                        return log_oom();
                r = watch_snapshot(&w);
                if (r < 0)
                        goto finish;
                if (arg_timeout_usec > 0) {
                        r = sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, arg_timeout_usec, 0,
                                                       on_timeout, &w);
                        if (r < 0) {
                                log_error_errno(r, "Failed to add timer: %m");
                                goto finish;
                        }
                }
        }

        r = sd_event_loop(event);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                goto finish;
        }
        code = r;
        r = code > 0 ? -code : 0;
finish:
        (void) sd_bus_detach_event(bus);
        object_set_free(w.set);
        return r;
}

int verb_monitor(sd_bus *bus, char **args)
{
        return run_watch(bus, true);
}

int verb_wait_online(sd_bus *bus, char **args)
{
        return run_watch(bus, false);
}
