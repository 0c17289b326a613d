/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the rtnetlink link parser, netlink_parse_link_message(): the one place
 * where the kernel's RTM_NEWLINK (and its IFLA_VFINFO_LIST of IFLA_VF_INFO nests, whose u16
 * length wraps past 64 KiB) becomes a LinkInfo. The input is the whole message (nlmsghdr +
 * ifinfomsg + attributes); seeds are real messages of the fake kernel (tests/fuzz/gen-seeds).
 *
 * Beyond "no crash, no leak, no UB" it checks what the reconciler relies on: the VF table is
 * sorted by index with no duplicate, every index fits an int, every listed attribute was in
 * the message, fewer VFs than IFLA_NUM_VF is flagged as truncated, and the parse is a pure
 * function of the bytes (a second parse gives the same table). */

#include <stdint.h>

#include "netlink.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(expr)                                                       \
        do {                                                              \
                if (!(expr)) {                                            \
                        fprintf(stderr, "invariant failed: %s\n", #expr); \
                        abort();                                          \
                }                                                         \
        } while (0)

static bool vf_settings_same(const VfSettings *a, const VfSettings *b)
{
        /* Field by field: padding is not part of the value. */
        return a->index == b->index && a->mask == b->mask && memcmp(&a->mac, &b->mac, sizeof(a->mac)) == 0 &&
               a->vlan == b->vlan && a->qos == b->qos && a->vlan_proto == b->vlan_proto &&
               a->spoofchk == b->spoofchk && a->trust == b->trust && a->link_state == b->link_state &&
               a->min_tx_rate == b->min_tx_rate && a->max_tx_rate == b->max_tx_rate &&
               a->node_guid == b->node_guid && a->port_guid == b->port_guid;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_(link_info_freep) LinkInfo *li = NULL, *again = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        int r;

        /* An exact-size heap copy: ASan sees every read past the message, and the nlmsghdr
         * and the attributes get the alignment the kernel's buffers have. */
        buf = malloc(size ?: 1);
        if (!buf)
                return 0;
        if (size > 0)
                memcpy(buf, data, size);

        r = netlink_parse_link_message(buf, size, &li);
        if (r < 0) {
                CHECK(r == -EBADMSG || r == -ENOMEM);
                return 0;
        }
        CHECK(li);
        CHECK(strnlen(li->ifname, IFNAMSIZ) < IFNAMSIZ);
        CHECK(li->n_vfs == 0 || li->vfs);
        for (size_t i = 0; i < li->n_vfs; i++) {
                const VfSettings *v = &li->vfs[i];

                CHECK(v->index < INT32_MAX);
                CHECK(i == 0 || li->vfs[i - 1].index < v->index);
                CHECK((v->mask & ~VF_ATTR_ALL) == 0);
                CHECK(link_info_find_vf(li, v->index) == v);
        }
        if (li->has_num_vf && li->n_vfs < li->num_vf)
                CHECK(li->vfs_truncated);

        CHECK(netlink_parse_link_message(buf, size, &again) == 0);
        CHECK(again->n_vfs == li->n_vfs && again->vfs_truncated == li->vfs_truncated);
        for (size_t i = 0; i < li->n_vfs; i++)
                CHECK(vf_settings_same(&again->vfs[i], &li->vfs[i]));
        return 0;
}
