/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <unistd.h>

#include "lease.h"
#include "log.h"
#include "manager.h"
#include "pci.h"
#include "pf.h"
#include "sysfs.h"
#include "udev.h"
#include "util.h"

static const char *const pf_state_table[_PF_STATE_MAX] = {
        [PF_STATE_UNMANAGED] = "unmanaged",     [PF_STATE_PENDING] = "pending",
        [PF_STATE_CONFIGURING] = "configuring", [PF_STATE_CONFIGURED] = "configured",
        [PF_STATE_BLOCKED] = "blocked",         [PF_STATE_FAILED] = "failed",
};
DEFINE_STRING_TABLE(pf_state, PfState, _PF_STATE_MAX);

int pf_new(Manager *m, const char *syspath, PhysicalFunction **ret)
{
        _cleanup_(pf_freep) PhysicalFunction *pf = NULL;

        pf = calloc(1, sizeof(PhysicalFunction));
        if (!pf)
                return -ENOMEM;
        pf->manager = m;
        pf->numa_node = -1;
        pf->drivers_autoprobe = -1;
        pf->syspath = strdup(syspath);
        pf->pci = strdup(path_basename(syspath));
        if (!pf->syspath || !pf->pci)
                return -ENOMEM;
        {
                _cleanup_free_ char *subsystem = NULL;

                /* Only PCI PFs create VF devices (virtfnN); others keep VFs in their VF table. */
                if (sysfs_read_link_attr(syspath, "subsystem", &subsystem) >= 0 && !streq(subsystem, "pci"))
                        pf->vfs_without_devices = true;
        }
        *ret = TAKE_PTR(pf);
        return 0;
}

PhysicalFunction *pf_free(PhysicalFunction *pf)
{
        if (!pf)
                return NULL;
        for (unsigned i = 0; i < pf->n_vf_slots; i++)
                vf_free(pf->vfs[i]);
        free(pf->vfs);
        sd_event_source_disable_unref(pf->retry_source);
        sd_event_source_disable_unref(pf->wait_source);
        link_info_free(pf->link);
        strv_free(pf->rdma_devices);
        free(pf->syspath);
        free(pf->pci);
        free(pf->ifname);
        free(pf->driver);
        free(pf->vendor_name);
        free(pf->device_name);
        free(pf->last_error);
        free(pf->bus_path);
        return mfree(pf);
}

const char *pf_name(const PhysicalFunction *pf)
{
        return pf->ifname ?: pf->pci;
}

static int pf_grow_slots(PhysicalFunction *pf, unsigned n)
{
        VirtualFunction **v;

        if (n <= pf->n_vf_slots)
                return 0;
        v = realloc(pf->vfs, sizeof(VirtualFunction *) * n);
        if (!v)
                return -ENOMEM;
        memset(v + pf->n_vf_slots, 0, sizeof(VirtualFunction *) * (n - pf->n_vf_slots));
        pf->vfs = v;
        pf->n_vf_slots = n;
        return 0;
}

/* The PF's directory while a refresh reads its VFs: opened at the first VF read (one O_PATH
 * open per refresh), and every VF file is read relative to it, "virtfnN" for the links and
 * "../<pci>/..." for a VF beside its PF (the kernel puts a VF on its PF's bus or a child bus
 * of the same bridge: in the same directory). A path from the root walks every component of
 * the syspath for each of a VF's six files; and the VF's directory needs no access() of its
 * own (vf_refresh_parts_at()). */
typedef struct PfDir {
        PhysicalFunction *pf;
        int fd; /* -EBADF: not opened yet; other < 0: cannot be opened, absolute paths then */
        char vf_dir[PATH_MAX];
} PfDir;

#define PF_DIR_INIT(p) ((PfDir){.pf = (p), .fd = -EBADF})

static void pf_dir_close(PfDir *d)
{
        if (d->fd >= 0)
                d->fd = safe_close(d->fd);
}

static int pf_dir_fd(PfDir *d)
{
        if (d->fd == -EBADF)
                d->fd = sysfs_open_dir(d->pf->syspath);
        if (d->fd == -EBADF)
                d->fd = -ENOENT;
        return d->fd;
}

/* Where a VF's files are read: dir below *ret_dfd. NULL (its syspath from the root) if it is
 * not beside its PF or the PF's directory cannot be opened. */
static const char *pf_dir_vf(PfDir *d, const char *syspath, int *ret_dfd)
{
        const char *pf_sp, *name = path_basename(syspath);
        size_t parent;

        *ret_dfd = AT_FDCWD;
        if (!d)
                return NULL;
        pf_sp = d->pf->syspath;
        parent = path_basename(pf_sp) - pf_sp;
        if ((size_t) (name - syspath) != parent || strncmp(pf_sp, syspath, parent) != 0 || pf_dir_fd(d) < 0)
                return NULL;
        if (snprintf(d->vf_dir, sizeof(d->vf_dir), "../%s", name) >= (int) sizeof(d->vf_dir))
                return NULL;
        *ret_dfd = d->fd;
        return d->vf_dir;
}

static int pf_add_vf_from(PhysicalFunction *pf, PfDir *d, unsigned index, const char *syspath,
                          VirtualFunction **ret)
{
        _cleanup_(vf_freep) VirtualFunction *vf = NULL;
        Manager *m = pf->manager;
        const char *dir = NULL;
        unsigned what = VF_REFRESH_ALL;
        bool netdev_known;
        int r, dfd = AT_FDCWD;

        if (index < pf->n_vf_slots && pf->vfs[index]) {
                if (streq_ptr(pf->vfs[index]->syspath, syspath)) {
                        if (ret)
                                *ret = pf->vfs[index];
                        return 0;
                }
                pf_remove_vf(pf, index);
        }
        r = pf_grow_slots(pf, index + 1);
        if (r < 0)
                return r;
        r = vf_new(pf, index, syspath, &vf);
        if (r < 0)
                return r;
        if (d && syspath)
                dir = pf_dir_vf(d, syspath, &dfd);
        /* Its netdev, if rtnetlink announced one already: not read from sysfs, and neither is
         * the override its driver's binding rules out (VF_REFRESH_FRESH). */
        netdev_known = manager_has_unclaimed_netdev(m, vf->pci);
        if (netdev_known)
                what = (what & ~VF_REFRESH_NETDEV) | VF_REFRESH_FRESH;
        if (vf_refresh_parts_at(vf, dfd, dir, what) == -ENODEV)
                return 0; /* gone already: its "remove" uevent follows */
        if (netdev_known)
                manager_claim_netdev(m, vf);
        vf->seqnum_read = pf->seqnum;
        vf_set_layout(vf, pf->config ? pf_config_vf_layout(pf->config, index) : NULL);
        r = hashmap_put(m->vfs, vf->pci, vf);
        if (r < 0)
                return r;
        /* Leases name (PF, index): a VF re-created after a PF reset or hotplug gets its lease back. */
        if (m->leases) {
                const Lease *l = lease_store_find(m->leases, pf->pci, index);

                if (l) {
                        vf->allocated = true;
                        vf->owner = strdup(l->owner);
                }
        }
        pf->vfs[index] = vf;
        manager_vf_added(m, vf);
        if (ret)
                *ret = vf;
        TAKE_PTR(vf);
        return 1;
}

int pf_add_vf(PhysicalFunction *pf, unsigned index, const char *syspath, VirtualFunction **ret)
{
        return pf_add_vf_from(pf, NULL, index, syspath, ret);
}

void pf_remove_vf(PhysicalFunction *pf, unsigned index)
{
        VirtualFunction *vf;

        if (index >= pf->n_vf_slots || !pf->vfs[index])
                return;
        vf = pf->vfs[index];
        manager_vf_removed(pf->manager, vf);
        hashmap_remove(pf->manager->vfs, vf->pci);
        pf->vfs[index] = vf_free(vf);
}

unsigned pf_count_vfs(const PhysicalFunction *pf)
{
        unsigned n = 0;

        for (unsigned i = 0; i < pf->n_vf_slots; i++)
                n += !!pf->vfs[i];
        return n;
}

static int first_netdev(const char *syspath, char **ret_ifname, int *ret_ifindex)
{
        _cleanup_free_ char *name = NULL, *p = NULL, *ndev = NULL;
        int ifindex = 0, r;

        r = sysfs_first_entry(syspath, "net", &name);
        if (r < 0)
                return r;
        p = path_join(syspath, "net");
        ndev = p ? path_join(p, name) : NULL;
        if (ndev)
                (void) sysfs_read_attr_int(ndev, "ifindex", &ifindex);
        *ret_ifname = TAKE_PTR(name);
        *ret_ifindex = ifindex;
        return 0;
}

/* Re-reads what events marked stale of a known VF. A whole read sees every uevent numbered
 * before the refresh began: those still on their way (VF creation's burst, which udev
 * delivers after we read the new VFs) are dropped as old when they come (manager.c). */
static void pf_reread_vf(PhysicalFunction *pf, PfDir *d, VirtualFunction *vf)
{
        unsigned what = vf->stale;
        const char *dir = NULL;
        int dfd = AT_FDCWD;

        if (!what)
                return;
        if (vf->syspath)
                dir = pf_dir_vf(d, vf->syspath, &dfd);
        if (vf_refresh_parts_at(vf, dfd, dir, what) > 0)
                manager_vf_changed(pf->manager, vf);
        if (what == VF_REFRESH_ALL)
                vf->seqnum_read = pf->seqnum;
}

/* Whether this pass may read one more VF (manager.h): what is not read now stays marked
 * (an empty slot, a stale VF) for the next pass, which the PF being dirty brings. */
static bool pf_may_read_vf(PhysicalFunction *pf)
{
        Manager *m = pf->manager;

        if (m->vf_reads_left > 0) {
                m->vf_reads_left--;
                return true;
        }
        pf->vfs_stale = true;
        manager_pf_dirty(m, pf);
        return false;
}

/* An empty or stale VF slot i < sriov_numvfs: virtfnI names the VF's PCI address. A new VF
 * is read whole; the same VF as before re-reads only what events marked stale since its last
 * read: the PF's own events (sriov_numvfs changed, a job ended) change nothing of a VF's. */
static int pf_refresh_slot(PhysicalFunction *pf, PfDir *d, unsigned i)
{
        _cleanup_free_ char *syspath = NULL;
        VirtualFunction *vf = pf->vfs[i];
        const char *name;
        char attr[32];
        int r, dfd;

        if (pf->vfs_without_devices)
                return vf ? 0 : pf_add_vf(pf, i, NULL, NULL);
        if (!pf_may_read_vf(pf))
                return 0;

        snprintf(attr, sizeof(attr), "virtfn%u", i);
        /* One readlink names the VF and its syspath: asking libudev cost ~60 syscalls per VF,
         * resolving the path component by component (docs/PERFORMANCE.md). */
        dfd = pf_dir_fd(d);
        r = sysfs_read_link_path_at(dfd >= 0 ? dfd : AT_FDCWD, pf->syspath, attr, &syspath);
        if (r == -EINVAL) {
                /* Not a relative link (never from the kernel): let udev resolve the name. */
                _cleanup_free_ char *n = NULL;

                if (sysfs_read_link_attr(pf->syspath, attr, &n) >= 0)
                        r = udev_pci_syspath(pf->manager->udev, n, &syspath);
        }
        if (r < 0) {
                /* Not there yet: the kernel is still creating it; its uevent will come. */
                pf_remove_vf(pf, i);
                return 0;
        }
        name = path_basename(syspath);
        /* The same function as before: nothing new to register. */
        if (vf && streq(vf->pci, name)) {
                pf_reread_vf(pf, d, vf);
                return 0;
        }
        /* A new one: read whole; gone again meanwhile, it is not added (pf_add_vf_from()). */
        return pf_add_vf_from(pf, d, i, syspath, NULL);
}

/* A new PF's sriov_numvfs without waiting for the kernel's device lock where the answer is
 * known without it. Reading the attribute takes the lock, which a driver's probe holds: on a
 * hot-plug udevd's "add" reaches us while igb probes (~0.5 s under TCG), and the read held up
 * the whole event loop until the probe ended. A PF without a driver cannot have VFs (they need
 * its sriov_configure), and a PCI PF without virtfn0 has none yet (the kernel creates virtfn0
 * before it sets the count): both read 0 without the lock, and the count write, in a job,
 * waits for the probe instead of the loop. Later refreshes read the attribute (a count that
 * was written without VFs yet, a driver that enables VFs later, reads as the kernel has it):
 * they run after the PF's events, not in the middle of its probe. */
static int pf_read_num_vfs(PhysicalFunction *pf, bool has_driver, uint32_t *ret)
{
        if (!pf->vfs_without_devices) {
                _cleanup_free_ char *vf0 = path_join(pf->syspath, "virtfn0");

                if (!vf0)
                        return -ENOMEM;
                if (!has_driver || (!pf->refreshed && access(vf0, F_OK) < 0)) {
                        *ret = 0;
                        return 0;
                }
        }
        return sysfs_read_attr_u32(pf->syspath, "sriov_numvfs", ret);
}

static void pf_set_ifindex(PhysicalFunction *pf, int ifindex)
{
        Manager *m = pf->manager;

        if (pf->ifindex == ifindex)
                return;
        if (pf->ifindex > 0 && hashmap_get(m->ifindexes, UINT_TO_PTR(pf->ifindex)) == pf)
                hashmap_remove(m->ifindexes, UINT_TO_PTR(pf->ifindex));
        pf->ifindex = ifindex;
        if (ifindex > 0 && hashmap_put(m->ifindexes, UINT_TO_PTR(ifindex), pf) < 0)
                log_pf_full_errno(pf, LOG_DEBUG, 0, "ifindex %d already known", ifindex);
}

int pf_refresh(PhysicalFunction *pf)
{
        Manager *m = pf->manager;
        _cleanup_free_ char *vendor = NULL, *device = NULL, *driver = NULL, *ifname = NULL;
        uint32_t total = 0, num = 0, autoprobe;
        int r, ifindex = 0, numa = pf->numa_node;
        uint16_t v = 0, d = 0, vf_device = pf->vf_device_id;
        uint64_t speed = pf->link_speed;
        bool changed = false;
        _cleanup_(pf_dir_close) PfDir dir = PF_DIR_INIT(pf);

        /* First: what is read below has seen every uevent up to this one. */
        if (sysfs_read_uevent_seqnum(&pf->seqnum) < 0)
                pf->seqnum = 0;
        r = sysfs_read_attr_u32(pf->syspath, "sriov_totalvfs", &total);
        if (r < 0 && !pf->vfs_without_devices)
                return r; /* gone, or not SR-IOV capable anymore */
        /* Without the device lock where the answer is known (pf_read_num_vfs()): a PF in
         * the middle of its driver's probe reads 0, and the count write, in a job, waits for
         * the probe instead of the loop. */
        (void) sysfs_read_link_attr(pf->syspath, "driver", &driver);
        /* netdevsim has no sriov_totalvfs: total 0 means "not reported". */
        r = pf_read_num_vfs(pf, driver, &num);
        if (r < 0 && pf->vfs_without_devices)
                return r;
        if (r < 0)
                num = 0;
        pf->refreshed = true;
        if (sysfs_read_attr(pf->syspath, "vendor", &vendor) >= 0)
                (void) safe_atou16_hex(vendor, &v);
        if (sysfs_read_attr(pf->syspath, "device", &device) >= 0)
                (void) safe_atou16_hex(device, &d);
        (void) sysfs_read_attr_int(pf->syspath, "numa_node", &numa);
        if (numa != pf->numa_node) {
                VirtualFunction *vf;

                changed = true;
                pf->numa_node = numa;
                /* Its VFs are on its node (vf.c): they follow. */
                PF_FOREACH_VF(vf, pf)
                        if (vf->syspath && vf->numa_node != numa) {
                                vf->numa_node = numa;
                                manager_vf_changed(m, vf);
                        }
        }
        if (sysfs_read_attr_u32(pf->syspath, "sriov_drivers_autoprobe", &autoprobe) >= 0)
                pf->drivers_autoprobe = !!autoprobe;
        changed |= free_and_strdup(&pf->driver, driver) > 0;

        if (v != pf->vendor_id || d != pf->device_id || !pf->vendor_name) {
                changed = true;
                pf->vendor_id = v;
                pf->device_id = d;
                free(pf->vendor_name);
                free(pf->device_name);
                pf->vendor_name = m->pci_names ? pci_names_vendor(m->pci_names, v) : NULL;
                pf->device_name = m->pci_names ? pci_names_device(m->pci_names, v, d) : NULL;
                m->pci_names_used = true; /* dropped after the pass (manager.c) */
                /* Unknown is an answer too: "" keeps us from reloading pci.ids on every refresh. */
                if (!pf->vendor_name)
                        pf->vendor_name = strdup("");
                /* The VF device ID from sysfs: reading it from config space past 64 bytes needs
                 * CAP_SYS_ADMIN, which the unit does not grant. */
                if (!pf->vfs_without_devices) {
                        _cleanup_free_ char *vfdev = NULL;
                        uint16_t id;

                        if (sysfs_read_attr(pf->syspath, "sriov_vf_device", &vfdev) >= 0 &&
                            safe_atou16_hex(vfdev, &id) >= 0)
                                vf_device = id;
                }
                if (m->pci_names && !pf->vfs_without_devices) {
                        PciSriovCap cap;

                        r = pci_read_sriov_cap(m->pci_names, pf->pci, &cap);
                        if (r >= 0) {
                                pf->has_sriov_cap = true;
                                if (cap.vf_device != 0)
                                        vf_device = cap.vf_device;
                                pf->vf_offset = cap.vf_offset;
                                pf->vf_stride = cap.vf_stride;
                                if (cap.total_vfs != total)
                                        /* The driver may cap it below the hardware's (firmware limits). */
                                        log_pf_full_errno(
                                                pf, LOG_DEBUG, 0,
                                                "SR-IOV capability: TotalVFs %u, sriov_totalvfs %u",
                                                cap.total_vfs, total);
                        } else
                                log_pf_full_errno(pf, LOG_DEBUG, r, "No SR-IOV capability readable: %m");
                }
        }
        changed |= vf_device != pf->vf_device_id || total != pf->total_vfs || num != pf->num_vfs;
        pf->vf_device_id = vf_device;
        pf->total_vfs = total;
        pf->num_vfs = num;

        if (first_netdev(pf->syspath, &ifname, &ifindex) >= 0) {
                _cleanup_free_ char *netpath = path_join(pf->syspath, "net");
                _cleanup_free_ char *ndev = netpath ? path_join(netpath, ifname) : NULL;
                int s;

                if (ndev && sysfs_read_attr_int(ndev, "speed", &s) >= 0 && s > 0)
                        speed = (uint64_t) s;
        }
        changed |= speed != pf->link_speed;
        pf->link_speed = speed;
        if (!streq_ptr(pf->ifname, ifname))
                pf->link_stale = true;
        changed |= free_and_strdup(&pf->ifname, ifname) > 0;
        pf_set_ifindex(pf, ifindex);

        /* VFs: virtfnN links for N < sriov_numvfs; anything above is gone. A known VF with
         * nothing stale is the one its slot held: its "remove" uevent would have taken it out
         * (after lost events manager_resync() marks every VF stale, and its slot is looked at). */
        r = pf_grow_slots(pf, MAX(total, num));
        if (r < 0)
                return r;
        pf->vfs_stale = false;
        for (unsigned i = 0; i < pf->n_vf_slots; i++) {
                if (i >= num) {
                        pf_remove_vf(pf, i);
                        continue;
                }
                if (pf->vfs[i] && !pf->vfs[i]->stale)
                        continue;
                r = pf_refresh_slot(pf, &dir, i);
                if (r < 0)
                        return r;
        }
        return changed;
}

int pf_refresh_vfs(PhysicalFunction *pf)
{
        _cleanup_(pf_dir_close) PfDir dir = PF_DIR_INIT(pf);
        uint32_t num;
        int r;

        if (sysfs_read_uevent_seqnum(&pf->seqnum) < 0)
                pf->seqnum = 0;
        r = sysfs_read_attr_u32(pf->syspath, "sriov_numvfs", &num);
        if (r < 0)
                return r;
        if (num != pf->num_vfs || num > pf->n_vf_slots)
                return pf_refresh(pf);
        pf->vfs_stale = false;
        for (unsigned i = 0; i < num; i++) {
                VirtualFunction *vf = pf->vfs[i];

                /* A known VF leaves with its "remove" uevent (or sriov_numvfs changes, above):
                 * its slot needs no look, only what its events marked stale. */
                if (vf) {
                        if (vf->stale && pf_may_read_vf(pf))
                                pf_reread_vf(pf, &dir, vf);
                        continue;
                }
                r = pf_refresh_slot(pf, &dir, i);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Drops the VF table; every VF that showed settings shows none now. */
static void pf_drop_link(PhysicalFunction *pf)
{
        VirtualFunction *vf;
        LinkInfo *old = pf->link;

        pf->link = NULL;
        if (old)
                PF_FOREACH_VF(vf, pf)
                        if (link_info_find_vf(old, vf->index))
                                manager_vf_changed(pf->manager, vf);
        link_info_free(old);
}

void pf_set_link(PhysicalFunction *pf, LinkInfo *l)
{
        LinkInfo *old;
        VirtualFunction *vf;

        if (!l) {
                pf_drop_link(pf);
                return;
        }
        old = pf->link;
        pf->link = l;
        /* The bus shows the VF table as observed: every VF whose entry moved is announced
         * (drift, a correction, a consumer's change), whatever caused the re-read. */
        PF_FOREACH_VF(vf, pf)
                if (!vf_settings_equal(link_info_find_vf(old, vf->index), link_info_find_vf(l, vf->index)))
                        manager_vf_changed(pf->manager, vf);
        link_info_free(old);
}

void pf_identity(const PhysicalFunction *pf, PfIdentity *ret)
{
        *ret = (PfIdentity){
                .interface = pf->ifname,
                .pci = pf->pci,
                .vendor = pf->vendor_id,
                .device = pf->device_id,
        };
        if (pf->link && pf->link->has_perm_addr && !ether_addr_is_null(&pf->link->perm_addr)) {
                ret->has_mac = true;
                ret->mac = pf->link->perm_addr;
        }
}

void pf_set_config(PhysicalFunction *pf, const PfConfig *c)
{
        VirtualFunction *vf;

        pf->config = c;
        pf->config_generation++;
        PF_FOREACH_VF(vf, pf) {
                vf_set_layout(vf, c ? pf_config_vf_layout(c, vf->index) : NULL);
                /* A new declaration may be supported where the old one was not: ask again. */
                vf->unsupported = 0;
        }
        pf->n_failures = 0;
        pf->retry_failed = true;
        /* A new declaration is tried at the next pass, not when the old one's backoff ends:
         * what Plan() shows for a reload is what the reload does. */
        pf->retry_source = sd_event_source_disable_unref(pf->retry_source);
}

unsigned pf_desired_num_vfs(const PhysicalFunction *pf)
{
        return pf->config ? pf_config_num_vfs(pf->config, pf->total_vfs) : pf->num_vfs;
}

void pf_set_state(PhysicalFunction *pf, PfState state, const char *error_fmt, ...)
{
        bool changed = pf->state != state;
        va_list ap;

        va_start(ap, error_fmt);
        changed |= free_and_vasprintf(&pf->last_error, error_fmt, ap) > 0;
        va_end(ap);
        if (!changed)
                return;
        if (pf->state != state)
                log_pf_full_errno(pf,
                                  state == PF_STATE_FAILED    ? LOG_ERR
                                  : state == PF_STATE_BLOCKED ? LOG_WARNING
                                                              : LOG_INFO,
                                  0, "%s -> %s%s%s", pf_state_to_string(pf->state),
                                  pf_state_to_string(state), pf->last_error ? ": " : "",
                                  strempty(pf->last_error));
        pf->state = state;
        manager_pf_changed(pf->manager, pf);
}
