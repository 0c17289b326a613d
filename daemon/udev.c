/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <dirent.h>
#include <linux/filter.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "sysfs.h"
#include "udev.h"
#include "util.h"

struct UdevWatch {
        struct udev *udev;
        struct udev_monitor *monitor;
        sd_event_source *source;
        udev_event_handler_t handler;
        void *userdata;
        /* The kernel's own uevents (pci only), heard before udevd ran its rules. */
        struct udev_monitor *kernel_monitor;
        sd_event_source *kernel_source;
        udev_event_handler_t kernel_handler;
        udev_event_skip_t skip;
        uint64_t n_skipped; /* tests */
        bool net;           /* "net" is in the monitor's filter */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref);

int udev_watch_new(UdevWatch **ret)
{
        UdevWatch *w = calloc(1, sizeof(UdevWatch));

        if (!w)
                return -ENOMEM;
        w->udev = udev_new();
        if (!w->udev) {
                free(w);
                return -ENOMEM;
        }
        *ret = w;
        return 0;
}

UdevWatch *udev_watch_free(UdevWatch *w)
{
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        udev_monitor_unref(w->monitor);
        sd_event_source_disable_unref(w->kernel_source);
        udev_monitor_unref(w->kernel_monitor);
        udev_unref(w->udev);
        return mfree(w);
}

struct udev *udev_watch_get_udev(UdevWatch *w)
{
        return w->udev;
}

void udev_watch_set_skip(UdevWatch *w, udev_event_skip_t skip)
{
        w->skip = skip;
}

/* udevd's monitor message: this header, then the properties ("KEY=value\0..."). The magic
 * and the filter hashes are big-endian, the offsets native (as udevd writes them). */
struct udev_monitor_message_header {
        char prefix[8]; /* "libudev" */
        uint32_t magic; /* 0xfeedcafe */
        uint32_t header_size;
        uint32_t properties_off;
        uint32_t properties_len;
        uint32_t filter_subsystem_hash;
        uint32_t filter_devtype_hash;
        uint32_t filter_tag_bloom_hi;
        uint32_t filter_tag_bloom_lo;
};

/* Looks at the next message without taking it; drops it if w->skip says it changes nothing.
 * 1: dropped; 0: libudev's to receive (and to check: credentials, sender, filters); -EAGAIN:
 * none queued. Building a udev_device (its property list, its hashmaps) was most of the
 * ~10 µs each of VF creation's four uevents per VF cost, all of which the manager then dropped
 * as already read (docs/PERFORMANCE.md). A forged message can at most be dropped here. */
static int monitor_skip_next(UdevWatch *w, int fd)
{
        union {
                struct udev_monitor_message_header h;
                char raw[8192];
        } buf;
        UdevEventHead head = {};
        const char *p, *end;
        ssize_t n;

        n = recv(fd, &buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0)
                /* ENOBUFS is reported once, to this recv: the caller resyncs as libudev's would. */
                return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? -errno : 0;
        if ((size_t) n < sizeof(buf.h) || (size_t) n > sizeof(buf) ||
            memcmp(buf.h.prefix, "libudev", 8) != 0 || ntohl(buf.h.magic) != 0xfeedcafe ||
            buf.h.properties_off < sizeof(buf.h) || buf.h.properties_off > (size_t) n ||
            buf.h.properties_len > (size_t) n - buf.h.properties_off)
                return 0;
        p = buf.raw + buf.h.properties_off;
        end = p + buf.h.properties_len;
        while (p < end) {
                const char *e = memchr(p, 0, end - p);

                if (!e)
                        return 0; /* unterminated: libudev decides */
                if (startswith(p, "ACTION="))
                        head.action = p + 7;
                else if (startswith(p, "SUBSYSTEM="))
                        head.subsystem = p + 10;
                else if (startswith(p, "DEVPATH="))
                        head.devpath = p + 8;
                else if (startswith(p, "SEQNUM=")) {
                        unsigned long long v;
                        char *t;

                        errno = 0;
                        v = strtoull(p + 7, &t, 10);
                        if (errno == 0 && t == e && t > p + 7)
                                head.seqnum = v;
                }
                p = e + 1;
        }
        if (!head.action || !head.subsystem || !head.devpath || head.seqnum == 0 ||
            !w->skip(w->userdata, &head))
                return 0;
        (void) recv(fd, &buf, 1, MSG_DONTWAIT); /* a datagram: the rest of it goes too */
        w->n_skipped++;
        return 1;
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        UdevWatch *w = userdata;

        /* Drain what is queued, so a burst (64 VFs: ~200 uevents) costs one wake-up. */
        for (;;) {
                _cleanup_(udev_device_unrefp) struct udev_device *d = NULL;

                if (w->skip) {
                        int k = monitor_skip_next(w, fd);

                        if (k == -EAGAIN)
                                return 0;
                        if (k == -ENOBUFS) {
                                log_warning("udev monitor overflowed, resynchronizing.");
                                w->handler(w->userdata, "resync", NULL);
                                continue;
                        }
                        if (k > 0)
                                continue;
                }

                errno = 0;
                d = udev_monitor_receive_device(w->monitor);
                if (!d) {
                        if (errno == ENOBUFS) {
                                log_warning("udev monitor overflowed, resynchronizing.");
                                w->handler(w->userdata, "resync", NULL);
                                continue;
                        }
                        return 0; /* EAGAIN, or a message that was not for us */
                }
                w->handler(w->userdata, strempty(udev_device_get_action(d)), d);
        }
}

uint64_t udev_watch_get_skipped(UdevWatch *w)
{
        return w ? w->n_skipped : 0;
}

bool udev_watch_has_pending(UdevWatch *w)
{
        struct pollfd p;

        if (!w || !w->monitor)
                return false;
        p = (struct pollfd){.fd = udev_monitor_get_fd(w->monitor), .events = POLLIN};
        return poll(&p, 1, 0) > 0;
}

/* Filter on subsystems only: synthetic test uevents carry no tag bloom. */
static int monitor_add_matches(struct udev_monitor *monitor, bool net)
{
        static const char *const subsystems[] = {"pci", "infiniband", "netdevsim", "net"};
        int r;

        for (size_t i = 0; i < ELEMENTSOF(subsystems) - !net; i++) {
                r = udev_monitor_filter_add_match_subsystem_devtype(monitor, subsystems[i], NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

int udev_watch_set_net(UdevWatch *w, bool net)
{
        int r;

        if (!w || !w->monitor || w->net == net)
                return 0;
        /* Forgets the matches, then detaches the socket filter (the update's attach replaces
         * it if that fails); until the new one is on, every uevent passes, and what arrives
         * meanwhile is handled as before. */
        (void) udev_monitor_filter_remove(w->monitor);
        r = monitor_add_matches(w->monitor, net);
        if (r >= 0)
                r = udev_monitor_filter_update(w->monitor);
        if (r < 0) {
                /* Rather every subsystem than a missing one: the old matches, or none. */
                (void) udev_monitor_filter_remove(w->monitor);
                if (monitor_add_matches(w->monitor, true) >= 0)
                        (void) udev_monitor_filter_update(w->monitor);
                w->net = true;
                return r;
        }
        w->net = net;
        return 1;
}

bool udev_watch_get_net(UdevWatch *w)
{
        return w && w->net;
}

int udev_watch_start_monitor(UdevWatch *w, sd_event *e, udev_event_handler_t handler, void *userdata)
{
        int r;

        w->monitor = udev_monitor_new_from_netlink(w->udev, "udev");
        if (!w->monitor)
                return negative_errno();
        r = monitor_add_matches(w->monitor, true);
        if (r < 0)
                return r;
        w->net = true;
        /* A big queue rides out VF creation bursts; ENOBUFS beyond it triggers a resync. */
        (void) udev_monitor_set_receive_buffer_size(w->monitor, 16 * 1024 * 1024);
        r = udev_monitor_enable_receiving(w->monitor);
        if (r < 0)
                return r;
        w->handler = handler;
        w->userdata = userdata;
        r = sd_event_add_io(e, &w->source, udev_monitor_get_fd(w->monitor), EPOLLIN, on_monitor, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(w->source, "udev-monitor");
        return 0;
}

static int on_kernel_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        UdevWatch *w = userdata;

        for (;;) {
                _cleanup_(udev_device_unrefp) struct udev_device *d = NULL;

                errno = 0;
                d = udev_monitor_receive_device(w->kernel_monitor);
                if (!d) {
                        /* Lost kernel events cost only time: udevd's monitor still brings them. */
                        if (errno == ENOBUFS) {
                                log_debug("Kernel uevent monitor overflowed, udevd's events follow.");
                                continue;
                        }
                        return 0;
                }
                w->kernel_handler(w->userdata, strempty(udev_device_get_action(d)), d);
        }
}

static int kernel_bind_filter(int fd)
{
        /* A kernel uevent is "ACTION@DEVPATH\0KEY=VALUE\0...", no netlink header; words are
         * loaded big-endian. A message too short for a load is dropped by the kernel. */
        struct sock_filter code[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x62696e64 /* "bind" */, 0, 9),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x402f6465 /* "@/de" */, 0, 7),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x76696365 /* "vice" */, 0, 5),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 12),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x732f7063 /* "s/pc" */, 0, 3),
                BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 16),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'i', 0, 1),
                BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
                BPF_STMT(BPF_RET | BPF_K, 0),
        };
        struct sock_fprog prog = {.len = ELEMENTSOF(code), .filter = code};

        if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
                return -errno;
        return 0;
}

int udev_watch_start_kernel_monitor(UdevWatch *w, sd_event *e, udev_event_handler_t handler)
{
        int r;

        w->kernel_monitor = udev_monitor_new_from_netlink(w->udev, "kernel");
        if (!w->kernel_monitor)
                return negative_errno();
        /* The kernel's messages carry no filter header: libudev drops other subsystems after
         * receiving them, so every uevent of the host wakes us (none while the host is idle). */
        r = udev_monitor_filter_add_match_subsystem_devtype(w->kernel_monitor, "pci", NULL);
        if (r < 0)
                return r;
        r = udev_monitor_enable_receiving(w->kernel_monitor);
        if (r < 0)
                return r;
        /* Replaces libudev's filter (it passes every kernel message): keep only what starts
         * "bind@/devices/pci", so the rest of the host's uevents never wake us. */
        r = kernel_bind_filter(udev_monitor_get_fd(w->kernel_monitor));
        if (r < 0)
                return r;
        w->kernel_handler = handler;
        r = sd_event_add_io(e, &w->kernel_source, udev_monitor_get_fd(w->kernel_monitor), EPOLLIN,
                            on_kernel_monitor, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(w->kernel_source, "kernel-uevent-monitor");
        return 0;
}

static int enumerate_with_attr(UdevWatch *w, const char *subsystem, const char *attr,
                               int (*cb)(void *userdata, const char *syspath), void *userdata)
{
        _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
        struct udev_list_entry *i;
        int r;

        e = udev_enumerate_new(w->udev);
        if (!e)
                return -ENOMEM;
        r = udev_enumerate_add_match_subsystem(e, subsystem);
        if (r < 0)
                return r;
        r = udev_enumerate_add_match_sysattr(e, attr, NULL);
        if (r < 0)
                return r;
        r = udev_enumerate_scan_devices(e);
        if (r < 0)
                return r;
        udev_list_entry_foreach(i, udev_enumerate_get_list_entry(e))
        {
                r = cb(userdata, udev_list_entry_get_name(i));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* PCI functions with SR-IOV, from /sys/bus/pci/devices directly: a libudev enumeration
 * builds a device (its syspath resolved component by component, its uevent file read) for
 * every PCI function of the host, SR-IOV or not, and was half of the start-up to READY=1
 * (docs/PERFORMANCE.md). Here a function costs one access(); only the PFs cost a readlink. */
static int enumerate_pci_sriov(int (*cb)(void *userdata, const char *syspath), void *userdata)
{
        static const char bus_dir[] = "/sys/bus/pci/devices";
        _cleanup_(strv_freep) char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        d = opendir(bus_dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno; /* no PCI bus */
        while ((de = readdir(d))) {
                _cleanup_free_ char *attr = NULL;

                if (de->d_name[0] == '.')
                        continue;
                if (asprintf_safe(&attr, "%s/%s/sriov_totalvfs", bus_dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (access(attr, F_OK) < 0)
                        continue;
                r = strv_extend(&names, de->d_name);
                if (r < 0)
                        break;
                n++;
        }
        closedir(d);
        if (r < 0)
                return r;
        /* In address order, as udev listed them. */
        if (n > 1)
                qsort(names, n, sizeof(char *), cmp_str);
        STRV_FOREACH(i, names) {
                _cleanup_free_ char *syspath = NULL;

                if (sysfs_read_link_path(bus_dir, *i, &syspath) < 0)
                        continue; /* gone meanwhile, or not a kernel link: its uevent tells */
                r = cb(userdata, syspath);
                if (r < 0)
                        return r;
        }
        return 0;
}

int udev_enumerate_pfs(UdevWatch *w, int (*cb)(void *userdata, const char *syspath), void *userdata)
{
        int r;

        r = enumerate_pci_sriov(cb, userdata);
        if (r < 0)
                return r;
        /* netdevsim (software SR-IOV, used for scale tests): VFs live in its VF table only. */
        return enumerate_with_attr(w, "netdevsim", "sriov_numvfs", cb, userdata);
}

static int find_child(UdevWatch *w, const char *pci_syspath, const char *subsystem, struct udev_device **ret)
{
        _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
        _cleanup_(udev_device_unrefp) struct udev_device *parent = NULL;
        struct udev_list_entry *i;
        int r;

        parent = udev_device_new_from_syspath(w->udev, pci_syspath);
        if (!parent)
                return -ENODEV;
        e = udev_enumerate_new(w->udev);
        if (!e)
                return -ENOMEM;
        r = udev_enumerate_add_match_subsystem(e, subsystem);
        if (r < 0)
                return r;
        r = udev_enumerate_add_match_parent(e, parent);
        if (r < 0)
                return r;
        r = udev_enumerate_scan_devices(e);
        if (r < 0)
                return r;
        udev_list_entry_foreach(i, udev_enumerate_get_list_entry(e))
        {
                struct udev_device *d = udev_device_new_from_syspath(w->udev, udev_list_entry_get_name(i));
                struct udev_device *p;

                if (!d)
                        continue;
                /* Only direct children of this function: not devices of a bridge below it. */
                p = udev_device_pci_parent(d);
                if (p && streq(udev_device_get_syspath(p), udev_device_get_syspath(parent))) {
                        *ret = d;
                        return 0;
                }
                udev_device_unref(d);
        }
        return -ENOENT;
}

int udev_find_netdev(UdevWatch *w, const char *pci_syspath, char **ret_ifname, int *ret_ifindex)
{
        _cleanup_(udev_device_unrefp) struct udev_device *d = NULL;
        const char *idx;
        int r, ifindex = 0;
        char *name;

        r = find_child(w, pci_syspath, "net", &d);
        if (r < 0)
                return r;
        idx = udev_device_get_sysattr_value(d, "ifindex");
        if (!idx || safe_atoi(idx, &ifindex) < 0)
                idx = udev_device_get_property_value(d, "IFINDEX");
        if (idx)
                (void) safe_atoi(idx, &ifindex);
        name = strdup(udev_device_get_sysname(d));
        if (!name)
                return -ENOMEM;
        *ret_ifname = name;
        *ret_ifindex = ifindex;
        return 0;
}

int udev_find_rdma(UdevWatch *w, const char *pci_syspath, char **ret_name)
{
        _cleanup_(udev_device_unrefp) struct udev_device *d = NULL;
        char *name;
        int r;

        r = find_child(w, pci_syspath, "infiniband", &d);
        if (r < 0)
                return r;
        name = strdup(udev_device_get_sysname(d));
        if (!name)
                return -ENOMEM;
        *ret_name = name;
        return 0;
}

int udev_pci_syspath(UdevWatch *w, const char *pci, char **ret_syspath)
{
        _cleanup_(udev_device_unrefp) struct udev_device *d = NULL;
        char *s;

        d = udev_device_new_from_subsystem_sysname(w->udev, "pci", pci);
        if (!d)
                return -ENODEV;
        s = strdup(udev_device_get_syspath(d));
        if (!s)
                return -ENOMEM;
        *ret_syspath = s;
        return 0;
}

struct udev_device *udev_device_pci_parent(struct udev_device *d)
{
        /* Borrowed reference, owned by d. */
        return udev_device_get_parent_with_subsystem_devtype(d, "pci", NULL);
}

struct udev_device *udev_device_sriov_parent(struct udev_device *d)
{
        return udev_device_pci_parent(d)
                       ?: udev_device_get_parent_with_subsystem_devtype(d, "netdevsim", NULL);
}
