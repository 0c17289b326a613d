/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fake kernel must look like the real one through the interfaces the daemon uses:
 * libudev enumeration and monitor, attribute files, and sysfs writes through the seam. */
#include <libudev.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "fake-kernel.h"
#include "log.h"
#include "sysfs.h"
#include "tests.h"
#include "util.h"

#define PF_PCI     "0000:01:00.0"
#define PF_SYSPATH "/sys/devices/pci0000:00/0000:00:02.0/0000:01:00.0"
#define BRIDGE     "/sys/devices/pci0000:00/0000:00:02.0"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_monitor *, udev_monitor_unref);

static const FakePfSpec igb = {
        .pci = PF_PCI,
        .vendor = 0x8086,
        .device = 0x10c9,
        .total_vfs = 7,
        .numa_node = 1,
        .driver = "igb",
        .ifname = "enp1s0",
        .ifindex = 2,
        .mac = "52:54:00:12:34:56",
        .vf_device = 0x10ca,
        .vf_driver = "igbvf",
};

static struct udev *udev;

static int setup(FakeKernel **ret, const FakePfSpec *spec)
{
        _cleanup_(fake_kernel_freep) FakeKernel *fk = NULL;
        int r;

        r = fake_kernel_new(&fk);
        if (r < 0)
                return r;
        if (spec) {
                r = fake_kernel_add_pf(fk, spec, NULL);
                if (r < 0)
                        return r;
        }
        sysfs_set_ops(fake_kernel_sysfs_ops(), fk);
        *ret = TAKE_PTR(fk);
        return 0;
}

static void teardown(FakeKernel *fk)
{
        sysfs_set_ops(NULL, NULL);
        fake_kernel_free(fk);
}

/* The daemon's discovery: pci devices with sriov_totalvfs. */
static char **enumerate(const char *subsystem, const char *sysattr, const char *parent_syspath)
{
        _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = udev_enumerate_new(udev);
        _cleanup_(udev_device_unrefp) struct udev_device *parent = NULL;
        struct udev_list_entry *i;
        char **l = NULL;

        ASSERT_TRUE(e);
        ASSERT_OK(udev_enumerate_add_match_subsystem(e, subsystem));
        if (sysattr)
                ASSERT_OK(udev_enumerate_add_match_sysattr(e, sysattr, NULL));
        if (parent_syspath) {
                parent = udev_device_new_from_syspath(udev, parent_syspath);
                ASSERT_TRUE(parent);
                ASSERT_OK(udev_enumerate_add_match_parent(e, parent));
        }
        ASSERT_OK(udev_enumerate_scan_devices(e));
        udev_list_entry_foreach(i, udev_enumerate_get_list_entry(e))
                ASSERT_OK(strv_extend(&l, udev_list_entry_get_name(i)));
        return l;
}

static struct udev_monitor *monitor_new(void)
{
        struct udev_monitor *m = udev_monitor_new_from_netlink(udev, "udev");

        ASSERT_TRUE(m);
        ASSERT_OK(udev_monitor_filter_add_match_subsystem_devtype(m, "pci", NULL));
        ASSERT_OK(udev_monitor_filter_add_match_subsystem_devtype(m, "net", NULL));
        ASSERT_OK(udev_monitor_filter_add_match_subsystem_devtype(m, "vfio", NULL));
        ASSERT_OK(udev_monitor_filter_add_match_subsystem_devtype(m, "infiniband", NULL));
        ASSERT_OK(udev_monitor_enable_receiving(m));
        return m;
}

/* Drains what the kernel sent so far as "ACTION SUBSYSTEM SYSNAME [DRIVER]" lines: reads
 * while uevents are queued (the sender waits when our socket is full), waiting on the
 * monitor's fd, never on a timer. */
static char **monitor_drain(FakeKernel *fk, struct udev_monitor *m)
{
        char **l = NULL;

        for (;;) {
                bool last = fake_kernel_n_uevents_queued(fk) == 0;
                struct pollfd p[2] = {
                        {.fd = udev_monitor_get_fd(m), .events = POLLIN},
                        {.fd = fake_kernel_uevent_idle_fd(fk), .events = POLLIN},
                };
                eventfd_t v;

                for (;;) {
                        _cleanup_(udev_device_unrefp) struct udev_device *d = udev_monitor_receive_device(m);
                        const char *drv;

                        if (!d)
                                break;
                        drv = udev_device_get_property_value(d, "DRIVER");
                        ASSERT_OK(strv_extendf(&l, "%s %s %s%s%s", udev_device_get_action(d),
                                               udev_device_get_subsystem(d), udev_device_get_sysname(d),
                                               drv ? " " : "", strempty(drv)));
                }
                if (last)
                        return l;
                (void) eventfd_read(p[1].fd, &v);
                if (fake_kernel_n_uevents_queued(fk) > 0)
                        ASSERT_TRUE(poll(p, 2, -1) >= 0);
        }
}

static int strv_index(char **l, const char *s)
{
        for (int i = 0; l && l[i]; i++)
                if (streq(l[i], s))
                        return i;
        fprintf(stderr, "event \"%s\" not seen; got:\n", s);
        STRV_FOREACH(e, l)
                fprintf(stderr, "  %s\n", *e);
        return -1;
}

#define ASSERT_EVENT_BEFORE(l, a, b)                              \
        do {                                                      \
                int _a = strv_index(l, a), _b = strv_index(l, b); \
                ASSERT_TRUE(_a >= 0 && _b >= 0 && _a < _b);       \
        } while (0)

static char *attr(const char *syspath, const char *a)
{
        char *v = NULL;
        ASSERT_OK(sysfs_read_attr(syspath, a, &v));
        return v;
}

TEST(discover_pf)
{
        FakeKernel *fk;
        _cleanup_(strv_freep) char **pfs = NULL, **nets = NULL, **all = NULL;
        _cleanup_(udev_device_unrefp) struct udev_device *net = NULL;
        _cleanup_free_ char *v = NULL, *d = NULL, *numa = NULL, *drv = NULL, *grp = NULL, *numvfs = NULL;

        ASSERT_OK(setup(&fk, &igb));

        /* only SR-IOV capable functions match: the bridge is a pci device too */
        all = enumerate("pci", NULL, NULL);
        ASSERT_EQ(strv_length(all), 2);
        pfs = enumerate("pci", "sriov_totalvfs", NULL);
        ASSERT_EQ(strv_length(pfs), 1);
        ASSERT_STREQ(pfs[0], PF_SYSPATH);

        v = attr(PF_SYSPATH, "vendor");
        ASSERT_STREQ(v, "0x8086");
        d = attr(PF_SYSPATH, "sriov_vf_device");
        ASSERT_STREQ(d, "0x10ca");
        numa = attr(PF_SYSPATH, "numa_node");
        ASSERT_STREQ(numa, "1");
        numvfs = attr(PF_SYSPATH, "sriov_numvfs");
        ASSERT_STREQ(numvfs, "0");
        ASSERT_OK(sysfs_read_link_attr(PF_SYSPATH, "driver", &drv));
        ASSERT_STREQ(drv, "igb");
        ASSERT_OK(sysfs_read_link_attr(PF_SYSPATH, "iommu_group", &grp));
        ASSERT_TRUE(access("/sys/kernel/iommu_groups", F_OK) == 0);

        /* netdev child found via subsystem net + parent, with INTERFACE/IFINDEX */
        nets = enumerate("net", NULL, PF_SYSPATH);
        ASSERT_EQ(strv_length(nets), 1);
        ASSERT_STREQ(nets[0], PF_SYSPATH "/net/enp1s0");
        net = udev_device_new_from_syspath(udev, nets[0]);
        ASSERT_STREQ(udev_device_get_property_value(net, "INTERFACE"), "enp1s0");
        ASSERT_STREQ(udev_device_get_property_value(net, "IFINDEX"), "2");
        ASSERT_STREQ(udev_device_get_sysattr_value(net, "address"), "52:54:00:12:34:56");
        ASSERT_STREQ(udev_device_get_sysattr_value(net, "addr_assign_type"), "0");
        ASSERT_STREQ(udev_device_get_sysattr_value(net, "mtu"), "1500");
        ASSERT_STREQ(udev_device_get_driver(udev_device_get_parent(net)), "igb");
        /* by bus name, as the daemon maps a virtfn link's target back to a device */
        {
                _cleanup_(udev_device_unrefp) struct udev_device *p =
                        udev_device_new_from_subsystem_sysname(udev, "pci", PF_PCI);
                ASSERT_TRUE(p);
                ASSERT_STREQ(udev_device_get_syspath(p), PF_SYSPATH);
        }
        teardown(fk);
}

TEST(numvfs_creates_vfs)
{
        FakeKernel *fk;
        _cleanup_(udev_monitor_unrefp) struct udev_monitor *m = NULL;
        _cleanup_(strv_freep) char **ev = NULL, **pfs = NULL, **all = NULL;

        ASSERT_OK(setup(&fk, &igb));
        m = monitor_new();

        ASSERT_OK(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "3"));

        /* siblings of the PF below the same port, at offset 0x80, stride 2 */
        static const char *const vfs[] = {"0000:01:10.0", "0000:01:10.2", "0000:01:10.4"};
        for (unsigned i = 0; i < ELEMENTSOF(vfs); i++) {
                _cleanup_free_ char *vsys = NULL, *link = NULL, *phys = NULL, *drv = NULL, *devid = NULL,
                                    *ovr = NULL, *grp = NULL, *ifname = NULL;
                _cleanup_(strv_freep) char **nets = NULL;

                ASSERT_OK(asprintf_safe(&vsys, BRIDGE "/%s", vfs[i]));
                ASSERT_OK(asprintf_safe(&link, "virtfn%u", i));
                ASSERT_OK(sysfs_read_link_attr(PF_SYSPATH, link, &phys));
                ASSERT_STREQ(phys, vfs[i]);
                free(phys);
                phys = NULL;
                ASSERT_OK(sysfs_read_link_attr(vsys, "physfn", &phys));
                ASSERT_STREQ(phys, PF_PCI);
                ASSERT_OK(sysfs_read_link_attr(vsys, "driver", &drv));
                ASSERT_STREQ(drv, "igbvf");
                ASSERT_OK(sysfs_read_link_attr(vsys, "iommu_group", &grp));
                devid = attr(vsys, "device");
                ASSERT_STREQ(devid, "0x10ca");
                ovr = attr(vsys, "driver_override");
                ASSERT_STREQ(ovr, "(null)");

                nets = enumerate("net", NULL, vsys);
                ASSERT_EQ(strv_length(nets), 1);
                ASSERT_OK(asprintf_safe(&ifname, "%s/net/enp1s0v%u", vsys, i));
                ASSERT_STREQ(nets[0], ifname);
        }
        {
                _cleanup_free_ char *n = attr(PF_SYSPATH, "sriov_numvfs");
                ASSERT_STREQ(n, "3");
        }
        /* VFs have no sriov_totalvfs: discovery still finds only the PF */
        pfs = enumerate("pci", "sriov_totalvfs", NULL);
        ASSERT_EQ(strv_length(pfs), 1);
        all = enumerate("pci", NULL, NULL);
        ASSERT_EQ(strv_length(all), 5);

        /* the kernel's order per VF: add (no links yet), change (links), netdev, bind */
        ev = monitor_drain(fk, m);
        ASSERT_EVENT_BEFORE(ev, "add pci 0000:01:10.0", "change pci 0000:01:10.0");
        ASSERT_EVENT_BEFORE(ev, "change pci 0000:01:10.0", "add net enp1s0v0");
        ASSERT_EVENT_BEFORE(ev, "add net enp1s0v0", "bind pci 0000:01:10.0 igbvf");
        ASSERT_EVENT_BEFORE(ev, "bind pci 0000:01:10.4 igbvf", "change pci 0000:01:00.0 igb");
        ASSERT_EQ(strv_length(ev), 3 * 4 + 1);
        teardown(fk);
}

TEST(numvfs_kernel_rules)
{
        FakeKernel *fk;
        _cleanup_(udev_monitor_unrefp) struct udev_monitor *m = NULL;
        _cleanup_(strv_freep) char **ev = NULL, **all = NULL;
        _cleanup_free_ char *n = NULL;

        ASSERT_OK(setup(&fk, &igb));
        ASSERT_OK(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "3"));
        m = monitor_new();

        /* non-zero to another non-zero: go through 0 */
        ASSERT_ERROR(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "2"), EBUSY);
        /* same value: nothing happens, no events */
        ASSERT_OK(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "3\n"));
        ASSERT_ERROR(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "8"), ERANGE);
        ASSERT_ERROR(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "abc"), EINVAL);
        ASSERT_ERROR(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "70000"), ERANGE);
        ASSERT_ERROR(sysfs_write_attr(PF_SYSPATH, "sriov_totalvfs", "8"), EACCES);
        ASSERT_ERROR(sysfs_write_attr(PF_SYSPATH, "no_such_attr", "1"), ENOENT);
        ev = monitor_drain(fk, m);
        ASSERT_EQ(strv_length(ev), 0);
        n = attr(PF_SYSPATH, "sriov_numvfs");
        ASSERT_STREQ(n, "3");

        /* 0 destroys: netdev gone, driver unbound, device removed */
        ASSERT_OK(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "0"));
        ev = monitor_drain(fk, m);
        ASSERT_EVENT_BEFORE(ev, "remove net enp1s0v1", "unbind pci 0000:01:10.2");
        ASSERT_EVENT_BEFORE(ev, "unbind pci 0000:01:10.2", "remove pci 0000:01:10.2");
        ASSERT_EVENT_BEFORE(ev, "remove pci 0000:01:10.4", "change pci 0000:01:00.0 igb");
        all = enumerate("pci", NULL, NULL);
        ASSERT_EQ(strv_length(all), 2);
        ASSERT_TRUE(access(PF_SYSPATH "/virtfn0", F_OK) < 0);
        ASSERT_OK(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "7"));
        ASSERT_EQ(fake_kernel_count_writes(fk, "sriov_numvfs"), 8);

        /* autoprobe off: VFs come unbound, without netdevs */
        ASSERT_OK(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "0"));
        ASSERT_ERROR(sysfs_write_attr(PF_SYSPATH, "sriov_drivers_autoprobe", "maybe"), EINVAL);
        ASSERT_OK(sysfs_write_attr(PF_SYSPATH, "sriov_drivers_autoprobe", "0"));
        ASSERT_OK(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "1"));
        ASSERT_TRUE(access(BRIDGE "/0000:01:10.0/driver", F_OK) < 0);
        ASSERT_TRUE(access(BRIDGE "/0000:01:10.0/net", F_OK) < 0);
        teardown(fk);
}

TEST(vfio_bind)
{
        FakeKernel *fk;
        _cleanup_(udev_monitor_unrefp) struct udev_monitor *m = NULL;
        _cleanup_(strv_freep) char **ev = NULL, **nets = NULL;
        _cleanup_free_ char *drv = NULL, *grp = NULL, *node = NULL, *ovr = NULL;
        const char *vf = BRIDGE "/0000:01:10.2";
        struct stat st;

        ASSERT_OK(setup(&fk, &igb));
        ASSERT_OK(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "2"));
        m = monitor_new();

        /* vfio-pci not loaded: probe leaves the VF unbound (modprobe is the admin's job) */
        ASSERT_OK(fake_kernel_unload_driver(fk, "vfio-pci"));
        ASSERT_OK(sysfs_write_attr(vf, "driver_override", "vfio-pci"));
        ovr = attr(vf, "driver_override");
        ASSERT_STREQ(ovr, "vfio-pci");
        /* unbind through the device's driver link, as the daemon does */
        ASSERT_OK(sysfs_write("/sys/bus/pci/devices/0000:01:10.2/driver/unbind", "0000:01:10.2"));
        ASSERT_OK(sysfs_write("/sys/bus/pci/drivers_probe", "0000:01:10.2"));
        ASSERT_ERROR(sysfs_read_link_attr(vf, "driver", &drv), ENOENT);
        ev = monitor_drain(fk, m);
        ASSERT_EVENT_BEFORE(ev, "remove net enp1s0v1", "unbind pci 0000:01:10.2");
        ASSERT_EQ(strv_length(ev), 2);
        strv_free(ev);

        ASSERT_OK(fake_kernel_load_driver(fk, "vfio-pci"));
        ASSERT_OK(sysfs_write("/sys/bus/pci/drivers_probe", "0000:01:10.2"));
        ASSERT_OK(sysfs_read_link_attr(vf, "driver", &drv));
        ASSERT_STREQ(drv, "vfio-pci");
        ASSERT_OK(sysfs_read_link_attr(vf, "iommu_group", &grp));
        ASSERT_OK(asprintf_safe(&node, "/dev/vfio/%s", grp));
        /* the preload makes it a character device */
        ASSERT_OK(stat(node, &st));
        ASSERT_TRUE(S_ISCHR(st.st_mode));
        nets = enumerate("net", NULL, vf);
        ASSERT_EQ(strv_length(nets), 0);
        ev = monitor_drain(fk, m);
        {
                _cleanup_free_ char *add = NULL;
                ASSERT_OK(asprintf_safe(&add, "add vfio %s", grp));
                ASSERT_EVENT_BEFORE(ev, add, "bind pci 0000:01:10.2 vfio-pci");
        }
        strv_free(ev);

        /* back to igbvf: clear the override, unbind from vfio-pci, probe */
        ASSERT_ERROR(sysfs_write("/sys/bus/pci/drivers/igbvf/unbind", "0000:01:10.2"), ENODEV);
        ASSERT_OK(sysfs_write_attr(vf, "driver_override", "\n"));
        ASSERT_OK(sysfs_write("/sys/bus/pci/drivers/vfio-pci/unbind", "0000:01:10.2"));
        ASSERT_TRUE(access(node, F_OK) < 0);
        ASSERT_OK(sysfs_write("/sys/bus/pci/drivers_probe", "0000:01:10.2"));
        ev = monitor_drain(fk, m);
        ASSERT_EVENT_BEFORE(ev, "unbind pci 0000:01:10.2", "add net enp1s0v1");
        ASSERT_EVENT_BEFORE(ev, "add net enp1s0v1", "bind pci 0000:01:10.2 igbvf");
        ASSERT_ERROR(sysfs_write("/sys/bus/pci/drivers_probe", "0000:09:00.0"), ENODEV);
        teardown(fk);
}

TEST(remove_pf)
{
        FakeKernel *fk;
        _cleanup_(udev_monitor_unrefp) struct udev_monitor *m = NULL;
        _cleanup_(strv_freep) char **ev = NULL, **pfs = NULL;

        ASSERT_OK(setup(&fk, &igb));
        ASSERT_OK(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "2"));
        m = monitor_new();
        ASSERT_OK(fake_kernel_remove_pf(fk, PF_PCI));
        ev = monitor_drain(fk, m);
        ASSERT_EVENT_BEFORE(ev, "remove pci 0000:01:10.2", "remove net enp1s0");
        ASSERT_EVENT_BEFORE(ev, "remove net enp1s0", "unbind pci 0000:01:00.0");
        ASSERT_EVENT_BEFORE(ev, "unbind pci 0000:01:00.0", "remove pci 0000:01:00.0");
        pfs = enumerate("pci", "sriov_totalvfs", NULL);
        ASSERT_EQ(strv_length(pfs), 0);
        ASSERT_ERROR(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "1"), ENOENT);

        /* and it comes back */
        ASSERT_OK(fake_kernel_add_pf(fk, &igb, NULL));
        strv_free(pfs);
        pfs = enumerate("pci", "sriov_totalvfs", NULL);
        ASSERT_EQ(strv_length(pfs), 1);
        teardown(fk);
}

TEST(inject_and_count)
{
        FakeKernel *fk;
        _cleanup_free_ char *n = NULL;

        ASSERT_OK(setup(&fk, &igb));
        fake_kernel_fail_next_write(fk, "sriov_numvfs", -ENOMEM, 1);
        ASSERT_ERROR(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "2"), ENOMEM);
        n = attr(PF_SYSPATH, "sriov_numvfs");
        ASSERT_STREQ(n, "0");
        ASSERT_OK(sysfs_write_attr(PF_SYSPATH, "sriov_numvfs", "2"));
        ASSERT_OK(sysfs_write_attr(PF_SYSPATH "/net/enp1s0", "mtu", "9000"));
        ASSERT_ERROR(sysfs_write_attr(PF_SYSPATH "/net/enp1s0", "mtu", "10000"), EINVAL);
        ASSERT_EQ(fake_kernel_count_writes(fk, "sriov_numvfs"), 2);
        ASSERT_EQ(fake_kernel_count_writes(fk, "/mtu"), 2);
        ASSERT_EQ(fake_kernel_count_writes(fk, NULL), 4);
        fake_kernel_reset_counts(fk);
        ASSERT_EQ(fake_kernel_count_writes(fk, NULL), 0);
        teardown(fk);
}

typedef struct Writer {
        const char *syspath, *attr, *value;
        int r;
} Writer;

static void *writer_thread(void *p)
{
        Writer *w = p;
        w->r = sysfs_write_attr(w->syspath, w->attr, w->value);
        return NULL;
}

TEST(blocked_write)
{
        FakeKernel *fk;
        FakePfSpec second = igb;
        Writer w = {PF_SYSPATH, "sriov_numvfs", "4", 1};
        pthread_t t;
        _cleanup_free_ char *n = NULL, *vf = NULL;

        second.pci = "0000:02:00.0";
        second.ifname = "enp2s0";
        second.ifindex = 3;
        second.mac = NULL;
        ASSERT_OK(setup(&fk, &igb));
        ASSERT_OK(fake_kernel_add_pf(fk, &second, NULL));

        fake_kernel_block_writes(fk, PF_PCI "/sriov_numvfs");
        ASSERT_OK(-pthread_create(&t, NULL, writer_thread, &w));
        fake_kernel_wait_blocked(fk, 1);
        /* the kernel keeps serving others while one write hangs */
        ASSERT_OK(
                sysfs_write_attr("/sys/devices/pci0000:00/0000:00:03.0/0000:02:00.0", "sriov_numvfs", "1"));
        ASSERT_OK(fake_kernel_vf_syspath(fk, "0000:02:00.0", 0, &vf));
        ASSERT_STREQ(vf, "/sys/devices/pci0000:00/0000:00:03.0/0000:02:10.0");
        n = attr(PF_SYSPATH, "sriov_numvfs");
        ASSERT_STREQ(n, "0");
        ASSERT_EQ(w.r, 1);
        fake_kernel_unblock_writes(fk);
        ASSERT_OK(-pthread_join(t, NULL));
        ASSERT_OK(w.r);
        free(n);
        n = attr(PF_SYSPATH, "sriov_numvfs");
        ASSERT_STREQ(n, "4");
        teardown(fk);
}

typedef struct HookLog {
        unsigned numvfs_calls, last_n, added, removed;
        int last_pf_ifindex;
} HookLog;

static void on_numvfs(void *ud, const char *pf_pci, int pf_ifindex, unsigned n)
{
        HookLog *h = ud;
        h->numvfs_calls++;
        h->last_n = n;
        h->last_pf_ifindex = pf_ifindex;
}

static void on_added(void *ud, const char *ifname, int ifindex, const char *mac, unsigned mtu,
                     const char *pci, int pf_ifindex, int vf_index)
{
        ((HookLog *) ud)->added++;
}

static void on_removed(void *ud, const char *ifname, int ifindex)
{
        ((HookLog *) ud)->removed++;
}

TEST(slow_nic_and_hooks)
{
        FakeKernel *fk;
        FakePfSpec mlx = {
                .pci = "0000:81:00.0",
                .vendor = 0x15b3,
                .device = 0x101b,
                .total_vfs = 8,
                .numa_node = 0,
                .driver = "mlx5_core",
                .ifname = "ens3f0",
                .ifindex = 5,
                .vf_device = 0x101c,
                .vf_driver = "mlx5_core",
                .vf_ifname = "<pf>v<n>",
                .vf_offset = 1,
                .vf_stride = 1,
                .rdma_prefix = "mlx5_",
                .vf_creation = FAKE_VF_CREATE_DEFER_ALL,
        };
        static const FakeKernelHooks hooks = {
                .numvfs_changed = on_numvfs,
                .netdev_added = on_added,
                .netdev_removed = on_removed,
        };
        HookLog h = {};
        _cleanup_(udev_monitor_unrefp) struct udev_monitor *m = NULL;
        _cleanup_(strv_freep) char **ev = NULL, **ib = NULL, **all = NULL;
        _cleanup_free_ char *pf = NULL, *n = NULL, *vf = NULL;

        ASSERT_OK(setup(&fk, NULL));
        fake_kernel_set_hooks(fk, &hooks, &h);
        ASSERT_OK(fake_kernel_add_pf(fk, &mlx, &pf));
        ASSERT_STREQ(pf, "/sys/devices/pci0000:80/0000:80:02.0/0000:81:00.0");
        ASSERT_EQ(h.added, 1);
        m = monitor_new();

        ASSERT_OK(sysfs_write_attr(pf, "sriov_numvfs", "2"));
        /* the write returned; the VFs are not there yet */
        n = attr(pf, "sriov_numvfs");
        ASSERT_STREQ(n, "2");
        all = enumerate("pci", NULL, NULL);
        ASSERT_EQ(strv_length(all), 2);
        ASSERT_EQ(fake_kernel_n_pending(fk), 2);
        ev = monitor_drain(fk, m);
        ASSERT_EQ(strv_length(ev), 0);

        ASSERT_EQ(fake_kernel_complete_pending(fk), 2);
        ASSERT_EQ(fake_kernel_n_pending(fk), 0);
        ev = strv_free(ev);
        ev = monitor_drain(fk, m);
        ASSERT_EVENT_BEFORE(ev, "add infiniband mlx5_1", "bind pci 0000:81:00.1 mlx5_core");
        ASSERT_TRUE(strv_index(ev, "bind pci 0000:81:00.2 mlx5_core") >= 0);
        ASSERT_OK(fake_kernel_vf_syspath(fk, "0000:81:00.0", 1, &vf));
        ib = enumerate("infiniband", NULL, vf);
        ASSERT_EQ(strv_length(ib), 1);
        ASSERT_TRUE(access("/sys/class/infiniband/mlx5_2/device/physfn", F_OK) == 0);
        ASSERT_EQ(h.numvfs_calls, 1);
        ASSERT_EQ(h.last_n, 2);
        ASSERT_EQ(h.last_pf_ifindex, 5);
        ASSERT_EQ(h.added, 3);

        ASSERT_OK(sysfs_write_attr(pf, "sriov_numvfs", "0"));
        ASSERT_EQ(h.removed, 2);
        ASSERT_EQ(h.numvfs_calls, 2);
        ASSERT_EQ(h.last_n, 0);
        teardown(fk);
}

int main(void)
{
        log_setup();
        /* UMOCKDEV_DIR must exist before the first libudev call, so that libudev's view is
         * the testbed: each test makes its own, this one only carries the struct udev. */
        udev = udev_new();
        ASSERT_TRUE(udev);
        RUN(discover_pf);
        RUN(numvfs_creates_vfs);
        RUN(numvfs_kernel_rules);
        RUN(vfio_bind);
        RUN(remove_pf);
        RUN(inject_and_count);
        RUN(blocked_write);
        RUN(slow_nic_and_hooks);
        udev_unref(udev);
        return 0;
}
