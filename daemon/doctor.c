/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>

#include "doctor.h"
#include "manager.h"
#include "rdma.h"
#include "sysfs.h"
#include "util.h"

static const char *const doctor_status_table[_DOCTOR_STATUS_MAX] = {
        [DOCTOR_OK] = "ok",
        [DOCTOR_WARN] = "warn",
        [DOCTOR_FAIL] = "fail",
};
DEFINE_STRING_TABLE(doctor_status, DoctorStatus, _DOCTOR_STATUS_MAX);

typedef struct Doctor {
        Manager *m;
        const char *sys, *proc; /* never NULL */
        DoctorReport *report;
        int error; /* first -ENOMEM */
} Doctor;

DoctorReport *doctor_report_free(DoctorReport *r)
{
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_items; i++) {
                free(r->items[i].check);
                free(r->items[i].object);
                free(r->items[i].advice);
        }
        free(r->items);
        return mfree(r);
}

DoctorStatus doctor_report_status(const DoctorReport *r, const char *check)
{
        DoctorStatus s = DOCTOR_OK;

        for (size_t i = 0; i < r->n_items; i++)
                if (!check || streq(r->items[i].check, check))
                        s = MAX(s, r->items[i].status);
        return s;
}

const DoctorItem *doctor_report_find(const DoctorReport *r, const char *check, const char *object)
{
        for (size_t i = 0; i < r->n_items; i++)
                if (streq(r->items[i].check, check) && (!object || streq(r->items[i].object, object)))
                        return &r->items[i];
        return NULL;
}

_printf_(5, 6) static void add(Doctor *d, const char *check, DoctorStatus status, const char *object,
                               const char *fmt, ...)
{
        DoctorReport *r = d->report;
        DoctorItem *items;
        char *advice = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&advice, fmt, ap) < 0)
                advice = NULL;
        va_end(ap);
        items = advice ? realloc(r->items, sizeof(DoctorItem) * (r->n_items + 1)) : NULL;
        if (!items) {
                free(advice);
                d->error = -ENOMEM;
                return;
        }
        r->items = items;
        items[r->n_items] = (DoctorItem){
                .check = strdup(check),
                .status = status,
                .object = strdup(strempty(object)),
                .advice = advice,
        };
        if (!items[r->n_items].check || !items[r->n_items].object)
                d->error = -ENOMEM;
        r->n_items++;
}

/* Items of `check` added since `mark`: if none, the check passed. */
#define ADD_OK_IF_CLEAN(d, mark, check, ...)                       \
        do {                                                       \
                if ((d)->report->n_items == (mark))                \
                        add(d, check, DOCTOR_OK, "", __VA_ARGS__); \
        } while (0)

static char *host_path(const char *root, const char *rel)
{
        return path_join(root, rel);
}

/* Entries of a directory (no dot files); -errno if it cannot be opened. */
static int dir_count(const char *path, char **ret_first)
{
        struct dirent *de;
        DIR *dir;
        int n = 0;

        dir = opendir(path);
        if (!dir)
                return negative_errno();
        while ((de = readdir(dir)))
                if (de->d_name[0] != '.') {
                        if (n == 0 && ret_first)
                                *ret_first = strdup(de->d_name);
                        n++;
                }
        closedir(dir);
        return n;
}

static int host_dir_count(Doctor *d, const char *root, const char *rel, char **ret_first)
{
        _cleanup_free_ char *p = host_path(root, rel);

        if (!p) {
                d->error = -ENOMEM;
                return -ENOMEM;
        }
        return dir_count(p, ret_first);
}

static bool host_exists(const char *root, const char *rel)
{
        _cleanup_free_ char *p = host_path(root, rel);

        return p && access(p, F_OK) >= 0;
}

/* ---- host ------------------------------------------------------------------------------- */

static bool cmdline_has(char *const *words, const char *w)
{
        return strv_contains(words, w);
}

static char **read_cmdline(Doctor *d)
{
        _cleanup_free_ char *p = host_path(d->proc, "cmdline"), *line = NULL;
        char **words = NULL, *save = NULL;

        if (!p || read_one_line_file(p, &line) < 0)
                return NULL;
        for (char *w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
                if (strv_extend(&words, w) < 0)
                        break;
        return words;
}

static int iommu_groups(Doctor *d)
{
        return host_dir_count(d, d->sys, "kernel/iommu_groups", NULL);
}

static void check_iommu(Doctor *d)
{
        _cleanup_free_ char *unit = NULL;
        int units = host_dir_count(d, d->sys, "class/iommu", &unit);
        int groups = iommu_groups(d);

        if (units > 0 && groups > 0)
                add(d, "iommu", DOCTOR_OK, "", "IOMMU on (%s), %d IOMMU groups", unit, groups);
        else if (units > 0)
                add(d, "iommu", DOCTOR_WARN, "",
                    "IOMMU hardware (%s) present but no IOMMU groups: boot with intel_iommu=on (Intel) or "
                    "amd_iommu=on (AMD) to use it; vfio-pci needs it",
                    unit);
        else if (groups > 0)
                add(d, "iommu", DOCTOR_OK, "", "%d IOMMU groups", groups);
        else
                add(d, "iommu", DOCTOR_FAIL, "",
                    "no IOMMU: enable VT-d / AMD-Vi in the BIOS and boot with intel_iommu=on (Intel) or "
                    "amd_iommu=on (AMD); without it VFs cannot be assigned to VMs (vfio-pci)");
}

static void check_iommu_passthrough(Doctor *d)
{
        _cleanup_(strv_freep) char **words = read_cmdline(d);
        static const char *const off[] = {"iommu=off", "intel_iommu=off", "amd_iommu=off"};

        if (!words) {
                add(d, "iommu-passthrough", DOCTOR_WARN, "", "cannot read %s/cmdline", d->proc);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(off); i++)
                if (cmdline_has(words, off[i])) {
                        add(d, "iommu-passthrough", DOCTOR_FAIL, "",
                            "the kernel command line has %s, which disables the IOMMU: remove it", off[i]);
                        return;
                }
        if (cmdline_has(words, "iommu=pt") || cmdline_has(words, "iommu.passthrough=1"))
                add(d, "iommu-passthrough", DOCTOR_OK, "", "iommu=pt: host DMA bypasses translation");
        else
                add(d, "iommu-passthrough", DOCTOR_WARN, "",
                    "iommu=pt is not on the kernel command line: host drivers (the PF, VFs used on the "
                    "host) "
                    "pay for IOMMU translation on every DMA; add iommu=pt");
}

static void check_hugepages(Doctor *d)
{
        _cleanup_free_ char *dir = host_path(d->sys, "kernel/mm/hugepages");
        struct dirent *de;
        uint64_t total_kb = 0, pages = 0;
        DIR *dh;

        if (!dir || !(dh = opendir(dir))) {
                add(d, "hugepages", DOCTOR_FAIL, "",
                    "no %s/kernel/mm/hugepages: the kernel has no hugetlbfs support (CONFIG_HUGETLBFS)",
                    d->sys);
                return;
        }
        while ((de = readdir(dh))) {
                _cleanup_free_ char *p = NULL;
                uint32_t nr = 0;
                unsigned long kb;

                if (sscanf(de->d_name, "hugepages-%lukB", &kb) != 1)
                        continue;
                if (asprintf_safe(&p, "%s/%s/nr_hugepages", dir, de->d_name) < 0 ||
                    read_u32_file(p, &nr) < 0)
                        continue;
                pages += nr;
                total_kb += (uint64_t) nr * kb;
        }
        closedir(dh);
        if (pages > 0)
                add(d, "hugepages", DOCTOR_OK, "", "%llu hugepages reserved (%llu MiB)",
                    (unsigned long long) pages, (unsigned long long) (total_kb / 1024));
        else
                add(d, "hugepages", DOCTOR_WARN, "",
                    "no hugepages reserved: DPDK and hugepage-backed VM guests need them; set "
                    "vm.nr_hugepages or "
                    "boot with hugepagesz=1G hugepages=N");
}

static bool config_wants_rdma(Manager *m)
{
        PhysicalFunction *pf;

        HASHMAP_FOREACH(pf, m->pfs)
                for (size_t i = 0; pf->config && i < pf->config->n_vfs; i++)
                        if (pf->config->vfs[i].rdma == 1)
                                return true;
        return false;
}

static void check_rdma_core(Doctor *d, bool wants)
{
        bool core = host_exists(d->sys, "class/infiniband") || host_exists(d->sys, "module/ib_core");
        bool uverbs =
                host_exists(d->sys, "module/ib_uverbs") || host_exists(d->sys, "class/infiniband_verbs");

        if (core && uverbs)
                add(d, "rdma-core", DOCTOR_OK, "", "ib_core and ib_uverbs loaded");
        else if (core)
                add(d, "rdma-core", DOCTOR_WARN, "",
                    "ib_uverbs is not loaded: userspace verbs (NCCL, MPI, ibv_devices) cannot open RDMA "
                    "devices; modprobe ib_uverbs");
        else if (wants)
                add(d, "rdma-core", DOCTOR_FAIL, "",
                    "RDMA core (ib_core) is not loaded but VFs declare rdma = true: load the NIC's RDMA "
                    "driver "
                    "(mlx5_ib, irdma, bnxt_re, ...) and ib_uverbs");
        else
                add(d, "rdma-core", DOCTOR_OK, "", "RDMA core not loaded; no VF declares rdma = true");
}

static void check_rdma_netns(Doctor *d, bool wants)
{
        _cleanup_free_ char *p = host_path(d->sys, "module/ib_core/parameters/netns_mode"), *v = NULL;

        if (!p || read_one_line_file(p, &v) < 0) {
                if (wants)
                        add(d, "rdma-netns", DOCTOR_FAIL, "",
                            "ib_core is not loaded, the RDMA namespace mode is unknown; VFs declare rdma = "
                            "true");
                else
                        add(d, "rdma-netns", DOCTOR_OK, "",
                            "ib_core not loaded; no VF declares rdma = true");
                return;
        }
        /* ib_core's netns_mode is a bool: Y = shared (every namespace sees every device). */
        if (streq(v, "N") || streq(v, "0"))
                add(d, "rdma-netns", DOCTOR_OK, "",
                    "exclusive: an RDMA device follows its netdev's namespace");
        else
                add(d, "rdma-netns", DOCTOR_WARN, "",
                    "shared: every network namespace (container) sees every RDMA device; for one VF per "
                    "container run 'rdma system set netns exclusive' (or ib_core netns_mode=0)");
}

/* ---- per PF / VF ------------------------------------------------------------------------ */

static void check_num_vfs(Doctor *d)
{
        size_t mark = d->report->n_items;
        PhysicalFunction *pf;

        HASHMAP_FOREACH(pf, d->m->pfs) {
                const PfConfig *c = pf->config;
                unsigned desired;

                if (!c)
                        continue;
                desired = pf_desired_num_vfs(pf);
                if (pf->total_vfs == 0)
                        add(d, "num-vfs", DOCTOR_FAIL, pf->pci,
                            "sriov_totalvfs is 0: SR-IOV is disabled in the BIOS or NIC firmware; enable it "
                            "(e.g. mlxconfig set SRIOV_EN=1 NUM_OF_VFS=N) and reboot");
                else if (c->num_vfs != NUM_VFS_MAX && (unsigned) c->num_vfs > pf->total_vfs)
                        add(d, "num-vfs", DOCTOR_FAIL, pf->pci,
                            "num_vfs = %d (%s:%u) exceeds sriov_totalvfs = %u, the firmware limit: raise it "
                            "in "
                            "firmware (e.g. mlxconfig set NUM_OF_VFS=%d) and reboot, or lower num_vfs",
                            c->num_vfs, c->file, c->line, pf->total_vfs, c->num_vfs);
                else if (pf->num_vfs != desired)
                        add(d, "num-vfs", DOCTOR_WARN, pf->pci,
                            "the kernel has %u VFs, %u declared: the PF is %s%s%s", pf->num_vfs, desired,
                            pf_state_to_string(pf->state), pf->last_error ? ": " : "",
                            strempty(pf->last_error));
        }
        ADD_OK_IF_CLEAN(d, mark, "num-vfs", "every managed PF has the VFs it declares");
}

static void check_vf_driver(Doctor *d)
{
        size_t mark = d->report->n_items;
        PhysicalFunction *pf;
        VirtualFunction *vf;

        HASHMAP_FOREACH(pf, d->m->pfs)
                PF_FOREACH_VF(vf, pf) {
                        const char *want = vf->layout ? vf->layout->driver : NULL;

                        if (want) {
                                _cleanup_free_ char *rel = NULL;

                                if (asprintf_safe(&rel, "bus/pci/drivers/%s", want) < 0) {
                                        d->error = -ENOMEM;
                                        return;
                                }
                                if (!host_exists(d->sys, rel))
                                        add(d, "vf-driver", DOCTOR_FAIL, vf->pci,
                                            "driver = \"%s\" but %s is not loaded: modprobe %s", want, want,
                                            want);
                                else if (!streq_ptr(vf->driver, want))
                                        add(d, "vf-driver", DOCTOR_WARN, vf->pci,
                                            "driver = \"%s\" but bound to %s", want,
                                            vf->driver ?: "no driver");
                        } else if (!vf->driver && pf->config)
                                add(d, "vf-driver", DOCTOR_WARN, vf->pci,
                                    "no driver bound: sriov_drivers_autoprobe is off or the VF driver (%s) "
                                    "is not loaded",
                                    streq_ptr(pf->driver, "igb")         ? "igbvf"
                                    : streq_ptr(pf->driver, "ixgbe")     ? "ixgbevf"
                                    : streq_ptr(pf->driver, "i40e")      ? "iavf"
                                    : streq_ptr(pf->driver, "ice")       ? "iavf"
                                    : streq_ptr(pf->driver, "mlx5_core") ? "mlx5_core"
                                                                         : "the VF driver");
                }
        ADD_OK_IF_CLEAN(d, mark, "vf-driver", "every VF has its driver");
}

static void check_rdma_vfs(Doctor *d)
{
        size_t mark = d->report->n_items;
        PhysicalFunction *pf;
        VirtualFunction *vf;

        HASHMAP_FOREACH(pf, d->m->pfs)
                PF_FOREACH_VF(vf, pf) {
                        const char *mod;

                        if (!vf->layout || vf->layout->rdma != 1)
                                continue;
                        mod = rdma_driver_hint(vf->driver) ?: rdma_driver_hint(pf->driver);
                        if (!vf->rdma_device)
                                add(d, "rdma-vf", DOCTOR_FAIL, vf->pci,
                                    "rdma = true but the VF has no RDMA device: %s%s%s",
                                    mod ? "modprobe " : "", mod ?: "load the NIC's RDMA driver",
                                    vf->ifname ? " (or for soft-RoCE: rdma link add rxe_X type rxe netdev "
                                                 "<VF netdev>)"
                                               : "");
                        else if (vf->rdma_port_state != RDMA_PORT_ACTIVE &&
                                 vf->rdma_port_state != RDMA_PORT_ACTIVE_DEFER)
                                add(d, "rdma-vf", DOCTOR_WARN, vf->pci,
                                    "RDMA device %s port %u is %s: check the cable/switch (InfiniBand: the "
                                    "subnet "
                                    "manager) and the VF link state",
                                    vf->rdma_device, vf->rdma_port,
                                    vf->rdma_port_state == RDMA_PORT_NOP
                                            ? "in an unknown state"
                                            : rdma_port_state_to_string(vf->rdma_port_state));
                }
        ADD_OK_IF_CLEAN(d, mark, "rdma-vf", "every VF with rdma = true has an active RDMA port");
}

static bool vf_trust(const VirtualFunction *vf, bool *ret_spoofchk, struct ether_addr *ret_mac)
{
        const VfSettings *s = vf->pf->link ? link_info_find_vf(vf->pf->link, vf->index) : NULL;
        const VfSettings *d = vf->layout ? &vf->layout->settings : NULL;
        bool trust = s && (s->mask & VF_ATTR_BIT(VF_ATTR_TRUST))   ? s->trust
                     : d && (d->mask & VF_ATTR_BIT(VF_ATTR_TRUST)) ? d->trust
                                                                   : false;

        /* Kernel defaults when nothing is known: spoofchk on, no MAC. */
        *ret_spoofchk = s && (s->mask & VF_ATTR_BIT(VF_ATTR_SPOOFCHK))
                                ? s->spoofchk
                                : !d || !(d->mask & VF_ATTR_BIT(VF_ATTR_SPOOFCHK)) || d->spoofchk;
        *ret_mac = s && (s->mask & VF_ATTR_BIT(VF_ATTR_MAC)) ? s->mac : (struct ether_addr){};
        return trust;
}

static void check_trust(Doctor *d)
{
        size_t mark = d->report->n_items;
        PhysicalFunction *pf;
        VirtualFunction *vf;

        HASHMAP_FOREACH(pf, d->m->pfs)
                PF_FOREACH_VF(vf, pf) {
                        struct ether_addr mac;
                        bool spoofchk, trust = vf_trust(vf, &spoofchk, &mac);
                        unsigned flags = 0;

                        if (trust)
                                continue;
                        if (vf->ifname) {
                                _cleanup_free_ char *rel = NULL, *v = NULL;

                                if (asprintf_safe(&rel, "net/%s/flags", vf->ifname) >= 0 &&
                                    sysfs_read_attr(vf->syspath, rel, &v) >= 0)
                                        (void) sscanf(v, "%x", &flags);
                        }
                        /* The VF asks for traffic the PF only delivers to trusted VFs. */
                        if (flags & (IFF_PROMISC | IFF_ALLMULTI))
                                add(d, "trust-spoofchk", DOCTOR_FAIL, vf->pci,
                                    "%s is in %s mode but trust is off: the PF does not deliver that "
                                    "traffic "
                                    "(bridges, bonds, multicast); set trust = true",
                                    vf->ifname, flags & IFF_PROMISC ? "promiscuous" : "all-multicast");
                        else if (streq_ptr(vf->driver, "vfio-pci") && spoofchk && ether_addr_is_null(&mac))
                                add(d, "trust-spoofchk", DOCTOR_WARN, vf->pci,
                                    "passed through with no MAC set by the host, spoofchk on and trust off: "
                                    "a guest "
                                    "that picks its own MAC has its traffic dropped; set mac = \"stable\" "
                                    "(or let the "
                                    "consumer set one) or trust = true");
                }
        ADD_OK_IF_CLEAN(d, mark, "trust-spoofchk", "no VF trust/spoofchk setting blocks its traffic");
}

static uint32_t pf_mtu(const PhysicalFunction *pf)
{
        _cleanup_free_ char *rel = NULL;
        uint32_t mtu = 0;

        if (pf->ifname && asprintf_safe(&rel, "net/%s/mtu", pf->ifname) >= 0 &&
            sysfs_read_attr_u32(pf->syspath, rel, &mtu) >= 0 && mtu > 0)
                return mtu;
        return pf->link ? pf->link->mtu : 0;
}

static void check_mtu(Doctor *d)
{
        size_t mark = d->report->n_items;
        PhysicalFunction *pf;
        VirtualFunction *vf;

        HASHMAP_FOREACH(pf, d->m->pfs) {
                uint32_t pmtu = pf_mtu(pf);

                PF_FOREACH_VF(vf, pf) {
                        if (vf->mtu == 0)
                                continue;
                        if (pmtu > 0 && vf->mtu > pmtu)
                                add(d, "mtu", DOCTOR_FAIL, vf->pci,
                                    "VF MTU %u is larger than the PF's %u (%s): frames above %u are "
                                    "dropped; "
                                    "raise the PF mtu",
                                    vf->mtu, pmtu, pf_name(pf), pmtu);
                        else if (vf->layout && vf->layout->mtu > 0 && vf->mtu != vf->layout->mtu)
                                add(d, "mtu", DOCTOR_WARN, vf->pci, "VF MTU is %u, mtu = %u declared%s%s",
                                    vf->mtu, vf->layout->mtu, vf->last_error ? ": " : "",
                                    strempty(vf->last_error));
                }
        }
        ADD_OK_IF_CLEAN(d, mark, "mtu", "no VF MTU exceeds its PF's");
}

static void check_acs(Doctor *d)
{
        size_t mark = d->report->n_items;
        PhysicalFunction *pf;
        VirtualFunction *vf;
        unsigned vfs = 0, grouped = 0;

        HASHMAP_FOREACH(pf, d->m->pfs)
                PF_FOREACH_VF(vf, pf) {
                        _cleanup_free_ char *rel = NULL, *dir = NULL;
                        struct dirent *de;
                        DIR *dh;
                        unsigned others = 0;
                        char other[NAME_MAX + 1] = "";

                        vfs++;
                        if (vf->iommu_group < 0)
                                continue;
                        grouped++;
                        if (asprintf_safe(&rel, "kernel/iommu_groups/%d/devices", vf->iommu_group) < 0 ||
                            !(dir = host_path(d->sys, rel))) {
                                d->error = -ENOMEM;
                                return;
                        }
                        dh = opendir(dir);
                        if (!dh)
                                continue;
                        while ((de = readdir(dh)))
                                if (de->d_name[0] != '.' && !streq(de->d_name, vf->pci)) {
                                        if (others++ == 0)
                                                snprintf(other, sizeof(other), "%s", de->d_name);
                                }
                        closedir(dh);
                        if (others == 0)
                                continue;
                        /* vfio assigns whole groups: a shared group cannot go to one VM alone. */
                        add(d, "acs",
                            vf->layout && streq_ptr(vf->layout->driver, "vfio-pci") ? DOCTOR_FAIL
                                                                                    : DOCTOR_WARN,
                            vf->pci,
                            "IOMMU group %d is shared with %u other device%s (%s): the PCIe path lacks ACS "
                            "isolation; "
                            "enable ACS in the BIOS or use a slot below an ACS-capable port",
                            vf->iommu_group, others, others == 1 ? "" : "s", other);
                }
        /* Without IOMMU groups there is nothing to assess; the iommu check says why. */
        if (vfs > 0 && grouped == 0)
                ADD_OK_IF_CLEAN(d, mark, "acs",
                                "no VF is in an IOMMU group: isolation not assessed (see iommu)");
        else
                ADD_OK_IF_CLEAN(d, mark, "acs", "every VF is alone in its IOMMU group");
}

int doctor_run(Manager *m, const char *sys_root, const char *proc_root, DoctorReport **ret)
{
        _cleanup_(doctor_report_freep) DoctorReport *r = NULL;
        Doctor d;
        bool wants;

        r = calloc(1, sizeof(DoctorReport));
        if (!r)
                return -ENOMEM;
        d = (Doctor){
                .m = m,
                .sys = sys_root ?: "/sys",
                .proc = proc_root ?: "/proc",
                .report = r,
        };
        wants = config_wants_rdma(m);
        /* In the order of the chain: firmware/BIOS, kernel, devices, RDMA, consumer. */
        check_iommu(&d);
        check_iommu_passthrough(&d);
        check_acs(&d);
        check_hugepages(&d);
        check_num_vfs(&d);
        check_vf_driver(&d);
        check_rdma_core(&d, wants);
        check_rdma_vfs(&d);
        check_rdma_netns(&d, wants);
        check_trust(&d);
        check_mtu(&d);
        if (d.error < 0)
                return d.error;
        *ret = TAKE_PTR(r);
        return 0;
}
