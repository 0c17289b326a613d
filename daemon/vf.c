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
        vf->vfio_cdev_nr = -1;
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

/* Driver names: a handful of distinct ones per host (igbvf, vfio-pci, mlx5_core, ...), bounded
 * by the drivers the kernel has. One copy of each for the process's life instead of a string
 * per VF (16,384 chunks of 32 bytes at 64 × 256, twice for VFIO-bound VFs). Used from the
 * loop's thread only. */
static char **interned;
static size_t n_interned;

const char *vf_intern(const char *s)
{
        char **a, *c;

        if (!s)
                return NULL;
        for (size_t i = 0; i < n_interned; i++)
                if (streq(interned[i], s))
                        return interned[i];
        c = strdup(s);
        if (!c)
                return NULL;
        a = reallocarray(interned, n_interned + 1, sizeof(char *));
        if (!a) {
                free(c);
                return NULL;
        }
        interned = a;
        interned[n_interned++] = c;
        return c;
}

/* > 0 if it changed, -ENOMEM (and unchanged) without memory. */
static int set_interned(const char **field, const char *value)
{
        const char *v = vf_intern(value);

        if (value && !v)
                return -ENOMEM;
        if (*field == v)
                return 0;
        *field = v;
        return 1;
}

int vf_set_ifname(VirtualFunction *vf, const char *ifname)
{
        size_t n = ifname ? strlen(ifname) : 0;
        int r = 0;

        if (n >= sizeof(vf->ifname_buf)) {
                ifname = NULL; /* not a netdev name: the kernel's are < IFNAMSIZ */
                r = -EINVAL;
        }
        if (streq_ptr(vf->ifname, ifname))
                return r;
        if (ifname) {
                memcpy(vf->ifname_buf, ifname, n + 1);
                vf->ifname = vf->ifname_buf;
        } else
                vf->ifname = NULL;
        return r ?: 1;
}

const char *vf_vfio_device(const VirtualFunction *vf, char buf[static VF_VFIO_PATH_MAX])
{
        if (vf->vfio_group == VF_VFIO_GROUP_NONE || vf->iommu_group < 0)
                return NULL;
        snprintf(buf, VF_VFIO_PATH_MAX, "/dev/vfio/%s%d",
                 vf->vfio_group == VF_VFIO_GROUP_NOIOMMU ? "noiommu-" : "", vf->iommu_group);
        return buf;
}

const char *vf_vfio_cdev(const VirtualFunction *vf, char buf[static VF_VFIO_PATH_MAX])
{
        if (vf->vfio_cdev_nr < 0)
                return NULL;
        snprintf(buf, VF_VFIO_PATH_MAX, "/dev/vfio/devices/vfio%d", vf->vfio_cdev_nr);
        return buf;
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
static int vf_read_driver(VirtualFunction *vf, int dfd, const char *dir, bool fresh)
{
        _cleanup_free_ char *driver = NULL, *override = NULL, *group = NULL, *cdev_name = NULL;
        VfVfioGroup vfio_group = VF_VFIO_GROUP_NONE;
        char noiommu[VF_VFIO_PATH_MAX];
        int group_nr = -1, cdev_nr = -1, r;
        bool changed = false;

        r = sysfs_read_link_attr_at(dfd, dir, "driver", &driver);
        /* Fresh and bound: its override is the kernel's none (VF_REFRESH_FRESH), and the driver
         * link shows the directory is there. Unbound after all: read as any VF. */
        if (!fresh || r < 0) {
                r = sysfs_read_attr_at(dfd, dir, "driver_override", &override);
                if (r == -ENOENT &&
                    (dfd == AT_FDCWD ? access(dir, F_OK) : faccessat(dfd, dir, F_OK, 0)) < 0 &&
                    errno == ENOENT)
                        return -ENODEV;
                if (r >= 0 && streq(override, "(null)"))
                        override = mfree(override);
        }
        if (sysfs_read_link_attr_at(dfd, dir, "iommu_group", &group) >= 0)
                (void) safe_atoi(group, &group_nr);
        if (vf_driver_is_vfio(driver)) {
                if (group_nr >= 0) {
                        /* Without an IOMMU (enable_unsafe_noiommu_mode) the node is noiommu-N. */
                        snprintf(noiommu, sizeof(noiommu), "/dev/vfio/noiommu-%d", group_nr);
                        vfio_group =
                                access(noiommu, F_OK) >= 0 ? VF_VFIO_GROUP_NOIOMMU : VF_VFIO_GROUP_IOMMU;
                }
                /* The kernel names it vfio<index> (drivers/vfio/vfio_main.c). */
                if (sysfs_first_entry_at(dfd, dir, "vfio-dev", &cdev_name) >= 0 &&
                    (!startswith(cdev_name, "vfio") || safe_atoi(cdev_name + 4, &cdev_nr) < 0 ||
                     cdev_nr < 0))
                        cdev_nr = -1;
        }
        changed |= set_interned(&vf->driver, driver) > 0;
        changed |= set_interned(&vf->driver_override, override) > 0;
        changed |= vf->vfio_group != vfio_group || vf->vfio_cdev_nr != cdev_nr;
        vf->vfio_group = vfio_group;
        vf->vfio_cdev_nr = cdev_nr;
        changed |= vf->iommu_group != group_nr;
        vf->iommu_group = group_nr;
        return changed;
}

static bool vf_read_netdev(VirtualFunction *vf, int dfd, const char *dir)
{
        _cleanup_free_ char *ifname = NULL;
        int ifindex = 0;
        uint32_t mtu = 0;

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
        return vf_set_netdev(vf, ifname, ifindex, mtu);
}

bool vf_set_netdev(VirtualFunction *vf, const char *ifname, int ifindex, uint32_t mtu)
{
        bool changed = vf_set_ifname(vf, ifname) > 0;

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
                int r = vf_read_driver(vf, dfd, dir, what & VF_REFRESH_FRESH);

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
        char group_buf[VF_VFIO_PATH_MAX], cdev_buf[VF_VFIO_PATH_MAX];
        const char *vfio_device = vf_vfio_device(vf, group_buf);
        const char *nodes[2] = {vfio_device, vf_vfio_cdev(vf, cdev_buf)};
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
        if (vfio_device) {
                _cleanup_close_ int fd = open(vfio_device, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

                if (fd < 0 && errno != ENOENT) {
                        if (errno == EBUSY)
                                return in_use(ret_reason, "VF %u (%s) is bound to %s and %s is open",
                                              vf->index, vf->pci, vf->driver, vfio_device);
                        return in_use(ret_reason,
                                      "VF %u (%s) is bound to %s and whether %s is open cannot be told (%m)",
                                      vf->index, vf->pci, vf->driver, vfio_device);
                }
        }
        return false;
}
