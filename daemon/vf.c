/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "pf.h"
#include "stable.h"
#include "sysfs.h"
#include "util.h"
#include "vf.h"

static const char *const vf_state_table[_VF_STATE_MAX] = {
        [VF_STATE_PENDING] = "pending",
        [VF_STATE_READY] = "ready",
        [VF_STATE_DEGRADED] = "degraded",
        [VF_STATE_FAILED] = "failed",
};
DEFINE_STRING_TABLE(vf_state, VfState, _VF_STATE_MAX);

static void vf_set_ifindex(VirtualFunction *vf, int ifindex);

int vf_new(PhysicalFunction *pf, unsigned index, const char *syspath, VirtualFunction **ret)
{
        _cleanup_free_ char *netdevsim_name = NULL;
        const char *name = syspath;
        VirtualFunction *vf;
        size_t n;

        if (!syspath) {
                /* A VF with no device (netdevsim): named after its PF and index. */
                if (asprintf_safe(&netdevsim_name, "%s-vf%u", pf->pci, index) < 0)
                        return -ENOMEM;
                name = netdevsim_name;
        }
        /* One allocation: the struct, then syspath (whose last component is the PCI address)
         * or the name. As strings of their own, these were two more malloc chunks per VF. */
        n = strlen(name) + 1;
        vf = calloc(1, offsetof(VirtualFunction, names) + n);
        if (!vf)
                return -ENOMEM;
        memcpy(vf->names, name, n);
        if (syspath) {
                vf->syspath = vf->names;
                vf->pci = vf->names + (path_basename(syspath) - syspath);
        } else
                vf->pci = vf->names;
        vf->pf = pf;
        vf->index = index;
        vf->iommu_group = -1;
        vf->numa_node = -1;
        vf->netdev_hint = -1;
        vf->pool = "";
        *ret = vf;
        return 0;
}

VirtualFunction *vf_free(VirtualFunction *vf)
{
        if (!vf)
                return NULL;
        vf_set_ifindex(vf, 0);
        free(vf->ifname);
        free(vf->driver);
        free(vf->driver_override);
        free(vf->vfio_device);
        free(vf->vfio_cdev);
        free(vf->rdma_device);
        free(vf->owner);
        free(vf->last_error);
        free(vf->cdi_spec);
        return mfree(vf);
}

const char *vf_name(const VirtualFunction *vf)
{
        return vf->ifname ?: vf->pci;
}

static void vf_set_ifindex(VirtualFunction *vf, int ifindex)
{
        Hashmap *h = vf->pf && vf->pf->manager ? vf->pf->manager->vf_ifindexes : NULL;

        if (vf->ifindex == ifindex)
                return;
        if (h && vf->ifindex > 0 && hashmap_get(h, UINT_TO_PTR(vf->ifindex)) == vf)
                hashmap_remove(h, UINT_TO_PTR(vf->ifindex));
        vf->ifindex = ifindex;
        if (h && ifindex > 0)
                (void) hashmap_put(h, UINT_TO_PTR(ifindex), vf);
}

/* Driver and what follows from it: a VFIO driver exposes the VF through its group node (or
 * the iommufd cdev). The IOMMU group is read here too: in noiommu mode vfio-pci creates the
 * group when it binds. The VF's directory is dir below dfd (vf_refresh_parts_at()). -ENODEV if
 * the device is gone: driver_override, which every PCI device has, is missing and so is the
 * directory (looked at only then: a new VF costs no access() of its own). */
static int vf_read_driver(VirtualFunction *vf, int dfd, const char *dir)
{
        _cleanup_free_ char *driver = NULL, *override = NULL, *group = NULL, *vfio = NULL, *cdev_name = NULL,
                            *cdev = NULL;
        int group_nr = -1, r;
        bool changed = false;

        (void) sysfs_read_link_attr_at(dfd, dir, "driver", &driver);
        r = sysfs_read_attr_at(dfd, dir, "driver_override", &override);
        if (r == -ENOENT && (dfd == AT_FDCWD ? access(dir, F_OK) : faccessat(dfd, dir, F_OK, 0)) < 0 &&
            errno == ENOENT)
                return -ENODEV;
        if (r >= 0 && streq(override, "(null)"))
                override = mfree(override);
        if (sysfs_read_link_attr_at(dfd, dir, "iommu_group", &group) >= 0)
                (void) safe_atoi(group, &group_nr);
        if (vf_driver_is_vfio(driver)) {
                if (group_nr >= 0) {
                        /* Without an IOMMU (enable_unsafe_noiommu_mode) the node is noiommu-N. */
                        (void) asprintf_safe(&vfio, "/dev/vfio/noiommu-%d", group_nr);
                        if (vfio && access(vfio, F_OK) < 0)
                                vfio = mfree(vfio);
                        if (!vfio)
                                (void) asprintf_safe(&vfio, "/dev/vfio/%d", group_nr);
                }
                if (sysfs_first_entry_at(dfd, dir, "vfio-dev", &cdev_name) >= 0)
                        (void) asprintf_safe(&cdev, "/dev/vfio/devices/%s", cdev_name);
        }
        changed |= free_and_strdup(&vf->driver, driver) > 0;
        changed |= free_and_strdup(&vf->driver_override, override) > 0;
        changed |= free_and_strdup(&vf->vfio_device, vfio) > 0;
        changed |= free_and_strdup(&vf->vfio_cdev, cdev) > 0;
        changed |= vf->iommu_group != group_nr;
        vf->iommu_group = group_nr;
        return changed;
}

static bool vf_read_netdev(VirtualFunction *vf, int dfd, const char *dir)
{
        _cleanup_free_ char *ifname = NULL;
        int ifindex = 0;
        uint32_t mtu = 0;
        bool changed;

        if (sysfs_first_entry_at(dfd, dir, "net", &ifname) >= 0) {
                _cleanup_free_ char *netpath = path_join(dir, "net");
                _cleanup_free_ char *ndev = netpath ? path_join(netpath, ifname) : NULL;

                if (ndev) {
                        _cleanup_free_ char *s = NULL;

                        if (sysfs_read_attr_at(dfd, ndev, "ifindex", &s) >= 0)
                                (void) safe_atoi(s, &ifindex);
                        s = mfree(s);
                        if (sysfs_read_attr_at(dfd, ndev, "mtu", &s) >= 0)
                                (void) safe_atou32(s, &mtu);
                }
        }
        changed = free_and_strdup(&vf->ifname, ifname) > 0;
        changed |= vf->ifindex != ifindex || vf->mtu != mtu;
        vf_set_ifindex(vf, ifindex);
        vf->mtu = mtu;
        return changed;
}

int vf_refresh_parts_at(VirtualFunction *vf, int dfd, const char *dir, unsigned what)
{
        bool changed = false;

        vf->stale &= ~what;
        if (!vf->syspath)
                return 0; /* nothing to read: it lives in the PF's VF table only */
        if (!dir) {
                dfd = AT_FDCWD;
                dir = vf->syspath;
        }
        if (what & VF_REFRESH_DRIVER) {
                int r = vf_read_driver(vf, dfd, dir);

                if (r < 0)
                        return r;
                changed |= r > 0;
        }
        if (what & VF_REFRESH_NETDEV)
                changed |= vf_read_netdev(vf, dfd, dir);
        if (what & VF_REFRESH_STATIC) {
                /* The kernel gives a VF its PF's node (pci_iov_add_virtfn(): the VF's bus is
                 * the PF's or a child of it, pcibus_to_node()); pf_refresh() read it and
                 * hands a change down. One sysfs read less per VF. */
                int numa = vf->pf ? vf->pf->numa_node : -1;

                changed |= vf->numa_node != numa;
                vf->numa_node = numa;
        }
        return changed;
}

int vf_refresh_parts(VirtualFunction *vf, unsigned what)
{
        return vf_refresh_parts_at(vf, AT_FDCWD, NULL, what);
}

int vf_refresh(VirtualFunction *vf)
{
        return vf_refresh_parts(vf, VF_REFRESH_ALL);
}

void vf_set_layout(VirtualFunction *vf, const VfLayout *layout)
{
        const char *pool = layout ? layout->pool : "";
        bool changed = !streq(vf->pool, pool);

        vf->layout = layout;
        vf->pool = pool;
        /* Pool is on the bus, and decides who may manage the VF's netdev. */
        if (changed && vf->pf && vf->pf->manager && vf->pf->vfs && vf->index < vf->pf->n_vf_slots &&
            vf->pf->vfs[vf->index] == vf)
                manager_vf_changed(vf->pf->manager, vf);
}

void vf_set_state(VirtualFunction *vf, VfState state, const char *error_fmt, ...)
{
        bool changed = vf->state != state;
        va_list ap;

        va_start(ap, error_fmt);
        changed |= free_and_vasprintf(&vf->last_error, error_fmt, ap) > 0;
        va_end(ap);
        vf->state = state;
        if (changed && vf->pf && vf->pf->manager)
                manager_vf_changed(vf->pf->manager, vf);
}

void vf_settings_declared(const VirtualFunction *vf, const VfLayout *l, const PfConfig *c,
                          uint32_t unsupported, VfSettings *ret)
{
        VfSettings s = {.index = vf->index};

        if (!l) {
                *ret = s;
                return;
        }
        s = l->settings;
        s.index = vf->index;
        /* While a consumer holds the VF, it owns MAC and VLAN (libvirt and CNI set them). */
        if (vf->allocated)
                for (VfAttr a = 0; a < _VF_ATTR_MAX; a++)
                        if (vf_attr_info(a)->consumer_owned)
                                s.mask &= ~VF_ATTR_BIT(a);
        if ((s.mask & VF_ATTR_BIT(VF_ATTR_MAC)) && l->mac_mode == VF_MAC_STABLE) {
                const PhysicalFunction *pf = vf->pf;
                char id[ETHER_ADDR_STRLEN];
                const char *pf_id = pf->pci;

                if (pf->link && pf->link->has_perm_addr && !ether_addr_is_null(&pf->link->perm_addr))
                        pf_id = ether_addr_to_string(&pf->link->perm_addr, id);
                stable_vf_mac(pf->manager->machine_key, pf_id, vf->index, &s.mac);
        }
        if (c && c->link_type == PF_LINK_TYPE_INFINIBAND) {
                const char *pf_id = vf->pf->pci;

                s.node_guid = stable_vf_guid(vf->pf->manager->machine_key, pf_id, vf->index, false);
                s.port_guid = stable_vf_guid(vf->pf->manager->machine_key, pf_id, vf->index, true);
                s.mask |= VF_ATTR_BIT(VF_ATTR_IB_NODE_GUID) | VF_ATTR_BIT(VF_ATTR_IB_PORT_GUID);
        }
        s.mask &= ~unsupported;
        *ret = s;
}

void vf_desired_settings(const VirtualFunction *vf, VfSettings *ret)
{
        vf_settings_declared(vf, vf->layout, vf->pf->config, vf->unsupported, ret);
}

bool vf_driver_is_vfio(const char *driver)
{
        /* vfio-pci and its variant drivers (mlx5_vfio_pci, pds_vfio_pci, virtio_vfio_pci,
         * hisi_acc_vfio_pci, ...): a VMM or DPDK owns the device through VFIO. */
        return driver &&
               (streq(driver, "vfio-pci") || endswith(driver, "_vfio_pci") || startswith(driver, "vfio"));
}

static bool in_use(char **ret_reason, const char *fmt, ...) _printf_(2, 3);
static bool in_use(char **ret_reason, const char *fmt, ...)
{
        va_list ap;

        if (ret_reason) {
                *ret_reason = mfree(*ret_reason);
                va_start(ap, fmt);
                if (vasprintf(ret_reason, fmt, ap) < 0)
                        *ret_reason = NULL;
                va_end(ap);
        }
        return true;
}

/* Whether a VFIO node (group or iommufd cdev) was claimed by a user other than us: VMMs
 * (libvirt's qemu user, KubeVirt, DPDK) chown the node while they use it. Returns 1 if it
 * was, 0 if it belongs to us, -ENOENT if it does not exist, other -errno if we cannot tell. */
static int vfio_node_claimed(const char *node, uid_t *ret_uid)
{
        struct stat st;

        if (stat(node, &st) < 0)
                return negative_errno();
        *ret_uid = st.st_uid;
        return st.st_uid != geteuid();
}

bool vf_is_in_use(const VirtualFunction *vf, char **ret_reason)
{
        const char *nodes[2] = {vf->vfio_device, vf->vfio_cdev};
        unsigned n_found = 0;
        uint32_t enabled = 0;
        int r;

        if (vf->allocated)
                return in_use(ret_reason, "VF %u (%s) is allocated to '%s'", vf->index, vf->pci,
                              strempty(vf->owner));
        if (!vf_driver_is_vfio(vf->driver))
                return false; /* a kernel netdev driver: destroying the VF is what was asked */

        /* Fail closed from here on: whatever cannot be read counts as in use. None of these
         * checks holds the device or its group, so a VMM starting now is not disturbed; see
         * docs/RELIABILITY.md for the one brief open at the end. */

        /* A VFIO user that opened the device has enabled it (vfio_pci_core_enable()). */
        r = vf->syspath ? sysfs_read_attr_u32(vf->syspath, "enable", &enabled) : -ENODEV;
        if (r < 0)
                return in_use(ret_reason, "VF %u (%s) is bound to %s and its state cannot be read (%s)",
                              vf->index, vf->pci, vf->driver, strerror(-r));
        if (enabled > 0)
                return in_use(ret_reason, "VF %u (%s) is bound to %s and its device is open", vf->index,
                              vf->pci, vf->driver);

        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                uid_t uid = 0;

                if (!nodes[i])
                        continue;
                r = vfio_node_claimed(nodes[i], &uid);
                if (r == -ENOENT)
                        continue;
                n_found++;
                if (r < 0)
                        return in_use(ret_reason, "VF %u (%s) is bound to %s and %s cannot be read (%s)",
                                      vf->index, vf->pci, vf->driver, nodes[i], strerror(-r));
                if (r > 0)
                        return in_use(ret_reason,
                                      "VF %u (%s) is bound to %s and %s belongs to uid %u"
                                      " (a VFIO user claimed it; cannot tell whether it is open)",
                                      vf->index, vf->pci, vf->driver, nodes[i], (unsigned) uid);
        }
        if (n_found == 0)
                return in_use(ret_reason, "VF %u (%s) is bound to %s but no VFIO node of it is visible",
                              vf->index, vf->pci, vf->driver);

        /* The group node is ours: a group can be opened once, so EBUSY means a holder. */
        if (vf->vfio_device) {
                _cleanup_close_ int fd = open(vf->vfio_device, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

                if (fd < 0 && errno != ENOENT) {
                        if (errno == EBUSY)
                                return in_use(ret_reason, "VF %u (%s) is bound to %s and %s is open",
                                              vf->index, vf->pci, vf->driver, vf->vfio_device);
                        return in_use(ret_reason,
                                      "VF %u (%s) is bound to %s and whether %s is open cannot be told (%m)",
                                      vf->index, vf->pci, vf->driver, vf->vfio_device);
                }
        }
        return false;
}
