/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <pthread.h>
#include <sys/eventfd.h>

#include "fake-netlink.h"

#define FAKE_MAX_RULES       64
#define FAKE_DEFAULT_MAX_MTU 9216

typedef struct FakeVf {
        VfSettings s;
        uint64_t writes;
} FakeVf;

typedef struct FakeLink {
        int ifindex;
        char name[IFNAMSIZ];
        uint32_t mtu, max_mtu;
        unsigned flags;
        struct ether_addr addr, perm_addr;
        unsigned quirks;
        uint32_t num_vf;
        FakeVf *vfs;
        uint32_t vf_list_limit;
        char parent[32], parent_bus[16]; /* "": none */
        struct FakeLink *next;
} FakeLink;

typedef struct FakeRule {
        int ifindex;
        VfAttr attr;
        int vf;
        int error;
        unsigned remaining; /* 0 = for ever */
} FakeRule;

typedef struct FakeBuf {
        unsigned char *data;
        size_t size;
        uint64_t due; /* delayed replies: CLOCK_MONOTONIC µs when it is released */
        struct FakeBuf *next;
} FakeBuf;

typedef struct FakeQueue {
        FakeBuf *head, *tail;
} FakeQueue;

struct FakeNetlink {
        pthread_mutex_t lock;
        FakeLink *links;
        FakeRule rules[FAKE_MAX_RULES];
        size_t n_rules;
        FakeQueue replies, events;
        int event_fd;
        /* polls readable while replies are queued (for netlink_attach_event()) */
        int reply_fd;
        /* fake_netlink_set_reply_delay(): replies wait here until a timer releases them */
        FakeQueue delayed;
        uint64_t reply_delay;
        sd_event_source *delay_timer;
        bool events_enabled, events_overflowed;
        FakeNetlinkStats stats;
        /* told of an MTU an RTM_SETLINK changed, after the lock is released */
        void (*mtu_changed)(void *userdata, int ifindex, uint32_t mtu);
        void *mtu_userdata;
        int changed_ifindex;
        uint32_t changed_mtu;
};

/* ---- queues --------------------------------------------------------------------------------- */

static int queue_push(FakeQueue *q, const void *data, size_t size)
{
        FakeBuf *b = calloc(1, sizeof(FakeBuf));

        if (!b)
                return -ENOMEM;
        b->data = malloc(size);
        if (!b->data) {
                free(b);
                return -ENOMEM;
        }
        memcpy(b->data, data, size);
        b->size = size;
        if (q->tail)
                q->tail->next = b;
        else
                q->head = b;
        q->tail = b;
        return 0;
}

static void reply_fd_signal(FakeNetlink *fk)
{
        uint64_t one = 1;

        (void) !write(fk->reply_fd, &one, sizeof(one));
}

/* Moves every delayed reply that is due to the reply queue, and arms the timer for the next
 * one. Called with the lock held. */
static void delayed_release(FakeNetlink *fk, uint64_t now)
{
        bool moved = false;

        while (fk->delayed.head && fk->delayed.head->due <= now) {
                FakeBuf *b = fk->delayed.head;

                fk->delayed.head = b->next;
                if (!fk->delayed.head)
                        fk->delayed.tail = NULL;
                b->next = NULL;
                if (fk->replies.tail)
                        fk->replies.tail->next = b;
                else
                        fk->replies.head = b;
                fk->replies.tail = b;
                moved = true;
        }
        if (moved)
                reply_fd_signal(fk);
        if (fk->delayed.head) {
                (void) sd_event_source_set_time(fk->delay_timer, fk->delayed.head->due);
                (void) sd_event_source_set_enabled(fk->delay_timer, SD_EVENT_ONESHOT);
        }
}

static int delay_timer_fired(sd_event_source *s, uint64_t usec, void *userdata)
{
        FakeNetlink *fk = userdata;
        uint64_t now = 0;

        (void) sd_event_now(sd_event_source_get_event(s), CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&fk->lock);
        delayed_release(fk, MAX(now, usec));
        pthread_mutex_unlock(&fk->lock);
        return 0;
}

/* A reply to a request: now, or after the delay. Called with the lock held. */
static int reply_push(FakeNetlink *fk, const void *data, size_t size)
{
        uint64_t now = 0;
        int r;

        if (fk->reply_delay == 0) {
                r = queue_push(&fk->replies, data, size);
                if (r >= 0)
                        reply_fd_signal(fk);
                return r;
        }
        r = queue_push(&fk->delayed, data, size);
        if (r < 0)
                return r;
        (void) sd_event_now(sd_event_source_get_event(fk->delay_timer), CLOCK_MONOTONIC, &now);
        fk->delayed.tail->due = now + fk->reply_delay;
        if (fk->delayed.head == fk->delayed.tail) {
                (void) sd_event_source_set_time(fk->delay_timer, fk->delayed.tail->due);
                (void) sd_event_source_set_enabled(fk->delay_timer, SD_EVENT_ONESHOT);
        }
        return 0;
}

static FakeBuf *queue_pop(FakeQueue *q)
{
        FakeBuf *b = q->head;

        if (b) {
                q->head = b->next;
                if (!q->head)
                        q->tail = NULL;
        }
        return b;
}

static void queue_clear(FakeQueue *q)
{
        FakeBuf *b;

        while ((b = queue_pop(q))) {
                free(b->data);
                free(b);
        }
}

/* ---- links ---------------------------------------------------------------------------------- */

static FakeLink *link_find(FakeNetlink *fk, int ifindex)
{
        for (FakeLink *l = fk->links; l; l = l->next)
                if (l->ifindex == ifindex)
                        return l;
        return NULL;
}

static FakeLink *link_find_by_name(FakeNetlink *fk, const char *name)
{
        for (FakeLink *l = fk->links; l; l = l->next)
                if (streq(l->name, name))
                        return l;
        return NULL;
}

static uint32_t link_report_mask(const FakeLink *l)
{
        uint32_t m = VF_ATTR_ALL;

        if (!(l->quirks & FAKE_QUIRK_IB) || (l->quirks & FAKE_QUIRK_IB_NO_REPORT))
                m &= ~(VF_ATTR_BIT(VF_ATTR_IB_NODE_GUID) | VF_ATTR_BIT(VF_ATTR_IB_PORT_GUID));
        if (l->quirks & FAKE_QUIRK_NO_RSS_QUERY)
                m &= ~VF_ATTR_BIT(VF_ATTR_QUERY_RSS);
        return m;
}

static void vf_init(const FakeLink *l, FakeVf *v, uint32_t index)
{
        *v = (FakeVf){
                .s =
                        {
                                .index = index,
                                .mask = link_report_mask(l),
                                .vlan_proto = ETH_P_8021Q,
                                .spoofchk = true,
                                .link_state = IFLA_VF_LINK_STATE_AUTO,
                        },
        };
}

/* Appends one attribute with the kernel's padding; false if the message is full. */
static bool put(struct nl_msg *m, int type, const void *data, size_t size)
{
        return nla_put(m, type, (int) size, data) >= 0;
}

static int build_link_message(const FakeLink *l, uint16_t type, uint32_t seq, uint32_t portid,
                              uint32_t ext_mask, unsigned char **ret, size_t *ret_size)
{
        struct ifinfomsg *ifi;
        struct nlmsghdr *hdr;
        struct nl_msg *m;
        bool with_vfs = (ext_mask & RTEXT_FILTER_VF) && type == RTM_NEWLINK;
        bool with_stats = !(ext_mask & RTEXT_FILTER_SKIP_STATS);
        size_t est = 1024 + (with_vfs ? (size_t) l->num_vf * 512 : 0);
        uint8_t bcast[ETH_ALEN];
        int r = -EMSGSIZE;

        memset(bcast, 0xff, sizeof(bcast));

        m = nlmsg_alloc_size(est);
        if (!m)
                return -ENOMEM;
        hdr = nlmsg_put(m, portid, seq, type, sizeof(struct ifinfomsg), 0);
        if (!hdr)
                goto finish;
        ifi = nlmsg_data(hdr);
        *ifi = (struct ifinfomsg){
                .ifi_family = AF_UNSPEC,
                .ifi_type = 1, /* ARPHRD_ETHER */
                .ifi_index = l->ifindex,
                .ifi_flags = l->flags,
        };

        /* Attribute order as rtnl_fill_ifinfo(): the VF list sits between the address and
         * IFLA_PERM_ADDRESS, which is what a wrapped list gets to corrupt. */
        if (nla_put_string(m, IFLA_IFNAME, l->name) < 0 || nla_put_u32(m, IFLA_MTU, l->mtu) < 0 ||
            !put(m, IFLA_ADDRESS, &l->addr, ETH_ALEN) || !put(m, IFLA_BROADCAST, bcast, ETH_ALEN))
                goto finish;

        if (with_vfs) {
                struct nlattr *list;
                uint32_t n_list = l->vf_list_limit > 0 ? MIN(l->vf_list_limit, l->num_vf) : l->num_vf;
                uint32_t mask = link_report_mask(l);

                if (nla_put_u32(m, IFLA_NUM_VF, l->num_vf) < 0)
                        goto finish;
                if (l->quirks & FAKE_QUIRK_NO_VF_CONFIG)
                        n_list = 0;
                else {
                        list = nla_nest_start(m, IFLA_VFINFO_LIST);
                        if (!list)
                                goto finish;
                        for (uint32_t i = 0; i < n_list; i++) {
                                const VfSettings *s = &l->vfs[i].s;
                                struct nlattr *info = nla_nest_start(m, IFLA_VF_INFO), *vl;
                                struct ifla_vf_mac mac = {.vf = i};
                                struct ifla_vf_broadcast vbc = {};
                                struct ifla_vf_vlan vlan = {.vf = i, .vlan = s->vlan, .qos = s->qos};
                                struct ifla_vf_rate rate = {
                                        .vf = i,
                                        .min_tx_rate = s->min_tx_rate,
                                        .max_tx_rate = s->max_tx_rate,
                                };
                                struct ifla_vf_tx_rate txrate = {.vf = i, .rate = s->max_tx_rate};
                                struct ifla_vf_spoofchk spoof = {.vf = i, .setting = s->spoofchk};
                                struct ifla_vf_link_state ls = {.vf = i, .link_state = s->link_state};
                                /* (u32) -1: the driver has no such setting. */
                                struct ifla_vf_rss_query_en rss = {
                                        .vf = i,
                                        .setting = (mask & VF_ATTR_BIT(VF_ATTR_QUERY_RSS)) ? s->query_rss
                                                                                           : UINT32_MAX,
                                };
                                struct ifla_vf_trust trust = {.vf = i, .setting = s->trust};
                                struct ifla_vf_vlan_info vinfo = {
                                        .vf = i,
                                        .vlan = s->vlan,
                                        .qos = s->qos,
                                        .vlan_proto = htons(s->vlan_proto),
                                };

                                memcpy(mac.mac, &s->mac, ETH_ALEN);
                                memset(vbc.broadcast, 0xff, ETH_ALEN);
                                /* The kernel sends the old VLAN attribute only for 802.1Q. */
                                if (!info || !put(m, IFLA_VF_MAC, &mac, sizeof(mac)) ||
                                    !put(m, IFLA_VF_BROADCAST, &vbc, sizeof(vbc)) ||
                                    !put(m, IFLA_VF_VLAN, &vlan, sizeof(vlan)) ||
                                    !put(m, IFLA_VF_RATE, &rate, sizeof(rate)) ||
                                    !put(m, IFLA_VF_TX_RATE, &txrate, sizeof(txrate)) ||
                                    !put(m, IFLA_VF_SPOOFCHK, &spoof, sizeof(spoof)) ||
                                    !put(m, IFLA_VF_LINK_STATE, &ls, sizeof(ls)) ||
                                    !put(m, IFLA_VF_RSS_QUERY_EN, &rss, sizeof(rss)) ||
                                    !put(m, IFLA_VF_TRUST, &trust, sizeof(trust)))
                                        goto finish;
                                if (mask & VF_ATTR_BIT(VF_ATTR_IB_NODE_GUID)) {
                                        struct ifla_vf_guid ng = {.vf = i, .guid = s->node_guid},
                                                            pg = {.vf = i, .guid = s->port_guid};

                                        if (!put(m, IFLA_VF_IB_NODE_GUID, &ng, sizeof(ng)) ||
                                            !put(m, IFLA_VF_IB_PORT_GUID, &pg, sizeof(pg)))
                                                goto finish;
                                }
                                vl = nla_nest_start(m, IFLA_VF_VLAN_LIST);
                                if (!vl || !put(m, IFLA_VF_VLAN_INFO, &vinfo, sizeof(vinfo)) ||
                                    nla_nest_end(m, vl) < 0)
                                        goto finish;
                                if (with_stats) {
                                        struct nlattr *st = nla_nest_start(m, IFLA_VF_STATS);

                                        if (!st)
                                                goto finish;
                                        for (int a = IFLA_VF_STATS_RX_PACKETS; a <= IFLA_VF_STATS_TX_DROPPED;
                                             a++)
                                                if (a != IFLA_VF_STATS_PAD && nla_put_u64(m, a, 0) < 0)
                                                        goto finish;
                                        if (nla_nest_end(m, st) < 0)
                                                goto finish;
                                }
                                if (nla_nest_end(m, info) < 0)
                                        goto finish;
                        }
                        /* What the kernel's nla_nest_end() does: the length goes into a u16,
                         * wrapping past 64 KiB (libnl's own nla_nest_end() refuses). */
                        list->nla_len = (uint16_t) ((uint8_t *) hdr + NLMSG_ALIGN(hdr->nlmsg_len) -
                                                    (uint8_t *) list);
                }
        }

        if (!put(m, IFLA_PERM_ADDRESS, &l->perm_addr, ETH_ALEN))
                goto finish;
        /* Linux >= 5.15 names the device a netdev sits on, last (rtnl_fill_ifinfo()). */
        if ((l->parent[0] && nla_put_string(m, IFLA_PARENT_DEV_NAME, l->parent) < 0) ||
            (l->parent_bus[0] && nla_put_string(m, IFLA_PARENT_DEV_BUS_NAME, l->parent_bus) < 0))
                goto finish;

        *ret = malloc(hdr->nlmsg_len);
        if (!*ret) {
                r = -ENOMEM;
                goto finish;
        }
        memcpy(*ret, hdr, hdr->nlmsg_len);
        *ret_size = hdr->nlmsg_len;
        r = 0;
finish:
        nlmsg_free(m);
        return r;
}

static void queue_event(FakeNetlink *fk, const FakeLink *l, bool removed)
{
        unsigned char *buf = NULL;
        size_t size = 0;
        uint64_t one = 1;

        if (!fk->events_enabled || fk->events_overflowed)
                return;
        if (build_link_message(l, removed ? RTM_DELLINK : RTM_NEWLINK, 0, 0, 0, &buf, &size) < 0)
                return;
        if (queue_push(&fk->events, buf, size) >= 0)
                (void) !write(fk->event_fd, &one, sizeof(one));
        free(buf);
}

/* ---- request handling ----------------------------------------------------------------------- */

static int rule_check(FakeNetlink *fk, const FakeLink *l, VfAttr attr, uint32_t vf)
{
        for (size_t i = 0; i < fk->n_rules; i++) {
                FakeRule *rule = &fk->rules[i];
                int error;

                if (rule->ifindex != l->ifindex || rule->attr != attr ||
                    (rule->vf >= 0 && (uint32_t) rule->vf != vf))
                        continue;
                error = rule->error;
                if (rule->remaining > 0 && --rule->remaining == 0) {
                        memmove(rule, rule + 1, (fk->n_rules - i - 1) * sizeof(FakeRule));
                        fk->n_rules--;
                }
                return error;
        }
        return 0;
}

/* The checks every ndo_set_vf_* path goes through: drivers answer -EINVAL for a VF that
 * does not exist. */
static int vf_begin(FakeNetlink *fk, FakeLink *l, VfAttr attr, uint32_t vf, FakeVf **ret)
{
        int r;

        if (vf >= INT32_MAX || vf >= l->num_vf)
                return -EINVAL;
        if ((l->quirks & FAKE_QUIRK_NEEDS_UP) && !(l->flags & IFF_UP))
                return -ENETDOWN;
        r = rule_check(fk, l, attr, vf);
        if (r < 0)
                return r;
        *ret = &l->vfs[vf];
        return 0;
}

static int vlan_apply(FakeNetlink *fk, FakeLink *l, uint32_t vf, uint32_t vlan, uint32_t qos, uint16_t proto)
{
        FakeVf *v;
        int r;

        r = vf_begin(fk, l, VF_ATTR_VLAN, vf, &v);
        if (r < 0)
                return r;
        if (vlan > 4095 || qos > 7)
                return -EINVAL;
        if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
                return -EPROTONOSUPPORT;
        v->s.vlan = (uint16_t) vlan;
        v->s.qos = (uint8_t) qos;
        v->s.vlan_proto = proto;
        v->writes++;
        return 0;
}

static int rate_apply(FakeNetlink *fk, FakeLink *l, uint32_t vf, bool keep_min, uint32_t min, uint32_t max)
{
        FakeVf *v;
        int r;

        r = vf_begin(fk, l, VF_ATTR_RATE, vf, &v);
        if (r < 0)
                return r;
        if (keep_min)
                min = v->s.min_tx_rate;
        if (max && max < min)
                return -EINVAL;
        if ((l->quirks & FAKE_QUIRK_NO_MIN_RATE) && min != 0)
                return -EINVAL;
        v->s.min_tx_rate = min;
        v->s.max_tx_rate = max;
        v->writes++;
        return 0;
}

static int guid_apply(FakeNetlink *fk, FakeLink *l, VfAttr attr, const struct nlattr *a)
{
        struct ifla_vf_guid copy, *g = &copy;

        memcpy(&copy, nla_data(a), sizeof(copy)); /* a u64 in a 4-byte aligned attribute */
        FakeVf *v;
        int r;

        if (!(l->quirks & FAKE_QUIRK_IB))
                return -EOPNOTSUPP;
        r = vf_begin(fk, l, attr, g->vf, &v);
        if (r < 0)
                return r;
        if (attr == VF_ATTR_IB_NODE_GUID)
                v->s.node_guid = g->guid;
        else
                v->s.port_guid = g->guid;
        v->writes++;
        return 0;
}

/* do_setvfinfo(): a fixed attribute order, whatever the order in the message; an entry
 * with nothing the kernel knows is -EINVAL; a GUID ends the entry. */
static int vf_info_apply(FakeNetlink *fk, FakeLink *l, struct nlattr **tb)
{
        FakeVf *v;
        int err = -EINVAL, r;

        if (tb[IFLA_VF_MAC]) {
                const struct ifla_vf_mac *a = nla_data(tb[IFLA_VF_MAC]);

                r = vf_begin(fk, l, VF_ATTR_MAC, a->vf, &v);
                if (r < 0)
                        return r;
                if (a->mac[0] & 1)
                        return -EINVAL; /* multicast */
                /* A driver that acks the MAC and keeps its own (some VF drivers override it). */
                if (!(l->quirks & FAKE_QUIRK_DROP_MAC))
                        memcpy(&v->s.mac, a->mac, ETH_ALEN);
                v->writes++;
                err = 0;
        }
        if (tb[IFLA_VF_VLAN]) {
                const struct ifla_vf_vlan *a = nla_data(tb[IFLA_VF_VLAN]);

                r = vlan_apply(fk, l, a->vf, a->vlan, a->qos, ETH_P_8021Q);
                if (r < 0)
                        return r;
                err = 0;
        }
        if (tb[IFLA_VF_VLAN_LIST]) {
                const struct ifla_vf_vlan_info *first = NULL;
                struct nlattr *a;
                int rem, n = 0;

                nla_for_each_nested(a, tb[IFLA_VF_VLAN_LIST], rem)
                {
                        if (nla_type(a) != IFLA_VF_VLAN_INFO || nla_len(a) < (int) sizeof(*first))
                                return -EINVAL;
                        if (n >= 1) /* MAX_VLAN_LIST_LEN */
                                return -EOPNOTSUPP;
                        first = nla_data(a);
                        n++;
                }
                if (!first)
                        return -EINVAL;
                r = vlan_apply(fk, l, first->vf, first->vlan, first->qos, ntohs(first->vlan_proto));
                if (r < 0)
                        return r;
                err = 0;
        }
        if (tb[IFLA_VF_TX_RATE]) {
                const struct ifla_vf_tx_rate *a = nla_data(tb[IFLA_VF_TX_RATE]);

                r = rate_apply(fk, l, a->vf, true, 0, a->rate);
                if (r < 0)
                        return r;
                err = 0;
        }
        if (tb[IFLA_VF_RATE]) {
                const struct ifla_vf_rate *a = nla_data(tb[IFLA_VF_RATE]);

                r = rate_apply(fk, l, a->vf, false, a->min_tx_rate, a->max_tx_rate);
                if (r < 0)
                        return r;
                err = 0;
        }
        if (tb[IFLA_VF_SPOOFCHK]) {
                const struct ifla_vf_spoofchk *a = nla_data(tb[IFLA_VF_SPOOFCHK]);

                r = vf_begin(fk, l, VF_ATTR_SPOOFCHK, a->vf, &v);
                if (r < 0)
                        return r;
                v->s.spoofchk = a->setting != 0;
                v->writes++;
                err = 0;
        }
        if (tb[IFLA_VF_LINK_STATE]) {
                const struct ifla_vf_link_state *a = nla_data(tb[IFLA_VF_LINK_STATE]);

                r = vf_begin(fk, l, VF_ATTR_LINK_STATE, a->vf, &v);
                if (r < 0)
                        return r;
                if (a->link_state > IFLA_VF_LINK_STATE_DISABLE)
                        return -EINVAL;
                v->s.link_state = a->link_state;
                v->writes++;
                err = 0;
        }
        if (tb[IFLA_VF_RSS_QUERY_EN]) {
                const struct ifla_vf_rss_query_en *a = nla_data(tb[IFLA_VF_RSS_QUERY_EN]);

                if (l->quirks & FAKE_QUIRK_NO_RSS_QUERY)
                        return -EOPNOTSUPP; /* no ndo_set_vf_rss_query_en */
                r = vf_begin(fk, l, VF_ATTR_QUERY_RSS, a->vf, &v);
                if (r < 0)
                        return r;
                v->s.query_rss = a->setting != 0;
                v->writes++;
                err = 0;
        }
        if (tb[IFLA_VF_TRUST]) {
                const struct ifla_vf_trust *a = nla_data(tb[IFLA_VF_TRUST]);

                r = vf_begin(fk, l, VF_ATTR_TRUST, a->vf, &v);
                if (r < 0)
                        return r;
                v->s.trust = a->setting != 0;
                v->writes++;
                err = 0;
        }
        if (tb[IFLA_VF_IB_NODE_GUID])
                return guid_apply(fk, l, VF_ATTR_IB_NODE_GUID, tb[IFLA_VF_IB_NODE_GUID]);
        if (tb[IFLA_VF_IB_PORT_GUID])
                return guid_apply(fk, l, VF_ATTR_IB_PORT_GUID, tb[IFLA_VF_IB_PORT_GUID]);
        return err;
}

static const struct nla_policy fake_vf_policy[IFLA_VF_MAX + 1] = {
        [IFLA_VF_MAC] = {.minlen = sizeof(struct ifla_vf_mac)},
        [IFLA_VF_VLAN] = {.minlen = sizeof(struct ifla_vf_vlan)},
        [IFLA_VF_VLAN_LIST] = {.type = NLA_NESTED},
        [IFLA_VF_TX_RATE] = {.minlen = sizeof(struct ifla_vf_tx_rate)},
        [IFLA_VF_SPOOFCHK] = {.minlen = sizeof(struct ifla_vf_spoofchk)},
        [IFLA_VF_RATE] = {.minlen = sizeof(struct ifla_vf_rate)},
        [IFLA_VF_LINK_STATE] = {.minlen = sizeof(struct ifla_vf_link_state)},
        [IFLA_VF_RSS_QUERY_EN] = {.minlen = sizeof(struct ifla_vf_rss_query_en)},
        [IFLA_VF_TRUST] = {.minlen = sizeof(struct ifla_vf_trust)},
        [IFLA_VF_IB_NODE_GUID] = {.minlen = sizeof(struct ifla_vf_guid)},
        [IFLA_VF_IB_PORT_GUID] = {.minlen = sizeof(struct ifla_vf_guid)},
};

static const struct nla_policy fake_link_policy[IFLA_MAX + 1] = {
        [IFLA_IFNAME] = {.type = NLA_STRING, .maxlen = IFNAMSIZ - 1},
        [IFLA_MTU] = {.type = NLA_U32},
        [IFLA_EXT_MASK] = {.type = NLA_U32},
        [IFLA_VFINFO_LIST] = {.type = NLA_NESTED},
};

static int handle_setlink(FakeNetlink *fk, struct nlmsghdr *req)
{
        struct nlattr *tb[IFLA_MAX + 1] = {};
        const struct ifinfomsg *ifi = nlmsg_data(req);
        bool notify = false;
        FakeLink *l;
        int r;

        fk->stats.setlinks++;
        if (nlmsg_parse(req, sizeof(struct ifinfomsg), tb, IFLA_MAX, fake_link_policy) < 0)
                return -EINVAL;
        l = ifi->ifi_index > 0 ? link_find(fk, ifi->ifi_index)
            : tb[IFLA_IFNAME]  ? link_find_by_name(fk, nla_data(tb[IFLA_IFNAME]))
                               : NULL;
        if (!l)
                return -ENODEV;

        if (tb[IFLA_MTU]) {
                uint32_t mtu = nla_get_u32(tb[IFLA_MTU]);

                if (mtu < 68 || mtu > l->max_mtu)
                        return -EINVAL;
                notify = notify || l->mtu != mtu;
                if (l->mtu != mtu) {
                        fk->changed_ifindex = l->ifindex;
                        fk->changed_mtu = mtu;
                }
                l->mtu = mtu;
        }

        r = 0;
        if (tb[IFLA_VFINFO_LIST]) {
                struct nlattr *a;
                int rem;

                nla_for_each_nested(a, tb[IFLA_VFINFO_LIST], rem)
                {
                        struct nlattr *vf[IFLA_VF_MAX + 1] = {};

                        if (nla_type(a) != IFLA_VF_INFO || nla_len(a) < NLA_HDRLEN) {
                                r = -EINVAL;
                                break;
                        }
                        if (nla_parse_nested(vf, IFLA_VF_MAX, a, fake_vf_policy) < 0) {
                                r = -EINVAL;
                                break;
                        }
                        r = vf_info_apply(fk, l, vf);
                        if (r < 0)
                                break;
                        fk->stats.vf_infos_applied++;
                        notify = true;
                }
        }
        if (notify)
                queue_event(fk, l, false);
        return r;
}

static int handle_getlink(FakeNetlink *fk, struct nlmsghdr *req)
{
        struct nlattr *tb[IFLA_MAX + 1] = {};
        const struct ifinfomsg *ifi = nlmsg_data(req);
        unsigned char *buf = NULL;
        uint32_t ext_mask = 0;
        size_t size = 0;
        FakeLink *l;
        int r;

        fk->stats.getlinks++;
        if (req->nlmsg_flags & NLM_F_DUMP)
                return -EOPNOTSUPP; /* not needed by the adapter */
        if (nlmsg_parse(req, sizeof(struct ifinfomsg), tb, IFLA_MAX, fake_link_policy) < 0)
                return -EINVAL;
        if (tb[IFLA_EXT_MASK])
                ext_mask = nla_get_u32(tb[IFLA_EXT_MASK]);
        l = ifi->ifi_index > 0 ? link_find(fk, ifi->ifi_index)
            : tb[IFLA_IFNAME]  ? link_find_by_name(fk, nla_data(tb[IFLA_IFNAME]))
                               : NULL;
        if (!l)
                return -ENODEV;

        r = build_link_message(l, RTM_NEWLINK, req->nlmsg_seq, req->nlmsg_pid, ext_mask, &buf, &size);
        if (r < 0)
                return r;
        r = reply_push(fk, buf, size);
        free(buf);
        return r;
}

static void queue_ack(FakeNetlink *fk, const struct nlmsghdr *req, int error)
{
        struct {
                struct nlmsghdr hdr;
                struct nlmsgerr err;
        } ack = {
                .hdr =
                        {
                                .nlmsg_len = NLMSG_LENGTH(sizeof(struct nlmsgerr)),
                                .nlmsg_type = NLMSG_ERROR,
                                /* NETLINK_CAP_ACK: only the request's header comes back. */
                                .nlmsg_flags = NLM_F_CAPPED,
                                .nlmsg_seq = req->nlmsg_seq,
                                .nlmsg_pid = req->nlmsg_pid,
                        },
                .err = {.error = error, .msg = *req},
        };

        (void) reply_push(fk, &ack, ack.hdr.nlmsg_len);
}

static int fake_send(void *userdata, const struct nlmsghdr *req)
{
        FakeNetlink *fk = userdata;
        struct nlmsghdr *copy;
        int r, ifindex;
        uint32_t mtu;

        /* The kernel drops what is not a well-formed request, without a word. */
        if (!req || req->nlmsg_len < NLMSG_HDRLEN || !(req->nlmsg_flags & NLM_F_REQUEST))
                return 0;

        /* Parse a private copy: libnl's parsers want non-const pointers. */
        copy = malloc(req->nlmsg_len);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, req, req->nlmsg_len);

        pthread_mutex_lock(&fk->lock);
        fk->stats.messages++;
        if (copy->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
                r = -EINVAL;
        else if (copy->nlmsg_type == RTM_SETLINK)
                r = handle_setlink(fk, copy);
        else if (copy->nlmsg_type == RTM_GETLINK)
                r = handle_getlink(fk, copy);
        else
                r = -EOPNOTSUPP;
        if (r < 0)
                fk->stats.errors++;
        if (r < 0 || (copy->nlmsg_flags & NLM_F_ACK))
                queue_ack(fk, copy, r);
        ifindex = fk->changed_ifindex;
        mtu = fk->changed_mtu;
        fk->changed_ifindex = 0;
        pthread_mutex_unlock(&fk->lock);

        if (ifindex > 0 && fk->mtu_changed)
                fk->mtu_changed(fk->mtu_userdata, ifindex, mtu);
        free(copy);
        return 0;
}

void fake_netlink_set_mtu_hook(FakeNetlink *fk, void (*cb)(void *userdata, int ifindex, uint32_t mtu),
                               void *userdata)
{
        pthread_mutex_lock(&fk->lock);
        fk->mtu_changed = cb;
        fk->mtu_userdata = userdata;
        pthread_mutex_unlock(&fk->lock);
}

static int pop_to(FakeNetlink *fk, FakeQueue *q, unsigned char **ret)
{
        FakeBuf *b;
        int r;

        b = queue_pop(q);
        if (!b)
                return 0;
        *ret = b->data;
        r = (int) b->size;
        free(b);
        return r;
}

static int fake_recv(void *userdata, unsigned char **ret)
{
        FakeNetlink *fk = userdata;
        uint64_t v;
        int r;

        pthread_mutex_lock(&fk->lock);
        r = pop_to(fk, &fk->replies, ret);
        if (!fk->replies.head)
                (void) !read(fk->reply_fd, &v, sizeof(v)); /* nothing left: stop polling readable */
        pthread_mutex_unlock(&fk->lock);
        return r;
}

static int fake_reply_fd(void *userdata)
{
        FakeNetlink *fk = userdata;

        return fk->reply_fd;
}

static int fake_event_fd(void *userdata)
{
        FakeNetlink *fk = userdata;

        pthread_mutex_lock(&fk->lock);
        fk->events_enabled = true;
        pthread_mutex_unlock(&fk->lock);
        return fk->event_fd;
}

static int fake_recv_event(void *userdata, unsigned char **ret)
{
        FakeNetlink *fk = userdata;
        uint64_t v;
        int r;

        pthread_mutex_lock(&fk->lock);
        if (fk->events_overflowed) {
                fk->events_overflowed = false;
                r = -ENOBUFS;
        } else
                r = pop_to(fk, &fk->events, ret);
        if (!fk->events.head)
                (void) !read(fk->event_fd, &v, sizeof(v)); /* nothing left: stop polling readable */
        pthread_mutex_unlock(&fk->lock);
        return r;
}

const NetlinkTransport fake_netlink_transport = {
        .send = fake_send,
        .recv = fake_recv,
        .event_fd = fake_event_fd,
        .recv_event = fake_recv_event,
        .reply_fd = fake_reply_fd,
};

/* ---- public --------------------------------------------------------------------------------- */

FakeNetlink *fake_netlink_new(void)
{
        FakeNetlink *fk = calloc(1, sizeof(FakeNetlink));

        if (!fk)
                return NULL;
        fk->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        fk->reply_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fk->event_fd < 0 || fk->reply_fd < 0) {
                safe_close(fk->event_fd);
                safe_close(fk->reply_fd);
                free(fk);
                return NULL;
        }
        pthread_mutex_init(&fk->lock, NULL);
        return fk;
}

FakeNetlink *fake_netlink_free(FakeNetlink *fk)
{
        FakeLink *l;

        if (!fk)
                return NULL;
        while ((l = fk->links)) {
                fk->links = l->next;
                free(l->vfs);
                free(l);
        }
        queue_clear(&fk->replies);
        queue_clear(&fk->events);
        queue_clear(&fk->delayed);
        sd_event_source_disable_unref(fk->delay_timer);
        safe_close(fk->event_fd);
        safe_close(fk->reply_fd);
        pthread_mutex_destroy(&fk->lock);
        return mfree(fk);
}

int fake_netlink_set_reply_delay(FakeNetlink *fk, sd_event *event, uint64_t usec)
{
        int r = 0;

        pthread_mutex_lock(&fk->lock);
        if (usec > 0 && !fk->delay_timer) {
                r = sd_event_add_time(event, &fk->delay_timer, CLOCK_MONOTONIC, 0, 1, delay_timer_fired, fk);
                if (r >= 0) {
                        (void) sd_event_source_set_enabled(fk->delay_timer, SD_EVENT_OFF);
                        (void) sd_event_source_set_description(fk->delay_timer, "fake-netlink-delay");
                }
        }
        if (r >= 0) {
                fk->reply_delay = usec;
                if (usec == 0 && fk->delay_timer)
                        delayed_release(fk, UINT64_MAX);
        }
        pthread_mutex_unlock(&fk->lock);
        return r;
}

int fake_netlink_new_netlink(FakeNetlink *fk, Netlink **ret)
{
        return netlink_new_with_transport(&fake_netlink_transport, fk, ret);
}

int fake_netlink_add_link(FakeNetlink *fk, int ifindex, const char *name, const struct ether_addr *perm_addr)
{
        return fake_netlink_add_link_on(fk, ifindex, name, perm_addr, 1500, NULL, NULL);
}

int fake_netlink_add_link_on(FakeNetlink *fk, int ifindex, const char *name,
                             const struct ether_addr *perm_addr, uint32_t mtu, const char *parent_bus,
                             const char *parent)
{
        FakeLink *l;
        int r = 0;

        if (!fk || ifindex <= 0 || !name || strlen(name) >= IFNAMSIZ || !mtu ||
            strlen(strempty(parent_bus)) >= sizeof(l->parent_bus) ||
            strlen(strempty(parent)) >= sizeof(l->parent))
                return -EINVAL;
        pthread_mutex_lock(&fk->lock);
        if (link_find(fk, ifindex) || link_find_by_name(fk, name)) {
                r = -EEXIST;
                goto finish;
        }
        l = calloc(1, sizeof(FakeLink));
        if (!l) {
                r = -ENOMEM;
                goto finish;
        }
        l->ifindex = ifindex;
        strcpy(l->name, name);
        strcpy(l->parent_bus, strempty(parent_bus));
        strcpy(l->parent, strempty(parent));
        l->mtu = mtu;
        l->max_mtu = FAKE_DEFAULT_MAX_MTU;
        l->flags = IFF_UP | IFF_BROADCAST | IFF_MULTICAST | IFF_RUNNING;
        if (perm_addr)
                l->perm_addr = l->addr = *perm_addr;
        l->next = fk->links;
        fk->links = l;
        queue_event(fk, l, false);
finish:
        pthread_mutex_unlock(&fk->lock);
        return r;
}

int fake_netlink_remove_link(FakeNetlink *fk, int ifindex)
{
        int r = -ENODEV;

        pthread_mutex_lock(&fk->lock);
        for (FakeLink **p = &fk->links; *p; p = &(*p)->next)
                if ((*p)->ifindex == ifindex) {
                        FakeLink *l = *p;

                        queue_event(fk, l, true);
                        *p = l->next;
                        free(l->vfs);
                        free(l);
                        r = 0;
                        break;
                }
        pthread_mutex_unlock(&fk->lock);
        return r;
}

#define WITH_LINK(fk, ifindex, l, body)                   \
        ({                                                \
                int _r = 0;                               \
                pthread_mutex_lock(&(fk)->lock);          \
                FakeLink *l = link_find((fk), (ifindex)); \
                if (!l)                                   \
                        _r = -ENODEV;                     \
                else {                                    \
                        body;                             \
                }                                         \
                pthread_mutex_unlock(&(fk)->lock);        \
                _r;                                       \
        })

int fake_netlink_set_num_vfs(FakeNetlink *fk, int ifindex, uint32_t n)
{
        return WITH_LINK(fk, ifindex, l, {
                FakeVf *vfs = n > 0 ? calloc(n, sizeof(FakeVf)) : NULL;

                if (n > 0 && !vfs)
                        _r = -ENOMEM;
                else {
                        for (uint32_t i = 0; i < n; i++)
                                vf_init(l, &vfs[i], i);
                        free(l->vfs);
                        l->vfs = vfs;
                        l->num_vf = n;
                }
        });
}

int fake_netlink_set_link_mtu(FakeNetlink *fk, int ifindex, uint32_t mtu)
{
        void (*hook)(void *userdata, int ifindex, uint32_t mtu);
        void *userdata;
        int r;

        r = WITH_LINK(fk, ifindex, l, {
                if (l->mtu != mtu) {
                        l->mtu = mtu;
                        queue_event(fk, l, false);
                }
        });
        if (r < 0)
                return r;
        pthread_mutex_lock(&fk->lock);
        hook = fk->mtu_changed;
        userdata = fk->mtu_userdata;
        pthread_mutex_unlock(&fk->lock);
        if (hook)
                hook(userdata, ifindex, mtu);
        return 0;
}

int fake_netlink_set_link_name(FakeNetlink *fk, int ifindex, const char *name)
{
        if (!name || strlen(name) >= IFNAMSIZ)
                return -EINVAL;
        return WITH_LINK(fk, ifindex, l, {
                if (!streq(l->name, name)) {
                        strcpy(l->name, name);
                        queue_event(fk, l, false);
                }
        });
}

int fake_netlink_set_quirks(FakeNetlink *fk, int ifindex, unsigned quirks)
{
        return WITH_LINK(fk, ifindex, l, {
                l->quirks = quirks;
                for (uint32_t i = 0; i < l->num_vf; i++)
                        l->vfs[i].s.mask = link_report_mask(l);
        });
}

int fake_netlink_set_flags(FakeNetlink *fk, int ifindex, unsigned flags)
{
        return WITH_LINK(fk, ifindex, l, {
                l->flags = flags;
                queue_event(fk, l, false);
        });
}

int fake_netlink_get_mtu(FakeNetlink *fk, int ifindex, uint32_t *ret)
{
        return WITH_LINK(fk, ifindex, l, *ret = l->mtu);
}

int fake_netlink_set_vf_list_limit(FakeNetlink *fk, int ifindex, uint32_t max_listed)
{
        return WITH_LINK(fk, ifindex, l, l->vf_list_limit = max_listed);
}

int fake_netlink_inject_error(FakeNetlink *fk, int ifindex, VfAttr attr, int vf, int error, unsigned count)
{
        int r = 0;

        if (attr < 0 || attr >= _VF_ATTR_MAX || error >= 0)
                return -EINVAL;
        pthread_mutex_lock(&fk->lock);
        if (fk->n_rules >= FAKE_MAX_RULES)
                r = -ENOSPC;
        else
                fk->rules[fk->n_rules++] = (FakeRule){
                        .ifindex = ifindex,
                        .attr = attr,
                        .vf = vf,
                        .error = error,
                        .remaining = count,
                };
        pthread_mutex_unlock(&fk->lock);
        return r;
}

void fake_netlink_clear_errors(FakeNetlink *fk)
{
        pthread_mutex_lock(&fk->lock);
        fk->n_rules = 0;
        pthread_mutex_unlock(&fk->lock);
}

int fake_netlink_get_vf(FakeNetlink *fk, int ifindex, uint32_t vf, VfSettings *ret)
{
        return WITH_LINK(fk, ifindex, l, {
                if (vf >= l->num_vf)
                        _r = -ENOENT;
                else
                        *ret = l->vfs[vf].s;
        });
}

int fake_netlink_set_vf(FakeNetlink *fk, int ifindex, const VfSettings *s)
{
        return WITH_LINK(fk, ifindex, l, {
                if (s->index >= l->num_vf)
                        _r = -ENOENT;
                else {
                        VfSettings *d = &l->vfs[s->index].s;

                        if (s->mask & VF_ATTR_BIT(VF_ATTR_MAC))
                                d->mac = s->mac;
                        if (s->mask & VF_ATTR_BIT(VF_ATTR_VLAN)) {
                                d->vlan = s->vlan;
                                d->qos = s->qos;
                                d->vlan_proto = s->vlan_proto ?: ETH_P_8021Q;
                        }
                        if (s->mask & VF_ATTR_BIT(VF_ATTR_SPOOFCHK))
                                d->spoofchk = s->spoofchk;
                        if (s->mask & VF_ATTR_BIT(VF_ATTR_TRUST))
                                d->trust = s->trust;
                        if (s->mask & VF_ATTR_BIT(VF_ATTR_LINK_STATE))
                                d->link_state = s->link_state;
                        if (s->mask & VF_ATTR_BIT(VF_ATTR_RATE)) {
                                d->min_tx_rate = s->min_tx_rate;
                                d->max_tx_rate = s->max_tx_rate;
                        }
                        if (s->mask & VF_ATTR_BIT(VF_ATTR_IB_NODE_GUID))
                                d->node_guid = s->node_guid;
                        if (s->mask & VF_ATTR_BIT(VF_ATTR_IB_PORT_GUID))
                                d->port_guid = s->port_guid;
                        if (s->mask & VF_ATTR_BIT(VF_ATTR_QUERY_RSS))
                                d->query_rss = s->query_rss;
                }
        });
}

uint64_t fake_netlink_get_vf_writes(FakeNetlink *fk, int ifindex, uint32_t vf)
{
        uint64_t w = 0;

        (void) WITH_LINK(fk, ifindex, l, {
                if (vf < l->num_vf)
                        w = l->vfs[vf].writes;
        });
        return w;
}

FakeNetlinkStats fake_netlink_get_stats(FakeNetlink *fk)
{
        FakeNetlinkStats s;

        pthread_mutex_lock(&fk->lock);
        s = fk->stats;
        pthread_mutex_unlock(&fk->lock);
        return s;
}

void fake_netlink_reset_stats(FakeNetlink *fk)
{
        pthread_mutex_lock(&fk->lock);
        fk->stats = (FakeNetlinkStats){};
        for (FakeLink *l = fk->links; l; l = l->next)
                for (uint32_t i = 0; i < l->num_vf; i++)
                        l->vfs[i].writes = 0;
        pthread_mutex_unlock(&fk->lock);
}

int fake_netlink_build_link_message(FakeNetlink *fk, int ifindex, uint32_t ext_mask, unsigned char **ret,
                                    size_t *ret_size)
{
        return WITH_LINK(fk, ifindex, l,
                         _r = build_link_message(l, RTM_NEWLINK, 0, 0, ext_mask, ret, ret_size));
}

int fake_netlink_emit_link_event(FakeNetlink *fk, int ifindex, bool removed)
{
        return WITH_LINK(fk, ifindex, l, queue_event(fk, l, removed));
}

void fake_netlink_overflow_events(FakeNetlink *fk)
{
        uint64_t one = 1;

        pthread_mutex_lock(&fk->lock);
        queue_clear(&fk->events);
        fk->events_overflowed = true;
        (void) !write(fk->event_fd, &one, sizeof(one));
        pthread_mutex_unlock(&fk->lock);
}
