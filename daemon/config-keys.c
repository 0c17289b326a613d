/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vocabulary of the /etc/sriov.d files: the key table (the parser's unknown-key check and
 * the documentation test read it; the VF attributes' keys are vf-attr.c's), the known VF
 * drivers and the string tables of the enumerated values. */

#include "config-internal.h"
#include "config.h"
#include "util.h"

static const char *const vf_link_state_table[_VF_LINK_STATE_MAX] = {
        [VF_LINK_STATE_AUTO] = "auto",
        [VF_LINK_STATE_ENABLE] = "enable",
        [VF_LINK_STATE_DISABLE] = "disable",
};
DEFINE_STRING_TABLE(vf_link_state, VfLinkState, _VF_LINK_STATE_MAX);

static const char *const pf_link_type_table[_PF_LINK_TYPE_MAX] = {
        [PF_LINK_TYPE_ETHERNET] = "eth",
        [PF_LINK_TYPE_INFINIBAND] = "ib",
};
DEFINE_STRING_TABLE(pf_link_type, PfLinkType, _PF_LINK_TYPE_MAX);

static const char *const vf_mac_mode_table[_VF_MAC_MODE_MAX] = {
        [VF_MAC_UNSET] = "unset",
        [VF_MAC_STABLE] = "stable",
        [VF_MAC_KEEP] = "keep",
        [VF_MAC_FIXED] = "fixed",
};
DEFINE_STRING_TABLE(vf_mac_mode, VfMacMode, _VF_MAC_MODE_MAX);

/* Drivers a VF may be bound to, as named under /sys/bus/pci/drivers/. The point is to catch
 * typos ("vfoi-pci") when the file is read rather than as a failed bind at runtime, so the
 * table errs on the side of accepting: VF netdev drivers, drivers that bind both PFs and
 * VFs, vfio variant drivers (live migration), and the userspace I/O stubs DPDK uses. */
const char *const config_known_drivers[] = {
        "be2net",
        "bnx2x",
        "bnxt_en",
        "cxgb4vf",
        "ena",
        "enic",
        "fm10k",
        "hclgevf",
        "hinic",
        "hisi_acc_vfio_pci",
        "i40evf",
        "iavf",
        "ice",
        "idpf",
        "igb_uio",
        "igbvf",
        "ionic",
        "ixgbevf",
        "liquidio_vf",
        "mana",
        "mlx4_core",
        "mlx5_core",
        "mlx5_vfio_pci",
        "nfp",
        "nfp_netvf",
        "nvme",
        "octeon_ep_vf",
        "pci-stub",
        "pds_vfio_pci",
        "qede",
        "qlcnic",
        "rvu_nicvf",
        "sfc",
        "thunder-nicvf",
        "uio_pci_generic",
        "vfio-pci",
        "virtio-pci",
        "virtio_vfio_pci",
        NULL,
};

bool config_driver_name_is_known(const char *name)
{
        if (isempty(name))
                return true; /* the kernel's choice */
        for (const char *const *d = config_known_drivers; *d; d++)
                if (streq(*d, name))
                        return true;
        return false;
}

/* One table for the parser's unknown-key check and for the documentation test; the VF
 * attributes' keys are vf-attr.c's. */
static const ConfigKey config_keys[] = {
        {"", "physical_functions", "physical_functions"},
        {"physical_functions", "match", "match"},
        {"physical_functions", "num_vfs", "num_vfs"},
        {"physical_functions", "mtu", "mtu"},
        {"physical_functions", "drivers_autoprobe", "drivers_autoprobe"},
        {"physical_functions", "link_type", "link_type"},
        {"physical_functions", "vfs", "vfs"},
        {"match", "interface", "match.interface"},
        {"match", "pci", "match.pci"},
        {"match", "vendor", "match.vendor"},
        {"match", "device", "match.device"},
        {"match", "mac", "match.mac"},
        {"vfs", "range", "vfs.range"},
        {"vfs", "pool", "vfs.pool"},
        {"vfs", "mtu", "vfs.mtu"},
        {"vfs", "rdma", "vfs.rdma"},
        {"vfs", "driver", "vfs.driver"},
};

const ConfigKey *config_known_keys(size_t *ret_n)
{
        if (ret_n)
                *ret_n = ELEMENTSOF(config_keys);
        return config_keys;
}

bool config_key_is_known(const char *section, const char *name)
{
        if (streq(section, "vfs") && vf_attr_from_config_key(name, NULL))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (streq(config_keys[i].section, section) && streq(config_keys[i].name, name))
                        return true;
        return false;
}
