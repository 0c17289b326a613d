/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every property of every object reads its field at the field's own width. sd-bus's default
 * getters read the C type of the D-Bus signature: 'b' is an int there, our flags are bool,
 * so a 'b' property must have a getter (VirtualFunction.Allocated read three bytes of the
 * next fields and showed free VFs allocated). */
#include "bus-util.h"
#include "macro.h"
#include "tests.h"

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

int main(void)
{
        unsigned n = 0;

        n += check("Manager", manager_vtable);
        n += check("PhysicalFunction", pf_vtable);
        n += check("VirtualFunction", vf_bus_vtable());
        n += check("Pool", pool_vtable);
        fprintf(stderr, "%u properties checked\n", n);
        ASSERT_TRUE(n > 40);
        return 0;
}
