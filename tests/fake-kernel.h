/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* FakeKernel: an in-process player of the parts of the Linux kernel sriovd talks to through
 * sysfs and udev, on a umockdev testbed. Tests and benches create PFs, install the fake's
 * SysfsOps, and the daemon code runs unmodified: it discovers devices through libudev and
 * reads attribute files (redirected by the umockdev preload), and every write it makes is
 * answered the way the kernel would (EBUSY on sriov_numvfs, VFs with physfn/virtfn links,
 * driver binding through driver_override + drivers_probe, add/change/bind/unbind/remove
 * uevents in the kernel's order).
 *
 Threads: the testbed is owned by one private "kernel" thread; every call below may be made
 * from any thread, runs there and returns when done, so a write returns after its devices
 * exist, as on a real kernel. Only a write that a test blocked, and VF creation on a "slow
 * NIC", finish later. uevents are queued when they happen and delivered, in order, by a
 * sender thread to every udev monitor of the moment (like netlink multicast: the writer never
 * waits for a listener, and a listener that reads late loses nothing). umockdev's own uevent
 * synthesis is not used: 0.17 abort()s the process when a listener has 10 unread uevents.
 *
 * The test process must run with libumockdev-preload.so.0 (see tests/meson.build:
 * umockdev_tests); fake_kernel_new() fails with -ENOPKG otherwise. */

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "sysfs.h"

typedef struct FakeKernel FakeKernel;

typedef enum FakeLinkType {
        FAKE_LINK_ETHERNET,   /* ARPHRD_ETHER */
        FAKE_LINK_INFINIBAND, /* ARPHRD_INFINIBAND (IPoIB netdevs) */
        _FAKE_LINK_TYPE_MAX,
        _FAKE_LINK_TYPE_INVALID = -EINVAL,
} FakeLinkType;

typedef enum FakeVfCreation {
        /* igb-like: when the sriov_numvfs write returns, the VFs exist, are bound, and have
         * their netdevs. */
        FAKE_VF_CREATE_SYNC,
        /* The VF PCI functions exist when the write returns; driver probe (bind uevent,
         * netdev) happens at fake_kernel_complete_pending(). */
        FAKE_VF_CREATE_DEFER_PROBE,
        /* Slow NIC: the write returns with sriov_numvfs updated, but the VFs appear only at
         * fake_kernel_complete_pending(). */
        FAKE_VF_CREATE_DEFER_ALL,
        _FAKE_VF_CREATE_MAX,
        _FAKE_VF_CREATE_INVALID = -EINVAL,
} FakeVfCreation;

typedef struct FakePfSpec {
        const char *pci;     /* "0000:01:00.0" (required) */
        uint16_t vendor;     /* 0x8086 (required) */
        uint16_t device;     /* 0x10c9 (required) */
        uint32_t class_code; /* 0 = 0x020000 (ethernet) */
        unsigned total_vfs;  /* sriov_totalvfs */
        int numa_node;       /* -1 = none; note 0 is a valid node */
        const char *driver;  /* PF driver, "igb"; NULL or "" = unbound (numvfs writes: ENOENT) */

        const char *ifname; /* PF netdev, "enp1s0"; NULL = none */
        int ifindex;        /* 0 = allocate */
        const char *mac;    /* permanent MAC; NULL = derived from the PCI address */
        unsigned mtu;       /* 0 = 1500 */
        unsigned max_mtu;   /* 0 = 9216; larger mtu writes fail with EINVAL */
        unsigned speed;     /* netdev "speed" in Mbit/s; 0 = 10000 */
        FakeLinkType link_type;

        uint16_t vf_device;      /* sriov_vf_device; 0 = device */
        const char *vf_driver;   /* "igbvf"; NULL or "" = VFs stay unbound */
        const char *vf_ifname;   /* VF netdev name: "<pf>" and "<n>" are replaced; NULL = "<pf>v<n>" */
        unsigned vf_offset;      /* routing-id offset of VF 0 from the PF; 0 = 0x80 (igb) */
        unsigned vf_stride;      /* routing-id stride; 0 = 2 (igb) */
        const char *rdma_prefix; /* "mlx5_": PF and VFs bound to a driver get infiniband/<prefix>N */
        FakeVfCreation vf_creation;

        const char *bridge; /* upstream port "0000:00:02.0"; NULL = derived from the bus number */
} FakePfSpec;

/* Called on the kernel thread with no fake lock held; they may call the query functions
 * below (fake_kernel_*_syspath, counters) but should only record what happened, e.g. in the
 * fake netlink kernel's link table. */
typedef struct FakeKernelHooks {
        /* After VFs were created or destroyed (n_vfs = number now present). */
        void (*numvfs_changed)(void *userdata, const char *pf_pci, int pf_ifindex, unsigned n_vfs);
        /* parent_pci: the PCI function the netdev belongs to; vf_index -1 for a PF. */
        void (*netdev_added)(void *userdata, const char *ifname, int ifindex, const char *mac, unsigned mtu,
                             const char *parent_pci, int pf_ifindex, int vf_index);
        void (*netdev_removed)(void *userdata, const char *ifname, int ifindex);
        void (*mtu_changed)(void *userdata, const char *ifname, int ifindex, unsigned mtu);
} FakeKernelHooks;

int fake_kernel_new(FakeKernel **ret);
FakeKernel *fake_kernel_free(FakeKernel *fk);
DEFINE_TRIVIAL_CLEANUP_FUNC(FakeKernel *, fake_kernel_free);

/* The testbed root; children of the test get it as $UMOCKDEV_DIR (set by the testbed). */
const char *fake_kernel_root_dir(FakeKernel *fk);

void fake_kernel_set_hooks(FakeKernel *fk, const FakeKernelHooks *hooks, void *userdata);

/* Hot-plug a PF: PCI function ("add", "bind"), its netdev ("add") and RDMA device. */
int fake_kernel_add_pf(FakeKernel *fk, const FakePfSpec *spec, char **ret_syspath);
/* Hot-unplug: VFs go first, then the PF, each with the kernel's uevents. */
int fake_kernel_remove_pf(FakeKernel *fk, const char *pci);

/* Drivers present under /sys/bus/pci/drivers/. Binding (drivers_probe) only ever picks a
 * loaded driver; fake_kernel_new() loads igb, igbvf, ixgbe, ixgbevf, mlx5_core, vfio-pci. */
int fake_kernel_load_driver(FakeKernel *fk, const char *driver);
int fake_kernel_unload_driver(FakeKernel *fk, const char *driver);

/* modprobe NAME fails (-ENOENT) from now on; by default every unloaded driver can be loaded
 * (SysfsOps.load_module of the fake). Call before the daemon runs. */
int fake_kernel_set_module_missing(FakeKernel *fk, const char *name);

/* Install with sysfs_set_ops(fake_kernel_sysfs_ops(), fk). */
const SysfsOps *fake_kernel_sysfs_ops(void);
/* What the ops call; path is absolute as the daemon passed it ("/sys/..."). */
int fake_kernel_write(FakeKernel *fk, const char *path, const char *value);

/* The next `count` writes whose path ends with attr_suffix ("sriov_numvfs",
 * "0000:01:10.0/driver_override", "drivers_probe") fail with error (-errno) and change
 * nothing. Rules stack; the oldest matching rule is used first. */
void fake_kernel_fail_next_write(FakeKernel *fk, const char *attr_suffix, int error, unsigned count);
/* Writes matching attr_suffix block in the writing thread until unblocked. */
void fake_kernel_block_writes(FakeKernel *fk, const char *attr_suffix);
/* Waits (condvar, no polling) until at least n writers are blocked. */
void fake_kernel_wait_blocked(FakeKernel *fk, unsigned n);
void fake_kernel_unblock_writes(FakeKernel *fk);

/* Slow NICs: performs deferred VF creation / driver probes; returns how many VFs it acted on. */
unsigned fake_kernel_complete_pending(FakeKernel *fk);
unsigned fake_kernel_n_pending(FakeKernel *fk);

/* uevents not yet handed to the listeners' sockets. After a call returns, its uevents are
 * queued; when this reaches 0 they are all readable from the monitors. */
unsigned fake_kernel_n_uevents_queued(FakeKernel *fk);
/* An eventfd (EFD_NONBLOCK) that becomes readable each time the uevent queue runs empty: poll
 * it beside the monitor's fd (or add it to an sd-event loop) to know when to stop reading,
 * without timers. Owned by the FakeKernel; read it to reset. */
int fake_kernel_uevent_idle_fd(FakeKernel *fk);

/* Writes made through fake_kernel_write() whose path ends with attr_suffix (NULL = all),
 * failed ones included. */
unsigned fake_kernel_count_writes(FakeKernel *fk, const char *attr_suffix);
void fake_kernel_reset_counts(FakeKernel *fk);

int fake_kernel_pf_syspath(FakeKernel *fk, const char *pci, char **ret);
int fake_kernel_vf_syspath(FakeKernel *fk, const char *pf_pci, unsigned vf_index, char **ret);
int fake_kernel_vf_pci(FakeKernel *fk, const char *pf_pci, unsigned vf_index, char **ret);

/* The world changing under the daemon: set an attribute as the kernel would (no write
 * counted), optionally followed by a uevent ("change", ...) on that device. */
int fake_kernel_set_attr(FakeKernel *fk, const char *syspath, const char *attr, const char *value,
                         const char *uevent_action);
int fake_kernel_uevent(FakeKernel *fk, const char *syspath, const char *action);
/* An RTM_SETLINK changed the MTU of netdev ifindex: its sysfs "mtu" follows (no uevent, no
 * write counted), as on a real kernel. -ENODEV if no fake netdev has that ifindex. */
int fake_kernel_netdev_mtu_changed(FakeKernel *fk, int ifindex, uint32_t mtu);
/* "ip link set ... name": the netdev's sysfs directory and class link take the new name,
 * then "move". -ENODEV if no fake netdev has that ifindex. */
int fake_kernel_rename_netdev(FakeKernel *fk, int ifindex, const char *name);
