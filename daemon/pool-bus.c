/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-util.h"
#include "pool.h"
#include "util.h"

int pool_bus_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                  sd_bus_error *error)
{
        _cleanup_free_ char *name = NULL;
        Pool *p;

        if (sd_bus_path_decode(path, SRIOVD_POOL_PREFIX, &name) <= 0)
                return 0;
        p = pool_get(userdata, name);
        if (!p)
                return 0;
        *found = p;
        return 1;
}

int pool_bus_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error)
{
        Manager *m = userdata;
        _cleanup_(strv_freep) char **l = NULL;
        Pool *p;

        HASHMAP_FOREACH(p, m->pools) {
                if (strv_push(&l, pool_bus_path(p->name)) < 0)
                        return -ENOMEM;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

static int property_get_vfs(sd_bus *bus, const char *path, const char *iface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Pool *p = userdata;
        PhysicalFunction *pf;
        VirtualFunction *vf;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        HASHMAP_FOREACH(pf, p->manager->pfs)
                PF_FOREACH_VF(vf, pf) {
                        const char *v;

                        if (!streq(vf->pool, p->name))
                                continue;
                        v = vf_object_path(vf);
                        if (!v)
                                return -ENOMEM;
                        r = sd_bus_message_append_basic(reply, 'o', v);
                        if (r < 0)
                                return r;
                }
        return sd_bus_message_close_container(reply);
}

static int property_get_count(sd_bus *bus, const char *path, const char *iface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        unsigned total, n_free;

        pool_count(userdata, &total, &n_free);
        return sd_bus_message_append(reply, "u", (uint32_t) (streq(property, "Total") ? total : n_free));
}

static int property_get_name(sd_bus *bus, const char *path, const char *iface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Pool *p = userdata;
        return sd_bus_message_append(reply, "s", p->name);
}

/* The pool hooks: pools_sync() calls them once per pool that appeared, moved or went. */
void pool_bus_added(Manager *m, Pool *p)
{
        _cleanup_free_ char *path = pool_bus_path(p->name);

        if (path)
                (void) sd_bus_emit_object_added(bus_get(m), path);
}

void pool_bus_changed(Manager *m, Pool *p)
{
        _cleanup_free_ char *path = pool_bus_path(p->name);

        if (path)
                (void) sd_bus_emit_properties_changed(bus_get(m), path, SRIOVD_POOL_IFACE, "Total", "Free",
                                                      "VirtualFunctions", NULL);
}

void pool_bus_removed(Manager *m, Pool *p)
{
        _cleanup_free_ char *path = pool_bus_path(p->name);

        if (path)
                (void) sd_bus_emit_object_removed(bus_get(m), path);
}

const sd_bus_vtable pool_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Total", "u", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Free", "u", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VirtualFunctions", "ao", property_get_vfs, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};
