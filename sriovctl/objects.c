/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A generic copy of what the bus returned: enough to print tables and JSON without knowing
 * every property in advance, so a newer daemon's extra properties show up in --json. */

#include <systemd/sd-bus.h>

#include "hashmap.h"
#include "objects.h"
#include "sriovctl.h"
#include "util.h"

void prop_done(Prop *p)
{
        free(p->name);
        free(p->s);
        strv_free(p->strv);
        *p = (Prop){};
}

void object_done(Object *o)
{
        for (size_t i = 0; i < o->n_props; i++)
                prop_done(&o->props[i]);
        free(o->props);
        free(o->path);
        free(o->iface);
        free(o->key);
        *o = (Object){};
}

ObjectSet *object_set_free(ObjectSet *s)
{
        if (!s)
                return NULL;
        hashmap_free(s->index);
        for (size_t i = 0; i < s->n_objects; i++)
                object_done(&s->objects[i]);
        free(s->objects);
        return mfree(s);
}

const Prop *object_prop(const Object *o, const char *name)
{
        if (!o)
                return NULL;
        for (size_t i = 0; i < o->n_props; i++)
                if (streq(o->props[i].name, name))
                        return &o->props[i];
        return NULL;
}

const char *object_str(const Object *o, const char *name)
{
        const Prop *p = object_prop(o, name);
        return p && p->kind == VALUE_STRING ? p->s : "";
}

uint64_t object_uint(const Object *o, const char *name)
{
        const Prop *p = object_prop(o, name);
        if (!p)
                return 0;
        return p->kind == VALUE_UINT ? p->u : p->kind == VALUE_INT && p->i > 0 ? (uint64_t) p->i : 0;
}

int64_t object_int(const Object *o, const char *name, int64_t def)
{
        const Prop *p = object_prop(o, name);
        if (!p)
                return def;
        return p->kind == VALUE_INT ? p->i : p->kind == VALUE_UINT ? (int64_t) p->u : def;
}

bool object_bool(const Object *o, const char *name)
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

/* Puts *p into o, in place of a property of the same name; takes *p (cleared) on success. */
static int object_put_prop(Object *o, Prop *p)
{
        Prop *slot = NULL;

        for (size_t i = 0; i < o->n_props; i++)
                if (streq(o->props[i].name, p->name))
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
        *slot = *p;
        *p = (Prop){};
        return 0;
}

/* Reads an a{sv} into o's properties, replacing existing ones of the same name. */
int object_read_props(sd_bus_message *m, Object *o)
{
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
                _cleanup_(prop_done) Prop p = {};
                const char *name;

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

                r = object_put_prop(o, &p);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

bool iface_is_ours(const char *iface)
{
        return strncmp(iface, "org.sriovd1.", strlen("org.sriovd1.")) == 0;
}

static int object_key(const char *path, const char *iface, char **ret)
{
        return asprintf_safe(ret, "%s %s", iface, path);
}

/* Positions move when an object is removed or the set is sorted: the index is made anew. */
static int object_set_reindex(ObjectSet *s)
{
        hashmap_free(s->index);
        s->index = hashmap_new_string();
        if (!s->index)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_objects; i++) {
                int r = hashmap_put(s->index, s->objects[i].key, UINT_TO_PTR(i + 1));
                if (r < 0 && r != -EEXIST)
                        return r;
        }
        return 0;
}

Object *object_set_find(ObjectSet *s, const char *path, const char *iface)
{
        _cleanup_free_ char *key = NULL;
        unsigned pos;

        if (!iface) {
                for (size_t i = 0; i < s->n_objects; i++)
                        if (streq(s->objects[i].path, path))
                                return &s->objects[i];
                return NULL;
        }
        if (!s->index || object_key(path, iface, &key) < 0)
                return NULL;
        pos = PTR_TO_UINT(hashmap_get(s->index, key));
        return pos > 0 && pos <= s->n_objects ? &s->objects[pos - 1] : NULL;
}

int object_set_add(ObjectSet *s, const char *path, const char *iface, Object **ret)
{
        _cleanup_(object_done) Object n = {};
        Object *o;
        int r;

        o = object_set_find(s, path, iface);
        if (o) {
                *ret = o;
                return 0;
        }
        if (!s->index) {
                s->index = hashmap_new_string();
                if (!s->index)
                        return -ENOMEM;
        }
        if (s->n_objects == s->n_allocated) {
                size_t n_new = MAX(s->n_allocated * 2, (size_t) 16);
                Object *a = reallocarray(s->objects, n_new, sizeof(Object));

                if (!a)
                        return -ENOMEM;
                s->objects = a;
                s->n_allocated = n_new;
        }
        n.path = strdup(path);
        n.iface = strdup(iface);
        if (!n.path || !n.iface || object_key(path, iface, &n.key) < 0)
                return -ENOMEM;
        r = hashmap_put(s->index, n.key, UINT_TO_PTR(s->n_objects + 1));
        if (r < 0)
                return r;
        o = &s->objects[s->n_objects++];
        *o = n;
        n = (Object){};
        *ret = o;
        return 0;
}

void object_set_remove(ObjectSet *s, const char *path, const char *iface)
{
        Object *o = object_set_find(s, path, iface);
        size_t i;

        if (!o)
                return;
        i = o - s->objects;
        object_done(o);
        memmove(s->objects + i, s->objects + i + 1, (s->n_objects - i - 1) * sizeof(Object));
        s->n_objects--;
        if (object_set_reindex(s) < 0)
                s->index = hashmap_free(s->index); /* finds fail rather than point wrong */
}

int object_set_string(Object *o, const char *name, const char *value)
{
        _cleanup_(prop_done) Prop p = {.kind = VALUE_STRING};

        p.name = strdup(name);
        p.s = strdup(value);
        if (!p.name || !p.s)
                return -ENOMEM;
        return object_put_prop(o, &p);
}

/* Reads a ListPhysicalFunctions reply, a(osss): path, PCI address, interface, state. */
int object_set_read_pf_list(ObjectSet *s, sd_bus_message *m)
{
        const char *path, *pci, *ifname, *state;
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "(osss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(osss)", &path, &pci, &ifname, &state)) > 0) {
                Object *o;

                r = object_set_add(s, path, IFACE_PF, &o);
                if (r >= 0)
                        r = object_set_string(o, "PCIAddress", pci);
                if (r >= 0)
                        r = object_set_string(o, "Interface", ifname);
                if (r >= 0)
                        r = object_set_string(o, "State", state);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Reads an a{sa{sv}} (interfaces and their properties) of one object. */
int object_set_read_interfaces(ObjectSet *s, sd_bus_message *m, const char *path)
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

int object_set_read_managed(ObjectSet *s, sd_bus_message *m)
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
int object_set_read_manager(ObjectSet *s, sd_bus_message *m)
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

const char *object_pf_pci(const ObjectSet *s, const Object *vf)
{
        const char *pf = object_str(vf, "PhysicalFunction");
        const Object *o = object_set_find((ObjectSet *) s, pf, IFACE_PF);

        return o ? object_str(o, "PCIAddress") : pf;
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

void object_set_sort(ObjectSet *s)
{
        _cleanup_free_ Object *copy = NULL;

        if (s->n_objects < 2)
                return;
        /* Sort a copy, so that object_pf_pci() finds the PFs at their old places meanwhile. */
        copy = reallocarray(NULL, s->n_objects, sizeof(Object));
        if (!copy)
                return; /* unsorted rather than nothing: the caller prints what it has */
        memcpy(copy, s->objects, s->n_objects * sizeof(Object));
        sort_set = s;
        qsort(copy, s->n_objects, sizeof(Object), object_cmp);
        sort_set = NULL;
        memcpy(s->objects, copy, s->n_objects * sizeof(Object));
        if (object_set_reindex(s) < 0)
                s->index = hashmap_free(s->index);
}
