/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel's own cost of a VF layout, and the finish line of bench/vm-compare.sh.
 *
 *   vf-floor apply --pf IFNAME [--pf IFNAME...] --vfs N [--vlan V] [--rate MBIT] [--keep]
 *   vf-floor wait  --pf IFNAME [--pf IFNAME...] --vfs N [--vlan V] [--rate MBIT|--no-rate]
 *                  [--timeout S]
 *
 * The layout is the bench's: VF i of the k-th --pf gets MAC 02:5b:00:k:i>>8:i&0xff, VLAN V,
 * spoofchk off, trust on, max_tx_rate MBIT.
 *
 * apply: the least a program can do to get there. Per PF: `sriov_numvfs` (through 0 if it
 * holds another count), then ONE RTM_SETLINK carrying every VF's IFLA_VF_INFO, and the ACK.
 * No checks, no daemon; the only read is the PF's carrier, which a VF rate needs on igb
 * (see wait_carrier()). Prints the time of each step. With --keep it then re-sends a PF's
 * batch whenever its table drifts, until the layout holds (see keep_layout()).
 *
 * wait: subscribes to RTNLGRP_LINK, then reads every PF's VF table (RTM_GETLINK with
 * RTEXT_FILTER_VF|RTEXT_FILTER_SKIP_STATS: the whole list, which `ip -d link` truncates
 * beyond a few dozen VFs) and compares it with the layout; re-reads after each link
 * notification (the kernel sends one per RTM_SETLINK that touched a VF) until everything
 * matches or the deadline passes. Prints "ready" once subscribed, then
 * "match REALTIME_US CHECKS" (CLOCK_REALTIME in µs, comparable with bash's $EPOCHREALTIME),
 * or "timeout: <first difference>" and exits 2. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PFS 16
#ifndef IFF_LOWER_UP /* <linux/if.h>, which clashes with <net/if.h> */
#define IFF_LOWER_UP 0x10000
#endif

typedef struct Pf {
        const char *name;
        int ifindex;
        unsigned index; /* k in the MAC */
        /* filled by a check */
        char diff[160];
} Pf;

static Pf pfs[MAX_PFS];
static unsigned n_pfs;
static unsigned arg_vfs;
static unsigned arg_vlan = 42;
static unsigned arg_rate = 1000;
static bool arg_check_rate = true;
static double arg_timeout = 60;
static bool arg_keep;

static uint64_t now_usec(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static void layout_mac(const Pf *pf, unsigned vf, uint8_t mac[6])
{
        mac[0] = 0x02;
        mac[1] = 0x5b;
        mac[2] = 0x00;
        mac[3] = (uint8_t) pf->index;
        mac[4] = (uint8_t) (vf >> 8);
        mac[5] = (uint8_t) vf;
}

static int write_numvfs(const Pf *pf, unsigned n)
{
        char path[256], buf[32];
        FILE *f;
        int r = 0;

        snprintf(path, sizeof(path), "/sys/class/net/%s/device/sriov_numvfs", pf->name);
        f = fopen(path, "we");
        if (!f)
                return -errno;
        snprintf(buf, sizeof(buf), "%u\n", n);
        if (fputs(buf, f) < 0 || fflush(f) != 0)
                r = -errno;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        return r;
}

static int read_numvfs(const Pf *pf, unsigned *ret)
{
        char path[256];
        FILE *f;
        int r;

        snprintf(path, sizeof(path), "/sys/class/net/%s/device/sriov_numvfs", pf->name);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        r = fscanf(f, "%u", ret) == 1 ? 0 : -EIO;
        fclose(f);
        return r;
}

/* One RTM_SETLINK with all VFs of PF. Returns a libnl error code. */
static int setlink_all(struct nl_sock *sk, const Pf *pf)
{
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = pf->ifindex};
        struct nl_msg *m;
        struct nlattr *list;
        int r;

        /* ~100 bytes per VF: size the message for it (libnl's default is a page). */
        m = nlmsg_alloc_size(4096 + 128 * (size_t) arg_vfs);
        if (!m)
                return -NLE_NOMEM;
        if (!nlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, RTM_SETLINK, 0, NLM_F_REQUEST | NLM_F_ACK))
                goto oom;
        if (nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0)
                goto oom;
        list = nla_nest_start(m, IFLA_VFINFO_LIST);
        if (!list)
                goto oom;
        for (unsigned i = 0; i < arg_vfs; i++) {
                struct ifla_vf_mac mac = {.vf = i};
                struct ifla_vf_vlan vlan = {.vf = i, .vlan = arg_vlan};
                struct ifla_vf_spoofchk spoof = {.vf = i, .setting = 0};
                struct ifla_vf_trust trust = {.vf = i, .setting = 1};
                struct ifla_vf_rate rate = {.vf = i, .max_tx_rate = arg_rate};
                struct nlattr *info = nla_nest_start(m, IFLA_VF_INFO);

                layout_mac(pf, i, mac.mac);
                if (!info || nla_put(m, IFLA_VF_MAC, sizeof(mac), &mac) < 0 ||
                    nla_put(m, IFLA_VF_VLAN, sizeof(vlan), &vlan) < 0 ||
                    nla_put(m, IFLA_VF_SPOOFCHK, sizeof(spoof), &spoof) < 0 ||
                    nla_put(m, IFLA_VF_TRUST, sizeof(trust), &trust) < 0 ||
                    nla_put(m, IFLA_VF_RATE, sizeof(rate), &rate) < 0)
                        goto oom;
                nla_nest_end(m, info);
        }
        nla_nest_end(m, list);

        r = nl_send_auto(sk, m);
        nlmsg_free(m);
        if (r < 0)
                return r;
        r = nl_wait_for_ack(sk);
        return r < 0 ? r : 0;
oom:
        nlmsg_free(m);
        return -NLE_NOMEM;
}

static int on_flags(struct nl_msg *m, void *userdata)
{
        struct nlmsghdr *h = nlmsg_hdr(m);

        if (h->nlmsg_type == RTM_NEWLINK)
                *(unsigned *) userdata = ((struct ifinfomsg *) nlmsg_data(h))->ifi_flags;
        return NL_OK;
}

/* The PF's IFF_* flags. Returns a libnl error code. */
static int link_flags(struct nl_sock *sk, const Pf *pf, unsigned *ret)
{
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = pf->ifindex};
        int r;

        nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_flags, ret);
        r = nl_send_simple(sk, RTM_GETLINK, 0, &ifi, sizeof(ifi));
        if (r >= 0)
                r = nl_recvmsgs_default(sk);
        if (r >= 0)
                r = nl_wait_for_ack(sk);
        return r < 0 ? r : 0;
}

/* A socket subscribed to link notifications, for waiting on the kernel. */
static struct nl_sock *open_monitor(void)
{
        struct nl_sock *mon = nl_socket_alloc();

        if (!mon || nl_connect(mon, NETLINK_ROUTE) < 0 || nl_socket_add_membership(mon, RTNLGRP_LINK) < 0) {
                nl_socket_free(mon);
                return NULL;
        }
        /* Notifications carry no VF table: they only say "read again"; libnl's default
         * callbacks drop their content. An `ip link` loop sends one per VF: room for all. */
        nl_socket_disable_seq_check(mon);
        nl_socket_set_nonblocking(mon);
        nl_socket_set_buffer_size(mon, 4 << 20, 0);
        return mon;
}

/* Waits until a link notification is queued or the deadline passes, then drains the queue
 * (an overrun, ENOBUFS, also just means "read again"). Returns 0 or a libnl error code. */
static int wait_link_event(struct nl_sock *mon, uint64_t deadline)
{
        struct pollfd p = {.fd = nl_socket_get_fd(mon), .events = POLLIN};
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        int r;

        if (now >= deadline)
                return 0;
        if (poll(&p, 1, (int) ((deadline - now + 999) / 1000)) < 0 && errno != EINTR)
                return -NLE_FAILURE;
        do
                r = nl_recvmsgs_default(mon);
        while (r >= 0 || r == -NLE_NOMEM);
        return r == -NLE_AGAIN ? 0 : r;
}

/* igb re-initialises the PF when VFs are enabled: its link drops inside the sriov_numvfs
 * write and comes back a moment later, and igb refuses a VF rate while the link is down.
 * Wait for the carrier of a PF that is up, as any program setting a rate must. */
static int wait_carrier(struct nl_sock *sk, struct nl_sock *mon, const Pf *pf)
{
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 30 * 1000000ULL;

        for (;;) {
                unsigned flags = 0;
                int r = link_flags(sk, pf, &flags);

                if (r < 0)
                        return r;
                if (!(flags & IFF_UP) || (flags & IFF_LOWER_UP))
                        return 0;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return -NLE_BUSY;
                r = wait_link_event(mon, deadline);
                if (r < 0)
                        return r;
        }
}

/* --- wait ----------------------------------------------------------------------------- */

static Pf *pf_by_ifindex(int ifindex)
{
        for (unsigned k = 0; k < n_pfs; k++)
                if (pfs[k].ifindex == ifindex)
                        return &pfs[k];
        return NULL;
}

/* Compares one IFLA_VF_INFO with the layout; returns false and fills pf->diff on a mismatch. */
static bool vf_matches(Pf *pf, struct nlattr *info)
{
        struct nlattr *tb[IFLA_VF_MAX + 1];
        const struct ifla_vf_mac *mac;
        const struct ifla_vf_vlan *vlan;
        const struct ifla_vf_spoofchk *spoof;
        const struct ifla_vf_trust *trust;
        const struct ifla_vf_rate *rate;
        uint8_t want[6];

        if (nla_parse_nested(tb, IFLA_VF_MAX, info, NULL) < 0 || !tb[IFLA_VF_MAC] || !tb[IFLA_VF_VLAN]) {
                snprintf(pf->diff, sizeof(pf->diff), "unparsable IFLA_VF_INFO");
                return false;
        }
        mac = nla_data(tb[IFLA_VF_MAC]);
        vlan = nla_data(tb[IFLA_VF_VLAN]);
        if (mac->vf >= arg_vfs) {
                snprintf(pf->diff, sizeof(pf->diff), "VF %u beyond %u", mac->vf, arg_vfs);
                return false;
        }
        layout_mac(pf, mac->vf, want);
        if (memcmp(mac->mac, want, 6) != 0) {
                snprintf(pf->diff, sizeof(pf->diff), "VF %u mac %02x:%02x:%02x:%02x:%02x:%02x", mac->vf,
                         mac->mac[0], mac->mac[1], mac->mac[2], mac->mac[3], mac->mac[4], mac->mac[5]);
                return false;
        }
        if (vlan->vlan != arg_vlan) {
                snprintf(pf->diff, sizeof(pf->diff), "VF %u vlan %u", mac->vf, vlan->vlan);
                return false;
        }
        spoof = tb[IFLA_VF_SPOOFCHK] ? nla_data(tb[IFLA_VF_SPOOFCHK]) : NULL;
        if (spoof && spoof->setting != 0) {
                snprintf(pf->diff, sizeof(pf->diff), "VF %u spoofchk on", mac->vf);
                return false;
        }
        trust = tb[IFLA_VF_TRUST] ? nla_data(tb[IFLA_VF_TRUST]) : NULL;
        if (trust && trust->setting != 1) {
                snprintf(pf->diff, sizeof(pf->diff), "VF %u trust off", mac->vf);
                return false;
        }
        rate = tb[IFLA_VF_RATE] ? nla_data(tb[IFLA_VF_RATE]) : NULL;
        if (arg_check_rate && (!rate || rate->max_tx_rate != arg_rate)) {
                snprintf(pf->diff, sizeof(pf->diff), "VF %u max_tx_rate %u", mac->vf,
                         rate ? rate->max_tx_rate : 0);
                return false;
        }
        return true;
}

static int on_link(struct nl_msg *m, void *userdata)
{
        struct nlmsghdr *h = nlmsg_hdr(m);
        struct ifinfomsg *ifi = nlmsg_data(h);
        struct nlattr *tb[IFLA_MAX + 1], *info;
        unsigned *n_ok = userdata, n = 0;
        Pf *pf;
        int rem;

        if (h->nlmsg_type != RTM_NEWLINK || !(pf = pf_by_ifindex(ifi->ifi_index)))
                return NL_OK;
        if (nlmsg_parse(h, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0) {
                snprintf(pf->diff, sizeof(pf->diff), "unparsable RTM_NEWLINK");
                return NL_OK;
        }
        if (!tb[IFLA_VFINFO_LIST]) {
                snprintf(pf->diff, sizeof(pf->diff), "no VFs");
                return NL_OK;
        }
        nla_for_each_nested(info, tb[IFLA_VFINFO_LIST], rem)
        {
                if (!vf_matches(pf, info))
                        return NL_OK;
                n++;
        }
        if (n != arg_vfs) {
                snprintf(pf->diff, sizeof(pf->diff), "%u VFs", n);
                return NL_OK;
        }
        pf->diff[0] = '\0';
        (*n_ok)++;
        return NL_OK;
}

/* Reads every PF and counts those that match the layout. Returns a libnl error code. */
static int check_all(struct nl_sock *sk, unsigned *ret_ok)
{
        *ret_ok = 0;
        nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_link, ret_ok);
        for (unsigned k = 0; k < n_pfs; k++) {
                struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = pfs[k].ifindex};
                struct nl_msg *m = nlmsg_alloc_simple(RTM_GETLINK, NLM_F_REQUEST);
                int r;

                snprintf(pfs[k].diff, sizeof(pfs[k].diff), "no answer");
                if (!m || nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
                    nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS) < 0) {
                        nlmsg_free(m);
                        return -NLE_NOMEM;
                }
                r = nl_send_auto(sk, m);
                nlmsg_free(m);
                if (r < 0)
                        return r;
                r = nl_recvmsgs_default(sk);
                if (r >= 0) /* libnl asked for an ACK too: take it, or the next read gets it */
                        r = nl_wait_for_ack(sk);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* --keep: what it takes on igb. A trusted VF may set its own MAC, and igbvf does when the
 * PF's link comes back after VFs are enabled (a reset through the mailbox): the batch
 * lands, then VF 0's MAC is the driver's again. Re-send the batch of a PF whose table
 * differs after a link notification, until everything holds (or 60 s). */
static int keep_layout(struct nl_sock *sk, struct nl_sock *mon)
{
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 60 * 1000000ULL;
        unsigned resent = 0, ok = 0;
        int r;

        nl_socket_enable_msg_peek(sk);
        for (;;) {
                r = check_all(sk, &ok);
                if (r < 0) {
                        fprintf(stderr, "vf-floor: RTM_GETLINK: %s\n", nl_geterror(r));
                        return 1;
                }
                if (ok == n_pfs)
                        break;
                for (unsigned k = 0; k < n_pfs; k++) {
                        if (!pfs[k].diff[0])
                                continue;
                        r = setlink_all(sk, &pfs[k]);
                        if (r < 0) {
                                fprintf(stderr, "vf-floor: %s: RTM_SETLINK of %u VFs: %s\n", pfs[k].name,
                                        arg_vfs, nl_geterror(r));
                                return 1;
                        }
                        resent++;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        fprintf(stderr, "vf-floor: the layout did not hold after %u batches\n", resent);
                        return 1;
                }
                r = wait_link_event(mon, deadline);
                if (r < 0) {
                        fprintf(stderr, "vf-floor: link notifications: %s\n", nl_geterror(r));
                        return 1;
                }
        }
        printf("kept after %u more batch(es)\n", resent);
        nl_socket_free(mon);
        nl_socket_free(sk);
        return 0;
}

static int do_apply(void)
{
        struct nl_sock *sk = nl_socket_alloc(), *mon = open_monitor();
        int r;

        if (!sk || !mon || nl_connect(sk, NETLINK_ROUTE) < 0) {
                fprintf(stderr, "vf-floor: cannot open rtnetlink\n");
                return 1;
        }
        for (unsigned k = 0; k < n_pfs; k++) {
                Pf *pf = &pfs[k];
                uint64_t t0 = now_usec(CLOCK_MONOTONIC), t1, t2, t3;
                unsigned cur = 0;

                r = read_numvfs(pf, &cur);
                if (r >= 0 && cur != arg_vfs && cur != 0)
                        r = write_numvfs(pf, 0);
                if (r >= 0 && cur != arg_vfs)
                        r = write_numvfs(pf, arg_vfs);
                if (r < 0) {
                        fprintf(stderr, "vf-floor: %s: sriov_numvfs=%u: %s\n", pf->name, arg_vfs,
                                strerror(-r));
                        return 1;
                }
                t1 = now_usec(CLOCK_MONOTONIC);
                r = arg_rate > 0 ? wait_carrier(sk, mon, pf) : 0;
                if (r < 0) {
                        fprintf(stderr, "vf-floor: %s: waiting for the carrier: %s\n", pf->name,
                                nl_geterror(r));
                        return 1;
                }
                t2 = now_usec(CLOCK_MONOTONIC);
                r = setlink_all(sk, pf);
                if (r < 0) {
                        fprintf(stderr, "vf-floor: %s: RTM_SETLINK of %u VFs: %s\n", pf->name, arg_vfs,
                                nl_geterror(r));
                        return 1;
                }
                t3 = now_usec(CLOCK_MONOTONIC);
                printf("%s numvfs_us %" PRIu64 " carrier_us %" PRIu64 " setlink_us %" PRIu64 "\n", pf->name,
                       t1 - t0, t2 - t1, t3 - t2);
        }
        if (arg_keep)
                return keep_layout(sk, mon);
        nl_socket_free(mon);
        nl_socket_free(sk);
        return 0;
}

static int do_wait(void)
{
        struct nl_sock *sk = nl_socket_alloc(), *mon = open_monitor();
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t) (arg_timeout * 1e6);
        unsigned checks = 0, ok = 0;
        int r;

        if (!sk || !mon || nl_connect(sk, NETLINK_ROUTE) < 0) {
                fprintf(stderr, "vf-floor: cannot open rtnetlink\n");
                return 1;
        }
        nl_socket_enable_msg_peek(sk);
        printf("ready\n");
        fflush(stdout);

        for (;;) {
                r = check_all(sk, &ok);
                checks++;
                if (r < 0) {
                        fprintf(stderr, "vf-floor: RTM_GETLINK: %s\n", nl_geterror(r));
                        return 1;
                }
                if (ok == n_pfs) {
                        printf("match %" PRIu64 " %u\n", now_usec(CLOCK_REALTIME), checks);
                        return 0;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        break;
                r = wait_link_event(mon, deadline);
                if (r < 0) {
                        fprintf(stderr, "vf-floor: link notifications: %s\n", nl_geterror(r));
                        return 1;
                }
        }
        for (unsigned k = 0; k < n_pfs; k++)
                if (pfs[k].diff[0])
                        printf("timeout: %s: %s\n", pfs[k].name, pfs[k].diff);
        return 2;
}

static _Noreturn void usage(int status)
{
        fputs("usage: vf-floor apply|wait --pf IFNAME [--pf IFNAME...] --vfs N [--vlan V]\n"
              "                [--rate MBIT] [--no-rate] [--keep] [--timeout S]\n",
              status ? stderr : stdout);
        exit(status);
}

int main(int argc, char *argv[])
{
        static const struct option opts[] = {
                {"pf", required_argument, NULL, 'p'},
                {"vfs", required_argument, NULL, 'n'},
                {"vlan", required_argument, NULL, 'v'},
                {"rate", required_argument, NULL, 'r'},
                {"no-rate", no_argument, NULL, 'R'},
                {"timeout", required_argument, NULL, 't'},
                {"keep", no_argument, NULL, 'k'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *verb;
        int c;

        if (argc < 2)
                usage(1);
        verb = argv[1];
        optind = 2;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
                switch (c) {
                case 'p':
                        if (n_pfs == MAX_PFS)
                                usage(1);
                        pfs[n_pfs].name = optarg;
                        pfs[n_pfs].index = n_pfs;
                        pfs[n_pfs].ifindex = (int) if_nametoindex(optarg);
                        if (pfs[n_pfs].ifindex == 0) {
                                fprintf(stderr, "vf-floor: no interface %s\n", optarg);
                                return 1;
                        }
                        n_pfs++;
                        break;
                case 'n':
                        arg_vfs = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'v':
                        arg_vlan = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'r':
                        arg_rate = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'R':
                        arg_check_rate = false;
                        break;
                case 't':
                        arg_timeout = strtod(optarg, NULL);
                        break;
                case 'k':
                        arg_keep = true;
                        break;
                case 'h':
                        usage(0);
                default:
                        usage(1);
                }
        }
        if (n_pfs == 0 || arg_vfs == 0 || arg_vlan > 4095)
                usage(1);
        if (strcmp(verb, "apply") == 0)
                return do_apply();
        if (strcmp(verb, "wait") == 0)
                return do_wait();
        usage(1);
}
