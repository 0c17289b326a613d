/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-util.h"
#include "pf.h"
#include "util.h"

int pf_bus_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                sd_bus_error *error)
{
        _cleanup_free_ char *pci = NULL;
        PhysicalFunction *pf;

        if (sd_bus_path_decode(path, SRIOVD_PF_PREFIX, &pci) <= 0)
                return 0;
        pf = manager_get_pf(userdata, pci);
        if (!pf)
                return 0;
        *found = pf;
        return 1;
}

int pf_bus_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error)
{
        Manager *m = userdata;
        _cleanup_(strv_freep) char **l = NULL;
        PhysicalFunction *pf;

        HASHMAP_FOREACH(pf, m->pfs) {
                if (strv_push(&l, pf_bus_path(pf)) < 0)
                        return -ENOMEM;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

static int property_get_str(sd_bus *bus, const char *path, const char *iface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append_basic(reply, 's', strempty(*(char **) userdata));
}

static int property_get_rdma_devices(sd_bus *bus, const char *path, const char *iface, const char *property,
                                     sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        PhysicalFunction *pf = userdata;

        return sd_bus_message_append_strv(reply, pf->rdma_devices);
}

static int property_get_state(sd_bus *bus, const char *path, const char *iface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        PhysicalFunction *pf = userdata;
        return sd_bus_message_append(reply, "s", pf_state_to_string(pf->state));
}

static int property_get_config_file(sd_bus *bus, const char *path, const char *iface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        PhysicalFunction *pf = userdata;
        return sd_bus_message_append(reply, "s", pf->config ? pf->config->file : "");
}

static int property_get_desired(sd_bus *bus, const char *path, const char *iface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        PhysicalFunction *pf = userdata;
        return sd_bus_message_append(reply, "u", (uint32_t) pf_desired_num_vfs(pf));
}

static int property_get_speed(sd_bus *bus, const char *path, const char *iface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        PhysicalFunction *pf = userdata;
        return sd_bus_message_append(reply, "u", (uint32_t) MIN(pf->link_speed, (uint64_t) UINT32_MAX));
}

static int method_list_vfs_of_pf(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        PhysicalFunction *pf = userdata;
        VirtualFunction *vf;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        PF_FOREACH_VF(vf, pf) {
                const char *p = vf_object_path(vf);

                if (!p)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "o", p);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

const sd_bus_vtable pf_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("PCIAddress", "s", property_get_str, offsetof(PhysicalFunction, pci),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Interface", "s", property_get_str, offsetof(PhysicalFunction, ifname),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Driver", "s", property_get_str, offsetof(PhysicalFunction, driver),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VendorId", "q", NULL, offsetof(PhysicalFunction, vendor_id),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DeviceId", "q", NULL, offsetof(PhysicalFunction, device_id),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VendorName", "s", property_get_str, offsetof(PhysicalFunction, vendor_name),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DeviceName", "s", property_get_str, offsetof(PhysicalFunction, device_name),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VFDeviceId", "q", NULL, offsetof(PhysicalFunction, vf_device_id),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("TotalVFs", "u", NULL, offsetof(PhysicalFunction, total_vfs),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NumVFs", "u", NULL, offsetof(PhysicalFunction, num_vfs),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DesiredNumVFs", "u", property_get_desired, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NUMANode", "i", NULL, offsetof(PhysicalFunction, numa_node),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("RDMADevices", "as", property_get_rdma_devices, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LinkSpeed", "u", property_get_speed, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ConfigFile", "s", property_get_config_file, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastError", "s", property_get_str, offsetof(PhysicalFunction, last_error),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("ListVirtualFunctions", SD_BUS_NO_ARGS, SD_BUS_RESULT("ao", vfs),
                                method_list_vfs_of_pf, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
