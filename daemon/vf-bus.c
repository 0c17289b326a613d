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

        HASHMAP_FOREACH(vf, m->vfs) {
                if (strv_push(&l, vf_bus_path(vf)) < 0)
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

#define OBSERVED_GETTER(name, sig, attr, expr, fallback)                                            \
        static int property_get_##name(sd_bus *bus, const char *path, const char *iface,            \
                                       const char *property, sd_bus_message *reply, void *userdata, \
                                       sd_bus_error *error)                                         \
        {                                                                                           \
                const VfSettings *s = vf_observed(userdata);                                        \
                if (!s || !(s->mask & VF_ATTR_BIT(attr)))                                           \
                        return sd_bus_message_append(reply, sig, fallback);                         \
                return sd_bus_message_append(reply, sig, expr);                                     \
        }

OBSERVED_GETTER(vlan, "q", VF_ATTR_VLAN, (uint16_t) s->vlan, (uint16_t) 0)
OBSERVED_GETTER(qos, "u", VF_ATTR_VLAN, (uint32_t) s->qos, (uint32_t) 0)
OBSERVED_GETTER(vlan_proto, "s", VF_ATTR_VLAN, s->vlan_proto == ETH_P_8021AD ? "802.1ad" : "802.1Q", "")
OBSERVED_GETTER(trust, "b", VF_ATTR_TRUST, (int) s->trust, 0)
OBSERVED_GETTER(spoofchk, "b", VF_ATTR_SPOOFCHK, (int) s->spoofchk, 0)
OBSERVED_GETTER(min_rate, "u", VF_ATTR_RATE, s->min_tx_rate, (uint32_t) 0)
OBSERVED_GETTER(max_rate, "u", VF_ATTR_RATE, s->max_tx_rate, (uint32_t) 0)

static int property_get_mac(sd_bus *bus, const char *path, const char *iface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        const VfSettings *s = vf_observed(userdata);
        char buf[ETHER_ADDR_STRLEN];

        if (!s || !(s->mask & VF_ATTR_BIT(VF_ATTR_MAC)))
                return sd_bus_message_append(reply, "s", "");
        return sd_bus_message_append(reply, "s", ether_addr_to_string(&s->mac, buf));
}

static int property_get_link_state(sd_bus *bus, const char *path, const char *iface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        const VfSettings *s = vf_observed(userdata);
        const char *v = "";

        if (s && (s->mask & VF_ATTR_BIT(VF_ATTR_LINK_STATE)))
                v = s->link_state == IFLA_VF_LINK_STATE_ENABLE    ? "enable"
                    : s->link_state == IFLA_VF_LINK_STATE_DISABLE ? "disable"
                                                                  : "auto";
        return sd_bus_message_append(reply, "s", v);
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
        return sd_bus_message_append(reply, "o", p);
}

static int property_get_state(sd_bus *bus, const char *path, const char *iface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        VirtualFunction *vf = userdata;
        return sd_bus_message_append(reply, "s", vf_state_to_string(vf->state));
}

static int property_get_rdma_port_state(sd_bus *bus, const char *path, const char *iface,
                                        const char *property, sd_bus_message *reply, void *userdata,
                                        sd_bus_error *error)
{
        VirtualFunction *vf = userdata;

        return sd_bus_message_append(reply, "s",
                                     vf->rdma_port ? rdma_port_state_to_string(vf->rdma_port_state) : "");
}

static int property_get_rdma_link_layer(sd_bus *bus, const char *path, const char *iface,
                                        const char *property, sd_bus_message *reply, void *userdata,
                                        sd_bus_error *error)
{
        VirtualFunction *vf = userdata;

        return sd_bus_message_append(reply, "s", rdma_link_layer_to_string(vf->rdma_link_layer));
}

static int property_get_guid(sd_bus *bus, const char *path, const char *iface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        char buf[RDMA_GUID_STRLEN];

        return sd_bus_message_append(reply, "s", rdma_guid_to_string(*(uint64_t *) userdata, buf));
}

const sd_bus_vtable vf_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("PCIAddress", "s", property_get_str, offsetof(VirtualFunction, pci),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Index", "u", NULL, offsetof(VirtualFunction, index), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PhysicalFunction", "o", property_get_pf, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Interface", "s", property_get_str, offsetof(VirtualFunction, ifname),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Driver", "s", property_get_str, offsetof(VirtualFunction, driver),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MACAddress", "s", property_get_mac, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VLAN", "q", property_get_vlan, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("QoS", "u", property_get_qos, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VLANProtocol", "s", property_get_vlan_proto, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Trust", "b", property_get_trust, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SpoofCheck", "b", property_get_spoofchk, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LinkState", "s", property_get_link_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MinTxRate", "u", property_get_min_rate, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MaxTxRate", "u", property_get_max_rate, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
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
        SD_BUS_PROPERTY("VFIODevice", "s", property_get_str, offsetof(VirtualFunction, vfio_device),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
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
