/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sriovctl: the reference client of the org.sriovd1 D-Bus API (SPEC §6). Everything it shows
 * comes from the bus, nothing from sysfs; list-style verbs fetch the whole object tree with
 * one GetManagedObjects call. */

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "bind.h"
#include "doctor.h"
#include "gres.h"
#include "lease.h"
#include "libvirt.h"
#include "log.h"
#include "util.h"

#define BUS_NAME      "org.sriovd1"
#define ROOT_PATH     "/org/sriovd1"
#define PF_PREFIX     ROOT_PATH "/pf"
#define VF_PREFIX     ROOT_PATH "/vf"
#define POOL_PREFIX   ROOT_PATH "/pool"
#define IFACE_MANAGER "org.sriovd1.Manager"
#define IFACE_PF      "org.sriovd1.PhysicalFunction"
#define IFACE_VF      "org.sriovd1.VirtualFunction"
#define IFACE_POOL    "org.sriovd1.Pool"

#define EXIT_USAGE    2

bool arg_json = false; /* also read by doctor.c */
static bool arg_system = false;
static bool arg_ask_password = true;
static bool arg_all = false;
static const char *arg_address = NULL;
static const char *arg_pool = NULL;
static const char *arg_owner = NULL;
static const char *arg_pf = NULL;
static const char *arg_pci = NULL;
static int arg_numa = -1;
static bool arg_have_numa = false;
static uint64_t arg_timeout_usec = 120 * 1000000ULL;

/* ---------------------------------------------------------------------------------------- */
/* A generic copy of what the bus returned: enough to print tables and JSON without knowing
 * every property in advance, so a newer daemon's extra properties show up in --json. */

typedef enum ValueKind {
        VALUE_NULL, /* a type we do not render */
        VALUE_STRING,
        VALUE_BOOL,
        VALUE_INT,
        VALUE_UINT,
        VALUE_DOUBLE,
        VALUE_STRV,
        _VALUE_KIND_MAX,
        _VALUE_KIND_INVALID = -EINVAL,
} ValueKind;

typedef struct Prop {
        char *name;
        ValueKind kind;
        char *s;
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        char **strv;
} Prop;

typedef struct Object {
        char *path;
        char *iface;
        Prop *props;
        size_t n_props;
} Object;

typedef struct ObjectSet {
        Object *objects;
        size_t n_objects;
} ObjectSet;

static void prop_done(Prop *p)
{
        free(p->name);
        free(p->s);
        strv_free(p->strv);
        *p = (Prop){};
}

static void object_done(Object *o)
{
        for (size_t i = 0; i < o->n_props; i++)
                prop_done(&o->props[i]);
        free(o->props);
        free(o->path);
        free(o->iface);
        *o = (Object){};
}

static ObjectSet *object_set_free(ObjectSet *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_objects; i++)
                object_done(&s->objects[i]);
        free(s->objects);
        return mfree(s);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ObjectSet *, object_set_free);

static const Prop *object_prop(const Object *o, const char *name)
{
        if (!o)
                return NULL;
        for (size_t i = 0; i < o->n_props; i++)
                if (streq(o->props[i].name, name))
                        return &o->props[i];
        return NULL;
}

static const char *object_str(const Object *o, const char *name)
{
        const Prop *p = object_prop(o, name);
        return p && p->kind == VALUE_STRING ? p->s : "";
}

static uint64_t object_uint(const Object *o, const char *name)
{
        const Prop *p = object_prop(o, name);
        if (!p)
                return 0;
        return p->kind == VALUE_UINT ? p->u : p->kind == VALUE_INT && p->i > 0 ? (uint64_t) p->i : 0;
}

static int64_t object_int(const Object *o, const char *name, int64_t def)
{
        const Prop *p = object_prop(o, name);
        if (!p)
                return def;
        return p->kind == VALUE_INT ? p->i : p->kind == VALUE_UINT ? (int64_t) p->u : def;
}

static bool object_bool(const Object *o, const char *name)
{
        const Prop *p = object_prop(o, name);
        return p && p->kind == VALUE_BOOL && p->b;
}

/* Reads one variant into *p (name already set). */
static int prop_read_variant(sd_bus_message *m, Prop *p)
{
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (type != SD_BUS_TYPE_VARIANT)
                return -EBADMSG;
        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents);
        if (r < 0)
                return r;

        switch (contents[0]) {
        case 's':
        case 'o':
        case 'g': {
                const char *s;
                r = sd_bus_message_read_basic(m, contents[0], &s);
                if (r < 0)
                        return r;
                p->s = strdup(s);
                if (!p->s)
                        return -ENOMEM;
                p->kind = VALUE_STRING;
                break;
        }
        case 'b': {
                int b;
                r = sd_bus_message_read_basic(m, 'b', &b);
                p->b = b;
                p->kind = VALUE_BOOL;
                break;
        }
        case 'y': {
                uint8_t v;
                r = sd_bus_message_read_basic(m, 'y', &v);
                p->u = v;
                p->kind = VALUE_UINT;
                break;
        }
        case 'q': {
                uint16_t v;
                r = sd_bus_message_read_basic(m, 'q', &v);
                p->u = v;
                p->kind = VALUE_UINT;
                break;
        }
        case 'u': {
                uint32_t v;
                r = sd_bus_message_read_basic(m, 'u', &v);
                p->u = v;
                p->kind = VALUE_UINT;
                break;
        }
        case 't': {
                uint64_t v;
                r = sd_bus_message_read_basic(m, 't', &v);
                p->u = v;
                p->kind = VALUE_UINT;
                break;
        }
        case 'n': {
                int16_t v;
                r = sd_bus_message_read_basic(m, 'n', &v);
                p->i = v;
                p->kind = VALUE_INT;
                break;
        }
        case 'i': {
                int32_t v;
                r = sd_bus_message_read_basic(m, 'i', &v);
                p->i = v;
                p->kind = VALUE_INT;
                break;
        }
        case 'x': {
                int64_t v;
                r = sd_bus_message_read_basic(m, 'x', &v);
                p->i = v;
                p->kind = VALUE_INT;
                break;
        }
        case 'd':
                r = sd_bus_message_read_basic(m, 'd', &p->d);
                p->kind = VALUE_DOUBLE;
                break;
        case 'a':
                if (contents[1] && strchr("sog", contents[1]) && !contents[2]) {
                        r = sd_bus_message_read_strv(m, &p->strv);
                        if (r >= 0 && !p->strv) {
                                p->strv = calloc(1, sizeof(char *));
                                if (!p->strv)
                                        return -ENOMEM;
                        }
                        p->kind = VALUE_STRV;
                        break;
                }
                __attribute__((fallthrough));
        default:
                r = sd_bus_message_skip(m, contents);
                p->kind = VALUE_NULL;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Reads an a{sv} into o's properties, replacing existing ones of the same name. */
static int object_read_props(sd_bus_message *m, Object *o)
{
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
                _cleanup_(prop_done) Prop p = {};
                const char *name;
                Prop *slot = NULL;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;
                p.name = strdup(name);
                if (!p.name)
                        return -ENOMEM;
                r = prop_read_variant(m, &p);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;

                for (size_t i = 0; i < o->n_props; i++)
                        if (streq(o->props[i].name, name))
                                slot = &o->props[i];
                if (slot)
                        prop_done(slot);
                else {
                        Prop *a = reallocarray(o->props, o->n_props + 1, sizeof(Prop));
                        if (!a)
                                return -ENOMEM;
                        o->props = a;
                        slot = &o->props[o->n_props++];
                }
                *slot = p;
                p = (Prop){};
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static bool iface_is_ours(const char *iface)
{
        return strncmp(iface, "org.sriovd1.", strlen("org.sriovd1.")) == 0;
}

static Object *object_set_find(ObjectSet *s, const char *path, const char *iface)
{
        for (size_t i = 0; i < s->n_objects; i++)
                if (streq(s->objects[i].path, path) && (!iface || streq(s->objects[i].iface, iface)))
                        return &s->objects[i];
        return NULL;
}

static int object_set_add(ObjectSet *s, const char *path, const char *iface, Object **ret)
{
        Object *a, *o;

        o = object_set_find(s, path, iface);
        if (o) {
                *ret = o;
                return 0;
        }
        a = reallocarray(s->objects, s->n_objects + 1, sizeof(Object));
        if (!a)
                return -ENOMEM;
        s->objects = a;
        o = &s->objects[s->n_objects];
        *o = (Object){};
        o->path = strdup(path);
        o->iface = strdup(iface);
        if (!o->path || !o->iface) {
                object_done(o);
                return -ENOMEM;
        }
        s->n_objects++;
        *ret = o;
        return 0;
}

static void object_set_remove(ObjectSet *s, const char *path, const char *iface)
{
        for (size_t i = 0; i < s->n_objects; i++)
                if (streq(s->objects[i].path, path) && streq(s->objects[i].iface, iface)) {
                        object_done(&s->objects[i]);
                        memmove(s->objects + i, s->objects + i + 1, (s->n_objects - i - 1) * sizeof(Object));
                        s->n_objects--;
                        return;
                }
}

/* Reads an a{sa{sv}} (interfaces and their properties) of one object. */
static int object_set_read_interfaces(ObjectSet *s, sd_bus_message *m, const char *path)
{
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sa{sv}}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sa{sv}")) > 0) {
                const char *iface;
                Object *o;

                r = sd_bus_message_read_basic(m, 's', &iface);
                if (r < 0)
                        return r;
                if (!iface_is_ours(iface))
                        r = sd_bus_message_skip(m, "a{sv}");
                else {
                        r = object_set_add(s, path, iface, &o);
                        if (r < 0)
                                return r;
                        r = object_read_props(m, o);
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int object_set_read_managed(ObjectSet *s, sd_bus_message *m)
{
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{oa{sa{sv}}}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "oa{sa{sv}}")) > 0) {
                const char *path;

                r = sd_bus_message_read_basic(m, 'o', &path);
                if (r < 0)
                        return r;
                r = object_set_read_interfaces(s, m, path);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* The Manager itself is not a managed object (ObjectManager lists children only), so its
 * properties come from GetAll. */
static int object_set_read_manager(ObjectSet *s, sd_bus_message *m)
{
        Object *o;
        int r;

        r = object_set_add(s, ROOT_PATH, IFACE_MANAGER, &o);
        if (r < 0)
                return r;
        return object_read_props(m, o);
}

/* Sort key: PFs by PCI address, VFs by (PF, index), pools by name. */
static const ObjectSet *sort_set;

static const char *object_pf_pci(const ObjectSet *s, const Object *vf)
{
        const char *pf = object_str(vf, "PhysicalFunction");

        for (size_t i = 0; i < s->n_objects; i++)
                if (streq(s->objects[i].path, pf) && streq(s->objects[i].iface, IFACE_PF))
                        return object_str(&s->objects[i], "PCIAddress");
        return pf;
}

static int object_cmp(const void *a, const void *b)
{
        const Object *x = a, *y = b;
        int r = strcmp(x->iface, y->iface);

        if (r != 0)
                return r;
        if (streq(x->iface, IFACE_PF))
                r = strcmp(object_str(x, "PCIAddress"), object_str(y, "PCIAddress"));
        else if (streq(x->iface, IFACE_POOL))
                r = strcmp(object_str(x, "Name"), object_str(y, "Name"));
        else if (streq(x->iface, IFACE_VF)) {
                r = strcmp(object_pf_pci(sort_set, x), object_pf_pci(sort_set, y));
                if (r == 0) {
                        uint64_t i = object_uint(x, "Index"), j = object_uint(y, "Index");
                        r = i < j ? -1 : i > j ? 1 : 0;
                }
        }
        return r != 0 ? r : strcmp(x->path, y->path);
}

static void object_set_sort(ObjectSet *s)
{
        sort_set = s;
        if (s->n_objects > 1)
                qsort(s->objects, s->n_objects, sizeof(Object), object_cmp);
        sort_set = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Errors */

static const struct {
        const char *name;
        const char *text;
} error_table[] = {
        {"org.sriovd1.Error.NoSuchPool", "no such pool"},
        {"org.sriovd1.Error.PoolExhausted", "no free, healthy VF left in the pool"},
        {"org.sriovd1.Error.NotAllocated", "the VF is not allocated"},
        {"org.sriovd1.Error.NotOwner", "the VF is allocated to a different owner"},
        {"org.sriovd1.Error.InUse", "in use"},
        {"org.sriovd1.Error.InvalidArgument", "invalid argument"},
        {SD_BUS_ERROR_ACCESS_DENIED,
         "access denied (needs root or polkit authorization for org.sriovd1.manage)"},
        {SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
         "authorization required (needs root or polkit authorization for org.sriovd1.manage)"},
        {SD_BUS_ERROR_SERVICE_UNKNOWN, "sriovd is not running"},
        {SD_BUS_ERROR_NAME_HAS_NO_OWNER, "sriovd is not running"},
        {SD_BUS_ERROR_NO_REPLY, "sriovd did not reply in time"},
        {SD_BUS_ERROR_TIMEOUT, "sriovd did not reply in time"},
        {SD_BUS_ERROR_UNKNOWN_METHOD, "sriovd does not know this call (version mismatch?)"},
        {SD_BUS_ERROR_UNKNOWN_OBJECT, "no such object"},
};

/* One line, always: "Failed to WHAT: friendly text (daemon's message)". Also used by libvirt.c. */
int log_bus_error(const sd_bus_error *e, int r, const char *what)
{
        const char *friendly = NULL;
        char msg[512] = "";

        if (sd_bus_error_is_set(e)) {
                for (size_t i = 0; i < ELEMENTSOF(error_table); i++)
                        if (sd_bus_error_has_name(e, error_table[i].name))
                                friendly = error_table[i].text;
                snprintf(msg, sizeof(msg), "%s", strempty(e->message));
                for (char *c = msg; *c; c++)
                        if ((unsigned char) *c < 0x20)
                                *c = ' ';
        }
        if (friendly && *msg && !streq(msg, friendly))
                log_error("Failed to %s: %s (%s)", what, friendly, msg);
        else if (friendly || *msg)
                log_error("Failed to %s: %s", what, friendly ?: msg);
        else
                log_error_errno(r, "Failed to %s: %m", what);
        return -abs(r ?: EIO);
}

/* ---------------------------------------------------------------------------------------- */
/* Output */

static void json_string(const char *s)
{
        putchar('"');
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        printf("\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", stdout);
                else if (*p == '\t')
                        fputs("\\t", stdout);
                else if (*p < 0x20 || *p == 0x7f)
                        printf("\\u%04x", *p);
                else
                        putchar(*p);
        }
        putchar('"');
}

static void json_prop_value(const Prop *p)
{
        switch (p->kind) {
        case VALUE_STRING:
                json_string(p->s);
                break;
        case VALUE_BOOL:
                fputs(p->b ? "true" : "false", stdout);
                break;
        case VALUE_INT:
                printf("%" PRIi64, p->i);
                break;
        case VALUE_UINT:
                printf("%" PRIu64, p->u);
                break;
        case VALUE_DOUBLE:
                printf("%.17g", p->d);
                break;
        case VALUE_STRV:
                putchar('[');
                STRV_FOREACH(s, p->strv) {
                        if (s != p->strv)
                                putchar(',');
                        json_string(*s);
                }
                putchar(']');
                break;
        default:
                fputs("null", stdout);
        }
}

/* The object's properties under their D-Bus names, plus "ObjectPath". Leaves the brace open
 * when open_end is set, so callers can append members. */
static void json_object(const Object *o, bool open_end)
{
        fputs("{\"ObjectPath\":", stdout);
        json_string(o->path);
        for (size_t i = 0; i < o->n_props; i++) {
                putchar(',');
                json_string(o->props[i].name);
                putchar(':');
                json_prop_value(&o->props[i]);
        }
        if (!open_end)
                putchar('}');
}

static void json_objects(const ObjectSet *s, const char *iface, bool (*filter)(const Object *, const void *),
                         const void *userdata)
{
        bool first = true;

        putchar('[');
        for (size_t i = 0; i < s->n_objects; i++) {
                const Object *o = &s->objects[i];
                if (!streq(o->iface, iface) || (filter && !filter(o, userdata)))
                        continue;
                if (!first)
                        putchar(',');
                first = false;
                json_object(o, false);
        }
        putchar(']');
}

static size_t utf8_width(const char *s)
{
        size_t n = 0;
        for (; *s; s++)
                if (((unsigned char) *s & 0xc0) != 0x80)
                        n++;
        return n;
}

typedef struct Table {
        size_t n_columns;
        char **cells; /* row-major, header first */
        size_t n_cells;
} Table;

static Table *table_free(Table *t)
{
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        return mfree(t);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

static int table_add(Table *t, const char *cell)
{
        char **a = reallocarray(t->cells, t->n_cells + 1, sizeof(char *));
        if (!a)
                return -ENOMEM;
        t->cells = a;
        t->cells[t->n_cells] = strdup(isempty(cell) ? "-" : cell);
        if (!t->cells[t->n_cells])
                return -ENOMEM;
        t->n_cells++;
        return 0;
}

static int table_new(Table **ret, const char *const *header)
{
        _cleanup_(table_freep) Table *t = calloc(1, sizeof(Table));
        int r;

        if (!t)
                return -ENOMEM;
        for (const char *const *h = header; *h; h++) {
                r = table_add(t, *h);
                if (r < 0)
                        return r;
                t->n_columns++;
        }
        *ret = TAKE_PTR(t);
        return 0;
}

static int table_add_row(Table *t, ...)
{
        va_list ap;
        int r = 0;

        va_start(ap, t);
        for (size_t i = 0; i < t->n_columns && r >= 0; i++)
                r = table_add(t, va_arg(ap, const char *));
        va_end(ap);
        return r;
}

static size_t table_rows(const Table *t)
{
        return t->n_cells / t->n_columns - 1;
}

static void table_print(const Table *t)
{
        size_t widths[16] = {};

        for (size_t i = 0; i < t->n_cells; i++)
                widths[i % t->n_columns] = MAX(widths[i % t->n_columns], utf8_width(t->cells[i]));
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t c = i % t->n_columns;
                if (c + 1 == t->n_columns)
                        printf("%s\n", t->cells[i]);
                else
                        printf("%s%*s", t->cells[i], (int) (widths[c] - utf8_width(t->cells[i]) + 1), "");
        }
}

static const char *path_label(const char *path, char **buf)
{
        static const char *const prefixes[] = {PF_PREFIX, VF_PREFIX, POOL_PREFIX};

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (sd_bus_path_decode(path, prefixes[i], buf) > 0)
                        return *buf;
        return path;
}

/* ---------------------------------------------------------------------------------------- */
/* Bus plumbing */

static int bus_connect(sd_bus **ret)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *address = arg_address;
        int r;

        if (!address && !arg_system)
                address = getenv("SRIOVD_BUS_ADDRESS");

        if (address) {
                r = sd_bus_new(&bus);
                if (r < 0)
                        return log_error_errno(r, "Failed to allocate bus: %m");
                (void) sd_bus_set_description(bus, "sriovctl");
                r = sd_bus_set_address(bus, address);
                if (r < 0)
                        return log_error_errno(r, "Invalid bus address '%s': %m", address);
                (void) sd_bus_set_bus_client(bus, 1);
                r = sd_bus_start(bus);
                if (r < 0)
                        return log_error_errno(r, "Failed to connect to bus %s: %m", address);
        } else {
                r = sd_bus_open_system_with_description(&bus, "sriovctl");
                if (r < 0)
                        return log_error_errno(r, "Failed to connect to the system bus: %m");
        }
        (void) sd_bus_set_allow_interactive_authorization(bus, arg_ask_password);
        *ret = TAKE_PTR(bus);
        return 0;
}

static int fetch_all(sd_bus *bus, ObjectSet **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL, *mgr = NULL;
        _cleanup_(object_set_freep) ObjectSet *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", &error, &reply, NULL);
        if (r < 0)
                return log_bus_error(&error, r, "list objects");
        r = object_set_read_managed(s, reply);
        if (r < 0)
                return log_error_errno(r, "Failed to parse GetManagedObjects reply: %m");

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, "org.freedesktop.DBus.Properties", "GetAll", &error,
                               &mgr, "s", IFACE_MANAGER);
        if (r < 0)
                return log_bus_error(&error, r, "get manager properties");
        r = object_set_read_manager(s, mgr);
        if (r < 0)
                return log_error_errno(r, "Failed to parse manager properties: %m");

        object_set_sort(s);
        *ret = TAKE_PTR(s);
        return 0;
}

static int fetch_object(sd_bus *bus, const char *path, const char *iface, ObjectSet **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(object_set_freep) ObjectSet *s = NULL;
        Object *o;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        r = sd_bus_call_method(bus, BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll", &error,
                               &reply, "s", iface);
        if (r < 0)
                return log_bus_error(&error, r, "get properties");
        r = object_set_add(s, path, iface, &o);
        if (r < 0)
                return log_oom();
        r = object_read_props(reply, o);
        if (r < 0)
                return log_error_errno(r, "Failed to parse properties of %s: %m", path);
        *ret = TAKE_PTR(s);
        return 0;
}

static const Object *find_pf(const ObjectSet *s, const char *arg)
{
        for (size_t i = 0; i < s->n_objects; i++) {
                const Object *o = &s->objects[i];
                if (!streq(o->iface, IFACE_PF))
                        continue;
                if (streq(o->path, arg) || streq(object_str(o, "PCIAddress"), arg) ||
                    (!isempty(object_str(o, "Interface")) && streq(object_str(o, "Interface"), arg)))
                        return o;
        }
        return NULL;
}

/* A VF given as object path, PCI address or netdev name -> object path. */
static int resolve_vf(sd_bus *bus, const char *arg, char **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if (arg[0] == '/') {
                if (!sd_bus_object_path_is_valid(arg))
                        return log_error_errno(EINVAL, "Invalid object path: %s", arg);
                *ret = strdup(arg);
                return *ret ? 0 : log_oom();
        }

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "ListVirtualFunctions", &error,
                               &reply, "s", "");
        if (r < 0)
                return log_bus_error(&error, r, "list virtual functions");
        r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "(osoussb)");
        if (r < 0)
                return log_error_errno(r, "Failed to parse ListVirtualFunctions reply: %m");
        for (;;) {
                const char *path, *pci, *pf, *ifname, *pool;
                uint32_t idx;
                int allocated;

                r = sd_bus_message_read(reply, "(osoussb)", &path, &pci, &pf, &idx, &ifname, &pool,
                                        &allocated);
                if (r < 0)
                        return log_error_errno(r, "Failed to parse ListVirtualFunctions reply: %m");
                if (r == 0)
                        break;
                if (streq(pci, arg) || (!isempty(ifname) && streq(ifname, arg))) {
                        *ret = strdup(path);
                        return *ret ? 0 : log_oom();
                }
        }
        return log_error_errno(
                ENOENT,
                "No such virtual function: %s (expected an object path, PCI address or interface name)",
                arg);
}

/* ---------------------------------------------------------------------------------------- */
/* Verbs */

static int print_pf_table(const ObjectSet *s, bool footer)
{
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = table_new(&t, (const char *const[]){"PCI", "INTERFACE", "DRIVER", "VFS", "NUMA", "STATE",
                                                "CONFIG", NULL});
        if (r < 0)
                return log_oom();
        for (size_t i = 0; i < s->n_objects; i++) {
                const Object *o = &s->objects[i];
                char vfs[80], numa[24];
                const char *cf = object_str(o, "ConfigFile");

                if (!streq(o->iface, IFACE_PF))
                        continue;
                snprintf(vfs, sizeof(vfs), "%" PRIu64 "/%" PRIu64, object_uint(o, "NumVFs"),
                         object_uint(o, "TotalVFs"));
                if (object_uint(o, "NumVFs") != object_uint(o, "DesiredNumVFs") &&
                    !streq(object_str(o, "State"), "unmanaged"))
                        snprintf(vfs, sizeof(vfs), "%" PRIu64 "/%" PRIu64 "→%" PRIu64,
                                 object_uint(o, "NumVFs"), object_uint(o, "TotalVFs"),
                                 object_uint(o, "DesiredNumVFs"));
                if (object_int(o, "NUMANode", -1) >= 0)
                        snprintf(numa, sizeof(numa), "%" PRIi64, object_int(o, "NUMANode", -1));
                else
                        numa[0] = 0;
                r = table_add_row(t, object_str(o, "PCIAddress"), object_str(o, "Interface"),
                                  object_str(o, "Driver"), vfs, numa, object_str(o, "State"),
                                  isempty(cf) ? "" : path_basename(cf));
                if (r < 0)
                        return log_oom();
        }
        if (table_rows(t) > 0)
                table_print(t);
        if (footer)
                printf("%s%zu physical function%s listed.\n", table_rows(t) > 0 ? "\n" : "", table_rows(t),
                       table_rows(t) == 1 ? "" : "s");
        return 0;
}

static bool filter_pool(const Object *o, const void *pool)
{
        return !pool || streq(object_str(o, "Pool"), pool);
}

static bool filter_pf(const Object *o, const void *pf_path)
{
        return streq(object_str(o, "PhysicalFunction"), pf_path);
}

static int print_vf_table(const ObjectSet *s, bool (*filter)(const Object *, const void *),
                          const void *userdata)
{
        _cleanup_(table_freep) Table *t = NULL;
        size_t n_allocated = 0;
        int r;

        r = table_new(&t, (const char *const[]){"PCI", "PF", "IDX", "INTERFACE", "DRIVER", "POOL", "STATE",
                                                "OWNER", NULL});
        if (r < 0)
                return log_oom();
        for (size_t i = 0; i < s->n_objects; i++) {
                const Object *o = &s->objects[i];
                char idx[24];

                if (!streq(o->iface, IFACE_VF) || (filter && !filter(o, userdata)))
                        continue;
                snprintf(idx, sizeof(idx), "%" PRIu64, object_uint(o, "Index"));
                if (object_bool(o, "Allocated"))
                        n_allocated++;
                r = table_add_row(t, object_str(o, "PCIAddress"), object_pf_pci(s, o), idx,
                                  object_str(o, "Interface"), object_str(o, "Driver"), object_str(o, "Pool"),
                                  object_str(o, "State"),
                                  object_bool(o, "Allocated") ? object_str(o, "Owner") : "");
                if (r < 0)
                        return log_oom();
        }
        if (table_rows(t) > 0)
                table_print(t);
        printf("%s%zu virtual function%s listed, %zu allocated.\n", table_rows(t) > 0 ? "\n" : "",
               table_rows(t), table_rows(t) == 1 ? "" : "s", n_allocated);
        return 0;
}

static int verb_list(sd_bus *bus, char **args)
{
        _cleanup_(object_set_freep) ObjectSet *s = NULL;
        int r;

        r = fetch_all(bus, &s);
        if (r < 0)
                return r;
        if (arg_json) {
                json_objects(s, IFACE_PF, NULL, NULL);
                putchar('\n');
                return 0;
        }
        return print_pf_table(s, true);
}

static int verb_vfs(sd_bus *bus, char **args)
{
        _cleanup_(object_set_freep) ObjectSet *s = NULL;
        int r;

        r = fetch_all(bus, &s);
        if (r < 0)
                return r;
        if (arg_pool) {
                bool found = false;
                for (size_t i = 0; i < s->n_objects; i++)
                        if (streq(s->objects[i].iface, IFACE_POOL) &&
                            streq(object_str(&s->objects[i], "Name"), arg_pool))
                                found = true;
                if (!found)
                        return log_error_errno(ENOENT, "No such pool: %s", arg_pool);
        }
        if (arg_json) {
                json_objects(s, IFACE_VF, filter_pool, arg_pool);
                putchar('\n');
                return 0;
        }
        return print_vf_table(s, filter_pool, arg_pool);
}

static int verb_pools(sd_bus *bus, char **args)
{
        _cleanup_(object_set_freep) ObjectSet *s = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = fetch_all(bus, &s);
        if (r < 0)
                return r;
        if (arg_json) {
                json_objects(s, IFACE_POOL, NULL, NULL);
                putchar('\n');
                return 0;
        }
        r = table_new(&t, (const char *const[]){"POOL", "TOTAL", "FREE", "ALLOCATED", NULL});
        if (r < 0)
                return log_oom();
        for (size_t i = 0; i < s->n_objects; i++) {
                const Object *o = &s->objects[i];
                char total[24], free_[24], alloc[24];
                uint64_t tot = object_uint(o, "Total"), fr = object_uint(o, "Free");

                if (!streq(o->iface, IFACE_POOL))
                        continue;
                snprintf(total, sizeof(total), "%" PRIu64, tot);
                snprintf(free_, sizeof(free_), "%" PRIu64, fr);
                /* Free counts free *healthy* VFs, so Total - Free also counts broken ones;
                 * count the leases instead. */
                size_t n_alloc = 0;
                for (size_t j = 0; j < s->n_objects; j++)
                        if (streq(s->objects[j].iface, IFACE_VF) &&
                            streq(object_str(&s->objects[j], "Pool"), object_str(o, "Name")) &&
                            object_bool(&s->objects[j], "Allocated"))
                                n_alloc++;
                snprintf(alloc, sizeof(alloc), "%zu", n_alloc);
                r = table_add_row(t, object_str(o, "Name"), total, free_, alloc);
                if (r < 0)
                        return log_oom();
        }
        if (table_rows(t) > 0)
                table_print(t);
        printf("%s%zu pool%s listed.\n", table_rows(t) > 0 ? "\n" : "", table_rows(t),
               table_rows(t) == 1 ? "" : "s");
        return 0;
}

static void print_field(const char *name, const char *value)
{
        printf("%16s: %s\n", name, value);
}

static void print_field_strv(const char *name, char **l)
{
        if (strv_length(l) == 0) {
                print_field(name, "none");
                return;
        }
        STRV_FOREACH(s, l) {
                if (s == l)
                        print_field(name, *s);
                else
                        printf("%16s  %s\n", "", *s);
        }
}

static int status_pf(const ObjectSet *s, const Object *pf)
{
        char buf[512];
        const char *ifname = object_str(pf, "Interface");
        const Prop *speed = object_prop(pf, "LinkSpeed");

        if (arg_json) {
                json_object(pf, true);
                fputs(",\"VirtualFunctions\":", stdout);
                json_objects(s, IFACE_VF, filter_pf, pf->path);
                puts("}");
                return 0;
        }

        printf("● %s%s%s%s\n", object_str(pf, "PCIAddress"), isempty(ifname) ? "" : " (", ifname,
               isempty(ifname) ? "" : ")");
        print_field("State", object_str(pf, "State"));
        snprintf(buf, sizeof(buf), "%s %s (%04" PRIx64 ":%04" PRIx64 ")", object_str(pf, "VendorName"),
                 object_str(pf, "DeviceName"), object_uint(pf, "VendorId"), object_uint(pf, "DeviceId"));
        print_field("Device", buf);
        print_field("Driver", strna(object_str(pf, "Driver")[0] ? object_str(pf, "Driver") : NULL));
        if (object_int(pf, "NUMANode", -1) >= 0) {
                snprintf(buf, sizeof(buf), "%" PRIi64, object_int(pf, "NUMANode", -1));
                print_field("NUMA Node", buf);
        }
        if (speed && object_uint(pf, "LinkSpeed") > 0) {
                snprintf(buf, sizeof(buf), "%" PRIu64 " Mb/s", object_uint(pf, "LinkSpeed"));
                print_field("Link Speed", buf);
        }
        snprintf(buf, sizeof(buf), "%" PRIu64 " of %" PRIu64 " (desired %" PRIu64 ")",
                 object_uint(pf, "NumVFs"), object_uint(pf, "TotalVFs"), object_uint(pf, "DesiredNumVFs"));
        print_field("VFs", buf);
        print_field("Config File",
                    isempty(object_str(pf, "ConfigFile")) ? "none" : object_str(pf, "ConfigFile"));
        if (!isempty(object_str(pf, "LastError")))
                print_field("Last Error", object_str(pf, "LastError"));
        putchar('\n');
        return print_vf_table(s, filter_pf, pf->path);
}

static int verb_status(sd_bus *bus, char **args)
{
        _cleanup_(object_set_freep) ObjectSet *s = NULL;
        const Object *mgr;
        int r;

        r = fetch_all(bus, &s);
        if (r < 0)
                return r;

        if (args[0]) {
                const Object *pf = find_pf(s, args[0]);
                if (!pf)
                        return log_error_errno(ENOENT, "No such physical function: %s", args[0]);
                return status_pf(s, pf);
        }

        mgr = object_set_find(s, ROOT_PATH, IFACE_MANAGER);
        if (arg_json) {
                fputs("{\"Manager\":", stdout);
                json_object(mgr, false);
                fputs(",\"PhysicalFunctions\":", stdout);
                json_objects(s, IFACE_PF, NULL, NULL);
                fputs(",\"Pools\":", stdout);
                json_objects(s, IFACE_POOL, NULL, NULL);
                puts("}");
                return 0;
        }

        print_field("State", object_str(mgr, "State"));
        print_field("Version", object_str(mgr, "Version"));
        const Prop *files = object_prop(mgr, "ConfigFiles"), *errors = object_prop(mgr, "ConfigErrors");
        print_field_strv("Config Files", files ? files->strv : NULL);
        print_field_strv("Config Errors", errors ? errors->strv : NULL);
        putchar('\n');
        return print_pf_table(s, true);
}

static int verb_allocate(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(object_set_freep) ObjectSet *all = NULL, *vf = NULL;
        _cleanup_free_ char *what = NULL;
        const char *pool = args[0], *path, *pf = arg_pf;
        const Object *o;
        int r;

        if (!arg_owner)
                return log_error_errno(EINVAL, "allocate needs --owner=OWNER.");
        if (!lease_owner_is_valid(arg_owner))
                return log_error_errno(EINVAL,
                                       "Invalid owner: 1-%d bytes of UTF-8 without control characters.",
                                       LEASE_OWNER_MAX);
        /* The hint carries a PF PCI address; let users name the PF as they see it. */
        if (pf && !pci_address_is_valid(pf)) {
                const Object *p;
                r = fetch_all(bus, &all);
                if (r < 0)
                        return r;
                p = find_pf(all, pf);
                if (!p)
                        return log_error_errno(ENOENT, "No such physical function: %s", pf);
                pf = object_str(p, "PCIAddress");
        }

        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "Allocate");
        if (r < 0)
                return log_oom();
        r = sd_bus_message_append(m, "ss", pool, arg_owner);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && arg_have_numa)
                r = sd_bus_message_append(m, "{sv}", "numa_node", "i", (int32_t) arg_numa);
        if (r >= 0 && pf)
                r = sd_bus_message_append(m, "{sv}", "pf", "s", pf);
        if (r >= 0 && arg_pci)
                r = sd_bus_message_append(m, "{sv}", "pci", "s", arg_pci);
        if (r >= 0)
                r = bind_append_hints(m); /* bind.c */
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return log_error_errno(r, "Failed to build Allocate call: %m");

        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                (void) asprintf_safe(&what, "allocate from pool '%s'", pool);
                return log_bus_error(&error, r, what ?: "allocate");
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return log_error_errno(r, "Failed to parse Allocate reply: %m");

        r = fetch_object(bus, path, IFACE_VF, &vf);
        if (r < 0)
                return r;
        o = &vf->objects[0];
        if (bind_print_cdi(object_str(o, "PCIAddress")))
                return 0;
        if (arg_json) {
                json_object(o, false);
                putchar('\n');
                return 0;
        }
        printf("Allocated %s", object_str(o, "PCIAddress"));
        if (!isempty(object_str(o, "Interface")))
                printf(" (%s)", object_str(o, "Interface"));
        else if (!isempty(object_str(o, "VFIODevice")))
                printf(" (%s)", object_str(o, "VFIODevice"));
        printf(" from pool %s to %s: %s\n", pool, arg_owner, path);
        return 0;
}

static int verb_release(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL, *what = NULL;
        int r;

        if (!arg_owner)
                return log_error_errno(EINVAL, "release needs --owner=OWNER.");
        if (!lease_owner_is_valid(arg_owner))
                return log_error_errno(EINVAL,
                                       "Invalid owner: 1-%d bytes of UTF-8 without control characters.",
                                       LEASE_OWNER_MAX);

        if (arg_all) {
                uint32_t n;

                if (args[0])
                        return log_error_errno(EINVAL, "release --all takes no VF argument.");
                r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "ReleaseOwner", &error,
                                       &reply, "s", arg_owner);
                if (r < 0)
                        return log_bus_error(&error, r, "release VFs of owner");
                r = sd_bus_message_read(reply, "u", &n);
                if (r < 0)
                        return log_error_errno(r, "Failed to parse ReleaseOwner reply: %m");
                if (arg_json)
                        printf("{\"Released\":%" PRIu32 "}\n", n);
                else
                        printf("Released %" PRIu32 " VF%s of %s.\n", n, n == 1 ? "" : "s", arg_owner);
                return 0;
        }
        if (!args[0])
                return log_error_errno(
                        EINVAL, "release needs a VF (object path, PCI address or interface) or --all.");

        r = resolve_vf(bus, args[0], &path);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "Release", &error, NULL, "os", path,
                               arg_owner);
        if (r < 0) {
                (void) asprintf_safe(&what, "release %s", args[0]);
                return log_bus_error(&error, r, what ?: "release");
        }
        return 0;
}

static int verb_reload(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "Reload", &error, NULL, NULL);
        if (r < 0)
                return log_bus_error(&error, r, "reload");
        return 0;
}

static int verb_plan(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        bool first = true;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "Plan", &error, &reply, NULL);
        if (r < 0)
                return log_bus_error(&error, r, "compute plan");
        r = table_new(&t, (const char *const[]){"OBJECT", "ACTION", "REASON", NULL});
        if (r < 0)
                return log_oom();
        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        if (r < 0)
                return log_error_errno(r, "Failed to parse Plan reply: %m");
        if (arg_json)
                putchar('[');
        for (;;) {
                _cleanup_free_ char *label = NULL;
                const char *object, *action, *reason;

                r = sd_bus_message_read(reply, "(sss)", &object, &action, &reason);
                if (r < 0)
                        return log_error_errno(r, "Failed to parse Plan reply: %m");
                if (r == 0)
                        break;
                if (arg_json) {
                        printf("%s{\"Object\":", first ? "" : ",");
                        json_string(object);
                        fputs(",\"Action\":", stdout);
                        json_string(action);
                        fputs(",\"Reason\":", stdout);
                        json_string(reason);
                        putchar('}');
                        first = false;
                        continue;
                }
                r = table_add_row(t, path_label(object, &label), action, reason);
                if (r < 0)
                        return log_oom();
        }
        if (arg_json) {
                puts("]");
                return 0;
        }
        if (table_rows(t) == 0) {
                puts("No changes: the configuration on disk is applied.");
                return 0;
        }
        table_print(t);
        printf("\n%zu change%s planned; run 'sriovctl reload' to apply.\n", table_rows(t),
               table_rows(t) == 1 ? "" : "s");
        return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Event-driven verbs: monitor and wait-online. Both keep an ObjectSet in step with the
 * signals, so wait-online decides from the same data monitor prints. */

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
                                /* new names are ignored: GetManagedObjects told us the set */
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
        r = sd_bus_call_method(w->bus, BUS_NAME, ROOT_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", &error, &reply, NULL);
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
        r = object_set_read_managed(s, reply);
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

        /* Subscribe before the snapshot, so no change falls between the two. */
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, BUS_NAME, NULL, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_properties_changed, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, BUS_NAME, ROOT_PATH, "org.freedesktop.DBus.ObjectManager",
                                        "InterfacesAdded", on_interfaces_added, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, BUS_NAME, ROOT_PATH, "org.freedesktop.DBus.ObjectManager",
                                        "InterfacesRemoved", on_interfaces_removed, &w);
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

static int verb_monitor(sd_bus *bus, char **args)
{
        return run_watch(bus, true);
}

static int verb_wait_online(sd_bus *bus, char **args)
{
        return run_watch(bus, false);
}

/* ---------------------------------------------------------------------------------------- */

static void help(void)
{
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Query and control sriovd, the SR-IOV Virtual Function manager.\n\n"
               "Commands:\n"
               "  list                      List physical functions\n"
               "  doctor                    Check the SR-IOV/RDMA chain (IOMMU ... MTU)\n"
               "  status [PF]               Show daemon status, or one PF and its VFs\n"
               "  vfs [--pool=POOL]         List virtual functions\n"
               "  pools                     List pools\n"
               "  gres [NODENAME]           Print gres.conf lines for Slurm from the pools\n"
               "  allocate POOL --owner=O   Allocate a free VF from POOL\n"
               "         [--numa=N] [--pf=PF] [--pci=PCI]\n"
               "         [--bind-unit=UNIT] [--bind-pid=PID] [--cdi]\n"
               "  release VF --owner=O      Release a VF (object path, PCI address or interface)\n"
               "  release --all --owner=O   Release every VF of an owner\n"
               "  reload                    Re-read the configuration and apply it\n"
               "  plan                      Show what a reload would change, without applying\n"
               "  wait-online [--timeout=S] Wait until every managed PF is configured\n"
               "  monitor                   Follow changes live\n"
               "  libvirt-network POOL      Print a libvirt hostdev network of POOL's VFs\n\n"
               "Options:\n"
               "  -h --help                 Show this help\n"
               "     --version              Show package version\n"
               "     --json                 Print JSON (keys are the D-Bus property names)\n"
               "     --no-pager             Accepted for compatibility; output is never paged\n"
               "     --no-ask-password      Do not ask for polkit authentication\n"
               "     --system               Use the system bus (default)\n"
               "     --address=ADDRESS      Use this D-Bus address (also: $SRIOVD_BUS_ADDRESS)\n",

               program_invocation_short_name);
}

enum {
        ARG_VERSION = 0x100,
        ARG_JSON,
        ARG_NO_PAGER,
        ARG_NO_ASK_PASSWORD,
        ARG_SYSTEM,
        ARG_ADDRESS,
        ARG_POOL,
        ARG_OWNER,
        ARG_NUMA,
        ARG_PF,
        ARG_PCI,
        ARG_TIMEOUT,
        ARG_ALL,
        ARG_BIND_UNIT,
        ARG_BIND_PID,
        ARG_CDI,
};

static int parse_argv(int argc, char *argv[])
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"json", no_argument, NULL, ARG_JSON},
                {"no-pager", no_argument, NULL, ARG_NO_PAGER},
                {"no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD},
                {"system", no_argument, NULL, ARG_SYSTEM},
                {"address", required_argument, NULL, ARG_ADDRESS},
                {"pool", required_argument, NULL, ARG_POOL},
                {"owner", required_argument, NULL, ARG_OWNER},
                {"numa", required_argument, NULL, ARG_NUMA},
                {"pf", required_argument, NULL, ARG_PF},
                {"pci", required_argument, NULL, ARG_PCI},
                {"timeout", required_argument, NULL, ARG_TIMEOUT},
                {"all", no_argument, NULL, ARG_ALL},
                {"bind-unit", required_argument, NULL, ARG_BIND_UNIT}, /* bind.c */
                {"bind-pid", required_argument, NULL, ARG_BIND_PID},
                {"cdi", no_argument, NULL, ARG_CDI},
                {},
        };
        int c, r;
        uint32_t u;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("%s %s\n", program_invocation_short_name, PACKAGE_VERSION);
                        return 0;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_NO_PAGER:
                        break;
                case ARG_NO_ASK_PASSWORD:
                        arg_ask_password = false;
                        break;
                case ARG_SYSTEM:
                        arg_system = true;
                        arg_address = NULL;
                        break;
                case ARG_ADDRESS:
                        arg_address = optarg;
                        arg_system = false;
                        break;
                case ARG_POOL:
                        arg_pool = optarg;
                        break;
                case ARG_OWNER:
                        arg_owner = optarg;
                        break;
                case ARG_NUMA:
                        r = safe_atoi(optarg, &arg_numa);
                        if (r < 0 || arg_numa < 0)
                                return log_error_errno(EINVAL, "Invalid NUMA node: %s", optarg);
                        arg_have_numa = true;
                        break;
                case ARG_PF:
                        arg_pf = optarg;
                        break;
                case ARG_PCI:
                        if (!pci_address_is_valid(optarg))
                                return log_error_errno(EINVAL, "Invalid PCI address (want DDDD:BB:DD.F): %s",
                                                       optarg);
                        arg_pci = optarg;
                        break;
                case ARG_TIMEOUT:
                        r = safe_atou32(optarg, &u);
                        if (r < 0)
                                return log_error_errno(EINVAL, "Invalid timeout (seconds, 0 = forever): %s",
                                                       optarg);
                        arg_timeout_usec = (uint64_t) u * 1000000ULL;
                        break;
                case ARG_ALL:
                        arg_all = true;
                        break;
                case ARG_BIND_UNIT:
                        if (bind_parse_unit(optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_BIND_PID:
                        if (bind_parse_pid(optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_CDI:
                        bind_set_cdi();
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return -EINVAL;
                }
        return 1;
}

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args;
        int (*run)(sd_bus *bus, char **args);
} Verb;

static const Verb verbs[] = {
        {"list", 0, 0, verb_list},
        {"status", 0, 1, verb_status},
        {"vfs", 0, 0, verb_vfs},
        {"pools", 0, 0, verb_pools},
        {"allocate", 1, 1, verb_allocate},
        {"release", 0, 1, verb_release},
        {"reload", 0, 0, verb_reload},
        {"plan", 0, 0, verb_plan},
        {"wait-online", 0, 0, verb_wait_online},
        {"monitor", 0, 0, verb_monitor},
        {"doctor", 0, 0, verb_doctor},                   /* doctor.c */
        {"libvirt-network", 1, 1, verb_libvirt_network}, /* libvirt.c */
        {"gres", 0, 1, verb_gres},                       /* gres.c */
};

int main(int argc, char *argv[])
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const Verb *verb = NULL;
        const char *name;
        unsigned n_args;
        int r;

        log_setup();
        if (!isatty(STDIN_FILENO))
                arg_ask_password = false;

        r = parse_argv(argc, argv);
        if (r < 0)
                return EXIT_USAGE;
        if (r == 0)
                return EXIT_SUCCESS;

        name = optind < argc ? argv[optind] : "list";
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        verb = &verbs[i];
        if (!verb) {
                log_error("Unknown command '%s'. See '%s --help'.", name, program_invocation_short_name);
                return EXIT_USAGE;
        }
        n_args = optind < argc ? (unsigned) (argc - optind - 1) : 0;
        if (n_args < verb->min_args || n_args > verb->max_args) {
                log_error("'%s' takes %s%u argument%s. See '%s --help'.", name,
                          verb->min_args == verb->max_args ? "" : "at most ", verb->max_args,
                          verb->max_args == 1 ? "" : "s", program_invocation_short_name);
                return EXIT_USAGE;
        }
        if (arg_pool && verb->run != verb_vfs) {
                log_error("--pool= only applies to 'vfs'.");
                return EXIT_USAGE;
        }
        if (bind_any_set() && verb->run != verb_allocate) {
                log_error("--bind-unit=, --bind-pid= and --cdi only apply to 'allocate'.");
                return EXIT_USAGE;
        }

        r = bus_connect(&bus);
        if (r < 0)
                return EXIT_FAILURE;
        r = verb->run(bus, optind < argc ? argv + optind + 1 : (char *[]){NULL});
        if (fflush(stdout) != 0 && r >= 0)
                r = log_error_errno(errno, "Failed to write output: %m");
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
