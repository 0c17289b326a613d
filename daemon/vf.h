/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "config.h"
#include "netlink.h"
#include "rdma.h"

typedef struct PhysicalFunction PhysicalFunction;
typedef struct Lease Lease;

/* A VFIO-bound VF's group node, from its IOMMU group. */
typedef enum VfVfioGroup {
        VF_VFIO_GROUP_NONE,
        VF_VFIO_GROUP_IOMMU,   /* /dev/vfio/N */
        VF_VFIO_GROUP_NOIOMMU, /* /dev/vfio/noiommu-N (enable_unsafe_noiommu_mode) */
} VfVfioGroup;

/* Room for either VFIO node's path: "/dev/vfio/devices/vfio" and an int. */
#define VF_VFIO_PATH_MAX 40

typedef enum VfState {
        VF_STATE_PENDING,
        VF_STATE_READY,
        VF_STATE_DEGRADED,
        VF_STATE_FAILED,
        _VF_STATE_MAX,
        _VF_STATE_INVALID = -EINVAL,
} VfState;

/* What vf_refresh_parts() re-reads: each event re-reads what it can change (see the table in
 * manager.c's on_udev_event()). */
typedef enum VfRefresh {
        VF_REFRESH_DRIVER = 1 << 0, /* driver, driver_override, IOMMU group, VFIO nodes: bind/unbind */
        VF_REFRESH_NETDEV = 1 << 1, /* netdev name, ifindex, MTU: net add/remove/move, link events */
        VF_REFRESH_STATIC = 1 << 2, /* NUMA node: the PF's (no read), taken when the VF appears */
        VF_REFRESH_ALL = VF_REFRESH_DRIVER | VF_REFRESH_NETDEV | VF_REFRESH_STATIC,
        /* With VF_REFRESH_DRIVER, for a VF just created whose netdev was announced (pf.c): its
         * driver_override is not read. The kernel creates a VF without one, and a network
         * driver bound it, which an override naming another driver would have prevented; one
         * written since is read with the VF's next bind or unbind, as now. */
        VF_REFRESH_FRESH = 1 << 3,
} VfRefresh;

/* One per VF: 16,384 of them on a big host (issue 14: ≤ 16 MiB for the daemon at 64 × 256).
 * Fields are grouped by size (no padding holes); the strings fixed at creation (syspath and
 * the PCI address in it) live in the same allocation, after the struct: see vf_new(). What
 * a VF with a PCI device adds costs no allocation of its own either (tests/test-vf-memory.c):
 * the netdev name is inline (IFNAMSIZ), driver names are interned (a handful of distinct ones
 * per host), the VFIO nodes are kept as numbers and spelled out by vf_vfio_device() and
 * vf_vfio_cdev(). */
typedef struct VirtualFunction {
        PhysicalFunction *pf; /* weak: the PF owns its VFs */

        /* Device model, from udev. syspath and pci point into names[] and never change;
         * syspath is NULL for a VF with no device (netdevsim). */
        char *syspath;
        char *pci;
        char *ifname;                /* NULL, or ifname_buf: set with vf_set_ifname() */
        const char *driver;          /* interned (vf_intern()): never freed, compare with streq() */
        const char *driver_override; /* the same */
        /* RDMA, from rdma.c's mapping: the first device (by name) on the VF and its port. */
        char *rdma_device;
        uint64_t rdma_node_guid, rdma_port_guid;

        /* Declared, from the PF's config. */
        const VfLayout *layout; /* NULL: not covered by any range */
        const char *pool;       /* the layout's (it outlives the VF's use of it); "" without one */

        /* Consumer: while allocated, MAC and VLAN belong to it. */
        char *owner;
        char *last_error;
        uint64_t error_pass;  /* reconcile pass that set last_error */
        uint64_t seqnum_read; /* uevents up to this kernel seqnum came before its last whole read */
        char *cdi_spec;       /* the CDI spec written for it (cdi.c), NULL if none */

        /* What we last wrote (applied_mask) and what has not been read back since (verify_mask):
         * see vf_filter_diff() in reconcile.c. IB GUIDs sent since the VF was created are in
         * applied too: some drivers never report them back, and without this the diff would
         * resend them on every pass. */
        VfSettings applied;

        unsigned index;
        int ifindex;
        int iommu_group;  /* -1: none */
        int vfio_cdev_nr; /* iommufd device node /dev/vfio/devices/vfioN, if the kernel has one; -1: none */
        uint32_t rdma_port; /* 0: none */
        RdmaPortState rdma_port_state;
        RdmaLinkLayer rdma_link_layer;
        int numa_node;
        uint32_t mtu;
        /* Settings the driver refused (EOPNOTSUPP/EINVAL): not retried until the PF resets. */
        uint32_t unsupported;
        uint32_t applied_mask, verify_mask;
        VfState state;
        int netdev_hint; /* its udev hint file exists (netdev-hints.c); -1: not looked yet */

        uint8_t lost[_VF_ATTR_MAX]; /* consecutive writes that did not read back */
        bool allocated;
        /* VfRefresh parts events asked for since the last read: re-read at the next pass
         * (pf_refresh_vfs), once however many events asked. */
        uint8_t stale;
        uint8_t vfio_group;   /* VfVfioGroup: the group node of a VFIO-bound VF */
        char hint_ifname[16]; /* IFNAMSIZ: the netdev that was last told of it; "": none */
        char ifname_buf[16];  /* IFNAMSIZ */

        char names[]; /* syspath (its last component is pci), or pci alone */
} VirtualFunction;

int vf_new(PhysicalFunction *pf, unsigned index, const char *syspath, VirtualFunction **ret);
VirtualFunction *vf_free(VirtualFunction *vf);
DEFINE_TRIVIAL_CLEANUP_FUNC(VirtualFunction *, vf_free);

/* Re-reads driver, iommu group, netdev and NUMA node from sysfs. > 0 if any moved. */
int vf_refresh(VirtualFunction *vf);
/* The same for some parts only (VfRefresh bits); clears them from vf->stale. */
int vf_refresh_parts(VirtualFunction *vf, unsigned what);
/* The same with the VF's directory given as dir below dfd (its PF's directory, pf.c), NULL: its
 * syspath. -ENODEV if the device turned out gone (only looked at when reading the driver). */
int vf_refresh_parts_at(VirtualFunction *vf, int dfd, const char *dir, unsigned what);
void vf_set_layout(VirtualFunction *vf, const VfLayout *layout);
void vf_set_state(VirtualFunction *vf, VfState state, const char *error_fmt, ...) _printf_(3, 4);

/* What the VF's settings should be, given its layout and whether a consumer owns it. */
void vf_desired_settings(const VirtualFunction *vf, VfSettings *ret);
/* The same for a layout and PF declaration that may not be the VF's yet (Plan of a reload),
 * without the attributes in `unsupported`. Pure. */
void vf_settings_declared(const VirtualFunction *vf, const VfLayout *l, const PfConfig *c,
                          uint32_t unsupported, VfSettings *ret);
/* vfio-pci or one of its variant drivers. */
bool vf_driver_is_vfio(const char *driver);
/* Whether destroying the VF would break a consumer, and why. Fails closed: what cannot be
 * told counts as in use, with the reason. */
bool vf_is_in_use(const VirtualFunction *vf, char **ret_reason);
const char *vf_name(const VirtualFunction *vf); /* ifname or PCI address, for messages */

/* The VFIO group node (/dev/vfio/N, /dev/vfio/noiommu-N) of a VFIO-bound VF, written into buf;
 * NULL if it has none. */
const char *vf_vfio_device(const VirtualFunction *vf, char buf[static VF_VFIO_PATH_MAX]);
/* Its iommufd device node (/dev/vfio/devices/vfioN), or NULL. */
const char *vf_vfio_cdev(const VirtualFunction *vf, char buf[static VF_VFIO_PATH_MAX]);
/* The netdev name: NULL for none; > 0 if it changed, -EINVAL if longer than a netdev name can be
 * (then the VF has none). */
int vf_set_ifname(VirtualFunction *vf, const char *ifname);
/* The netdev's name, ifindex and MTU (NULL, 0, 0: none), as sysfs or rtnetlink tell them;
 * whether anything changed. */
bool vf_set_netdev(VirtualFunction *vf, const char *ifname, int ifindex, uint32_t mtu);
/* One shared copy of a string from a small set (driver names), kept for the process's life:
 * the same pointer for equal strings. NULL for NULL, or without memory. */
const char *vf_intern(const char *s);

DECLARE_STRING_TABLE(vf_state, VfState);
