/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ObjectManager.GetManagedObjects on /org/sriovd1, built straight from the model.
 *
 * sd-bus builds this reply by enumerating every child path (our enumerators encode one path
 * per object), then, per path, decoding it again through each fallback's find callback and
 * appending each property through the generic vtable machinery. With 4,096 VFs that kept the
 * loop busy for 60–250 ms per call (docs/PERFORMANCE.md). Here the objects come from the
 * model's own maps, their paths from the per-object cache, and each property is appended by
 * its getter from the same vtables sd-bus serves Get/GetAll from: the reply is the same
 * (tests/test-bus.py compares it with GetAll of every object), only the walk is ours.
 *
 * It is a bus filter because sd-bus refuses a vtable for org.freedesktop.DBus.ObjectManager;
 * the object manager itself stays registered (InterfacesAdded/Removed, introspection). */
#include "bus-util.h"
#include "pf.h"
#include "pool.h"
#include "util.h"

#define OBJECT_MANAGER_IFACE "org.freedesktop.DBus.ObjectManager"

/* What sd-bus does for a property without a getter (invoke_property_get()). */
static int append_default(sd_bus_message *reply, const sd_bus_vtable *v, void *p)
{
        const char *sig = v->x.property.signature;

        if (streq(sig, "as"))
                return sd_bus_message_append_strv(reply, *(char ***) p);
        if (sig[0] == 's' || sig[0] == 'g')
                return sd_bus_message_append_basic(reply, sig[0], strempty(*(char **) p));
        if (sig[0] == 'o')
                return sd_bus_message_append_basic(reply, 'o', *(char **) p);
        return sd_bus_message_append_basic(reply, sig[0], p);
}

/* A name of ours (interface or property): appended as sd_bus_message_append_basic('s') would,
 * minus its UTF-8 check. sd-bus checked every vtable member name when the vtable was
 * registered (ASCII, member_name_is_valid()), and the interface names are constants; skipping
 * the check on these ~140,000 strings at 4,096 VFs saves 7 % of the reply's instructions and
 * ~14 % of its CPU (bench-marshal, docs/PERFORMANCE.md). */
static int append_name(sd_bus_message *reply, const char *name)
{
        size_t l = strlen(name);
        char *p;
        int r;

        r = sd_bus_message_append_string_space(reply, l, &p);
        if (r < 0)
                return r;
        memcpy(p, name, l);
        return 0;
}

/* One "{oa{sa{sv}}}" entry: the three standard interfaces with no properties (as sd-bus lists
 * them), then `iface` with every property of `vtable` that GetAll would return. */
static int append_object(sd_bus *bus, sd_bus_message *reply, const char *path, const char *iface,
                         const sd_bus_vtable *vtable, void *object, sd_bus_error *error)
{
        static const char *const standard[] = {
                "org.freedesktop.DBus.Peer",
                "org.freedesktop.DBus.Introspectable",
                "org.freedesktop.DBus.Properties",
        };
        int r;

        r = sd_bus_message_open_container(reply, 'e', "oa{sa{sv}}");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(reply, 'o', path);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{sa{sv}}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(standard); i++) {
                r = sd_bus_message_open_container(reply, 'e', "sa{sv}");
                if (r >= 0)
                        r = append_name(reply, standard[i]);
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'a', "{sv}");
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_open_container(reply, 'e', "sa{sv}");
        if (r < 0)
                return r;
        r = append_name(reply, iface);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        for (const sd_bus_vtable *v = vtable + 1; v->type != _SD_BUS_VTABLE_END; v++) {
                void *p = (uint8_t *) object + v->x.property.offset;

                if (v->type != _SD_BUS_VTABLE_PROPERTY && v->type != _SD_BUS_VTABLE_WRITABLE_PROPERTY)
                        continue;
                if (v->flags & (SD_BUS_VTABLE_HIDDEN | SD_BUS_VTABLE_PROPERTY_EXPLICIT))
                        continue;
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r < 0)
                        return r;
                r = append_name(reply, v->x.property.member);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(reply, 'v', v->x.property.signature);
                if (r < 0)
                        return r;
                if (v->x.property.get)
                        r = v->x.property.get(bus, path, iface, v->x.property.member, reply, p, error);
                else
                        r = append_default(reply, v, p);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        for (unsigned k = 0; k < 4; k++) {
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int build_reply(Manager *m, sd_bus_message *call, sd_bus_message **ret, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus *bus = sd_bus_message_get_bus(call);
        const sd_bus_vtable *vf_vtable = vf_bus_vtable();
        PhysicalFunction *pf;
        Pool *pool;
        int r;

        r = sd_bus_message_new_method_return(call, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                return r;
        HASHMAP_FOREACH(pool, m->pools) {
                _cleanup_free_ char *path = pool_bus_path(pool->name);

                if (!path)
                        return -ENOMEM;
                r = append_object(bus, reply, path, SRIOVD_POOL_IFACE, pool_vtable, pool, error);
                if (r < 0)
                        return r;
        }
        HASHMAP_FOREACH(pf, m->pfs) {
                const char *path = pf_object_path(pf);
                VirtualFunction *vf;

                if (!path)
                        return -ENOMEM;
                r = append_object(bus, reply, path, SRIOVD_PF_IFACE, pf_vtable, pf, error);
                if (r < 0)
                        return r;
                PF_FOREACH_VF(vf, pf) {
                        path = vf_object_path(vf);
                        if (!path)
                                return -ENOMEM;
                        r = append_object(bus, reply, path, SRIOVD_VF_IFACE, vf_vtable, vf, error);
                        if (r < 0)
                                return r;
                }
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(reply);
        return 0;
}

static int on_message(sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        if (!sd_bus_message_is_method_call(message, OBJECT_MANAGER_IFACE, "GetManagedObjects") ||
            !streq_ptr(sd_bus_message_get_path(message), SRIOVD_BUS_PATH) ||
            !sd_bus_message_has_signature(message, ""))
                return 0; /* sd-bus answers (or refuses) it as usual */
        if (!sd_bus_message_get_expect_reply(message))
                return 1;
        r = build_reply(m, message, &reply, &error);
        if (r < 0) {
                (void) sd_bus_reply_method_errno(message, r, &error);
                return 1;
        }
        (void) sd_bus_send(NULL, reply, NULL);
        manager_heap_check(m); /* the largest reply there is */
        return 1;
}

int bus_add_object_manager(Manager *m)
{
        int r;

        r = sd_bus_add_object_manager(bus_get(m), NULL, SRIOVD_BUS_PATH);
        if (r < 0)
                return r;
        return sd_bus_add_filter(bus_get(m), NULL, on_message, m);
}
