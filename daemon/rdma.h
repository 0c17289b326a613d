/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libudev.h>
#include <stdint.h>

#include "macro.h"

/* The RDMA adapter: which RDMA devices sit on which PF/VF, and their live port state.
 *
 * Devices are found through udev/sysfs (the infiniband class), because that works with or
 * without userspace verbs and on a umockdev testbed. A device maps to a function two ways:
 *   - by PCI parent: its "device" link names the PCI function (mlx5-style VFs);
 *   - by RoCE GID table netdev: a GID entry's netdev is the function's netdev, which is how
 *     soft devices without a PCI parent (rdma_rxe on a VF netdev) map.
 * Live attributes (port state, link layer, GUIDs, GID netdevs) come from libibverbs behind
 * RdmaOps, which tests replace (libibverbs cannot be pointed at a fake tree). When
 * libibverbs does not know the device (no provider, no ib_uverbs, a host without RDMA:
 * ibv_get_device_list() fails with ENOSYS) the same attributes are read from sysfs below
 * the device's syspath. */

typedef enum RdmaPortState {
        /* Values of enum ibv_port_state. */
        RDMA_PORT_NOP = 0,
        RDMA_PORT_DOWN = 1,
        RDMA_PORT_INIT = 2,
        RDMA_PORT_ARMED = 3,
        RDMA_PORT_ACTIVE = 4,
        RDMA_PORT_ACTIVE_DEFER = 5,
        _RDMA_PORT_STATE_MAX,
        _RDMA_PORT_STATE_INVALID = -EINVAL,
} RdmaPortState;

typedef enum RdmaLinkLayer {
        RDMA_LINK_LAYER_UNKNOWN,
        RDMA_LINK_LAYER_INFINIBAND,
        RDMA_LINK_LAYER_ETHERNET,
        _RDMA_LINK_LAYER_MAX,
        _RDMA_LINK_LAYER_INVALID = -EINVAL,
} RdmaLinkLayer;

typedef struct RdmaPort {
        uint32_t num; /* 1-based, as libibverbs and sysfs count */
        RdmaPortState state;
        RdmaLinkLayer link_layer;
        uint64_t port_guid;  /* interface id of GID 0, host order; 0 = unknown */
        int *ndev_ifindexes; /* netdevs of the GID table (RoCE), deduplicated */
        size_t n_ndevs;
        char **ndev_names; /* the same from the sysfs fallback (names, not ifindexes) */
} RdmaPort;

typedef struct RdmaDevice {
        char *name;         /* "mlx5_3", "rxe0" */
        char *syspath;      /* from udev */
        char *pci;          /* PCI function of the "device" link, NULL for soft devices */
        uint64_t node_guid; /* host order; 0 = unknown */
        RdmaPort *ports;
        size_t n_ports;
} RdmaDevice;

typedef struct RdmaOps {
        /* All return 0 or -errno; -ENODEV/-EOPNOTSUPP mean "libibverbs cannot tell", and the
         * caller reads sysfs instead. ret_* are untouched on failure. */
        int (*query_device)(void *userdata, const char *name, uint64_t *ret_node_guid,
                            uint32_t *ret_n_ports);
        int (*query_port)(void *userdata, const char *name, uint32_t port, RdmaPortState *ret_state,
                          RdmaLinkLayer *ret_link_layer, uint64_t *ret_port_guid);
        /* ifindexes of the netdevs in the port's GID table (ibv_query_gid_table). */
        int (*query_gid_ndevs)(void *userdata, const char *name, uint32_t port, int **ret_ifindexes,
                               size_t *ret_n);
} RdmaOps;

/* NULL ops restores libibverbs. Not thread safe: set before the manager starts. */
void rdma_set_ops(const RdmaOps *ops, void *userdata);

RdmaDevice *rdma_device_free(RdmaDevice *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(RdmaDevice *, rdma_device_free);
void rdma_device_list_free(RdmaDevice **l, size_t n);

/* Reads one device (name = basename of syspath): PCI parent, then live attributes through
 * the ops, falling back to sysfs attributes. */
int rdma_device_load(const char *syspath, RdmaDevice **ret);
/* Every device of the infiniband class, sorted by name. A host without any: 0 devices. */
int rdma_enumerate(struct udev *udev, RdmaDevice ***ret, size_t *ret_n);

/* "xxxx:xxxx:xxxx:xxxx" as sysfs prints GUIDs; "" for 0. */
#define RDMA_GUID_STRLEN 20
char *rdma_guid_to_string(uint64_t guid, char buf[static RDMA_GUID_STRLEN]);
int rdma_guid_from_string(const char *s, uint64_t *ret);

/* The RDMA module that goes with a NIC driver ("mlx5_core" -> "mlx5_ib"), for advice. */
const char *rdma_driver_hint(const char *netdev_driver);

const char *rdma_port_state_to_string(RdmaPortState s);
const char *rdma_link_layer_to_string(RdmaLinkLayer l);
