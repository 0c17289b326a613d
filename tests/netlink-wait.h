/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Tests: the adapter's asynchronous requests, each waited for on the thread's default event
 * loop (attached on first use) until its handler ran, deadline 5 s. The daemon has no blocking
 * requests; tests of what one request does read better this way. Each returns the handler's
 * -errno, or -ETIMEDOUT if no answer came. */

#include "netlink.h"

int netlink_wait_get_link(Netlink *nl, int ifindex, LinkInfo **ret);
int netlink_wait_set_vfs(Netlink *nl, int pf_ifindex, const VfSettings *vfs, size_t n_vfs);
int netlink_wait_set_mtu(Netlink *nl, int ifindex, uint32_t mtu);
