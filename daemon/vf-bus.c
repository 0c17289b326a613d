/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <linux/if_ether.h>
#include <linux/if_link.h>

#include "bus-util.h"
#include "pf.h"
#include "util.h"

int vf_bus_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                sd_bus_error *error)
{
        VirtualFunction *vf = vf_from_bus_path(userdata, path);

        if (!vf)
                return 0;
        *found = vf;
        return 1;
}

int vf_bus_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error)
{
        Manager *m = userdata;
        _cleanup_(strv_freep) char **l = NULL;
        VirtualFunction *vf;
        size_t n = 0;

        /* Sized once: strv_push() walks the list on each push, O(n²) over 16,384 VFs. */
        l = calloc(hashmap_size(m->vfs) + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        HASHMAP_FOREACH(vf, m->vfs) {
                l[n] = vf_bus_path(vf);
                if (!l[n++])
                        return -ENOMEM;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

/* The settings as the PF driver reports them now (not as declared). */
static const VfSettings *vf_observed(const VirtualFunction *vf)
{
        return vf->pf ? link_info_find_vf(vf->pf->link, vf->index) : NULL;
}

/* Every property of vf-attr.c's table, from the observed settings. */
static int property_get_attr(sd_bus *bus, const char *path, const char *iface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        const VfAttrProperty *p;
        const VfAttrInfo *a = vf_attr_from_property(property, &p);
        VfAttrValue v;
        uint16_t q;
        int b;

        if (!a)
                return -ENOENT;
        vf_attr_property_value(a, p, vf_observed(userdata), &v);
        switch (p->signature[0]) {
        case 'b':
                b = v.b;
                return sd_bus_message_append_basic(reply, 'b', &b);
        case 'q':
                q = (uint16_t) v.u;
                return sd_bus_message_append_basic(reply, 'q', &q);
        case 'u':
                return sd_bus_message_append_basic(reply, 'u', &v.u);
        default:
                return sd_bus_message_append_basic(reply, 's', v.s);
        }
}

static int property_get_str(sd_bus *bus, const char *path, const char *iface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append_basic(reply, 's', strempty(*(char **) userdata));
}

static int property_get_pf(sd_bus *bus, const char *path, const char *iface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        VirtualFunction *vf = userdata;
        const char *p = pf_object_path(vf->pf);

        if (!p)
                return -ENOMEM;
        return sd_bus_message_append_basic(reply, 'o', p);
}

static int property_get_state(sd_bus *bus, const char *path, const char *iface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        VirtualFunction *vf = userdata;
        return sd_bus_message_append_basic(reply, 's', vf_state_to_string(vf->state));
}

static int property_get_rdma_port_state(sd_bus *bus, const char *path, const char *iface,
                                        const char *property, sd_bus_message *reply, void *userdata,
                                        sd_bus_error *error)
{
        VirtualFunction *vf = userdata;

        return sd_bus_message_append_basic(
                reply, 's', vf->rdma_port ? rdma_port_state_to_string(vf->rdma_port_state) : "");
}

static int property_get_rdma_link_layer(sd_bus *bus, const char *path, const char *iface,
                                        const char *property, sd_bus_message *reply, void *userdata,
                                        sd_bus_error *error)
{
        VirtualFunction *vf = userdata;

        return sd_bus_message_append_basic(reply, 's', rdma_link_layer_to_string(vf->rdma_link_layer));
}

static int property_get_vfio_device(sd_bus *bus, const char *path, const char *iface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        char buf[VF_VFIO_PATH_MAX];

        return sd_bus_message_append_basic(reply, 's', strempty(vf_vfio_device(userdata, buf)));
}

static int property_get_guid(sd_bus *bus, const char *path, const char *iface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        char buf[RDMA_GUID_STRLEN];

        return sd_bus_message_append_basic(reply, 's', rdma_guid_to_string(*(uint64_t *) userdata, buf));
}

static const sd_bus_vtable vf_vtable_head[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("PCIAddress", "s", property_get_str, offsetof(VirtualFunction, pci),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Index", "u", NULL, offsetof(VirtualFunction, index), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PhysicalFunction", "o", property_get_pf, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Interface", "s", property_get_str, offsetof(VirtualFunction, ifname),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Driver", "s", property_get_str, offsetof(VirtualFunction, driver),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
};

static const sd_bus_vtable vf_vtable_tail[] = {
        SD_BUS_PROPERTY("MTU", "u", NULL, offsetof(VirtualFunction, mtu),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RDMADevice", "s", property_get_str, offsetof(VirtualFunction, rdma_device),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RDMAPort", "u", NULL, offsetof(VirtualFunction, rdma_port),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RDMAPortState", "s", property_get_rdma_port_state, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RDMALinkLayer", "s", property_get_rdma_link_layer, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NodeGUID", "s", property_get_guid, offsetof(VirtualFunction, rdma_node_guid),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PortGUID", "s", property_get_guid, offsetof(VirtualFunction, rdma_port_guid),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("IOMMUGroup", "i", NULL, offsetof(VirtualFunction, iommu_group),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VFIODevice", "s", property_get_vfio_device, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NUMANode", "i", NULL, offsetof(VirtualFunction, numa_node),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Pool", "s", property_get_str, offsetof(VirtualFunction, pool),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Allocated", "b", bus_property_get_bool, offsetof(VirtualFunction, allocated),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Owner", "s", property_get_str, offsetof(VirtualFunction, owner),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastError", "s", property_get_str, offsetof(VirtualFunction, last_error),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

const sd_bus_vtable *vf_bus_vtable(void)
{
        static sd_bus_vtable v[ELEMENTSOF(vf_vtable_head) + _VF_ATTR_MAX * VF_ATTR_PROPERTIES_MAX +
                               ELEMENTSOF(vf_vtable_tail)];
        size_t n = 0;

        if (v[0].type == _SD_BUS_VTABLE_START)
                return v;
        for (size_t i = 0; i < ELEMENTSOF(vf_vtable_head); i++)
                v[n++] = vf_vtable_head[i];
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++)
                for (size_t p = 0; p < VF_ATTR_PROPERTIES_MAX && vf_attr_info(a)->properties[p].name; p++) {
                        const VfAttrProperty *prop = &vf_attr_info(a)->properties[p];

                        v[n++] = (sd_bus_vtable) SD_BUS_PROPERTY(prop->name, prop->signature,
                                                                 property_get_attr, 0,
                                                                 SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE);
                }
        for (size_t i = 0; i < ELEMENTSOF(vf_vtable_tail); i++)
                v[n++] = vf_vtable_tail[i];
        return v;
}
