/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <time.h>

#include "netlink-wait.h"

#define WAIT_USEC (5ULL * 1000000ULL)

typedef struct Answer {
        bool done;
        int error;
        LinkInfo *link;
} Answer;

static void on_answer(Netlink *nl, int error, LinkInfo *link, void *userdata)
{
        Answer *a = userdata;

        a->done = true;
        a->error = error;
        a->link = link;
}

static int attach(Netlink *nl, sd_event **ret)
{
        int r;

        r = sd_event_default(ret);
        if (r < 0)
                return r;
        r = netlink_attach_event(nl, *ret);
        if (r < 0 && r != -EBUSY) {
                *ret = sd_event_unref(*ret);
                return r;
        }
        return 0;
}

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

typedef enum Kind {
        GET_LINK,
        SET_VFS,
        SET_MTU
} Kind;

/* Queues one request and runs the default loop until it is answered or the deadline passes. */
static int call(Netlink *nl, Kind kind, int ifindex, const VfSettings *vfs, size_t n_vfs, uint32_t mtu,
                LinkInfo **ret_link)
{
        uint64_t deadline = now_usec() + WAIT_USEC;
        Answer a = {};
        sd_event *e;
        int r;

        r = attach(nl, &e);
        if (r < 0)
                return r;
        r = kind == GET_LINK  ? netlink_get_link_async(nl, ifindex, on_answer, &a)
            : kind == SET_VFS ? netlink_set_vfs_async(nl, ifindex, vfs, n_vfs, on_answer, &a)
                              : netlink_set_mtu_async(nl, ifindex, mtu, on_answer, &a);
        while (r >= 0 && !a.done) {
                uint64_t now = now_usec();

                if (now >= deadline) {
                        r = -ETIMEDOUT;
                        break;
                }
                r = sd_event_run(e, deadline - now);
        }
        sd_event_unref(e);
        if (r >= 0)
                r = a.error;
        if (r < 0 || !ret_link) {
                link_info_free(a.link);
                return r;
        }
        *ret_link = a.link;
        return 0;
}

int netlink_wait_get_link(Netlink *nl, int ifindex, LinkInfo **ret)
{
        return call(nl, GET_LINK, ifindex, NULL, 0, 0, ret);
}

int netlink_wait_set_vfs(Netlink *nl, int pf_ifindex, const VfSettings *vfs, size_t n_vfs)
{
        return call(nl, SET_VFS, pf_ifindex, vfs, n_vfs, 0, NULL);
}

int netlink_wait_set_mtu(Netlink *nl, int ifindex, uint32_t mtu)
{
        return call(nl, SET_MTU, ifindex, NULL, 0, mtu, NULL);
}
