/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A fake kernel that speaks real rtnetlink, for tests and benches.
 *
 * It keeps links and their VFs in memory and plugs into netlink_new_with_transport(): every
 * request the adapter sends arrives here as the netlink bytes the kernel would get, is
 * parsed with nlmsg_parse() and kernel-like policies, and is answered with real
 * RTM_NEWLINK / NLMSG_ERROR messages carrying the request's seq and port. RTM_SETLINK
 * applies IFLA_VF_INFOs in order, attributes in the kernel's order (do_setvfinfo()), and
 * stops at the first error, leaving what came before applied. RTM_GETLINK lists VFs as the
 * kernel does, including its u16 nest-length wrap past 64 KiB.
 *
 * Threads: every function takes one internal lock, so the fake sysfs kernel may call
 * fake_netlink_set_num_vfs() from a worker thread while the daemon's thread talks netlink.
 * A FakeNetlink serves any number of Netlink objects, but replies go to a single queue:
 * requests from different threads must not interleave (one thread per fake is the rule). */

#include <net/ethernet.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "netlink.h"

typedef struct FakeNetlink FakeNetlink;

typedef struct FakeNetlinkStats {
        uint64_t messages;         /* requests received */
        uint64_t setlinks;         /* RTM_SETLINK requests */
        uint64_t getlinks;         /* RTM_GETLINK requests */
        uint64_t vf_infos_applied; /* IFLA_VF_INFOs applied without error */
        uint64_t errors;           /* requests answered with an error */
} FakeNetlinkStats;

/* Driver behaviours worth emulating, per link. */
typedef enum FakeQuirk {
        FAKE_QUIRK_NO_MIN_RATE = 1u << 0,  /* igb: min_tx_rate != 0 is -EINVAL, on every VF */
        FAKE_QUIRK_IB = 1u << 1,           /* IPoIB PF: takes and reports IB node/port GUIDs */
        FAKE_QUIRK_NEEDS_UP = 1u << 2,     /* VF settings only while the PF is up, else -ENETDOWN */
        FAKE_QUIRK_NO_VF_CONFIG = 1u << 3, /* no ndo_get_vf_config: IFLA_NUM_VF but no list */
        FAKE_QUIRK_DROP_MAC = 1u << 5,     /* acks VF MAC writes and ignores them */
        FAKE_QUIRK_IB_NO_REPORT = 1u << 4, /* with FAKE_QUIRK_IB: takes GUIDs, never reports them
                                            * (no ndo_get_vf_guid) */
        FAKE_QUIRK_NO_RSS_QUERY = 1u << 6, /* igb: no ndo_set_vf_rss_query_en (-EOPNOTSUPP), reports -1 */
} FakeQuirk;

FakeNetlink *fake_netlink_new(void);
FakeNetlink *fake_netlink_free(FakeNetlink *fk);
DEFINE_TRIVIAL_CLEANUP_FUNC(FakeNetlink *, fake_netlink_free);

/* The transport to pass to netlink_new_with_transport() with fk as userdata, or simply: */
extern const NetlinkTransport fake_netlink_transport;
int fake_netlink_new_netlink(FakeNetlink *fk, Netlink **ret);
/* Holds every reply for usec (0: none) before it is queued, released by a timer on event:
 * a slow kernel for the asynchronous requests (netlink_attach_event()). */
int fake_netlink_set_reply_delay(FakeNetlink *fk, sd_event *event, uint64_t usec);

/* An SR-IOV capable link (it reports IFLA_NUM_VF), up, MTU 1500 (max 9216), addr = perm_addr,
 * no VFs. -EEXIST if ifindex or name is taken. */
int fake_netlink_add_link(FakeNetlink *fk, int ifindex, const char *name,
                          const struct ether_addr *perm_addr);
/* The same with this MTU, on a parent device (bus "pci", parent "0000:03:10.0"; NULL: none),
 * which its messages name as Linux >= 5.15 does (IFLA_PARENT_DEV_NAME, _BUS_NAME). */
int fake_netlink_add_link_on(FakeNetlink *fk, int ifindex, const char *name,
                             const struct ether_addr *perm_addr, uint32_t mtu, const char *parent_bus,
                             const char *parent);
int fake_netlink_remove_link(FakeNetlink *fk, int ifindex);
/* What a sriov_numvfs write does: the old VFs go away and n fresh ones appear with driver
 * defaults (zero MAC, no VLAN, spoofchk on, trust off, link auto, no rate limits). Their
 * write counters start at 0. */
int fake_netlink_set_num_vfs(FakeNetlink *fk, int ifindex, uint32_t n);
int fake_netlink_set_quirks(FakeNetlink *fk, int ifindex, unsigned quirks);
/* A link's MTU changed by someone else ("ip link set ... mtu"): notified, and told to the MTU
 * hook as an RTM_SETLINK's change is. */
int fake_netlink_set_link_mtu(FakeNetlink *fk, int ifindex, uint32_t mtu);
/* Renames a link: RTM_NEWLINK with the new name on the monitor, as dev_change_name() sends. */
int fake_netlink_set_link_name(FakeNetlink *fk, int ifindex, const char *name);
/* cb is told (from the sending thread, no lock held) of each MTU an RTM_SETLINK changed: the
 * substrate reflects it in sysfs, as the kernel's netdev attribute does. */
void fake_netlink_set_mtu_hook(FakeNetlink *fk, void (*cb)(void *userdata, int ifindex, uint32_t mtu),
                               void *userdata);
int fake_netlink_set_flags(FakeNetlink *fk, int ifindex, unsigned flags);
int fake_netlink_get_mtu(FakeNetlink *fk, int ifindex, uint32_t *ret);
/* List at most this many VFs in RTM_GETLINK, with a well-formed nest (as a dump cut short);
 * 0 lists all. */
int fake_netlink_set_vf_list_limit(FakeNetlink *fk, int ifindex, uint32_t max_listed);

/* From now on, setting `attr` on VF `vf` (-1: any VF) of the link fails with `error`
 * (-errno), `count` times (0: for ever). Rules are checked in the order they were added.
 * E.g. (VF_ATTR_LINK_STATE, -1, -EOPNOTSUPP, 0) or (VF_ATTR_MAC, 3, -EBUSY, 1). */
int fake_netlink_inject_error(FakeNetlink *fk, int ifindex, VfAttr attr, int vf, int error, unsigned count);
void fake_netlink_clear_errors(FakeNetlink *fk);

/* The VF as the driver holds it; mask = what the driver reports. */
int fake_netlink_get_vf(FakeNetlink *fk, int ifindex, uint32_t vf, VfSettings *ret);
/* Changes a VF behind the daemon's back (a consumer, drift); not counted as a write.
 * Only the attributes in s->mask are changed. */
int fake_netlink_set_vf(FakeNetlink *fk, int ifindex, const VfSettings *s);
/* Attributes applied to this VF through netlink since it was created (or stats reset). */
uint64_t fake_netlink_get_vf_writes(FakeNetlink *fk, int ifindex, uint32_t vf);

FakeNetlinkStats fake_netlink_get_stats(FakeNetlink *fk);
void fake_netlink_reset_stats(FakeNetlink *fk); /* also the per-VF write counters */

/* The RTM_NEWLINK the kernel would send for this link with this IFLA_EXT_MASK (seq 0), as a
 * malloc()ed buffer: real input for parser tests and fuzz corpora. */
int fake_netlink_build_link_message(FakeNetlink *fk, int ifindex, uint32_t ext_mask, unsigned char **ret,
                                    size_t *ret_size);

/* Link events, once a monitor asked for them (event_fd): the fake queues an RTM_NEWLINK
 * (without VF list, as the kernel's notifications) whenever a link is added or changed
 * through netlink, RTM_DELLINK on removal; tests can queue one explicitly. */
int fake_netlink_emit_link_event(FakeNetlink *fk, int ifindex, bool removed);
/* Drops the queued events and makes the next read fail with ENOBUFS, as an overflowing
 * socket does. */
void fake_netlink_overflow_events(FakeNetlink *fk);
