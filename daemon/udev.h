/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libudev.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* The libudev adapter: enumeration and the uevent monitor (pci, net, infiniband). Every
 * device path the daemon uses comes from here, so the same code runs on /sys and on a
 * umockdev testbed. */

typedef struct UdevWatch UdevWatch;

/* action is "add", "remove", "change", "bind", "unbind", "move"; device is NULL (and action
 * "resync") when the monitor overflowed and everything must be re-read. */
typedef void (*udev_event_handler_t)(void *userdata, const char *action, struct udev_device *device);

/* What a uevent from udevd names, read from the message without building a udev_device. */
typedef struct UdevEventHead {
        const char *action;
        const char *subsystem;
        const char *devpath; /* below /sys */
        uint64_t seqnum;
} UdevEventHead;

/* Whether a uevent would change nothing (the handler would return at once): such messages
 * are dropped from the socket unparsed. Only ever drops; what it keeps goes to libudev. */
typedef bool (*udev_event_skip_t)(void *userdata, const UdevEventHead *head);

int udev_watch_new(UdevWatch **ret);
UdevWatch *udev_watch_free(UdevWatch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(UdevWatch *, udev_watch_free);
int udev_watch_start_monitor(UdevWatch *w, sd_event *e, udev_event_handler_t handler, void *userdata);
struct udev *udev_watch_get_udev(UdevWatch *w);
/* Whether udevd's "net" uevents wake us (they do from the start): rtnetlink names a netdev's
 * device on Linux >= 5.15, and then only RDMA mapping needs them (manager.c). 1 if changed,
 * 0 if it already was so or no monitor runs; on an error the monitor passes every subsystem. */
int udev_watch_set_net(UdevWatch *w, bool net);
bool udev_watch_get_net(UdevWatch *w);
/* Asks skip (with the monitor's userdata) about each udevd message first. */
void udev_watch_set_skip(UdevWatch *w, udev_event_skip_t skip);
/* Also the kernel's own pci uevents ("kernel" netlink group), before udevd ran its rules and
 * named the netdevs; handler gets the userdata of udev_watch_start_monitor(), called first.
 * Only a head start: nothing is lost when these overflow, udevd's events follow. */
int udev_watch_start_kernel_monitor(UdevWatch *w, sd_event *e, udev_event_handler_t handler);
/* How many uevents the skip callback dropped (tests, benches). */
uint64_t udev_watch_get_skipped(UdevWatch *w);
/* Whether uevents wait unread in the monitor socket (tests: "is everything consumed?"). */
bool udev_watch_has_pending(UdevWatch *w);

/* Calls cb for each PCI device with an SR-IOV capability (sriov_totalvfs attribute). */
int udev_enumerate_pfs(UdevWatch *w, int (*cb)(void *userdata, const char *syspath), void *userdata);
/* The first net device below a PCI device (its netdev), or -ENOENT. */
int udev_find_netdev(UdevWatch *w, const char *pci_syspath, char **ret_ifname, int *ret_ifindex);
/* The first infiniband device below a PCI device, or -ENOENT. */
int udev_find_rdma(UdevWatch *w, const char *pci_syspath, char **ret_name);
/* syspath of a PCI device by address, or -ENODEV. */
int udev_pci_syspath(UdevWatch *w, const char *pci, char **ret_syspath);
/* The PCI device a net/infiniband device sits on (nearest pci parent), or NULL. */
struct udev_device *udev_device_pci_parent(struct udev_device *d);
/* The PCI function, or else the netdevsim device, a net/infiniband device sits on. */
struct udev_device *udev_device_sriov_parent(struct udev_device *d);
