/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <linux/netlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "vf-attr.h"

/* The rtnetlink adapter, on libnl-3 / libnl-route-3. It is the only file that speaks
 * netlink and the only one that sees -NLE_* codes: everything it returns is -errno.
 *
 * Requests are asynchronous only, on a socket watched by sd-event (netlink_attach_event(),
 * below): the event loop never waits on the kernel. Link events arrive on a second socket
 * attached to sd-event. */

typedef struct LinkInfo {
        int ifindex;
        char ifname[IFNAMSIZ];
        uint32_t mtu;
        unsigned flags; /* IFF_* */
        bool has_addr, has_perm_addr;
        struct ether_addr addr, perm_addr;
        bool has_num_vf;
        uint32_t num_vf; /* IFLA_NUM_VF */
        VfSettings *vfs; /* as listed in IFLA_VFINFO_LIST, sorted by index */
        size_t n_vfs;
        bool vfs_truncated; /* the kernel listed fewer VFs than IFLA_NUM_VF: the rest is unknown */
        /* The device the netdev sits on (IFLA_PARENT_DEV_NAME, IFLA_PARENT_DEV_BUS_NAME, Linux
         * >= 5.15): "0000:03:10.0" on "pci" for a VF's netdev. "" if the kernel did not say. */
        char parent[32];
        char parent_bus[16];
} LinkInfo;

LinkInfo *link_info_free(LinkInfo *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(LinkInfo *, link_info_free);
const VfSettings *link_info_find_vf(const LinkInfo *l, uint32_t index);

struct nl_msg;
typedef struct Netlink Netlink;

/* A transport replaces the kernel (tests, benches). send gets each complete request; recv
 * returns the next queued reply message(s) as a malloc()ed buffer (ownership passes to the
 * caller) or 0 if there is none. Requests and replies are real netlink messages.
 * Both return -errno on failure; recv's return on success is the buffer's size in bytes.
 *
 * The last two are optional and only serve netlink_monitor_start(): event_fd returns an fd
 * (owned by the transport) that polls readable while events are queued, recv_event pops the
 * next queued event datagram like recv, or returns -ENOBUFS to say events were lost. */
typedef struct NetlinkTransport {
        int (*send)(void *userdata, const struct nlmsghdr *req);
        int (*recv)(void *userdata, unsigned char **ret_buf);
        int (*event_fd)(void *userdata);
        int (*recv_event)(void *userdata, unsigned char **ret_buf);
        /* Optional, for netlink_attach_event(): an fd (owned by the transport) that polls
         * readable while replies are queued for recv. */
        int (*reply_fd)(void *userdata);
} NetlinkTransport;

int netlink_new(Netlink **ret);
int netlink_new_with_transport(const NetlinkTransport *t, void *userdata, Netlink **ret);
Netlink *netlink_free(Netlink *nl);
DEFINE_TRIVIAL_CLEANUP_FUNC(Netlink *, netlink_free);

/* Link monitor: RTNLGRP_LINK. The callback gets each new/changed/removed link. When the
 * kernel drops events (ENOBUFS) it is called once with link == NULL: resync everything. */
typedef void (*netlink_link_handler_t)(Netlink *nl, const LinkInfo *link, bool removed, void *userdata);
int netlink_monitor_start(Netlink *nl, sd_event *event, netlink_link_handler_t handler, void *userdata);
/* Hands what the monitor has queued to its handler now, without waiting (a sriov_numvfs write
 * just returned: its VFs' netdevs are announced there, and the pass that reads the new VFs
 * comes next). At most this many reads; the loop brings the rest. */
#define NETLINK_MONITOR_DRAIN_MAX 4096u
void netlink_monitor_drain(Netlink *nl);

/* ---- asynchronous requests ----
 *
 * netlink_attach_event() opens the request socket (or uses the transport's reply_fd) and
 * watches it on the loop; without it every request fails with -ENOTCONN. The *_async() calls
 * build a request and return at once:
 * at most NETLINK_MAX_IN_FLIGHT requests are sent and unanswered, the rest wait in order.
 * Each reply is routed by its sequence number to its request, whose handler runs on the
 * loop with the kernel's -errno (0 on success) and, for a GETLINK, the link (ownership passes
 * to the handler; NULL otherwise). A batch that needs several SETLINK messages is one
 * request: its next message goes out when the previous one is acked, the first error ends
 * it.
 *
 * netlink_get_link_async(): RTM_GETLINK for one ifindex with RTEXT_FILTER_VF |
 * RTEXT_FILTER_SKIP_STATS.
 *
 * netlink_set_vfs_async(): one RTM_SETLINK to the PF carrying an IFLA_VFINFO_LIST with one
 * IFLA_VF_INFO per entry, each with the attributes in its mask. The kernel applies them in
 * order and stops at the first error: on failure the answer is that error, and nothing says
 * which VF failed — callers re-read and fall back per VF/attribute (below). Entries with an
 * empty mask are skipped (the kernel rejects an empty IFLA_VF_INFO). A VF with both IB GUIDs
 * gets two IFLA_VF_INFOs, because the kernel ignores a port GUID that shares one with a node
 * GUID. A batch larger than NETLINK_SET_VFS_MSG_MAX bytes goes out as several messages, in
 * order, never splitting a VF; the first failing message ends the batch (later VFs are not
 * sent), so the semantics stay "applied in order up to the first error".
 *
 * netlink_set_vfs_each_async() is the fallback when a batch was refused: one request per VF
 * and attribute, all queued (not looped), the handler called once per request with the
 * entry's index and attribute (netlink_async_current()). Handlers must not free the Netlink.
 * Requests still pending when the Netlink is freed are dropped without a call. */
#define NETLINK_MAX_IN_FLIGHT 8

typedef void (*netlink_reply_handler_t)(Netlink *nl, int error, LinkInfo *link, void *userdata);

int netlink_attach_event(Netlink *nl, sd_event *event);
int netlink_get_link_async(Netlink *nl, int ifindex, netlink_reply_handler_t handler, void *userdata);
int netlink_set_vfs_async(Netlink *nl, int pf_ifindex, const VfSettings *vfs, size_t n_vfs,
                          netlink_reply_handler_t handler, void *userdata);
int netlink_set_vfs_each_async(Netlink *nl, int pf_ifindex, const VfSettings *vfs, size_t n_vfs,
                               netlink_reply_handler_t handler, void *userdata);
int netlink_set_mtu_async(Netlink *nl, int ifindex, uint32_t mtu, netlink_reply_handler_t handler,
                          void *userdata);
/* While a handler runs: the VF index and attribute its request carried (each_async), else
 * false. */
bool netlink_async_current(const Netlink *nl, uint32_t *ret_vf, VfAttr *ret_attr);
/* Requests queued or in flight. */
size_t netlink_async_pending(const Netlink *nl);

/* Counters for tests and benches. */
typedef struct NetlinkStats {
        uint64_t requests; /* messages sent */
        uint64_t set_vf_requests;
        uint64_t vf_infos_sent;
        uint64_t get_requests;
        uint64_t async_requests;      /* requests queued by the *_async() calls */
        uint64_t async_in_flight_max; /* most requests ever sent and unanswered at once */
} NetlinkStats;
const NetlinkStats *netlink_get_stats(const Netlink *nl);

/* Upper bound of one RTM_SETLINK's size: half of what the nest's u16 length can hold, far
 * below any socket buffer. ~190 VFs with every attribute fit in one. */
#define NETLINK_SET_VFS_MSG_MAX 32768

/* Exported for tests: builds the (first) RTM_SETLINK message netlink_set_vfs_async() sends.
 * Returns how many entries of vfs it covers (> 0; less than n_vfs if the batch needs more
 * messages: call again with the rest), -ENODATA if no entry has anything to set, -EINVAL on
 * a VF index the kernel cannot take. */
int netlink_build_set_vfs(int pf_ifindex, const VfSettings *vfs, size_t n_vfs, struct nl_msg **ret);

/* Parses one RTM_NEWLINK/RTM_DELLINK (the whole message, size bytes available) as
 * the GETLINK replies and the monitor are. Any bytes are safe to pass (fuzzers): -EBADMSG if
 * it is not a link message at all; a malformed VF list only marks vfs_truncated. */
int netlink_parse_link_message(const void *buf, size_t size, LinkInfo **ret);

/* libnl's -NLE_* (either sign) to -errno; 0 stays 0. The only place the translation lives. */
int netlink_errno_from_nle(int nle);
