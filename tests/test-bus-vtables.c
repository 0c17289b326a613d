/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every property of every object reads its field at the field's own width. sd-bus's default
 * getters read the C type of the D-Bus signature: 'b' is an int there, our flags are bool,
 * so a 'b' property must have a getter (VirtualFunction.Allocated read three bytes of the
 * next fields and showed free VFs allocated). */
#include "bus-util.h"
#include "macro.h"
#include "pf.h"
#include "tests.h"
#include "vf.h"

static unsigned check(const char *name, const sd_bus_vtable *v)
{
        unsigned n = 0;

        for (; v->type != _SD_BUS_VTABLE_END; v++) {
                const char *sig;

                if (v->type != _SD_BUS_VTABLE_PROPERTY && v->type != _SD_BUS_VTABLE_WRITABLE_PROPERTY)
                        continue;
                sig = v->x.property.signature;
                n++;
                if (sig[0] == 'b' && !v->x.property.get) {
                        fprintf(stderr, "%s.%s: 'b' with sd-bus's default (int) getter\n", name,
                                v->x.property.member);
                        ASSERT_TRUE(false);
                }
                /* Defaults are fine for the integer types whose C type we use: q=uint16_t,
                 * u=uint32_t, i=int, t=uint64_t; strings always need a getter here. */
                if (!v->x.property.get && !strchr("quit", sig[0])) {
                        fprintf(stderr, "%s.%s: '%s' with a default getter\n", name, v->x.property.member,
                                sig);
                        ASSERT_TRUE(false);
                }
        }
        return n;
}

/* A VF's object path is encoded at each call without sd-bus (vf_object_path()): it must be
 * the path sd_bus_path_encode() gives, which clients and vf_from_bus_path() decode. */
static void check_vf_paths(void)
{
        static const char *const syspaths[] = {
                "/sys/devices/pci0000:00/0000:00:02.0/0000:01:10.1",
                "/sys/devices/pci10000:00/10000:e1:00.0/10000:e2:01.7",
                "/sys/devices/x/Az09_-.~",
                "/sys/devices/x/9\xc3\xa9",
                "/sys/devices/x/a",
                NULL, /* netdevsim: named after the PF */
        };
        PhysicalFunction pf = {.pci = (char *) "netdevsim12"};

        for (size_t i = 0; i < ELEMENTSOF(syspaths); i++) {
                _cleanup_(vf_freep) VirtualFunction *vf = NULL;
                _cleanup_free_ char *want = NULL;

                ASSERT_OK(vf_new(&pf, 7, syspaths[i], &vf));
                ASSERT_STREQ(vf->pci, syspaths[i] ? strrchr(syspaths[i], '/') + 1 : "netdevsim12-vf7");
                ASSERT_TRUE(streq_ptr(vf->syspath, syspaths[i]));
                ASSERT_TRUE(want = vf_bus_path(vf));
                ASSERT_STREQ(vf_object_path(vf), want);
        }
}

int main(void)
{
        unsigned n = 0;

        check_vf_paths();

        n += check("Manager", manager_vtable);
        n += check("PhysicalFunction", pf_vtable);
        n += check("VirtualFunction", vf_bus_vtable());
        n += check("Pool", pool_vtable);
        fprintf(stderr, "%u properties checked\n", n);
        ASSERT_TRUE(n > 40);
        return 0;
}
