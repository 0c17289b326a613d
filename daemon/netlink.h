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
 * Requests are synchronous on a private socket (they take microseconds; the slow kernel
 * work is in sysfs writes, which run off the event loop). Link events arrive on a second
 * socket attached to sd-event. */

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
} NetlinkTransport;

int netlink_new(Netlink **ret);
int netlink_new_with_transport(const NetlinkTransport *t, void *userdata, Netlink **ret);
Netlink *netlink_free(Netlink *nl);
DEFINE_TRIVIAL_CLEANUP_FUNC(Netlink *, netlink_free);

/* RTM_GETLINK for one ifindex with RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS. */
int netlink_get_link(Netlink *nl, int ifindex, LinkInfo **ret);

/* One RTM_SETLINK to the PF carrying an IFLA_VFINFO_LIST with one IFLA_VF_INFO per entry,
 * each with the attributes in its mask. The kernel applies them in order and stops at the
 * first error: on failure the return is that error, and nothing says which VF failed —
 * callers re-read with netlink_get_link() and retry per VF/attribute.
 *
 * Entries with an empty mask are skipped (the kernel rejects an empty IFLA_VF_INFO); if all
 * are empty nothing is sent and 0 is returned. A VF with both IB GUIDs gets two IFLA_VF_INFOs,
 * because the kernel ignores a port GUID that shares one with a node GUID. A batch larger
 * than NETLINK_SET_VFS_MSG_MAX bytes is sent as several messages, in order, never splitting a
 * VF; the first failing message ends the batch (later VFs are not sent), so the semantics
 * stay "applied in order up to the first error". */
int netlink_set_vfs(Netlink *nl, int pf_ifindex, const VfSettings *vfs, size_t n_vfs);

int netlink_set_mtu(Netlink *nl, int ifindex, uint32_t mtu);

/* Link monitor: RTNLGRP_LINK. The callback gets each new/changed/removed link. When the
 * kernel drops events (ENOBUFS) it is called once with link == NULL: resync everything. */
typedef void (*netlink_link_handler_t)(Netlink *nl, const LinkInfo *link, bool removed, void *userdata);
int netlink_monitor_start(Netlink *nl, sd_event *event, netlink_link_handler_t handler, void *userdata);

/* Counters for tests and benches. */
typedef struct NetlinkStats {
        uint64_t requests; /* messages sent */
        uint64_t set_vf_requests;
        uint64_t vf_infos_sent;
        uint64_t get_requests;
} NetlinkStats;
const NetlinkStats *netlink_get_stats(const Netlink *nl);

/* Upper bound of one RTM_SETLINK's size: half of what the nest's u16 length can hold, far
 * below any socket buffer. ~190 VFs with every attribute fit in one. */
#define NETLINK_SET_VFS_MSG_MAX 32768

/* Exported for tests: builds the (first) RTM_SETLINK message netlink_set_vfs() would send.
 * Returns how many entries of vfs it covers (> 0; less than n_vfs if the batch needs more
 * messages: call again with the rest), -ENODATA if no entry has anything to set, -EINVAL on
 * a VF index the kernel cannot take. */
int netlink_build_set_vfs(int pf_ifindex, const VfSettings *vfs, size_t n_vfs, struct nl_msg **ret);

/* Parses one RTM_NEWLINK/RTM_DELLINK (the whole message, size bytes available) as
 * netlink_get_link() and the monitor do. Any bytes are safe to pass (fuzzers): -EBADMSG if
 * it is not a link message at all; a malformed VF list only marks vfs_truncated. */
int netlink_parse_link_message(const void *buf, size_t size, LinkInfo **ret);

/* libnl's -NLE_* (either sign) to -errno; 0 stays 0. The only place the translation lives. */
int netlink_errno_from_nle(int nle);
