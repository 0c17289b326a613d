/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#include "fake-netlink.h"
#include "netlink-wait.h"
#include "netlink.h"
#include "tests.h"
#include "util.h"

#define PF 10

static const struct ether_addr pf_perm = {{0xb8, 0x59, 0x9f, 0x00, 0x00, 0x01}};

static struct ether_addr vf_mac(uint32_t i)
{
        return (struct ether_addr){{0x02, 0x00, 0x00, 0x00, (uint8_t) (i >> 8), (uint8_t) i}};
}

static FakeNetlink *setup(uint32_t num_vfs, Netlink **ret_nl)
{
        FakeNetlink *fk = fake_netlink_new();

        ASSERT_TRUE(fk);
        ASSERT_OK(fake_netlink_add_link(fk, PF, "pf0", &pf_perm));
        ASSERT_OK(fake_netlink_set_num_vfs(fk, PF, num_vfs));
        if (ret_nl)
                ASSERT_OK(fake_netlink_new_netlink(fk, ret_nl));
        return fk;
}

static VfSettings full_vf(uint32_t i)
{
        return (VfSettings){
                .index = i,
                .mask = VF_ATTR_BIT(VF_ATTR_MAC) | VF_ATTR_BIT(VF_ATTR_VLAN) |
                        VF_ATTR_BIT(VF_ATTR_SPOOFCHK) | VF_ATTR_BIT(VF_ATTR_TRUST) |
                        VF_ATTR_BIT(VF_ATTR_LINK_STATE) | VF_ATTR_BIT(VF_ATTR_RATE),
                .mac = vf_mac(i),
                .vlan = (uint16_t) (100 + i),
                .qos = (uint8_t) (i % 8),
                .vlan_proto = ETH_P_8021Q,
                .spoofchk = false,
                .trust = true,
                .link_state = IFLA_VF_LINK_STATE_ENABLE,
                .min_tx_rate = 0,
                .max_tx_rate = 1000 + i,
        };
}

TEST(build_set_vfs_bytes)
{
        VfSettings vfs[4] = {
                full_vf(0),
                {.index = 1,
                 .mask = VF_ATTR_BIT(VF_ATTR_VLAN),
                 .vlan = 42,
                 .qos = 3,
                 .vlan_proto = ETH_P_8021AD},
                {.index = 2, .mask = 0},
                {
                        .index = 3,
                        .mask = VF_ATTR_BIT(VF_ATTR_IB_NODE_GUID) | VF_ATTR_BIT(VF_ATTR_IB_PORT_GUID),
                        .node_guid = 0x1122334455667788ULL,
                        .port_guid = 0x8877665544332211ULL,
                },
        };
        struct nlattr *tb[IFLA_MAX + 1] = {}, *a;
        struct nl_msg *m = NULL;
        struct nlmsghdr *hdr;
        struct ifinfomsg *ifi;
        int rem, n = 0;

        vfs[0].min_tx_rate = 10;
        ASSERT_EQ(netlink_build_set_vfs(PF, vfs, 4, &m), 4);
        hdr = nlmsg_hdr(m);
        ASSERT_EQ(hdr->nlmsg_type, RTM_SETLINK);
        ASSERT_EQ(hdr->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
        ifi = nlmsg_data(hdr);
        ASSERT_EQ(ifi->ifi_index, PF);
        ASSERT_EQ(ifi->ifi_family, AF_UNSPEC);
        ASSERT_OK(nlmsg_parse(hdr, sizeof(*ifi), tb, IFLA_MAX, NULL));
        ASSERT_TRUE(tb[IFLA_VFINFO_LIST]);
        ASSERT_TRUE(!tb[IFLA_MTU]);

        nla_for_each_nested(a, tb[IFLA_VFINFO_LIST], rem)
        {
                struct nlattr *vf[IFLA_VF_MAX + 1] = {};

                ASSERT_EQ(nla_type(a), IFLA_VF_INFO);
                ASSERT_OK(nla_parse_nested(vf, IFLA_VF_MAX, a, NULL));
                switch (n) {
                case 0: {
                        const struct ifla_vf_mac *mac = nla_data(vf[IFLA_VF_MAC]);
                        const struct ifla_vf_vlan *vlan = nla_data(vf[IFLA_VF_VLAN]);
                        const struct ifla_vf_rate *rate = nla_data(vf[IFLA_VF_RATE]);
                        const struct ifla_vf_spoofchk *sp = nla_data(vf[IFLA_VF_SPOOFCHK]);
                        const struct ifla_vf_trust *tr = nla_data(vf[IFLA_VF_TRUST]);
                        const struct ifla_vf_link_state *ls = nla_data(vf[IFLA_VF_LINK_STATE]);
                        struct ifla_vf_mac want_mac = {.vf = 0};

                        memcpy(want_mac.mac, &vfs[0].mac, ETH_ALEN);
                        ASSERT_EQ(nla_len(vf[IFLA_VF_MAC]), sizeof(struct ifla_vf_mac));
                        ASSERT_TRUE(memcmp(mac, &want_mac, sizeof(want_mac)) == 0);
                        /* 802.1Q goes as the old attribute, understood by every kernel */
                        ASSERT_TRUE(!vf[IFLA_VF_VLAN_LIST]);
                        ASSERT_EQ(nla_len(vf[IFLA_VF_VLAN]), sizeof(struct ifla_vf_vlan));
                        ASSERT_EQ(vlan->vf, 0);
                        ASSERT_EQ(vlan->vlan, 100);
                        ASSERT_EQ(vlan->qos, 0);
                        ASSERT_EQ(rate->vf, 0);
                        ASSERT_EQ(rate->min_tx_rate, 10);
                        ASSERT_EQ(rate->max_tx_rate, 1000);
                        ASSERT_TRUE(!vf[IFLA_VF_TX_RATE]);
                        ASSERT_EQ(sp->setting, 0);
                        ASSERT_EQ(tr->setting, 1);
                        ASSERT_EQ(ls->link_state, IFLA_VF_LINK_STATE_ENABLE);
                        ASSERT_TRUE(!vf[IFLA_VF_IB_NODE_GUID]);
                        break;
                }
                case 1: {
                        struct nlattr *vl[IFLA_VF_VLAN_INFO_MAX + 1] = {};
                        const struct ifla_vf_vlan_info *info;

                        ASSERT_TRUE(!vf[IFLA_VF_MAC] && !vf[IFLA_VF_VLAN] && !vf[IFLA_VF_RATE]);
                        ASSERT_TRUE(vf[IFLA_VF_VLAN_LIST]);
                        ASSERT_OK(nla_parse_nested(vl, IFLA_VF_VLAN_INFO_MAX, vf[IFLA_VF_VLAN_LIST], NULL));
                        info = nla_data(vl[IFLA_VF_VLAN_INFO]);
                        ASSERT_EQ(nla_len(vl[IFLA_VF_VLAN_INFO]), sizeof(*info));
                        ASSERT_EQ(info->vf, 1);
                        ASSERT_EQ(info->vlan, 42);
                        ASSERT_EQ(info->qos, 3);
                        ASSERT_EQ(info->vlan_proto, htons(ETH_P_8021AD)); /* network order */
                        break;
                }
                case 2: { /* VF 2 had nothing to set: no entry. VF 3's node GUID alone... */
                        struct ifla_vf_guid copy, *g = &copy;

                        memcpy(&copy, nla_data(vf[IFLA_VF_IB_NODE_GUID]), sizeof(copy));

                        ASSERT_EQ(g->vf, 3);
                        ASSERT_TRUE(g->guid == 0x1122334455667788ULL);
                        ASSERT_TRUE(!vf[IFLA_VF_IB_PORT_GUID]);
                        break;
                }
                case 3: { /* ...and the port GUID in an entry of its own. */
                        struct ifla_vf_guid copy, *g = &copy;

                        memcpy(&copy, nla_data(vf[IFLA_VF_IB_PORT_GUID]), sizeof(copy));

                        ASSERT_EQ(g->vf, 3);
                        ASSERT_TRUE(g->guid == 0x8877665544332211ULL);
                        ASSERT_TRUE(!vf[IFLA_VF_IB_NODE_GUID]);
                        break;
                }
                }
                n++;
        }
        ASSERT_EQ(rem, 0);
        ASSERT_EQ(n, 4);
        nlmsg_free(m);

        vfs[0].index = INT32_MAX;
        ASSERT_ERROR(netlink_build_set_vfs(PF, vfs, 1, &m), EINVAL);
        ASSERT_ERROR(netlink_build_set_vfs(PF, &vfs[2], 1, &m), ENODATA);
}

TEST(round_trip)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(fake_netlink_freep) FakeNetlink *fk = setup(8, &nl);
        _cleanup_(link_info_freep) LinkInfo *li = NULL;
        VfSettings vfs[8];
        char buf[ETHER_ADDR_STRLEN];

        for (uint32_t i = 0; i < 8; i++)
                vfs[i] = full_vf(i);
        vfs[5].vlan_proto = ETH_P_8021AD;
        vfs[6].min_tx_rate = 500;

        ASSERT_OK(netlink_wait_set_vfs(nl, PF, vfs, 8));
        ASSERT_EQ(fake_netlink_get_stats(fk).setlinks, 1);
        ASSERT_EQ(fake_netlink_get_stats(fk).vf_infos_applied, 8);
        ASSERT_EQ(netlink_get_stats(nl)->set_vf_requests, 1);
        ASSERT_EQ(netlink_get_stats(nl)->vf_infos_sent, 8);
        ASSERT_EQ(fake_netlink_get_vf_writes(fk, PF, 3), 6);

        ASSERT_OK(netlink_wait_get_link(nl, PF, &li));
        ASSERT_EQ(li->ifindex, PF);
        ASSERT_STREQ(li->ifname, "pf0");
        ASSERT_EQ(li->mtu, 1500);
        ASSERT_TRUE(li->flags & IFF_UP);
        ASSERT_TRUE(li->has_perm_addr && li->has_addr);
        ASSERT_STREQ(ether_addr_to_string(&li->perm_addr, buf), "b8:59:9f:00:00:01");
        ASSERT_TRUE(li->has_num_vf);
        ASSERT_EQ(li->num_vf, 8);
        ASSERT_EQ(li->n_vfs, 8);
        ASSERT_TRUE(!li->vfs_truncated);
        for (uint32_t i = 0; i < 8; i++) {
                const VfSettings *got = link_info_find_vf(li, i), *want = &vfs[i];

                ASSERT_TRUE(got);
                ASSERT_EQ(got->index, i);
                /* an Ethernet PF reports everything but the IB GUIDs */
                ASSERT_EQ(got->mask, VF_ATTR_ALL & ~(VF_ATTR_BIT(VF_ATTR_IB_NODE_GUID) |
                                                     VF_ATTR_BIT(VF_ATTR_IB_PORT_GUID)));
                ASSERT_TRUE(ether_addr_equal(&got->mac, &want->mac));
                ASSERT_EQ(got->vlan, want->vlan);
                ASSERT_EQ(got->qos, want->qos);
                ASSERT_EQ(got->vlan_proto, want->vlan_proto);
                ASSERT_EQ(got->spoofchk, want->spoofchk);
                ASSERT_EQ(got->trust, want->trust);
                ASSERT_EQ(got->link_state, want->link_state);
                ASSERT_EQ(got->min_tx_rate, want->min_tx_rate);
                ASSERT_EQ(got->max_tx_rate, want->max_tx_rate);
        }
        ASSERT_TRUE(!link_info_find_vf(li, 8));

        /* Nothing to set: nothing sent. */
        fake_netlink_reset_stats(fk);
        vfs[0].mask = 0;
        ASSERT_OK(netlink_wait_set_vfs(nl, PF, vfs, 1));
        ASSERT_EQ(fake_netlink_get_stats(fk).messages, 0);
        ASSERT_EQ(fake_netlink_get_vf_writes(fk, PF, 0), 0);
}

TEST(ib_guids)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(fake_netlink_freep) FakeNetlink *fk = setup(2, &nl);
        _cleanup_(link_info_freep) LinkInfo *li = NULL;
        VfSettings v = {
                .index = 1,
                .mask = VF_ATTR_BIT(VF_ATTR_IB_NODE_GUID) | VF_ATTR_BIT(VF_ATTR_IB_PORT_GUID),
                .node_guid = 0xaa,
                .port_guid = 0xbb,
        };

        ASSERT_ERROR(netlink_wait_set_vfs(nl, PF, &v, 1), EOPNOTSUPP); /* Ethernet PF */
        ASSERT_OK(fake_netlink_set_quirks(fk, PF, FAKE_QUIRK_IB));
        ASSERT_OK(netlink_wait_set_vfs(nl, PF, &v, 1));
        ASSERT_OK(netlink_wait_get_link(nl, PF, &li));
        ASSERT_TRUE(link_info_find_vf(li, 1)->mask & VF_ATTR_BIT(VF_ATTR_IB_PORT_GUID));
        ASSERT_TRUE(link_info_find_vf(li, 1)->node_guid == 0xaa);
        ASSERT_TRUE(link_info_find_vf(li, 1)->port_guid == 0xbb); /* needed its own IFLA_VF_INFO */
}

TEST(stops_at_first_error)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(fake_netlink_freep) FakeNetlink *fk = setup(8, &nl);
        _cleanup_(link_info_freep) LinkInfo *li = NULL;
        VfSettings vfs[8];

        for (uint32_t i = 0; i < 8; i++)
                vfs[i] = (VfSettings){.index = i,
                                      .mask = VF_ATTR_BIT(VF_ATTR_MAC) | VF_ATTR_BIT(VF_ATTR_TRUST),
                                      .mac = vf_mac(i),
                                      .trust = true};

        ASSERT_OK(fake_netlink_inject_error(fk, PF, VF_ATTR_MAC, 3, -EBUSY, 1));
        ASSERT_ERROR(netlink_wait_set_vfs(nl, PF, vfs, 8), EBUSY);
        ASSERT_EQ(fake_netlink_get_stats(fk).vf_infos_applied, 3);

        ASSERT_OK(netlink_wait_get_link(nl, PF, &li));
        for (uint32_t i = 0; i < 8; i++) {
                const VfSettings *v = link_info_find_vf(li, i);
                struct ether_addr want = vf_mac(i);

                ASSERT_EQ(ether_addr_equal(&v->mac, &want), i < 3);
                ASSERT_EQ(v->trust, i < 3);
        }
        li = link_info_free(li);

        /* Once only: the retry goes through. */
        ASSERT_OK(netlink_wait_set_vfs(nl, PF, vfs + 3, 5));

        /* Within one VF: what the kernel applied before the failing attribute stays. */
        ASSERT_OK(fake_netlink_inject_error(fk, PF, VF_ATTR_LINK_STATE, -1, -EOPNOTSUPP, 0));
        vfs[0] = (VfSettings){.index = 0,
                              .mask = VF_ATTR_BIT(VF_ATTR_VLAN) | VF_ATTR_BIT(VF_ATTR_LINK_STATE),
                              .vlan = 7,
                              .link_state = IFLA_VF_LINK_STATE_DISABLE};
        ASSERT_ERROR(netlink_wait_set_vfs(nl, PF, vfs, 1), EOPNOTSUPP);
        ASSERT_OK(netlink_wait_get_link(nl, PF, &li));
        ASSERT_EQ(link_info_find_vf(li, 0)->vlan, 7);
        ASSERT_EQ(link_info_find_vf(li, 0)->link_state, IFLA_VF_LINK_STATE_AUTO);
        li = link_info_free(li);
        fake_netlink_clear_errors(fk);

        /* igb: min rate is EINVAL on every VF. Errors libnl has no code for come through. */
        ASSERT_OK(fake_netlink_set_quirks(fk, PF, FAKE_QUIRK_NO_MIN_RATE));
        vfs[0] = (VfSettings){.index = 0, .mask = VF_ATTR_BIT(VF_ATTR_RATE), .min_tx_rate = 1};
        ASSERT_ERROR(netlink_wait_set_vfs(nl, PF, vfs, 1), EINVAL);
        ASSERT_OK(fake_netlink_inject_error(fk, PF, VF_ATTR_SPOOFCHK, 2, -ENOSPC, 0));
        vfs[0] = (VfSettings){.index = 2, .mask = VF_ATTR_BIT(VF_ATTR_SPOOFCHK)};
        ASSERT_ERROR(netlink_wait_set_vfs(nl, PF, vfs, 1), ENOSPC);
        vfs[0] = (VfSettings){.index = 1, .mask = VF_ATTR_BIT(VF_ATTR_VLAN), .vlan_proto = 0x1234};
        ASSERT_ERROR(netlink_wait_set_vfs(nl, PF, vfs, 1), EPROTONOSUPPORT);
        vfs[0] = (VfSettings){.index = 8, .mask = VF_ATTR_BIT(VF_ATTR_TRUST)};
        ASSERT_ERROR(netlink_wait_set_vfs(nl, PF, vfs, 1), EINVAL);
        ASSERT_ERROR(netlink_wait_set_vfs(nl, 99, vfs, 1), ENODEV);
        ASSERT_ERROR(netlink_wait_get_link(nl, 99, &li), ENODEV);
        ASSERT_TRUE(!li);

        /* A PF that takes VF settings only while up. */
        ASSERT_OK(fake_netlink_set_quirks(fk, PF, FAKE_QUIRK_NEEDS_UP));
        ASSERT_OK(fake_netlink_set_flags(fk, PF, 0));
        vfs[0] = (VfSettings){.index = 1, .mask = VF_ATTR_BIT(VF_ATTR_TRUST)};
        ASSERT_ERROR(netlink_wait_set_vfs(nl, PF, vfs, 1), ENETDOWN);
}

TEST(errno_from_nle)
{
        ASSERT_EQ(netlink_errno_from_nle(0), 0);
        ASSERT_ERROR(netlink_errno_from_nle(-NLE_OPNOTSUPP), EOPNOTSUPP);
        ASSERT_ERROR(netlink_errno_from_nle(NLE_OPNOTSUPP), EOPNOTSUPP);
        ASSERT_ERROR(netlink_errno_from_nle(-NLE_BUSY), EBUSY);
        ASSERT_ERROR(netlink_errno_from_nle(-NLE_NODEV), ENODEV);
        ASSERT_ERROR(netlink_errno_from_nle(-NLE_NOMEM), ENOMEM);
        ASSERT_ERROR(netlink_errno_from_nle(-NLE_PERM), EPERM);
        ASSERT_ERROR(netlink_errno_from_nle(-NLE_ATTRSIZE), E2BIG);
        ASSERT_ERROR(netlink_errno_from_nle(-NLE_SEQ_MISMATCH), EPROTO);
        ASSERT_ERROR(netlink_errno_from_nle(-9999), EIO);
        for (int e = 1; e <= NLE_MAX; e++)
                ASSERT_TRUE(netlink_errno_from_nle(-e) < 0);
}

TEST(truncated_list)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(fake_netlink_freep) FakeNetlink *fk = setup(8, &nl);
        _cleanup_(link_info_freep) LinkInfo *li = NULL;

        ASSERT_OK(fake_netlink_set_vf_list_limit(fk, PF, 5));
        ASSERT_OK(netlink_wait_get_link(nl, PF, &li));
        ASSERT_EQ(li->num_vf, 8);
        ASSERT_EQ(li->n_vfs, 5);
        ASSERT_TRUE(li->vfs_truncated);
        ASSERT_TRUE(link_info_find_vf(li, 4));
        ASSERT_TRUE(!link_info_find_vf(li, 5));
        li = link_info_free(li);

        ASSERT_OK(fake_netlink_set_quirks(fk, PF, FAKE_QUIRK_NO_VF_CONFIG));
        ASSERT_OK(netlink_wait_get_link(nl, PF, &li));
        ASSERT_EQ(li->n_vfs, 0);
        ASSERT_TRUE(li->vfs_truncated);
        li = link_info_free(li);

        ASSERT_OK(fake_netlink_set_num_vfs(fk, PF, 0));
        ASSERT_OK(netlink_wait_get_link(nl, PF, &li));
        ASSERT_TRUE(li->has_num_vf);
        ASSERT_EQ(li->num_vf, 0);
        ASSERT_TRUE(!li->vfs_truncated);
}

/* The kernel stores the VF list's length in a u16. */
TEST(wrapped_list)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(fake_netlink_freep) FakeNetlink *fk = setup(512, &nl);
        _cleanup_(link_info_freep) LinkInfo *li = NULL;
        _cleanup_free_ unsigned char *buf = NULL;
        const struct nlattr *list;
        struct nlattr *tb[IFLA_MAX + 1] = {};
        size_t size = 0, n_listed = 0;
        VfSettings v = {.index = 511, .mask = VF_ATTR_BIT(VF_ATTR_MAC), .mac = vf_mac(511)};
        char s[ETHER_ADDR_STRLEN];
        int rem;

        ASSERT_OK(netlink_wait_set_vfs(nl, PF, &v, 1));
        ASSERT_OK(netlink_wait_get_link(nl, PF, &li));
        ASSERT_EQ(li->n_vfs, 512);
        ASSERT_TRUE(!li->vfs_truncated);
        ASSERT_TRUE(ether_addr_equal(&link_info_find_vf(li, 511)->mac, &v.mac));
        ASSERT_STREQ(ether_addr_to_string(&li->perm_addr, s), "b8:59:9f:00:00:01");
        li = link_info_free(li);

        /* 256 VFs with stats (no RTEXT_FILTER_SKIP_STATS), as `ip -d link` asks: a naive reader
         * sees a few dozen VFs (iproute2 printed 34 of 256 on netdevsim). We see them all. */
        ASSERT_OK(fake_netlink_set_num_vfs(fk, PF, 256));
        ASSERT_OK(fake_netlink_build_link_message(fk, PF, RTEXT_FILTER_VF, &buf, &size));
        ASSERT_TRUE(size > 65536);
        ASSERT_OK(nlmsg_parse((struct nlmsghdr *) buf, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL));
        nla_for_each_nested(list, tb[IFLA_VFINFO_LIST], rem) n_listed++;
        fprintf(stderr, "naive parse of the wrapped list: %zu of 256 VFs\n", n_listed);
        ASSERT_TRUE(n_listed < 256);

        ASSERT_OK(netlink_parse_link_message(buf, size, &li));
        ASSERT_EQ(li->num_vf, 256);
        ASSERT_EQ(li->n_vfs, 256);
        ASSERT_TRUE(!li->vfs_truncated);
        ASSERT_TRUE(li->has_perm_addr);
        li = link_info_free(li);

        /* Corrupt an entry past the declared end: the wrap no longer adds up, so only the
         * declared part is used, the rest is not read as attributes, and the list is
         * truncated. */
        {
                const struct nlattr *l = tb[IFLA_VFINFO_LIST];
                uint8_t *p = (uint8_t *) l + NLA_HDRLEN, *declared_end = (uint8_t *) l + l->nla_len;

                while (p + ((struct nlattr *) p)->nla_len <= declared_end)
                        p += NLA_ALIGN(((struct nlattr *) p)->nla_len);
                p += NLA_ALIGN(((struct nlattr *) p)->nla_len); /* first entry fully past the end */
                ((struct nlattr *) p)->nla_len = 2;
        }
        ASSERT_OK(netlink_parse_link_message(buf, size, &li));
        ASSERT_TRUE(li->vfs_truncated);
        ASSERT_TRUE(li->n_vfs < 256);
        ASSERT_STREQ(li->ifname, "pf0");
        ASSERT_EQ(li->mtu, 1500);
        li = link_info_free(li);
}

/* Every prefix and a few thousand bit flips of a real message: no crash, no leak (ASan). */
TEST(parser_robustness)
{
        _cleanup_(fake_netlink_freep) FakeNetlink *fk = setup(40, NULL);
        _cleanup_free_ unsigned char *buf = NULL, *copy = NULL;
        size_t size = 0;
        unsigned seed = 1;

        ASSERT_OK(fake_netlink_build_link_message(fk, PF, RTEXT_FILTER_VF, &buf, &size));
        copy = malloc(size);
        ASSERT_TRUE(copy);

        for (size_t cut = 0; cut <= size; cut++) {
                LinkInfo *li = NULL;

                memcpy(copy, buf, size);
                if (cut >= NLMSG_HDRLEN)
                        ((struct nlmsghdr *) copy)->nlmsg_len = (uint32_t) cut;
                if (netlink_parse_link_message(copy, cut, &li) >= 0) {
                        ASSERT_TRUE(li->n_vfs <= 40);
                        link_info_free(li);
                }
        }
        for (unsigned i = 0; i < 5000; i++) {
                LinkInfo *li = NULL;

                memcpy(copy, buf, size);
                for (int k = 0; k < 4; k++) {
                        size_t off = NLMSG_HDRLEN + (size_t) rand_r(&seed) % (size - NLMSG_HDRLEN);

                        copy[off] ^= (uint8_t) (1u << (rand_r(&seed) % 8));
                }
                if (netlink_parse_link_message(copy, size, &li) >= 0)
                        link_info_free(li);
        }
        ASSERT_ERROR(netlink_parse_link_message(NULL, 0, NULL), EBADMSG);
}

TEST(batch_256)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(fake_netlink_freep) FakeNetlink *fk = setup(256, &nl);
        _cleanup_(link_info_freep) LinkInfo *li = NULL;
        _cleanup_free_ VfSettings *vfs = calloc(256, sizeof(VfSettings));
        struct nl_msg *m = NULL;
        uint64_t sent;
        int r;

        ASSERT_TRUE(vfs);
        /* The usual set (MAC, VLAN, spoofchk, trust) for 256 VFs fits one message. */
        for (uint32_t i = 0; i < 256; i++) {
                vfs[i] = full_vf(i);
                vfs[i].mask &= ~(VF_ATTR_BIT(VF_ATTR_RATE) | VF_ATTR_BIT(VF_ATTR_LINK_STATE));
        }
        ASSERT_EQ(netlink_build_set_vfs(PF, vfs, 256, &m), 256);
        ASSERT_TRUE(nlmsg_hdr(m)->nlmsg_len <= NETLINK_SET_VFS_MSG_MAX);
        nlmsg_free(m);
        ASSERT_OK(netlink_wait_set_vfs(nl, PF, vfs, 256));
        ASSERT_EQ(fake_netlink_get_stats(fk).setlinks, 1);

        /* Everything, on an IB PF: split in two, each under the limit, all applied in order. */
        ASSERT_OK(fake_netlink_set_quirks(fk, PF, FAKE_QUIRK_IB));
        for (uint32_t i = 0; i < 256; i++) {
                vfs[i] = full_vf(i);
                vfs[i].mask = VF_ATTR_ALL;
                vfs[i].vlan_proto = ETH_P_8021AD;
                vfs[i].node_guid = i;
                vfs[i].port_guid = i + 1;
        }
        r = netlink_build_set_vfs(PF, vfs, 256, &m);
        ASSERT_TRUE(r > 100 && r < 256);
        ASSERT_TRUE(nlmsg_hdr(m)->nlmsg_len <= NETLINK_SET_VFS_MSG_MAX);
        nlmsg_free(m);

        fake_netlink_reset_stats(fk);
        sent = netlink_get_stats(nl)->vf_infos_sent;
        ASSERT_OK(netlink_wait_set_vfs(nl, PF, vfs, 256));
        ASSERT_EQ(fake_netlink_get_stats(fk).setlinks, 2);
        ASSERT_EQ(fake_netlink_get_stats(fk).vf_infos_applied, 512); /* node and port GUID apart */
        ASSERT_EQ(netlink_get_stats(nl)->vf_infos_sent - sent, 512);
        ASSERT_OK(netlink_wait_get_link(nl, PF, &li));
        ASSERT_EQ(li->n_vfs, 256);
        for (uint32_t i = 0; i < 256; i++) {
                ASSERT_EQ(li->vfs[i].vlan_proto, ETH_P_8021AD);
                ASSERT_EQ(li->vfs[i].max_tx_rate, 1000 + i);
                ASSERT_TRUE(li->vfs[i].port_guid == i + 1);
        }
        li = link_info_free(li);

        /* An error in the first message: the second is never sent. */
        fake_netlink_reset_stats(fk);
        ASSERT_OK(fake_netlink_inject_error(fk, PF, VF_ATTR_TRUST, 10, -EBUSY, 1));
        ASSERT_ERROR(netlink_wait_set_vfs(nl, PF, vfs, 256), EBUSY);
        ASSERT_EQ(fake_netlink_get_stats(fk).setlinks, 1);
        ASSERT_EQ(fake_netlink_get_stats(fk).vf_infos_applied, 20);
}

TEST(mtu)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(fake_netlink_freep) FakeNetlink *fk = setup(0, &nl);
        uint32_t mtu = 0;

        ASSERT_OK(netlink_wait_set_mtu(nl, PF, 9000));
        ASSERT_OK(fake_netlink_get_mtu(fk, PF, &mtu));
        ASSERT_EQ(mtu, 9000);
        ASSERT_ERROR(netlink_wait_set_mtu(nl, PF, 65000), EINVAL);
        ASSERT_ERROR(netlink_wait_set_mtu(nl, 77, 1500), ENODEV);
}

/* A transport that never answers, or fails to send. */
static int mute_send(void *userdata, const struct nlmsghdr *req)
{
        return *(int *) userdata;
}

static int mute_recv(void *userdata, unsigned char **ret)
{
        return 0;
}

static int mute_reply_fd(void *userdata)
{
        static int fd = -1;

        if (fd < 0)
                fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); /* never readable */
        return fd;
}

static void count_answer(Netlink *nl, int error, LinkInfo *link, void *userdata)
{
        (*(unsigned *) userdata)++;
        link_info_free(link);
}

TEST(no_reply)
{
        static const NetlinkTransport t = {.send = mute_send, .recv = mute_recv, .reply_fd = mute_reply_fd};
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        unsigned answered = 0;
        int send_result = 0;
        sd_event *e = NULL;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(netlink_new_with_transport(&t, &send_result, &nl));
        ASSERT_OK(netlink_attach_event(nl, e));
        /* Sent, never answered: pending, and its handler is not called (the loop has nothing
         * left to run); freeing the Netlink drops it without a call. */
        ASSERT_OK(netlink_get_link_async(nl, 1, count_answer, &answered));
        while (sd_event_run(e, 0) > 0)
                ;
        ASSERT_EQ(netlink_async_pending(nl), 1);
        ASSERT_EQ(answered, 0);
        nl = netlink_free(nl);
        ASSERT_EQ(answered, 0);
        /* A send that fails is answered with its error, from the loop. */
        send_result = -ECONNREFUSED;
        sd_event_unref(e);
        ASSERT_OK(netlink_new_with_transport(&t, &send_result, &nl));
        ASSERT_ERROR(netlink_wait_set_mtu(nl, 1, 1500), ECONNREFUSED);
}

typedef struct Seen {
        unsigned events, resyncs, removed;
        int last_ifindex;
} Seen;

static void on_link(Netlink *nl, const LinkInfo *link, bool removed, void *userdata)
{
        Seen *s = userdata;

        if (!link) {
                s->resyncs++;
                return;
        }
        s->events++;
        s->removed += removed;
        s->last_ifindex = link->ifindex;
}

TEST(monitor)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(fake_netlink_freep) FakeNetlink *fk = setup(4, &nl);
        sd_event *e = NULL;
        Seen seen = {};
        VfSettings v = {.index = 0, .mask = VF_ATTR_BIT(VF_ATTR_TRUST), .trust = true};

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(netlink_monitor_start(nl, e, on_link, &seen));
        ASSERT_ERROR(netlink_monitor_start(nl, e, on_link, &seen), EBUSY);

        ASSERT_OK(fake_netlink_emit_link_event(fk, PF, false));
        ASSERT_OK(netlink_wait_set_vfs(nl, PF, &v, 1)); /* a change notifies, too */
        while (sd_event_run(e, 0) > 0)
                ;
        ASSERT_EQ(seen.events, 2);
        ASSERT_EQ(seen.last_ifindex, PF);

        fake_netlink_overflow_events(fk);
        while (sd_event_run(e, 0) > 0)
                ;
        ASSERT_EQ(seen.resyncs, 1);

        ASSERT_OK(fake_netlink_remove_link(fk, PF));
        while (sd_event_run(e, 0) > 0)
                ;
        ASSERT_EQ(seen.removed, 1);
        ASSERT_EQ(seen.events, 3);

        nl = netlink_free(nl);
        sd_event_unref(e);
}

/* The device a netdev sits on (Linux >= 5.15): how a VF's netdev is told apart from any other
 * link without reading sysfs (manager.c). Read after a VF list that wrapped its u16 length too,
 * since the kernel puts it last. */
TEST(parent_device)
{
        _cleanup_(fake_netlink_freep) FakeNetlink *fk = fake_netlink_new();
        _cleanup_(link_info_freep) LinkInfo *li = NULL;
        _cleanup_free_ unsigned char *buf = NULL;
        struct ether_addr vf = vf_mac(3);
        size_t size = 0;

        ASSERT_TRUE(fk);
        ASSERT_ERROR(fake_netlink_add_link_on(fk, 1001, "vf3", &vf, 1500, "pci",
                                              "0000:03:10.6-a-name-longer-than-thirty-two"),
                     EINVAL);
        ASSERT_OK(fake_netlink_add_link_on(fk, 1001, "enp3s16f6", &vf, 9000, "pci", "0000:03:10.6"));
        ASSERT_OK(fake_netlink_build_link_message(fk, 1001, RTEXT_FILTER_SKIP_STATS, &buf, &size));
        ASSERT_OK(netlink_parse_link_message(buf, size, &li));
        ASSERT_STREQ(li->parent, "0000:03:10.6");
        ASSERT_STREQ(li->parent_bus, "pci");
        ASSERT_STREQ(li->ifname, "enp3s16f6");
        ASSERT_EQ(li->mtu, 9000u);
        ASSERT_EQ(li->ifindex, 1001);
        li = link_info_free(li);
        buf = mfree(buf);

        ASSERT_OK(fake_netlink_add_link_on(fk, PF, "pf0", &pf_perm, 1500, "pci", "0000:03:00.0"));
        ASSERT_OK(fake_netlink_set_num_vfs(fk, PF, 256));
        ASSERT_OK(fake_netlink_build_link_message(fk, PF, RTEXT_FILTER_VF, &buf, &size));
        ASSERT_TRUE(size > 65536);
        ASSERT_OK(netlink_parse_link_message(buf, size, &li));
        ASSERT_EQ(li->n_vfs, 256u);
        ASSERT_STREQ(li->parent, "0000:03:00.0");
        ASSERT_STREQ(li->parent_bus, "pci");
        li = link_info_free(li);
        buf = mfree(buf);

        /* A kernel before 5.15, or a virtual link: no parent, nothing made up. */
        ASSERT_OK(fake_netlink_add_link(fk, 7, "br0", &pf_perm));
        ASSERT_OK(fake_netlink_build_link_message(fk, 7, RTEXT_FILTER_SKIP_STATS, &buf, &size));
        ASSERT_OK(netlink_parse_link_message(buf, size, &li));
        ASSERT_STREQ(li->parent, "");
        ASSERT_STREQ(li->parent_bus, "");
}

/* netlink_monitor_drain(): what is queued reaches the handler at once, outside the loop. */
TEST(monitor_drain)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(fake_netlink_freep) FakeNetlink *fk = setup(0, &nl);
        sd_event *e = NULL;
        Seen seen = {};

        ASSERT_OK(sd_event_new(&e));
        netlink_monitor_drain(nl); /* not started: nothing to do */
        ASSERT_OK(netlink_monitor_start(nl, e, on_link, &seen));
        netlink_monitor_drain(nl);
        ASSERT_EQ(seen.events, 0u);
        for (int i = 0; i < 300; i++) {
                char name[IFNAMSIZ];

                snprintf(name, sizeof(name), "vf%d", i);
                ASSERT_OK(fake_netlink_add_link(fk, 2000 + i, name, &pf_perm));
        }
        /* More than one dispatch of the loop reads (64): all of them. */
        netlink_monitor_drain(nl);
        ASSERT_EQ(seen.events, 300u);
        ASSERT_EQ(seen.last_ifindex, 2299);
        ASSERT_EQ(sd_event_run(e, 0), 0); /* nothing left for the loop */

        nl = netlink_free(nl);
        sd_event_unref(e);
}

TEST(vf_attr_table)
{
        ASSERT_STREQ(vf_attr_to_string(VF_ATTR_LINK_STATE), "link_state");
        ASSERT_EQ(vf_attr_from_string("port_guid"), VF_ATTR_IB_PORT_GUID);
        ASSERT_EQ(vf_attr_from_string("nope"), -EINVAL);
        for (int i = 0; i < _VF_ATTR_MAX; i++)
                ASSERT_TRUE(vf_attr_to_string(i));
}

/* ---- the real kernel, in a network namespace of our own -------------------------------------- */

static void kernel_on_link(Netlink *nl, const LinkInfo *link, bool removed, void *userdata)
{
        Seen *s = userdata;

        if (link && link->mtu == 9000) {
                s->events++;
                s->last_ifindex = link->ifindex;
        }
}

static int kernel_child(void)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(link_info_freep) LinkInfo *li = NULL;
        struct nl_sock *sk;
        struct rtnl_link *link;
        sd_event *e = NULL;
        Seen seen = {};
        int ifindex, r;

        if (unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr,
                        "SKIP: cannot create a network namespace (%s): real-kernel netlink NOT tested\n",
                        strerror(errno));
                return 77;
        }

        ASSERT_OK(netlink_new(&nl));
        ASSERT_OK(netlink_wait_get_link(nl, 1, &li));
        ASSERT_STREQ(li->ifname, "lo");
        li = link_info_free(li);

        /* A dummy link, made with libnl directly (the adapter does not create links); where
         * the dummy driver is missing, the namespace's own loopback does. */
        sk = nl_socket_alloc();
        ASSERT_TRUE(sk);
        ASSERT_EQ(nl_connect(sk, NETLINK_ROUTE), 0);
        link = rtnl_link_alloc();
        rtnl_link_set_name(link, "sriovtest0");
        ASSERT_EQ(rtnl_link_set_type(link, "dummy"), 0);
        r = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
        rtnl_link_put(link);
        nl_socket_free(sk);
        if (r < 0) {
                fprintf(stderr, "no dummy link (%s), using lo\n", nl_geterror(r));
                ifindex = 1;
        } else {
                ifindex = (int) if_nametoindex("sriovtest0");
                ASSERT_TRUE(ifindex > 0);
        }

        ASSERT_OK(netlink_wait_get_link(nl, ifindex, &li));
        ASSERT_STREQ(li->ifname, ifindex == 1 ? "lo" : "sriovtest0");
        ASSERT_EQ(li->ifindex, ifindex);
        ASSERT_TRUE(li->has_addr);
        ASSERT_EQ(li->n_vfs, 0);
        ASSERT_TRUE(!li->vfs_truncated);
        li = link_info_free(li);

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(netlink_monitor_start(nl, e, kernel_on_link, &seen));

        ASSERT_OK(netlink_wait_set_mtu(nl, ifindex, 9000));
        ASSERT_OK(netlink_wait_get_link(nl, ifindex, &li));
        ASSERT_EQ(li->mtu, 9000);
        li = link_info_free(li);
        ASSERT_ERROR(netlink_wait_set_mtu(nl, ifindex, UINT32_MAX), EINVAL); /* negative to the kernel */
        ASSERT_ERROR(netlink_wait_get_link(nl, 999999, &li), ENODEV);

        for (int i = 0; i < 100 && seen.events == 0; i++)
                ASSERT_OK(sd_event_run(e, 100 * 1000));
        ASSERT_EQ(seen.last_ifindex, ifindex);

        nl = netlink_free(nl);
        sd_event_unref(e);
        fprintf(stderr, "real-kernel netlink: OK\n");
        return 0;
}

static int run_kernel(void)
{
        pid_t pid;
        int status;

        /* In a child, so the namespace switch cannot leak into anything else. */
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0)
                _exit(kernel_child());
        ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
        if (WIFSIGNALED(status)) {
                fprintf(stderr, "real-kernel check died with signal %d\n", WTERMSIG(status));
                return 1;
        }
        return WEXITSTATUS(status);
}

int main(int argc, char *argv[])
{
        if (argc > 1 && streq(argv[1], "--kernel"))
                return run_kernel();

        RUN(build_set_vfs_bytes);
        RUN(round_trip);
        RUN(ib_guids);
        RUN(stops_at_first_error);
        RUN(errno_from_nle);
        RUN(truncated_list);
        RUN(wrapped_list);
        RUN(parser_robustness);
        RUN(batch_256);
        RUN(mtu);
        RUN(no_reply);
        RUN(monitor);
        RUN(monitor_drain);
        RUN(parent_device);
        RUN(vf_attr_table);
        return 0;
}
