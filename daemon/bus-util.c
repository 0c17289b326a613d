/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>

#include "bus-util.h"
#include "log.h"
#include "pool.h"
#include "util.h"

/* ---- paths ------------------------------------------------------------------------------ */

char *pf_bus_path(const PhysicalFunction *pf)
{
        char *p = NULL;

        return sd_bus_path_encode(SRIOVD_PF_PREFIX, pf->pci, &p) < 0 ? NULL : p;
}

char *vf_bus_path(const VirtualFunction *vf)
{
        char *p = NULL;

        return sd_bus_path_encode(SRIOVD_VF_PREFIX, vf->pci, &p) < 0 ? NULL : p;
}

char *pool_bus_path(const char *name)
{
        char *p = NULL;

        return sd_bus_path_encode(SRIOVD_POOL_PREFIX, name, &p) < 0 ? NULL : p;
}

/* Lists of thousands of VFs name every VF and its PF, without an allocation per VF. A PF's
 * path is encoded once and kept (a PF's PCI address never changes while the object exists). */
const char *pf_object_path(PhysicalFunction *pf)
{
        if (!pf->bus_path)
                (void) sd_bus_path_encode(SRIOVD_PF_PREFIX, pf->pci, &pf->bus_path);
        return pf->bus_path;
}

/* sd_bus_path_encode()'s escaping (sd-bus's bus_label_escape()) into buf, which has room for
 * 3 bytes per character of s plus 2: every byte but [A-Za-z0-9] becomes _XX (lowercase hex),
 * and so does a leading digit; "" is "_". */
static size_t bus_label_escape_into(char *buf, const char *s)
{
        static const char hex[] = "0123456789abcdef";
        char *t = buf;

        if (!*s)
                *t++ = '_';
        for (const char *f = s; *f; f++) {
                unsigned char c = *f;

                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (f > s && c >= '0' && c <= '9'))
                        *t++ = c;
                else {
                        *t++ = '_';
                        *t++ = hex[c >> 4];
                        *t++ = hex[c & 15];
                }
        }
        *t = 0;
        return t - buf;
}

/* A VF's path is not kept in the VF (16,384 VFs × a 48-byte string): it is encoded here at
 * each call, into a buffer of ours. NAME_MAX bounds a VF's name (a sysfs directory, or its
 * PF's plus "-vfN"). */
const char *vf_object_path(VirtualFunction *vf)
{
        static char buf[(sizeof(SRIOVD_VF_PREFIX) - 1) + 1 + 3 * (NAME_MAX + 16) + 1];

        if (strlen(vf->pci) > NAME_MAX + 16)
                return NULL;
        memcpy(buf, SRIOVD_VF_PREFIX "/", (sizeof(SRIOVD_VF_PREFIX) - 1) + 1);
        (void) bus_label_escape_into(buf + (sizeof(SRIOVD_VF_PREFIX) - 1) + 1, vf->pci);
        return buf;
}

VirtualFunction *vf_from_bus_path(Manager *m, const char *path)
{
        _cleanup_free_ char *pci = NULL;

        if (sd_bus_path_decode(path, SRIOVD_VF_PREFIX, &pci) <= 0)
                return NULL;
        return manager_get_vf(m, pci);
}

int bus_property_get_bool(sd_bus *bus, const char *path, const char *iface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        int b = *(const bool *) userdata;

        return sd_bus_message_append_basic(reply, 'b', &b);
}

/* ---- who is calling --------------------------------------------------------------------- */

/* A bus client's uid, asked of the bus driver once per unique name (GetConnectionUnixUser,
 * answered on the loop like any reply: the loop never waits for it) and kept while the name
 * is on the bus: unique names are never reused. How many clients are connected at once, and
 * so the size of the cache, is bounded by the bus (dbus-daemon: 2,048 connections by
 * default). */
#define UID_INVALID ((uid_t) -1)

typedef struct Caller {
        char *name;
        uid_t uid;
        sd_bus_slot *slot; /* the question, until the bus answers */
} Caller;

/* Questions in flight at once. With the polkit checks (POLKIT_PENDING_MAX) below
 * dbus-daemon's 128 pending replies per connection. */
#define CALLER_LOOKUPS_MAX 16

static Hashmap *callers; /* unique name -> Caller */
static unsigned n_lookups;
static sd_bus_slot *callers_gone; /* NameOwnerChanged of any name that lost its owner */

static Caller *caller_free(Caller *c)
{
        if (!c)
                return NULL;
        if (c->slot)
                n_lookups--;
        sd_bus_slot_unref(c->slot);
        free(c->name);
        return mfree(c);
}

static void callers_free(void)
{
        Caller *c;

        HASHMAP_FOREACH(c, callers)
                caller_free(hashmap_remove(callers, c->name));
        callers = hashmap_free(callers);
        callers_gone = sd_bus_slot_unref(callers_gone);
}

/* ---- polkit ----------------------------------------------------------------------------- */

#define POLKIT_ACTION "org.sriovd1.manage"

/* Each pending check pins its request message: bound them, per caller and in all. A call
 * waiting for its caller's uid counts as a pending check of that caller. */
#define POLKIT_PENDING_PER_SENDER_MAX 16
/* Below dbus-daemon's default of 128 pending replies per connection: our own calls to polkit
 * must never be the ones the bus refuses. */
#define POLKIT_PENDING_MAX 100

enum {
        QUERY_WHO = -2,    /* waiting for the caller's uid */
        QUERY_POLKIT = -1, /* polkit asked */
        QUERY_DENIED = 0,
        QUERY_ALLOWED = 1,
};

typedef struct PolkitQuery {
        Manager *manager;
        char *sender;
        sd_bus_message *request;
        sd_bus_message_handler_t handler;
        sd_bus_slot *slot; /* polkit's answer */
        int result;        /* QUERY_* */
        struct PolkitQuery *next;
} PolkitQuery;

static PolkitQuery *queries;

static void polkit_query_unlink(PolkitQuery *q)
{
        for (PolkitQuery **i = &queries; *i; i = &(*i)->next)
                if (*i == q) {
                        *i = q->next;
                        break;
                }
}

static PolkitQuery *polkit_query_free(PolkitQuery *q)
{
        if (!q)
                return NULL;
        polkit_query_unlink(q);
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        free(q->sender);
        return mfree(q);
}

/* Runs the method again: bus_verify_manage() now finds the answer. */
static void polkit_query_rerun(PolkitQuery *q)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_message_rewind(q->request, true);
        if (r >= 0)
                r = q->handler(q->request, q->manager, &error);
        if (r < 0)
                (void) sd_bus_reply_method_errno(q->request, r, &error);
}

bool bus_caller_is_known(const char *name)
{
        Caller *c = hashmap_get(callers, name);

        return c && !c->slot && c->uid != UID_INVALID;
}

static int on_name_gone(sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
        Manager *m = userdata;
        const char *name;
        PolkitQuery *q, *next;
        unsigned n = 0;

        if (sd_bus_message_read(message, "s", &name) < 0)
                return 0;
        caller_free(hashmap_remove(callers, name));
        manager_caller_gone(m, name);
        /* Acting on a "yes" now would make a lease nobody knows of: drop the pending checks
         * (unreffing a slot discards its answer) and the calls with them. */
        for (q = queries; q; q = next) {
                next = q->next;
                if (streq(q->sender, name)) {
                        polkit_query_free(q);
                        n++;
                }
        }
        if (n > 0)
                log_debug("%s left before its calls were authorized: dropping %u.", name, n);
        return 0;
}

static int on_caller_uid(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        _cleanup_(sd_bus_error_free) sd_bus_error denied = SD_BUS_ERROR_NULL;
        PolkitQuery *waiting[POLKIT_PENDING_PER_SENDER_MAX], *q;
        Caller *c = userdata;
        uint32_t uid;
        size_t n = 0;

        c->slot = sd_bus_slot_unref(c->slot);
        n_lookups--;
        if (sd_bus_message_is_method_error(reply, NULL))
                (void) sd_bus_error_setf(&denied, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Cannot tell who is calling (%s), refusing.",
                                         sd_bus_message_get_error(reply)->message);
        else if (sd_bus_message_read(reply, "u", &uid) < 0)
                (void) sd_bus_error_set(&denied, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Cannot tell who is calling (bad answer from the bus), refusing.");
        else
                c->uid = uid;

        /* The calls that waited, newest first: out of the list, so that bus_verify_manage()
         * does not take them for pending, then run again oldest first. */
        for (q = queries; q && n < ELEMENTSOF(waiting); q = q->next)
                if (q->result == QUERY_WHO && streq(q->sender, c->name))
                        waiting[n++] = q;
        for (size_t k = 0; k < n; k++)
                polkit_query_unlink(waiting[k]);
        if (sd_bus_error_is_set(&denied)) {
                log_debug("%s: %s", c->name, denied.message);
                caller_free(hashmap_remove(callers, c->name)); /* not kept: the next call asks again */
        }

        while (n > 0) {
                q = waiting[--n];
                if (sd_bus_error_is_set(&denied))
                        (void) sd_bus_reply_method_error(q->request, &denied);
                else
                        polkit_query_rerun(q);
                polkit_query_free(q);
        }
        return 0;
}

/* Asks the bus for name's uid; the answer re-runs the calls waiting for it. */
static int caller_lookup(sd_bus *bus, const char *name)
{
        Caller *c;
        int r;

        c = calloc(1, sizeof(Caller));
        if (!c)
                return -ENOMEM;
        c->uid = UID_INVALID;
        c->name = strdup(name);
        if (!c->name) {
                free(c);
                return -ENOMEM;
        }
        r = hashmap_put(callers, c->name, c);
        if (r < 0) {
                caller_free(c);
                return r;
        }
        r = sd_bus_call_method_async(bus, &c->slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetConnectionUnixUser", on_caller_uid, c, "s",
                                     name);
        if (r < 0) {
                caller_free(hashmap_remove(callers, c->name));
                return r;
        }
        n_lookups++;
        return 0;
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        PolkitQuery *q = userdata;
        int authorized = 0, challenge = 0;

        q->slot = sd_bus_slot_unref(q->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                log_debug("polkit: %s", sd_bus_message_get_error(reply)->message);
        else if (sd_bus_message_enter_container(reply, 'r', "bba{ss}") >= 0)
                (void) sd_bus_message_read(reply, "bb", &authorized, &challenge);
        q->result = authorized ? QUERY_ALLOWED : QUERY_DENIED;
        polkit_query_rerun(q);
        polkit_query_free(q);
        return 0;
}

int bus_verify_manage(Manager *m, sd_bus_message *message, sd_bus_message_handler_t handler,
                      sd_bus_error *error)
{
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *peer = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        sd_bus *bus = sd_bus_message_get_bus(message);
        const char *sender = sd_bus_message_get_sender(message);
        unsigned n_polkit = 0, n_sender = 0;
        uid_t uid = UID_INVALID;
        sd_bus_creds *creds;
        Caller *c = NULL;
        bool ask_bus;
        PolkitQuery *q;
        int r;

        for (q = queries; q; q = q->next)
                if (q->request == message) {
                        if (q->result < 0)
                                return 0;
                        if (q->result == QUERY_ALLOWED)
                                return 1;
                        return sd_bus_error_set(
                                error, SD_BUS_ERROR_ACCESS_DENIED,
                                "Not authorized to manage SR-IOV VFs (polkit action " POLKIT_ACTION ").");
                }

        /* Who is calling: the transport may say (peer-to-peer, or a bus that attaches the
         * sender's credentials); else the bus driver, asked once per client, never waited for
         * in the loop. */
        creds = sd_bus_message_get_creds(message);
        if (!creds || sd_bus_creds_get_euid(creds, &uid) < 0) {
                uid = UID_INVALID;
                if (!sd_bus_is_bus_client(bus)) {
                        /* The socket's peer, known here without asking anyone. A sender field
                         * is only a claim on such a connection: polkit decides on it. */
                        if (!sender && sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID, &peer) >= 0)
                                (void) sd_bus_creds_get_euid(peer, &uid);
                } else if (sender) {
                        c = hashmap_get(callers, sender);
                        if (c && !c->slot)
                                uid = c->uid;
                }
        }
        if (uid == 0)
                return 1;
        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Caller has no bus name.");

        /* Refused at once, without a question to anyone: a flood costs no round trip. */
        for (q = queries; q; q = q->next)
                if (q->result < 0) {
                        n_polkit += q->result == QUERY_POLKIT;
                        n_sender += streq(q->sender, sender);
                }
        ask_bus = sd_bus_is_bus_client(bus) && uid == UID_INVALID;
        if (n_sender >= POLKIT_PENDING_PER_SENDER_MAX || (!ask_bus && n_polkit >= POLKIT_PENDING_MAX))
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many authorization checks pending (%s), try again later.",
                                         n_sender >= POLKIT_PENDING_PER_SENDER_MAX ? "for this caller"
                                                                                   : "in all");
        if (ask_bus && !c && n_lookups >= CALLER_LOOKUPS_MAX)
                return sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                        "Too many new callers being identified, try again later.");

        q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        q->sender = strdup(sender);
        if (!q->sender) {
                free(q);
                return -ENOMEM;
        }
        q->manager = m;
        q->request = sd_bus_message_ref(message);
        q->handler = handler;
        q->result = ask_bus ? QUERY_WHO : QUERY_POLKIT;
        q->next = queries;
        queries = q;

        if (ask_bus) {
                r = c ? 0 : caller_lookup(bus, sender);
                if (r < 0)
                        polkit_query_free(q);
                return r;
        }

        /* A caller that leaves from now on is seen by callers_gone (on the bus since
         * bus_attach()); one that left earlier fails polkit's own lookup of the subject
         * (denied). */
        r = sd_bus_message_new_method_call(bus, &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r >= 0)
                r = sd_bus_message_append(
                        call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", sender, POLKIT_ACTION,
                        0, (uint32_t) (sd_bus_message_get_allow_interactive_authorization(message) ? 1 : 0),
                        "");
        if (r >= 0)
                r = sd_bus_call_async(bus, &q->slot, call, on_polkit_reply, q, /* polkit may prompt */ 0);
        if (r < 0) {
                polkit_query_free(q);
                return r;
        }
        return 0;
}

/* ---- change notification, coalesced ---------------------------------------------------- */

static int on_flush(sd_event_source *s, void *userdata)
{
        Manager *m = userdata;
        BusState *b = m->hooks_data;
        PhysicalFunction *pf;
        VirtualFunction *vf;

        /* New VFs first: InterfacesAdded carries every property, so no PropertiesChanged
         * follows for them in this flush. */
        HASHMAP_FOREACH(vf, b->new_vfs) {
                _cleanup_free_ char *p = vf_bus_path(vf);

                hashmap_remove(b->new_vfs, vf->pci);
                hashmap_remove(b->dirty_vfs, vf->pci);
                if (p)
                        (void) sd_bus_emit_object_added(b->bus, p);
        }
        /* One PropertiesChanged per object per loop iteration, however many fields moved. */
        HASHMAP_FOREACH(pf, b->dirty_pfs) {
                const char *p = pf_object_path(pf);

                hashmap_remove(b->dirty_pfs, pf->pci);
                if (p)
                        (void) sd_bus_emit_properties_changed_strv(b->bus, p, SRIOVD_PF_IFACE, NULL);
        }
        HASHMAP_FOREACH(vf, b->dirty_vfs) {
                const char *p = vf_object_path(vf);

                hashmap_remove(b->dirty_vfs, vf->pci);
                if (p)
                        (void) sd_bus_emit_properties_changed_strv(b->bus, p, SRIOVD_VF_IFACE, NULL);
        }
        if (b->manager_dirty) {
                b->manager_dirty = false;
                (void) sd_bus_emit_properties_changed_strv(b->bus, SRIOVD_BUS_PATH, SRIOVD_MANAGER_IFACE,
                                                           NULL);
        }
        return 0;
}

static void bus_schedule_flush(Manager *m)
{
        BusState *b = m->hooks_data;

        (void) sd_event_source_set_enabled(b->flush, SD_EVENT_ONESHOT);
}

static void hook_pf_changed(Manager *m, PhysicalFunction *pf)
{
        BusState *b = m->hooks_data;

        (void) hashmap_put(b->dirty_pfs, pf->pci, pf);
        b->manager_dirty = true; /* State may follow */
        bus_schedule_flush(m);
}

static void hook_vf_changed(Manager *m, VirtualFunction *vf)
{
        BusState *b = m->hooks_data;

        (void) hashmap_put(b->dirty_vfs, vf->pci, vf);
        bus_schedule_flush(m);
}

static void hook_pf_added(Manager *m, PhysicalFunction *pf)
{
        BusState *b = m->hooks_data;
        _cleanup_free_ char *p = pf_bus_path(pf);

        if (p)
                (void) sd_bus_emit_object_added(b->bus, p);
        bus_schedule_flush(m);
}

static void hook_pf_removed(Manager *m, PhysicalFunction *pf)
{
        BusState *b = m->hooks_data;
        _cleanup_free_ char *p = pf_bus_path(pf);

        hashmap_remove(b->dirty_pfs, pf->pci);
        if (p)
                (void) sd_bus_emit_object_removed(b->bus, p);
        bus_schedule_flush(m);
}

/* VFs come in bursts (a PF's whole count at once) and the kernel work that follows is what
 * a user waits for: announce them in the flush, after the reconcile pass has sent its
 * RTM_SETLINK, rather than one InterfacesAdded per VF in front of it. The objects are on
 * the bus (GetManagedObjects, introspection) from now on. */
static void hook_vf_added(Manager *m, VirtualFunction *vf)
{
        BusState *b = m->hooks_data;
        int r = hashmap_put(b->new_vfs, vf->pci, vf);

        if (r < 0 && r != -EEXIST) {
                _cleanup_free_ char *p = vf_bus_path(vf);

                if (p)
                        (void) sd_bus_emit_object_added(b->bus, p);
        }
        bus_schedule_flush(m);
}

static void hook_vf_removed(Manager *m, VirtualFunction *vf)
{
        BusState *b = m->hooks_data;
        _cleanup_free_ char *p = vf_bus_path(vf);

        /* Removed before it was announced: a client may still have seen it through
         * GetManagedObjects, so InterfacesRemoved goes out all the same. */
        hashmap_remove(b->new_vfs, vf->pci);
        hashmap_remove(b->dirty_vfs, vf->pci);
        if (p)
                (void) sd_bus_emit_object_removed(b->bus, p);
        bus_schedule_flush(m);
}

static void hook_manager_changed(Manager *m)
{
        BusState *b = m->hooks_data;

        b->manager_dirty = true;
        bus_schedule_flush(m);
}

static void hook_manager_free(Manager *m)
{
        BusState *b = m->hooks_data;

        while (queries)
                polkit_query_free(queries);
        callers_free();
        if (b) {
                sd_event_source_disable_unref(b->flush);
                hashmap_free(b->dirty_pfs);
                hashmap_free(b->dirty_vfs);
                hashmap_free(b->new_vfs);
                bus_bound_callers_free(b);
                diagnose_cache_free(b->diagnose_cache);
                sd_bus_flush_close_unref(b->bus);
                free(b);
        }
        m->hooks_data = NULL;
        m->hooks = NULL; /* what the model tears down next is nobody's business */
}

static size_t hook_n_queued(Manager *m)
{
        BusState *b = m->hooks_data;
        uint64_t n = 0;

        return b && sd_bus_get_n_queued_write(b->bus, &n) >= 0 ? (size_t) n : 0;
}

static const ManagerHooks bus_hooks = {
        .pf_added = hook_pf_added,
        .pf_removed = hook_pf_removed,
        .pf_changed = hook_pf_changed,
        .vf_added = hook_vf_added,
        .vf_removed = hook_vf_removed,
        .vf_changed = hook_vf_changed,
        .pool_added = pool_bus_added,
        .pool_changed = pool_bus_changed,
        .pool_removed = pool_bus_removed,
        .manager_changed = hook_manager_changed,
        .leases_loaded = bus_leases_loaded,
        .n_queued = hook_n_queued,
        .manager_free = hook_manager_free,
};

sd_bus *bus_get(Manager *m)
{
        BusState *b = m->hooks_data;

        return m->hooks == &bus_hooks && b ? b->bus : NULL;
}

int bus_attach(Manager *m, sd_bus *bus)
{
        BusState *b;
        int r;

        b = calloc(1, sizeof(BusState));
        if (!b)
                return -ENOMEM;
        b->bus = sd_bus_ref(bus);
        m->hooks_data = b;
        m->hooks = &bus_hooks;
        b->dirty_pfs = hashmap_new_string();
        b->dirty_vfs = hashmap_new_string();
        b->new_vfs = hashmap_new_string();
        if (!b->dirty_pfs || !b->dirty_vfs || !b->new_vfs)
                return -ENOMEM;
        /* Before any call can reach us (bus_setup() requests the name after this): a caller
         * that leaves from now on is seen. */
        callers = hashmap_new_string();
        b->bound_callers = hashmap_new_string();
        if (!callers || !b->bound_callers)
                return -ENOMEM;
        r = sd_bus_add_match_async(
                b->bus, &callers_gone,
                "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg2=''",
                on_name_gone, NULL, m);
        if (r < 0)
                return r;

        r = sd_event_add_defer(m->event, &b->flush, on_flush, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(b->flush, SD_EVENT_OFF);
        (void) sd_event_source_set_priority(b->flush, SD_EVENT_PRIORITY_IDLE + 1);
        (void) sd_event_source_set_description(b->flush, "bus-flush");

        r = bus_add_object_manager(m); /* objects-bus.c */
        if (r >= 0)
                r = sd_bus_add_object_vtable(b->bus, NULL, SRIOVD_BUS_PATH, SRIOVD_MANAGER_IFACE,
                                             manager_vtable, m);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(b->bus, NULL, SRIOVD_PF_PREFIX, SRIOVD_PF_IFACE, pf_vtable,
                                               pf_bus_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(b->bus, NULL, SRIOVD_PF_PREFIX, pf_bus_enumerate, m);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(b->bus, NULL, SRIOVD_VF_PREFIX, SRIOVD_VF_IFACE,
                                               vf_bus_vtable(), vf_bus_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(b->bus, NULL, SRIOVD_VF_PREFIX, vf_bus_enumerate, m);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(b->bus, NULL, SRIOVD_POOL_PREFIX, SRIOVD_POOL_IFACE,
                                               pool_vtable, pool_bus_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(b->bus, NULL, SRIOVD_POOL_PREFIX, pool_bus_enumerate, m);
        if (r < 0)
                return log_error_errno(r, "Cannot export objects: %m");
        return 0;
}

int bus_setup(Manager *m, const char *address)
{
        /* Not closed on return: bus_attach() keeps its own reference (closes with the model). */
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        if (address) {
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_start(bus);
        } else
                r = sd_bus_open_system_with_description(&bus, "sriovd");
        if (r < 0)
                return log_error_errno(r, "Cannot connect to the bus: %m");

        r = bus_attach(m, bus);
        if (r < 0)
                return r;
        r = sd_bus_request_name_async(bus, NULL, SRIOVD_BUS_NAME, 0, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot request bus name: %m");
        r = sd_bus_attach_event(bus, m->event, 0);
        if (r < 0)
                return r;
        return 0;
}
