/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log.h"
#include "netlink.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* The kernel's receive side for link events; big enough for a burst of VF churn. */
#define NETLINK_MONITOR_RCVBUF (4u * 1024u * 1024u)
#define NETLINK_REQUEST_RCVBUF (1u * 1024u * 1024u)

typedef struct AsyncRequest AsyncRequest;
static void async_free_all(Netlink *nl);

struct Netlink {
        /* Set when requests go to a NetlinkTransport instead of the kernel. */
        bool has_transport;
        NetlinkTransport transport;
        void *transport_userdata;
        int transport_error; /* -errno of the last failed transport call, 0 if none */

        struct nl_sock *monitor_sk;
        struct nl_cb *monitor_cb;
        sd_event_source *monitor_source;
        netlink_link_handler_t monitor_handler;
        void *monitor_userdata;

        /* Requests: their own socket, read on the loop. */
        struct nl_sock *async_sk;
        struct nl_cb *async_cb;
        sd_event_source *async_source, *async_defer;
        AsyncRequest *async_queue, *async_queue_tail; /* waiting, in order */
        AsyncRequest *async_in_flight;                /* sent, unanswered */
        size_t async_n_in_flight;
        AsyncRequest *async_current; /* whose handler runs */

        NetlinkStats stats;
};

int netlink_errno_from_nle(int nle)
{
        static const int map[] = {
                [NLE_SUCCESS] = 0,
                [NLE_FAILURE] = EIO,
                [NLE_INTR] = EINTR,
                [NLE_BAD_SOCK] = ENOTSOCK,
                [NLE_AGAIN] = EAGAIN,
                [NLE_NOMEM] = ENOMEM,
                [NLE_EXIST] = EEXIST,
                [NLE_INVAL] = EINVAL,
                [NLE_RANGE] = ERANGE,
                [NLE_MSGSIZE] = EMSGSIZE,
                [NLE_OPNOTSUPP] = EOPNOTSUPP,
                [NLE_AF_NOSUPPORT] = EAFNOSUPPORT,
                [NLE_OBJ_NOTFOUND] = ENOENT,
                [NLE_NOATTR] = ENODATA,
                [NLE_MISSING_ATTR] = EINVAL,
                [NLE_AF_MISMATCH] = EINVAL,
                [NLE_SEQ_MISMATCH] = EPROTO,
                [NLE_MSG_OVERFLOW] = EOVERFLOW,
                [NLE_MSG_TRUNC] = EBADMSG,
                [NLE_NOADDR] = EADDRNOTAVAIL,
                [NLE_SRCRT_NOSUPPORT] = EOPNOTSUPP,
                [NLE_MSG_TOOSHORT] = EBADMSG,
                [NLE_MSGTYPE_NOSUPPORT] = EOPNOTSUPP,
                [NLE_OBJ_MISMATCH] = EINVAL,
                [NLE_NOCACHE] = ENOENT,
                [NLE_BUSY] = EBUSY,
                [NLE_PROTO_MISMATCH] = EPROTONOSUPPORT,
                [NLE_NOACCESS] = EACCES,
                [NLE_PERM] = EPERM,
                [NLE_PKTLOC_FILE] = ENOENT,
                [NLE_PARSE_ERR] = EBADMSG,
                [NLE_NODEV] = ENODEV,
                [NLE_IMMUTABLE] = EROFS,
                [NLE_DUMP_INTR] = EAGAIN, /* the dump changed under us: retrying helps */
                [NLE_ATTRSIZE] = E2BIG,
        };
        int e = abs(nle);

        if (e == 0)
                return 0;
        if ((size_t) e >= ELEMENTSOF(map) || map[e] == 0)
                return -EIO;
        return -map[e];
}

/* ---- parsing ------------------------------------------------------------------------------ */

LinkInfo *link_info_free(LinkInfo *l)
{
        if (!l)
                return NULL;
        free(l->vfs);
        return mfree(l);
}

const VfSettings *link_info_find_vf(const LinkInfo *l, uint32_t index)
{
        size_t lo = 0, hi;

        if (!l)
                return NULL;
        hi = l->n_vfs;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (l->vfs[mid].index == index)
                        return &l->vfs[mid];
                if (l->vfs[mid].index < index)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* Parses one IFLA_VF_INFO. Returns 0 and fills *ret, or -EBADMSG if it is malformed or
 * names no VF, or names two. Every struct starts with "__u32 vf", the kernel fills it in all
 * of them. What each attribute looks like is vf-attr.c's. */
static int vf_info_parse(const struct nlattr *info, VfSettings *ret)
{
        struct nlattr *tb[IFLA_VF_MAX + 1] = {};
        VfSettings s = {};
        bool have_index = false;

        if (nla_parse_nested(tb, IFLA_VF_MAX, (struct nlattr *) info, NULL) < 0)
                return -EBADMSG;
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                const VfAttrInfo *i = vf_attr_info(a);

                for (size_t t = 0; t < VF_ATTR_IFLA_MAX && i->ifla[t].type > 0; t++)
                        if (i->ifla[t].type <= IFLA_VF_MAX && tb[i->ifla[t].type] &&
                            nla_len(tb[i->ifla[t].type]) < i->ifla[t].minlen)
                                return -EBADMSG;
        }
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                const VfAttrInfo *i = vf_attr_info(a);
                uint32_t index;
                int r;

                r = i->parse(i, tb, &s, &index);
                if (r < 0)
                        return -EBADMSG;
                if (r == 0)
                        continue;
                if (have_index && s.index != index)
                        return -EBADMSG;
                s.index = index;
                have_index = true;
        }

        if (!have_index || s.index >= INT32_MAX)
                return -EBADMSG;

        *ret = s;
        return 0;
}

static int vf_settings_compare(const void *a, const void *b)
{
        const VfSettings *x = a, *y = b;

        return x->index < y->index ? -1 : x->index > y->index;
}

/* Walks consecutive well-formed IFLA_VF_INFO attributes from p, never past end. */
static const uint8_t *vf_info_walk(const uint8_t *p, const uint8_t *end, size_t *ret_count)
{
        size_t n = 0;

        while (end - p >= NLA_HDRLEN) {
                const struct nlattr *a = (const struct nlattr *) p;

                if (a->nla_len < NLA_HDRLEN || a->nla_len > end - p || nla_type(a) != IFLA_VF_INFO)
                        break;
                p += MIN((size_t) NLA_ALIGN(a->nla_len), (size_t) (end - p));
                n++;
        }
        *ret_count = n;
        return p;
}

/* IFLA_VFINFO_LIST at `list`, in a message ending at msg_end. The kernel closes the nest by
 * storing its length into a u16: past 64 KiB it silently wraps, and what follows the
 * declared end is the middle of some VF's attributes. We walk the entries from the start of
 * the nest; if they run exactly to a point whose distance is the declared length modulo
 * 64 KiB, the list wrapped and is complete. Otherwise only the declared nest is used, and
 * if an entry straddles its end the rest of the message is garbage and must not be parsed.
 * Returns where top-level parsing may resume, or NULL if it must stop. */
static const uint8_t *vf_list_parse(const struct nlattr *list, const uint8_t *msg_end, LinkInfo *info)
{
        const uint8_t *start = (const uint8_t *) list, *data = start + NLA_HDRLEN;
        const uint8_t *declared_end, *walked_end, *list_end, *resume;
        _cleanup_free_ VfSettings *vfs = NULL;
        size_t n_walked, n_entries, n = 0;

        declared_end = start + MIN((size_t) MAX(list->nla_len, NLA_HDRLEN), (size_t) (msg_end - start));
        walked_end = vf_info_walk(data, msg_end, &n_walked);

        if (walked_end > declared_end && ((size_t) (walked_end - start) & 0xffffu) == list->nla_len) {
                /* Wrapped, and consistent: the whole list is there. */
                list_end = walked_end;
                resume = walked_end;
                n_entries = n_walked;
                log_debug("netlink: IFLA_VFINFO_LIST of %zu bytes wrapped its u16 length, recovered %zu VFs",
                          (size_t) (walked_end - start), n_walked);
        } else {
                const uint8_t *bounded_end;

                list_end = declared_end;
                bounded_end = vf_info_walk(data, declared_end, &n_entries);
                if (bounded_end < declared_end && walked_end > declared_end) {
                        /* An entry runs past the declared end: what follows is not attributes. */
                        resume = NULL;
                        info->vfs_truncated = true;
                } else
                        resume = start + MIN((size_t) NLA_ALIGN(MAX(list->nla_len, NLA_HDRLEN)),
                                             (size_t) (msg_end - start));
        }

        if (n_entries > 0) {
                const uint8_t *p = data;

                vfs = calloc(n_entries, sizeof(VfSettings));
                if (!vfs) {
                        info->vfs_truncated = true;
                        return resume;
                }
                /* The walk above proved these entries well-formed and inside list_end. */
                for (size_t i = 0; i < n_entries; i++) {
                        const struct nlattr *a = (const struct nlattr *) p;

                        if (vf_info_parse(a, &vfs[n]) >= 0)
                                n++; /* a malformed entry is an unknown VF: counts as not listed */
                        p += MIN((size_t) NLA_ALIGN(a->nla_len), (size_t) (list_end - p));
                }
        }

        if (n > 1) {
                size_t k = 1;

                qsort(vfs, n, sizeof(VfSettings), vf_settings_compare);
                /* Keep the first of duplicate indexes: a list cannot say two things about one VF. */
                for (size_t i = 1; i < n; i++)
                        if (vfs[i].index != vfs[k - 1].index)
                                vfs[k++] = vfs[i];
                n = k;
        }

        free(info->vfs);
        info->vfs = n > 0 ? TAKE_PTR(vfs) : NULL;
        info->n_vfs = n;
        return resume;
}

static bool attr_u32(const struct nlattr *a, uint32_t *ret)
{
        if (!a || nla_len(a) < (int) sizeof(uint32_t))
                return false;
        memcpy(ret, nla_data(a), sizeof(uint32_t));
        return true;
}

static bool attr_ether(const struct nlattr *a, struct ether_addr *ret)
{
        /* Only Ethernet-sized addresses: an IPoIB link's 20-byte address is not a MAC. */
        if (!a || nla_len(a) != ETH_ALEN)
                return false;
        memcpy(ret, nla_data(a), ETH_ALEN);
        return true;
}

/* A string attribute into buf, cut to fit; buf stays "" without one. */
static void attr_string(const struct nlattr *a, char *buf, size_t size)
{
        size_t l;

        if (!a)
                return;
        l = MIN(strnlen(nla_data(a), (size_t) nla_len(a)), size - 1);
        memcpy(buf, nla_data(a), l);
        buf[l] = 0;
}

int netlink_parse_link_message(const void *buf, size_t size, LinkInfo **ret)
{
        const struct nlmsghdr *hdr = buf;
        const struct nlattr *tb[IFLA_MAX + 1] = {};
        _cleanup_(link_info_freep) LinkInfo *info = NULL;
        const struct ifinfomsg *ifi;
        const uint8_t *p, *end;
        bool saw_list = false;

        if (!buf || size < NLMSG_HDRLEN || hdr->nlmsg_len < NLMSG_HDRLEN || hdr->nlmsg_len > size)
                return -EBADMSG;
        if (hdr->nlmsg_type != RTM_NEWLINK && hdr->nlmsg_type != RTM_DELLINK)
                return -EBADMSG;
        if (hdr->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
                return -EBADMSG;

        info = calloc(1, sizeof(LinkInfo));
        if (!info)
                return -ENOMEM;

        ifi = NLMSG_DATA(hdr);
        info->ifindex = ifi->ifi_index;
        info->flags = ifi->ifi_flags;

        /* A hand-rolled walk rather than nla_parse(): after a wrapped IFLA_VFINFO_LIST,
         * nla_parse() would read VF attributes as top-level ones (IFLA_VF_INFO has the number
         * of IFLA_ADDRESS) and let them override the real ones. */
        p = (const uint8_t *) hdr + NLMSG_SPACE(sizeof(struct ifinfomsg));
        end = (const uint8_t *) hdr + hdr->nlmsg_len;
        while (p && p < end && end - p >= NLA_HDRLEN) {
                const struct nlattr *a = (const struct nlattr *) p;
                int type = nla_type(a);

                if (type == IFLA_VFINFO_LIST && !saw_list) {
                        saw_list = true;
                        p = vf_list_parse(a, end, info);
                        continue;
                }
                if (a->nla_len < NLA_HDRLEN || a->nla_len > end - p)
                        break;
                if (type <= IFLA_MAX && type != IFLA_VFINFO_LIST)
                        tb[type] = a;
                p += MIN((size_t) NLA_ALIGN(a->nla_len), (size_t) (end - p));
        }

        attr_string(tb[IFLA_IFNAME], info->ifname, sizeof(info->ifname));
        (void) attr_u32(tb[IFLA_MTU], &info->mtu);
        attr_string(tb[IFLA_PARENT_DEV_NAME], info->parent, sizeof(info->parent));
        attr_string(tb[IFLA_PARENT_DEV_BUS_NAME], info->parent_bus, sizeof(info->parent_bus));
        info->has_addr = attr_ether(tb[IFLA_ADDRESS], &info->addr);
        info->has_perm_addr = attr_ether(tb[IFLA_PERM_ADDRESS], &info->perm_addr);
        info->has_num_vf = attr_u32(tb[IFLA_NUM_VF], &info->num_vf);

        /* Listing fewer VFs than exist (or none, while some exist) leaves the rest unknown. */
        if (info->has_num_vf && info->n_vfs < info->num_vf)
                info->vfs_truncated = true;

        *ret = TAKE_PTR(info);
        return 0;
}

/* ---- building ----------------------------------------------------------------------------- */

/* Upper bound of the bytes one VfSettings adds to a request. */
static size_t vf_request_size(const VfSettings *v)
{
        uint32_t m = v->mask & VF_ATTR_ALL;
        bool shared = false;
        size_t s = 0;

        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                const VfAttrInfo *i = vf_attr_info(a);

                if (!(m & VF_ATTR_BIT(a)))
                        continue;
                s += i->request_size ? i->request_size(i, v) : (size_t) nla_total_size(i->ifla[0].minlen);
                if (i->own_info)
                        s += NLA_HDRLEN;
                else
                        shared = true;
        }
        return s + (shared ? NLA_HDRLEN : 0);
}

static int put_nest_end(struct nl_msg *m, struct nlattr *nest)
{
        return nla_nest_end(m, nest) < 0 ? -E2BIG : 0;
}

/* Appends the attributes of `mask` for one VF inside one IFLA_VF_INFO. */
static int vf_request_append_info(struct nl_msg *m, const VfSettings *v, uint32_t mask)
{
        struct nlattr *info;
        int r;

        info = nla_nest_start(m, IFLA_VF_INFO);
        if (!info)
                return -E2BIG;
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                const VfAttrInfo *i = vf_attr_info(a);

                if (!(mask & VF_ATTR_BIT(a)))
                        continue;
                r = i->put(i, m, v);
                if (r < 0)
                        return r;
        }
        return put_nest_end(m, info);
}

/* Appends the IFLA_VF_INFO(s) for one VF; returns how many it added: one for the attributes
 * that can share one, then one per attribute that needs its own (vf-attr.c's own_info). */
static int vf_request_append(struct nl_msg *m, const VfSettings *v)
{
        uint32_t mask = v->mask & VF_ATTR_ALL, shared = mask;
        int n = 0, r;

        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++)
                if (vf_attr_info(a)->own_info)
                        shared &= ~VF_ATTR_BIT(a);
        if (shared) {
                r = vf_request_append_info(m, v, shared);
                if (r < 0)
                        return r;
                n++;
        }
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++)
                if ((mask & ~shared) & VF_ATTR_BIT(a)) {
                        r = vf_request_append_info(m, v, VF_ATTR_BIT(a));
                        if (r < 0)
                                return r;
                        n++;
                }
        return n;
}

static int setlink_alloc(int ifindex, size_t size, struct nl_msg **ret)
{
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
        struct nl_msg *m;

        m = nlmsg_alloc_size(size);
        if (!m)
                return -ENOMEM;
        if (!nlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, RTM_SETLINK, 0, NLM_F_REQUEST | NLM_F_ACK) ||
            nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
                nlmsg_free(m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

static int build_set_vfs(int pf_ifindex, const VfSettings *vfs, size_t n_vfs, size_t *ret_n_infos,
                         struct nl_msg **ret)
{
        /* Room for the headers, the nest and slack for alignment. */
        const size_t alloc = NETLINK_SET_VFS_MSG_MAX + 256;
        struct nl_msg *m = NULL;
        struct nlattr *list;
        size_t used = NLMSG_SPACE(sizeof(struct ifinfomsg)) + NLA_HDRLEN, consumed = 0, n_infos = 0;
        int r;

        if (pf_ifindex <= 0 || (!vfs && n_vfs > 0))
                return -EINVAL;
        for (size_t i = 0; i < n_vfs; i++)
                if (vfs[i].index >= INT32_MAX)
                        return -EINVAL;

        r = setlink_alloc(pf_ifindex, alloc, &m);
        if (r < 0)
                return r;

        list = nla_nest_start(m, IFLA_VFINFO_LIST);
        if (!list) {
                nlmsg_free(m);
                return -ENOMEM;
        }

        for (; consumed < n_vfs; consumed++) {
                const VfSettings *v = &vfs[consumed];
                size_t s = vf_request_size(v);

                if (s == 0)
                        continue; /* an empty IFLA_VF_INFO is -EINVAL in the kernel */
                if (used + s > NETLINK_SET_VFS_MSG_MAX && n_infos > 0)
                        break;
                r = vf_request_append(m, v);
                if (r < 0) {
                        nlmsg_free(m);
                        return r;
                }
                used += s;
                n_infos += r;
        }

        if (n_infos == 0) {
                nlmsg_free(m);
                return -ENODATA;
        }

        r = put_nest_end(m, list);
        if (r < 0) {
                nlmsg_free(m);
                return r;
        }

        if (ret_n_infos)
                *ret_n_infos = n_infos;
        *ret = m;
        return (int) consumed;
}

int netlink_build_set_vfs(int pf_ifindex, const VfSettings *vfs, size_t n_vfs, struct nl_msg **ret)
{
        return build_set_vfs(pf_ifindex, vfs, n_vfs, NULL, ret);
}

/* ---- requests ----------------------------------------------------------------------------- */

/* libnl's send/recv overrides get only the nl_sock, not a user pointer: the Netlink whose
 * transport is in use is set here for the duration of one read or send. */
static __thread Netlink *current_transport_netlink;
static __thread bool current_transport_monitor;

static int transport_send(struct nl_sock *sk, struct nl_msg *msg)
{
        Netlink *nl = current_transport_netlink;
        int r;

        if (!nl || !nl->has_transport || !nl->transport.send)
                return -NLE_BAD_SOCK;
        r = nl->transport.send(nl->transport_userdata, nlmsg_hdr(msg));
        if (r < 0) {
                nl->transport_error = r;
                return -NLE_FAILURE;
        }
        return (int) nlmsg_hdr(msg)->nlmsg_len;
}

static int transport_recv(struct nl_sock *sk, struct sockaddr_nl *nla, unsigned char **buf,
                          struct ucred **creds)
{
        Netlink *nl = current_transport_netlink;
        unsigned char *b = NULL;
        int r;

        *buf = NULL;
        if (!nl || !nl->has_transport)
                return -NLE_BAD_SOCK;
        if (current_transport_monitor)
                r = nl->transport.recv_event ? nl->transport.recv_event(nl->transport_userdata, &b) : 0;
        else
                r = nl->transport.recv ? nl->transport.recv(nl->transport_userdata, &b) : 0;
        if (r < 0) {
                free(b);
                nl->transport_error = r;
                /* the one the monitor turns into a resync, as nl_recv() does for ENOBUFS */
                return r == -ENOBUFS ? -NLE_NOMEM : -NLE_FAILURE;
        }
        if (r == 0) {
                free(b);
                return 0;
        }
        nla->nl_family = AF_NETLINK;
        nla->nl_pid = 0; /* the kernel */
        *buf = b;
        return r;
}

static int netlink_sock_new(struct nl_sock **ret)
{
        struct nl_sock *sk;

        sk = nl_socket_alloc();
        if (!sk)
                return -ENOMEM;
        *ret = sk;
        return 0;
}

int netlink_new(Netlink **ret)
{
        Netlink *nl;

        if (!ret)
                return -EINVAL;
        /* The sockets are opened by netlink_attach_event() and netlink_monitor_start(). */
        nl = calloc(1, sizeof(Netlink));
        if (!nl)
                return -ENOMEM;
        *ret = nl;
        return 0;
}

int netlink_new_with_transport(const NetlinkTransport *t, void *userdata, Netlink **ret)
{
        Netlink *nl;

        if (!t || !t->send || !t->recv || !ret)
                return -EINVAL;

        nl = calloc(1, sizeof(Netlink));
        if (!nl)
                return -ENOMEM;
        nl->has_transport = true;
        nl->transport = *t;
        nl->transport_userdata = userdata;
        *ret = nl;
        return 0;
}

Netlink *netlink_free(Netlink *nl)
{
        if (!nl)
                return NULL;
        async_free_all(nl);
        sd_event_source_disable_unref(nl->monitor_source);
        nl_cb_put(nl->monitor_cb);
        nl_socket_free(nl->monitor_sk);
        return mfree(nl);
}

const NetlinkStats *netlink_get_stats(const Netlink *nl)
{
        return nl ? &nl->stats : NULL;
}

/* ---- asynchronous requests ---------------------------------------------------------------- */

typedef enum AsyncKind {
        ASYNC_GET_LINK,
        ASYNC_SET_VFS,
        ASYNC_SET_MTU,
        ASYNC_SET_VF_ATTR, /* one attribute of one VF: the per-attribute fallback */
} AsyncKind;

struct AsyncRequest {
        AsyncRequest *next;
        AsyncKind kind;
        int ifindex;
        struct nl_msg *msg; /* the message to send next, or the one in flight */
        uint32_t seq;
        VfSettings *vfs; /* ASYNC_SET_VFS: the entries after msg's; ASYNC_SET_VF_ATTR: one */
        size_t n_vfs;
        VfAttr attr;
        size_t n_infos; /* ASYNC_SET_VFS: IFLA_VF_INFOs in msg */
        LinkInfo *link;
        int parse_error;
        netlink_reply_handler_t handler;
        void *userdata;
};

static AsyncRequest *async_request_free(AsyncRequest *req)
{
        if (!req)
                return NULL;
        nlmsg_free(req->msg);
        free(req->vfs);
        link_info_free(req->link);
        return mfree(req);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(AsyncRequest *, async_request_free);

static AsyncRequest *async_find(Netlink *nl, uint32_t seq)
{
        for (AsyncRequest *r = nl->async_in_flight; r; r = r->next)
                if (r->seq == seq)
                        return r;
        return NULL;
}

static void async_unlink(Netlink *nl, AsyncRequest *req)
{
        for (AsyncRequest **p = &nl->async_in_flight; *p; p = &(*p)->next)
                if (*p == req) {
                        *p = req->next;
                        req->next = NULL;
                        nl->async_n_in_flight--;
                        return;
                }
}

/* Sends req's message and moves it in flight. */
static int async_send(Netlink *nl, AsyncRequest *req)
{
        Netlink *saved_netlink = current_transport_netlink;
        bool saved_monitor = current_transport_monitor;
        int r;

        current_transport_netlink = nl;
        current_transport_monitor = false;
        nl->transport_error = 0;
        r = nl_send_auto(nl->async_sk, req->msg);
        current_transport_netlink = saved_netlink;
        current_transport_monitor = saved_monitor;
        if (r < 0)
                return log_debug_errno(nl->transport_error ?: netlink_errno_from_nle(r),
                                       "netlink: failed to send request: %m");
        nl->stats.requests++;
        req->seq = nlmsg_hdr(req->msg)->nlmsg_seq;
        req->next = nl->async_in_flight;
        nl->async_in_flight = req;
        nl->async_n_in_flight++;
        nl->stats.async_in_flight_max = MAX(nl->stats.async_in_flight_max, (uint64_t) nl->async_n_in_flight);
        return 0;
}

static void async_call(Netlink *nl, AsyncRequest *req, int error)
{
        LinkInfo *link = TAKE_PTR(req->link);

        nl->async_current = req;
        req->handler(nl, error, link, req->userdata);
        nl->async_current = NULL;
        async_request_free(req);
}

/* Sends what waits while there is room. A request that cannot be sent is answered with the
 * error, from the loop's dispatch (never from inside the *_async() call that queued it). */
static void async_flush(Netlink *nl)
{
        while (nl->async_queue && nl->async_n_in_flight < NETLINK_MAX_IN_FLIGHT) {
                AsyncRequest *req = nl->async_queue;
                int r;

                nl->async_queue = req->next;
                if (!nl->async_queue)
                        nl->async_queue_tail = NULL;
                req->next = NULL;
                if (!req->msg) {
                        async_call(nl, req, 0); /* an empty batch */
                        continue;
                }
                r = async_send(nl, req);
                if (r < 0)
                        async_call(nl, req, r);
        }
}

/* The batch's next message, if any: 1 if one is ready in req->msg, 0 if the batch is done. */
static int async_set_vfs_next(AsyncRequest *req)
{
        struct nl_msg *m = NULL;
        size_t n_infos = 0;
        int r;

        nlmsg_free(TAKE_PTR(req->msg));
        if (req->n_vfs == 0)
                return 0;
        r = build_set_vfs(req->ifindex, req->vfs, req->n_vfs, &n_infos, &m);
        if (r == -ENODATA)
                return 0;
        if (r < 0)
                return r;
        memmove(req->vfs, req->vfs + r, (req->n_vfs - (size_t) r) * sizeof(VfSettings));
        req->n_vfs -= (size_t) r;
        req->msg = m;
        req->n_infos = n_infos;
        return 1;
}

static void async_complete(Netlink *nl, AsyncRequest *req, int error)
{
        async_unlink(nl, req);

        if (error == 0 && req->kind == ASYNC_SET_VFS) {
                int r = async_set_vfs_next(req);

                if (r > 0) {
                        nl->stats.set_vf_requests++;
                        nl->stats.vf_infos_sent += req->n_infos;
                        /* Its turn is kept: the batch's messages go out back to back. */
                        r = async_send(nl, req);
                        if (r == 0)
                                return;
                }
                error = r;
        }
        if (error == 0 && req->parse_error < 0)
                error = req->parse_error;
        if (error == 0 && req->kind == ASYNC_GET_LINK && !req->link)
                error = -ENODATA;
        if (error < 0)
                log_debug_errno(error, "netlink: asynchronous request failed: %m");
        async_call(nl, req, error);
}

static int async_seq_check(struct nl_msg *msg, void *userdata)
{
        Netlink *nl = userdata;

        /* Replies nobody waits for (their request was dropped) are skipped. */
        return async_find(nl, nlmsg_hdr(msg)->nlmsg_seq) ? NL_OK : NL_SKIP;
}

static int async_valid(struct nl_msg *msg, void *userdata)
{
        Netlink *nl = userdata;
        struct nlmsghdr *hdr = nlmsg_hdr(msg);
        AsyncRequest *req = async_find(nl, hdr->nlmsg_seq);
        LinkInfo *info = NULL;
        int r;

        if (!req || hdr->nlmsg_type != RTM_NEWLINK)
                return NL_OK;
        r = netlink_parse_link_message(hdr, hdr->nlmsg_len, &info);
        if (r < 0) {
                req->parse_error = r;
                return NL_OK;
        }
        link_info_free(req->link);
        req->link = info;
        return NL_OK;
}

static int async_ack(struct nl_msg *msg, void *userdata)
{
        Netlink *nl = userdata;
        AsyncRequest *req = async_find(nl, nlmsg_hdr(msg)->nlmsg_seq);

        if (req)
                async_complete(nl, req, 0);
        return NL_OK;
}

static int async_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *userdata)
{
        Netlink *nl = userdata;
        AsyncRequest *req = async_find(nl, e->msg.nlmsg_seq);

        if (req)
                async_complete(nl, req, e->error < 0 ? e->error : -EIO);
        return NL_SKIP;
}

/* Reads what is queued on one of our sockets and dispatches it through cb. Bounded, so that
 * one busy socket cannot starve the loop: epoll is level-triggered and brings us back. On the
 * monitor, an overflow (ENOBUFS: events were lost) is handed on as a resync. */
static void read_socket(Netlink *nl, struct nl_sock *sk, struct nl_cb *cb, bool monitor, unsigned max)
{
        for (unsigned i = 0; i < max; i++) {
                int r;

                current_transport_netlink = nl;
                current_transport_monitor = monitor;
                nl->transport_error = 0;
                r = nl_recvmsgs_report(sk, cb);
                current_transport_netlink = NULL;
                current_transport_monitor = false;
                if (r == -NLE_NOMEM && monitor) {
                        log_debug("netlink: link events were dropped, requesting a resync");
                        nl->monitor_handler(nl, NULL, false, nl->monitor_userdata);
                        continue;
                }
                if (r == 0 || r == -NLE_AGAIN)
                        break;
                if (r < 0) {
                        log_debug_errno(nl->transport_error ?: netlink_errno_from_nle(r),
                                        "netlink: failed to read %s, ignoring: %m",
                                        monitor ? "link events" : "replies");
                        break;
                }
        }
}

static int async_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Netlink *nl = userdata;

        /* Read even with nothing in flight, so that a stray reply cannot keep the fd readable
         * for ever. */
        read_socket(nl, nl->async_sk, nl->async_cb, false, 64);
        async_flush(nl);
        return 0;
}

static int async_defer(sd_event_source *s, void *userdata)
{
        async_flush(userdata);
        return 0;
}

/* Opens one of our two sockets, non-blocking: the request socket, or the monitor's
 * (RTNLGRP_LINK). With a transport, the fd the loop watches is the transport's. */
static int socket_open(Netlink *nl, bool monitor, struct nl_sock **ret_sk, int *ret_fd)
{
        struct nl_sock *sk = NULL;
        struct nl_cb *cb;
        int fd, r, one = 1;

        r = netlink_sock_new(&sk);
        if (r < 0)
                return r;
        if (nl->has_transport) {
                if (monitor ? !nl->transport.event_fd || !nl->transport.recv_event
                            : !nl->transport.reply_fd) {
                        r = -EOPNOTSUPP;
                        goto fail;
                }
                fd = monitor ? nl->transport.event_fd(nl->transport_userdata)
                             : nl->transport.reply_fd(nl->transport_userdata);
                if (fd < 0) {
                        r = fd;
                        goto fail;
                }
                cb = nl_socket_get_cb(sk);
                if (!monitor)
                        nl_cb_overwrite_send(cb, transport_send);
                nl_cb_overwrite_recv(cb, transport_recv);
                nl_cb_put(cb);
        } else {
                r = nl_connect(sk, NETLINK_ROUTE);
                if (r >= 0 && monitor)
                        r = nl_socket_add_membership(sk, RTNLGRP_LINK);
                if (r >= 0)
                        r = nl_socket_set_nonblocking(sk);
                if (r < 0) {
                        r = netlink_errno_from_nle(r);
                        goto fail;
                }
                /* Replies are read with MSG_PEEK first so a dump of hundreds of VFs is never
                 * cut at a fixed buffer size (the default since libnl 3.2.29). */
                nl_socket_enable_msg_peek(sk);
                (void) nl_socket_set_buffer_size(
                        sk, monitor ? NETLINK_MONITOR_RCVBUF : NETLINK_REQUEST_RCVBUF, 0);
                /* Errors need not echo back a 32 KiB request. */
                if (!monitor)
                        (void) setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one,
                                          sizeof(one));
                fd = nl_socket_get_fd(sk);
        }
        *ret_sk = sk;
        *ret_fd = fd;
        return 0;

fail:
        nl_socket_free(sk);
        return r;
}

int netlink_attach_event(Netlink *nl, sd_event *event)
{
        struct nl_sock *sk = NULL;
        struct nl_cb *cb;
        int fd, r;

        if (!nl || !event)
                return -EINVAL;
        if (nl->async_sk)
                return -EBUSY;

        r = socket_open(nl, false, &sk, &fd);
        if (r < 0)
                return log_debug_errno(r, "netlink: cannot attach requests to the event loop: %m");
        cb = nl_cb_alloc(NL_CB_DEFAULT);
        if (!cb) {
                r = -ENOMEM;
                goto fail;
        }
        if (nl->has_transport)
                nl_cb_overwrite_recv(cb, transport_recv);
        nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, async_seq_check, nl);
        nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, async_valid, nl);
        nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, async_ack, nl);
        nl_cb_err(cb, NL_CB_CUSTOM, async_error, nl);

        r = sd_event_add_io(event, &nl->async_source, fd, EPOLLIN, async_io, nl);
        if (r < 0) {
                nl_cb_put(cb);
                goto fail;
        }
        (void) sd_event_source_set_description(nl->async_source, "netlink-requests");
        r = sd_event_add_defer(event, &nl->async_defer, async_defer, nl);
        if (r < 0) {
                nl_cb_put(cb);
                nl->async_source = sd_event_source_disable_unref(nl->async_source);
                goto fail;
        }
        (void) sd_event_source_set_enabled(nl->async_defer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(nl->async_defer, "netlink-queue");

        nl->async_sk = sk;
        nl->async_cb = cb;
        return 0;

fail:
        nl_socket_free(sk);
        return log_debug_errno(r, "netlink: cannot attach requests to the event loop: %m");
}

static int async_enqueue(Netlink *nl, AsyncRequest *req)
{
        /* Nothing waits before it and there is room: on its way now, not one loop iteration
         * later (a chain of steps, read → batch → re-read, paid one iteration per step). A
         * request that cannot be sent now is queued: its error reaches the handler from the
         * loop, as any other. */
        if (!nl->async_queue && req->msg && nl->async_n_in_flight < NETLINK_MAX_IN_FLIGHT &&
            async_send(nl, req) >= 0) {
                nl->stats.async_requests++;
                return 0;
        }
        if (nl->async_queue_tail)
                nl->async_queue_tail->next = req;
        else
                nl->async_queue = req;
        nl->async_queue_tail = req;
        nl->stats.async_requests++;
        /* Sent from the loop, so that a send error reaches the handler, never the caller. */
        return sd_event_source_set_enabled(nl->async_defer, SD_EVENT_ONESHOT);
}

static int async_new(Netlink *nl, AsyncKind kind, int ifindex, netlink_reply_handler_t handler,
                     void *userdata, AsyncRequest **ret)
{
        AsyncRequest *req;

        if (!nl || ifindex <= 0 || !handler || !ret)
                return -EINVAL;
        if (!nl->async_sk)
                return -ENOTCONN;
        req = calloc(1, sizeof(AsyncRequest));
        if (!req)
                return -ENOMEM;
        req->kind = kind;
        req->ifindex = ifindex;
        req->handler = handler;
        req->userdata = userdata;
        *ret = req;
        return 0;
}

int netlink_get_link_async(Netlink *nl, int ifindex, netlink_reply_handler_t handler, void *userdata)
{
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
        _cleanup_(async_request_freep) AsyncRequest *req = NULL;
        int r;

        r = async_new(nl, ASYNC_GET_LINK, ifindex, handler, userdata, &req);
        if (r < 0)
                return r;
        req->msg = nlmsg_alloc_simple(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
        if (!req->msg)
                return -ENOMEM;
        if (nlmsg_append(req->msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
            nla_put_u32(req->msg, IFLA_EXT_MASK, RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS) < 0)
                return -ENOMEM;
        nl->stats.get_requests++;
        return async_enqueue(nl, TAKE_PTR(req));
}

int netlink_set_vfs_async(Netlink *nl, int pf_ifindex, const VfSettings *vfs, size_t n_vfs,
                          netlink_reply_handler_t handler, void *userdata)
{
        _cleanup_(async_request_freep) AsyncRequest *req = NULL;
        int r;

        r = async_new(nl, ASYNC_SET_VFS, pf_ifindex, handler, userdata, &req);
        if (r < 0)
                return r;
        if (n_vfs > 0) {
                req->vfs = malloc(n_vfs * sizeof(VfSettings));
                if (!req->vfs)
                        return -ENOMEM;
                memcpy(req->vfs, vfs, n_vfs * sizeof(VfSettings));
                req->n_vfs = n_vfs;
        }
        r = async_set_vfs_next(req);
        if (r < 0)
                return r;
        if (r == 0)
                ; /* Nothing to set: nothing is sent, the answer (0) comes from the loop. */
        else {
                nl->stats.set_vf_requests++;
                nl->stats.vf_infos_sent += req->n_infos;
        }
        return async_enqueue(nl, TAKE_PTR(req));
}

int netlink_set_vfs_each_async(Netlink *nl, int pf_ifindex, const VfSettings *vfs, size_t n_vfs,
                               netlink_reply_handler_t handler, void *userdata)
{
        size_t queued = 0;
        int r;

        if (!nl || (n_vfs > 0 && !vfs))
                return -EINVAL;
        for (size_t i = 0; i < n_vfs; i++)
                for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                        _cleanup_(async_request_freep) AsyncRequest *req = NULL;
                        VfSettings one;

                        if (!(vfs[i].mask & VF_ATTR_BIT(a)))
                                continue;
                        one = vfs[i];
                        one.mask = VF_ATTR_BIT(a);
                        r = async_new(nl, ASYNC_SET_VF_ATTR, pf_ifindex, handler, userdata, &req);
                        if (r < 0)
                                return r;
                        req->vfs = malloc(sizeof(VfSettings));
                        if (!req->vfs)
                                return -ENOMEM;
                        *req->vfs = one;
                        req->n_vfs = 1;
                        req->attr = a;
                        r = build_set_vfs(pf_ifindex, req->vfs, 1, &(size_t){0}, &req->msg);
                        if (r < 0)
                                return r;
                        nl->stats.set_vf_requests++;
                        nl->stats.vf_infos_sent++;
                        r = async_enqueue(nl, TAKE_PTR(req));
                        if (r < 0)
                                return r;
                        queued++;
                }
        return (int) MIN(queued, (size_t) INT_MAX);
}

int netlink_set_mtu_async(Netlink *nl, int ifindex, uint32_t mtu, netlink_reply_handler_t handler,
                          void *userdata)
{
        _cleanup_(async_request_freep) AsyncRequest *req = NULL;
        int r;

        r = async_new(nl, ASYNC_SET_MTU, ifindex, handler, userdata, &req);
        if (r < 0)
                return r;
        r = setlink_alloc(ifindex, 256, &req->msg);
        if (r < 0)
                return r;
        if (nla_put_u32(req->msg, IFLA_MTU, mtu) < 0)
                return -ENOMEM;
        return async_enqueue(nl, TAKE_PTR(req));
}

bool netlink_async_current(const Netlink *nl, uint32_t *ret_vf, VfAttr *ret_attr)
{
        if (!nl || !nl->async_current || nl->async_current->kind != ASYNC_SET_VF_ATTR)
                return false;
        if (ret_vf)
                *ret_vf = nl->async_current->vfs[0].index;
        if (ret_attr)
                *ret_attr = nl->async_current->attr;
        return true;
}

size_t netlink_async_pending(const Netlink *nl)
{
        size_t n = 0;

        if (!nl)
                return 0;
        for (AsyncRequest *r = nl->async_queue; r; r = r->next)
                n++;
        return n + nl->async_n_in_flight;
}

static void async_free_all(Netlink *nl)
{
        AsyncRequest *r;

        while ((r = nl->async_queue)) {
                nl->async_queue = r->next;
                async_request_free(r);
        }
        while ((r = nl->async_in_flight)) {
                nl->async_in_flight = r->next;
                async_request_free(r);
        }
        nl->async_queue_tail = NULL;
        nl->async_n_in_flight = 0;
        nl->async_defer = sd_event_source_disable_unref(nl->async_defer);
        nl->async_source = sd_event_source_disable_unref(nl->async_source);
        nl_cb_put(nl->async_cb);
        nl->async_cb = NULL;
        nl_socket_free(nl->async_sk);
        nl->async_sk = NULL;
}

/* ---- monitor ------------------------------------------------------------------------------ */

static int monitor_valid(struct nl_msg *msg, void *userdata)
{
        Netlink *nl = userdata;
        struct nlmsghdr *hdr = nlmsg_hdr(msg);
        _cleanup_(link_info_freep) LinkInfo *info = NULL;
        int r;

        if (hdr->nlmsg_type != RTM_NEWLINK && hdr->nlmsg_type != RTM_DELLINK)
                return NL_OK;
        r = netlink_parse_link_message(hdr, hdr->nlmsg_len, &info);
        if (r < 0) {
                log_debug_errno(r, "netlink: ignoring malformed link event: %m");
                return NL_OK;
        }
        nl->monitor_handler(nl, info, hdr->nlmsg_type == RTM_DELLINK, nl->monitor_userdata);
        return NL_OK;
}

static int monitor_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Netlink *nl = userdata;

        read_socket(nl, nl->monitor_sk, nl->monitor_cb, true, 64);
        return 0;
}

void netlink_monitor_drain(Netlink *nl)
{
        if (nl && nl->monitor_sk)
                read_socket(nl, nl->monitor_sk, nl->monitor_cb, true, NETLINK_MONITOR_DRAIN_MAX);
}

int netlink_monitor_start(Netlink *nl, sd_event *event, netlink_link_handler_t handler, void *userdata)
{
        struct nl_sock *sk = NULL;
        struct nl_cb *cb = NULL;
        int fd, r;

        if (!nl || !event || !handler)
                return -EINVAL;
        if (nl->monitor_sk)
                return -EBUSY;

        r = socket_open(nl, true, &sk, &fd);
        if (r < 0)
                return log_debug_errno(r, "netlink: cannot start link monitor: %m");
        /* Events are not replies to requests: no sequence numbers to check. */
        nl_socket_disable_seq_check(sk);

        cb = nl_socket_get_cb(sk);
        r = nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, monitor_valid, nl);
        if (r < 0) {
                nl_cb_put(cb);
                r = netlink_errno_from_nle(r);
                goto fail;
        }

        r = sd_event_add_io(event, &nl->monitor_source, fd, EPOLLIN, monitor_io, nl);
        if (r < 0) {
                nl_cb_put(cb);
                goto fail;
        }
        (void) sd_event_source_set_description(nl->monitor_source, "netlink-monitor");

        nl->monitor_sk = sk;
        nl->monitor_cb = cb;
        nl->monitor_handler = handler;
        nl->monitor_userdata = userdata;
        return 0;

fail:
        nl_socket_free(sk);
        return log_debug_errno(r, "netlink: cannot start link monitor: %m");
}
