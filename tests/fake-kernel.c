/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "fake-kernel.h"
#include "log.h"
#include "util.h"

/* after macro.h: GLib #undefs and redefines MIN/MAX */
#include <umockdev.h>

#define _fallthrough_   __attribute__((fallthrough))

#define VFIO_MAJOR      243
#define VFIO_MAJOR_STR  "243"
#define DEFAULT_MAX_MTU 9216

typedef struct FakePf FakePf;

/* A PCI function, PF or VF: what binding a driver, netdevs and IOMMU groups act on. */
typedef struct FakeFn {
        FakePf *pf;
        int vf_index; /* -1 for the PF */
        char pci[16];
        char *syspath;
        uint16_t vendor, device;
        uint32_t class_code;
        int numa_node;
        unsigned iommu_group;
        char *native_driver; /* the driver whose id table matches, NULL = none */
        char *driver;        /* bound driver */
        char *override;      /* driver_override */
        bool probe_pending;

        /* netdev, present while bound to the native driver */
        char *ifname;
        int ifindex; /* 0 = allocate at next probe */
        char mac[64];
        unsigned mtu, max_mtu, speed;
        char *netdev_syspath;
        char *rdma_syspath;
        char *vfio_syspath;
} FakeFn;

struct FakePf {
        FakeFn fn;
        char *bridge_syspath;
        unsigned ordinal;
        unsigned total_vfs;
        uint16_t vf_device;
        FakeLinkType link_type;
        char *vf_driver;
        char *vf_ifname;
        unsigned vf_offset, vf_stride;
        char *rdma_prefix;
        FakeVfCreation vf_creation;
        bool autoprobe;
        unsigned num_vfs; /* what sriov_numvfs reads */
        FakeFn **vfs;     /* created VFs */
        unsigned n_vfs;
        bool create_pending; /* slow NIC: num_vfs set, VFs not there yet */
};

typedef struct FakeCall {
        int (*fn)(FakeKernel *fk, void *data);
        void *data;
        int r;
        bool done;
        struct FakeCall *next;
} FakeCall;

typedef struct FakeUevent {
        char **listeners; /* the monitor sockets at the time of the event */
        size_t len;
        struct FakeUevent *next;
        char props[]; /* header + properties, as sent */
} FakeUevent;

typedef struct FailRule {
        char *suffix;
        int error;
        unsigned count;
} FailRule;

struct FakeKernel {
        /* Modules modprobe cannot find (set before the daemon runs; read-only after). */
        char **missing_modules;
        /* Protects the call queue, write log, fail rules and blocking state. */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thread;
        bool thread_started;
        bool quit;
        FakeCall *calls, *calls_tail;

        /* uevents on their way to listeners, oldest first; sent by the sender thread */
        struct FakeUevent *uevents, *uevents_tail;
        unsigned n_uevents; /* queued + the one being sent */
        int idle_fd;        /* eventfd, readable once the queue ran empty */
        int quit_fd;        /* eventfd, readable once we are torn down */
        pthread_t sender;
        bool sender_started;
        uint64_t seqnum;

        char **writes; /* paths as written, for the counters */
        FailRule *rules;
        size_t n_rules;
        char *block_suffix;
        uint64_t block_generation;
        unsigned n_blocked;

        /* Below: touched on the kernel thread only (root is immutable after setup). */
        UMockdevTestbed *testbed;
        char *root;
        FakePf **pfs;
        size_t n_pfs;
        unsigned next_pf_ordinal;
        int next_ifindex;
        unsigned next_iommu_group;
        unsigned next_rdma;
        FakeKernelHooks hooks;
        void *hooks_userdata;
};

static const char *const default_drivers[] = {
        "igb", "igbvf", "ixgbe", "ixgbevf", "mlx5_core", "vfio-pci",
};

/* ---- small helpers ---- */

static char *fk_real(FakeKernel *fk, const char *sys_path)
{
        return path_join(fk->root, sys_path);
}

static int mkdir_p(const char *path)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Writes a file below the testbed root, creating its directory. */
static int fk_write_file(FakeKernel *fk, const char *sys_path, const char *content)
{
        _cleanup_free_ char *p = fk_real(fk, sys_path);
        _cleanup_close_ int fd = -EBADF;
        size_t len;
        int r;

        if (!p)
                return -ENOMEM;
        {
                _cleanup_free_ char *d = strdup(p);
                if (!d)
                        return -ENOMEM;
                *strrchr(d, '/') = 0;
                r = mkdir_p(d);
                if (r < 0)
                        return r;
        }
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        len = strlen(content);
        if (write(fd, content, len) != (ssize_t) len)
                return -EIO;
        return 0;
}

static int fk_write_attr(FakeKernel *fk, const char *syspath, const char *attr, const char *fmt, ...)
        _printf_(4, 5);
static int fk_write_attr(FakeKernel *fk, const char *syspath, const char *attr, const char *fmt, ...)
{
        _cleanup_free_ char *p = path_join(syspath, attr), *v = NULL, *line = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&v, fmt, ap);
        va_end(ap);
        if (r < 0) {
                v = NULL;
                return -ENOMEM;
        }
        if (!p)
                return -ENOMEM;
        if (asprintf(&line, "%s\n", v) < 0)
                return -ENOMEM;
        return fk_write_file(fk, p, line);
}

static bool fk_exists(FakeKernel *fk, const char *sys_path)
{
        _cleanup_free_ char *p = fk_real(fk, sys_path);
        return p && access(p, F_OK) == 0;
}

/* Relative symlink link -> target, both absolute testbed paths, as sysfs has them. */
static int fk_symlink(FakeKernel *fk, const char *link, const char *target)
{
        _cleanup_free_ char *rel = NULL, *real = fk_real(fk, link), *dir = strdup(link);
        const char *l, *t;
        size_t n_up = 0, i = 0;

        if (!real || !dir)
                return -ENOMEM;
        *strrchr(dir, '/') = 0;
        /* skip the common leading components */
        l = dir;
        t = target;
        while (*l && *t) {
                const char *le = strchrnul(l + 1, '/'), *te = strchrnul(t + 1, '/');
                if (le - l != te - t || strncmp(l, t, le - l) != 0)
                        break;
                l = le;
                t = te;
        }
        for (const char *s = l; *s; s++)
                if (*s == '/')
                        n_up++;
        rel = malloc(n_up * 3 + strlen(t) + 1);
        if (!rel)
                return -ENOMEM;
        for (size_t k = 0; k < n_up; k++) {
                memcpy(rel + i, "../", 3);
                i += 3;
        }
        strcpy(rel + i, t + (*t == '/'));
        (void) unlink(real);
        {
                _cleanup_free_ char *rd = fk_real(fk, dir);
                if (!rd || mkdir_p(rd) < 0)
                        return -EIO;
        }
        if (symlink(rel, real) < 0)
                return -errno;
        return 0;
}

static void fk_unlink(FakeKernel *fk, const char *sys_path)
{
        _cleanup_free_ char *p = fk_real(fk, sys_path);
        if (p)
                (void) unlink(p);
}

static void fk_rmdir(FakeKernel *fk, const char *sys_path)
{
        _cleanup_free_ char *p = fk_real(fk, sys_path);
        if (p)
                (void) rmdir(p);
}

/* ---- devices and uevents ----
 *
 * We make devices and send uevents ourselves instead of using umockdev_testbed_add_devicev()
 * and _uevent(): umockdev 0.17 sends each uevent on a non-blocking socket and abort()s the
 * whole process on EAGAIN, which happens as soon as a listener has 10 unread uevents
 * (net.unix.max_dgram_qlen defaults to 10) -- one numvfs write of 3 VFs is 13 uevents. It
 * also cannot send from several threads (< 0.19) nor "remove" from remove_device (< 0.18.4).
 * Here the kernel thread builds each message when the event happens (so "remove" still sees
 * the device's properties) and queues it; a sender thread delivers the queue in order with
 * blocking sends, so a listener that reads late loses nothing and the writer never waits for
 * it: the kernel's netlink multicast does not wait for udev listeners either. */

/* MurmurHash2, as libudev's socket filter checks the subsystem/devtype hashes */
static uint32_t string_hash32(const char *str)
{
        const uint32_t m = 0x5bd1e995;
        size_t len = strlen(str);
        uint32_t h = (uint32_t) len;
        const unsigned char *data = (const unsigned char *) str;

        while (len >= 4) {
                uint32_t k;

                memcpy(&k, data, 4);
                k *= m;
                k ^= k >> 24;
                k *= m;
                h *= m;
                h ^= k;
                data += 4;
                len -= 4;
        }
        switch (len) {
        case 3:
                h ^= data[2] << 16;
                _fallthrough_;
        case 2:
                h ^= data[1] << 8;
                _fallthrough_;
        case 1:
                h ^= data[0];
                h *= m;
        }
        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return h;
}

struct monitor_netlink_header {
        char prefix[8];
        unsigned magic;
        unsigned header_size;
        unsigned properties_off;
        unsigned properties_len;
        unsigned filter_subsystem_hash;
        unsigned filter_devtype_hash;
        unsigned filter_tag_bloom_hi;
        unsigned filter_tag_bloom_lo;
};

static int fk_read_file(FakeKernel *fk, const char *sys_path, char **ret)
{
        _cleanup_free_ char *p = fk_real(fk, sys_path), *buf = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t sz = 0;

        if (!p)
                return -ENOMEM;
        f = fopen(p, "re");
        if (!f)
                return -errno;
        if (getdelim(&buf, &sz, 0, f) < 0) {
                free(buf);
                buf = strdup("");
                if (!buf)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(buf);
        return 0;
}

static char *fk_subsystem(FakeKernel *fk, const char *syspath)
{
        _cleanup_free_ char *l = path_join(syspath, "subsystem"), *p = NULL;
        char buf[PATH_MAX];
        ssize_t n;

        if (!l || !(p = fk_real(fk, l)))
                return NULL;
        n = readlink(p, buf, sizeof(buf) - 1);
        if (n < 0)
                return NULL;
        buf[n] = 0;
        return strdup(path_basename(buf));
}

/* /sys/kernel/uevent_seqnum, numbered as the kernel does: after the change the event
 * announces. Replaced whole, so a reader never sees half a number. */
static void fk_write_seqnum(FakeKernel *fk)
{
        _cleanup_free_ char *p = fk_real(fk, "/sys/kernel/uevent_seqnum"),
                            *tmp = fk_real(fk, "/sys/kernel/uevent_seqnum.new");
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64 "\n", fk->seqnum);
        if (!p || !tmp || fk_write_file(fk, "/sys/kernel/uevent_seqnum.new", buf) < 0 || rename(tmp, p) < 0)
                log_debug("fake-kernel: cannot write uevent_seqnum");
}

static void fk_uevent(FakeKernel *fk, const char *syspath, const char *action)
{
        _cleanup_free_ char *subsystem = fk_subsystem(fk, syspath), *props = NULL, *uevent = NULL,
                            *body = NULL;
        struct monitor_netlink_header h = {.prefix = "libudev"};
        const char *devtype = NULL;
        size_t blen = 0;
        FILE *f;
        FakeUevent *u;

        if (!subsystem || !(uevent = path_join(syspath, "uevent")) || fk_read_file(fk, uevent, &props) < 0) {
                log_error("fake-kernel: no device %s for uevent %s", syspath, action);
                return;
        }
        f = open_memstream(&body, &blen);
        if (!f)
                return;
        fprintf(f, "ACTION=%s%cDEVPATH=%s%cSUBSYSTEM=%s%cSEQNUM=%" PRIu64 "%c", action, 0, syspath + 4, 0,
                subsystem, 0, ++fk->seqnum, 0);
        for (char *line = props, *e; line && *line; line = e ? e + 1 : NULL) {
                e = strchr(line, '\n');
                if (e)
                        *e = 0;
                if (!*line)
                        continue;
                if (startswith(line, "DEVTYPE="))
                        devtype = line + 8;
                fprintf(f, "%s%c", line, 0);
        }
        if (fclose(f) != 0)
                return;
        fk_write_seqnum(fk);

        h.magic = htonl(0xfeedcafe);
        h.header_size = sizeof(h);
        h.properties_off = sizeof(h);
        h.properties_len = (unsigned) blen;
        h.filter_subsystem_hash = htonl(string_hash32(subsystem));
        if (devtype)
                h.filter_devtype_hash = htonl(string_hash32(devtype));
        u = malloc(sizeof(FakeUevent) + sizeof(h) + blen);
        if (!u)
                return;
        u->len = sizeof(h) + blen;
        u->next = NULL;
        u->listeners = NULL;
        {
                /* netlink multicast reaches the members of the moment: a monitor made after
                 * the event must not get it, however late the sender runs */
                _cleanup_free_ char *pattern = NULL;
                glob_t g = {};

                if (asprintf(&pattern, "%s/event[0-9]*", fk->root) < 0) {
                        free(u);
                        return;
                }
                if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0)
                        for (size_t i = 0; i < g.gl_pathc; i++)
                                (void) strv_extend(&u->listeners, g.gl_pathv[i]);
                globfree(&g);
        }
        memcpy(u->props, &h, sizeof(h));
        memcpy(u->props + sizeof(h), body, blen);

        log_debug("fake-kernel: uevent %s %s", action, syspath);
        pthread_mutex_lock(&fk->lock);
        if (fk->uevents_tail)
                fk->uevents_tail->next = u;
        else
                fk->uevents = u;
        fk->uevents_tail = u;
        fk->n_uevents++;
        pthread_cond_broadcast(&fk->cond);
        pthread_mutex_unlock(&fk->lock);
}

static void send_one(FakeKernel *fk, const char *socket_path, const FakeUevent *u)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -EBADF;

        if (strlen(socket_path) >= sizeof(sa.sun_path))
                return;
        strcpy(sa.sun_path, socket_path);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                /* the monitor went away underneath us: forget it, as umockdev does */
                if (errno == ECONNREFUSED)
                        (void) unlink(sa.sun_path);
                return;
        }
        for (;;) {
                struct pollfd p[2] = {
                        {.fd = fd, .events = POLLOUT},
                        {.fd = fk->quit_fd, .events = POLLIN},
                };

                if (send(fd, u->props, u->len, MSG_NOSIGNAL) >= 0)
                        return;
                if (errno != EAGAIN && errno != EINTR) {
                        log_debug_errno(errno, "fake-kernel: uevent to %s dropped: %m", socket_path);
                        return;
                }
                /* the listener's queue is full: wait until it reads, or we are torn down. A
                 * connected AF_UNIX datagram socket's POLLOUT can miss the reader's wake-up
                 * (seen here: the sender slept until the bench's settle timeout while the
                 * daemon's monitor was drained), so look again every 10 ms. */
                if (poll(p, 2, 10) < 0 && errno != EINTR)
                        return;
                if (p[1].revents)
                        return;
        }
}

static void *sender_thread(void *userdata)
{
        FakeKernel *fk = userdata;

        pthread_mutex_lock(&fk->lock);
        for (;;) {
                FakeUevent *u;

                while (!fk->uevents && !fk->quit)
                        pthread_cond_wait(&fk->cond, &fk->lock);
                u = fk->uevents;
                if (!u)
                        break;
                fk->uevents = u->next;
                if (!fk->uevents)
                        fk->uevents_tail = NULL;
                pthread_mutex_unlock(&fk->lock);

                STRV_FOREACH(l, u->listeners)
                        send_one(fk, *l, u);
                strv_free(u->listeners);
                free(u);

                pthread_mutex_lock(&fk->lock);
                if (--fk->n_uevents == 0)
                        (void) eventfd_write(fk->idle_fd, 1);
                pthread_cond_broadcast(&fk->cond);
        }
        /* quitting: drop what nobody will read */
        while (fk->uevents) {
                FakeUevent *u = fk->uevents;
                fk->uevents = u->next;
                strv_free(u->listeners);
                free(u);
        }
        fk->uevents_tail = NULL;
        pthread_mutex_unlock(&fk->lock);
        return NULL;
}

static bool subsystem_is_bus(const char *subsystem)
{
        return streq(subsystem, "pci") || streq(subsystem, "platform") || streq(subsystem, "usb");
}

/* device_add(): directory, subsystem and class/bus links, uevent, attributes and links, then
 * "add". Links (iommu_group, device) are in place at "add", as the kernel makes them first. */
static int fk_add_device(FakeKernel *fk, const char *subsystem, const char *parent, const char *name,
                         char **attrs, char **props, char **links, char **ret_syspath)
{
        _cleanup_free_ char *syspath = NULL, *uevent = NULL, *sub_link = NULL, *sub_target = NULL,
                            *list_link = NULL;
        FILE *f;
        char *u = NULL;
        size_t ul = 0;
        int r;

        syspath = path_join(parent ?: "/sys/devices", name);
        if (!syspath)
                return -ENOMEM;
        if (asprintf(&uevent, "%s/uevent", syspath) < 0 || asprintf(&sub_link, "%s/subsystem", syspath) < 0)
                return -ENOMEM;
        if (fk_exists(fk, uevent))
                return -EEXIST;
        if (subsystem_is_bus(subsystem)) {
                if (asprintf(&sub_target, "/sys/bus/%s", subsystem) < 0 ||
                    asprintf(&list_link, "/sys/bus/%s/devices/%s", subsystem, path_basename(name)) < 0)
                        return -ENOMEM;
        } else if (asprintf(&sub_target, "/sys/class/%s", subsystem) < 0 ||
                   asprintf(&list_link, "/sys/class/%s/%s", subsystem, path_basename(name)) < 0)
                return -ENOMEM;

        f = open_memstream(&u, &ul);
        if (!f)
                return -ENOMEM;
        for (char **p = props; p && p[0] && p[1]; p += 2)
                fprintf(f, "%s=%s\n", p[0],
                        startswith(p[1], "/dev/") && streq(p[0], "DEVNAME") ? p[1] + 5 : p[1]);
        if (fclose(f) != 0) {
                free(u);
                return -ENOMEM;
        }
        r = fk_write_file(fk, uevent, u);
        free(u);
        if (r < 0)
                return r;
        for (char **a = attrs; a && a[0] && a[1]; a += 2) {
                _cleanup_free_ char *ap = path_join(syspath, a[0]);
                if (!ap)
                        return -ENOMEM;
                r = fk_write_file(fk, ap, a[1]);
                if (r < 0)
                        return r;
        }
        for (char **l = links; l && l[0] && l[1]; l += 2) {
                _cleanup_free_ char *lp = path_join(syspath, l[0]);
                if (!lp)
                        return -ENOMEM;
                r = fk_symlink(fk, lp, l[1]);
                if (r < 0)
                        return r;
        }
        r = fk_symlink(fk, sub_link, sub_target);
        if (r < 0)
                return r;
        r = fk_symlink(fk, list_link, syspath);
        if (r < 0)
                return r;

        fk_uevent(fk, syspath, "add");
        if (ret_syspath)
                *ret_syspath = TAKE_PTR(syspath);
        return 0;
}

static int rm_rf(const char *path)
{
        DIR *d;
        struct dirent *de;

        d = opendir(path);
        if (!d)
                return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                p = path_join(path, de->d_name);
                if (!p)
                        break;
                if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                        (void) rm_rf(p);
                else
                        (void) unlink(p);
        }
        closedir(d);
        return rmdir(path) < 0 ? -errno : 0;
}

/* device_del(): "remove" (sent with the properties it had), then gone. */
static void fk_remove_device(FakeKernel *fk, const char *syspath)
{
        _cleanup_free_ char *subsystem = fk_subsystem(fk, syspath), *real = fk_real(fk, syspath),
                            *list_link = NULL;

        fk_uevent(fk, syspath, "remove");
        if (subsystem) {
                if (subsystem_is_bus(subsystem))
                        (void) asprintf_safe(&list_link, "/sys/bus/%s/devices/%s", subsystem,
                                             path_basename(syspath));
                else
                        (void) asprintf_safe(&list_link, "/sys/class/%s/%s", subsystem,
                                             path_basename(syspath));
                if (list_link)
                        fk_unlink(fk, list_link);
        }
        if (real)
                (void) rm_rf(real);
}

static FakeFn *fk_find_fn(FakeKernel *fk, const char *pci)
{
        for (size_t i = 0; i < fk->n_pfs; i++) {
                FakePf *pf = fk->pfs[i];
                if (streq(pf->fn.pci, pci))
                        return &pf->fn;
                for (unsigned v = 0; v < pf->n_vfs; v++)
                        if (streq(pf->vfs[v]->pci, pci))
                                return pf->vfs[v];
        }
        return NULL;
}

static FakePf *fk_find_pf(FakeKernel *fk, const char *pci)
{
        for (size_t i = 0; i < fk->n_pfs; i++)
                if (streq(fk->pfs[i]->fn.pci, pci))
                        return fk->pfs[i];
        return NULL;
}

static bool fk_driver_loaded(FakeKernel *fk, const char *driver)
{
        _cleanup_free_ char *p = NULL;

        if (isempty(driver) || asprintf(&p, "/sys/bus/pci/drivers/%s", driver) < 0)
                return false;
        return fk_exists(fk, p);
}

static int parse_pci(const char *s, unsigned *dom, unsigned *bus, unsigned *slot, unsigned *func)
{
        char tail;

        if (sscanf(s, "%x:%x:%x.%x%c", dom, bus, slot, func, &tail) != 4 || *bus > 0xff || *slot > 0x1f ||
            *func > 7)
                return -EINVAL;
        return 0;
}

/* The uevent file of a PCI function, as the kernel's pci_uevent() fills it. */
static int fn_write_pci_uevent(FakeKernel *fk, FakeFn *fn)
{
        _cleanup_free_ char *s = NULL;

        if (asprintf(&s,
                     "%s%s%sPCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:0000\nPCI_SLOT_NAME=%s\n"
                     "MODALIAS=pci:v%08Xd%08Xsv%08Xsd00000000bc%02Xsc%02Xi%02X\n",
                     fn->driver ? "DRIVER=" : "", strempty(fn->driver), fn->driver ? "\n" : "",
                     fn->class_code, fn->vendor, fn->device, fn->vendor, fn->pci, fn->vendor, fn->device,
                     fn->vendor, (fn->class_code >> 16) & 0xff, (fn->class_code >> 8) & 0xff,
                     fn->class_code & 0xff) < 0)
                return -ENOMEM;
        {
                _cleanup_free_ char *p = path_join(fn->syspath, "uevent");
                return p ? fk_write_file(fk, p, s) : -ENOMEM;
        }
}

/* ---- netdevs, RDMA and VFIO devices of a bound function ---- */

static int fn_add_netdev(FakeKernel *fk, FakeFn *fn)
{
        FakePf *pf = fn->pf;
        _cleanup_free_ char *name = NULL, *ifindex = NULL, *mtu = NULL, *type = NULL, *speed = NULL;
        bool ib = pf->link_type == FAKE_LINK_INFINIBAND;
        int r;

        if (!fn->ifname || fn->netdev_syspath)
                return 0;
        if (fn->ifindex <= 0)
                fn->ifindex = fk->next_ifindex++;
        if (asprintf(&name, "net/%s", fn->ifname) < 0 || asprintf(&ifindex, "%d", fn->ifindex) < 0 ||
            asprintf(&mtu, "%u", fn->mtu) < 0 || asprintf(&type, "%d", ib ? 32 : 1) < 0 ||
            asprintf(&speed, "%u", fn->speed) < 0)
                return -ENOMEM;

        char *attrs[] = {
                "ifindex",
                ifindex,
                "iflink",
                ifindex,
                "address",
                fn->mac,
                "addr_len",
                ib ? "20" : "6",
                /* PF: permanent; VF: the driver made one up */
                "addr_assign_type",
                fn->vf_index < 0 ? "0" : "1",
                "mtu",
                mtu,
                "type",
                type,
                "operstate",
                "down",
                "dev_port",
                "0",
                "speed",
                speed,
                NULL,
        };
        char *props[] = {"INTERFACE", fn->ifname, "IFINDEX", ifindex, NULL};
        r = fk_add_device(fk, "net", fn->syspath, name, attrs, props, NULL, &fn->netdev_syspath);
        if (r < 0)
                return r;
        if (fk->hooks.netdev_added)
                fk->hooks.netdev_added(fk->hooks_userdata, fn->ifname, fn->ifindex, fn->mac, fn->mtu,
                                       fn->pci, pf->fn.netdev_syspath ? pf->fn.ifindex : 0, fn->vf_index);
        return 0;
}

static void fn_remove_netdev(FakeKernel *fk, FakeFn *fn)
{
        if (!fn->netdev_syspath)
                return;
        fk_remove_device(fk, fn->netdev_syspath);
        fn->netdev_syspath = mfree(fn->netdev_syspath);
        if (fk->hooks.netdev_removed)
                fk->hooks.netdev_removed(fk->hooks_userdata, fn->ifname, fn->ifindex);
        /* a new netdev gets a new ifindex, as on a real kernel */
        fn->ifindex = 0;
}

static int fn_add_rdma(FakeKernel *fk, FakeFn *fn)
{
        _cleanup_free_ char *name = NULL;
        char *links[] = {"device", fn->syspath, NULL};
        const char *n;

        if (!fn->pf->rdma_prefix || fn->rdma_syspath)
                return 0;
        if (asprintf(&name, "infiniband/%s%u", fn->pf->rdma_prefix, fk->next_rdma++) < 0)
                return -ENOMEM;
        n = path_basename(name);
        char *attrs[] = {"node_type", "1: CA", "node_desc", (char *) n, NULL};
        char *props[] = {"NAME", (char *) n, NULL};
        return fk_add_device(fk, "infiniband", fn->syspath, name, attrs, props, links, &fn->rdma_syspath);
}

static void fn_remove_rdma(FakeKernel *fk, FakeFn *fn)
{
        if (!fn->rdma_syspath)
                return;
        fk_remove_device(fk, fn->rdma_syspath);
        fn->rdma_syspath = mfree(fn->rdma_syspath);
}

/* vfio-pci's probe creates the group's character device /dev/vfio/N. The umockdev preload
 * reports /dev/X as a character device when /dev/.node/X links to "major:minor". */
static int fn_add_vfio(FakeKernel *fk, FakeFn *fn)
{
        _cleanup_free_ char *name = NULL, *dev = NULL, *devname = NULL, *minor = NULL, *node_info = NULL,
                            *sysdev = NULL, *real = NULL;
        int r;

        if (asprintf(&name, "virtual/vfio/%u", fn->iommu_group) < 0 ||
            asprintf(&dev, "%d:%u", VFIO_MAJOR, fn->iommu_group) < 0 ||
            asprintf(&devname, "/dev/vfio/%u", fn->iommu_group) < 0 ||
            asprintf(&minor, "%u", fn->iommu_group) < 0 ||
            asprintf(&node_info, "/dev/.node/vfio_%u", fn->iommu_group) < 0 ||
            asprintf(&sysdev, "/sys/dev/char/%s", dev) < 0)
                return -ENOMEM;
        r = fk_write_file(fk, devname, "");
        if (r < 0)
                return r;
        r = fk_write_file(fk, node_info, "");
        if (r < 0)
                return r;
        real = fk_real(fk, node_info);
        if (!real)
                return -ENOMEM;
        (void) unlink(real);
        if (symlink(dev, real) < 0)
                return -errno;
        {
                _cleanup_free_ char *d = NULL;
                char devline[64];

                snprintf(devline, sizeof(devline), "%s\n", dev);
                char *attrs[] = {"dev", devline, NULL};
                char *props[] = {"DEVNAME", devname, "MAJOR", VFIO_MAJOR_STR, "MINOR", minor, NULL};
                if (asprintf(&d, "/sys/devices/%s", name) < 0)
                        return -ENOMEM;
                r = fk_symlink(fk, sysdev, d);
                if (r < 0)
                        return r;
                return fk_add_device(fk, "vfio", NULL, name, attrs, props, NULL, &fn->vfio_syspath);
        }
}

static void fn_remove_vfio(FakeKernel *fk, FakeFn *fn)
{
        _cleanup_free_ char *devname = NULL, *node_info = NULL, *sysdev = NULL;

        if (!fn->vfio_syspath)
                return;
        fk_remove_device(fk, fn->vfio_syspath);
        if (asprintf(&devname, "/dev/vfio/%u", fn->iommu_group) >= 0)
                fk_unlink(fk, devname);
        if (asprintf(&node_info, "/dev/.node/vfio_%u", fn->iommu_group) >= 0)
                fk_unlink(fk, node_info);
        if (asprintf(&sysdev, "/sys/dev/char/%d:%u", VFIO_MAJOR, fn->iommu_group) >= 0)
                fk_unlink(fk, sysdev);
        fn->vfio_syspath = mfree(fn->vfio_syspath);
}

/* ---- binding ---- */

static int fn_bind(FakeKernel *fk, FakeFn *fn, const char *driver)
{
        _cleanup_free_ char *link = NULL, *target = NULL, *back = NULL;
        int r;

        fn->probe_pending = false;
        if (fn->driver)
                return -EBUSY;
        if (asprintf(&target, "/sys/bus/pci/drivers/%s", driver) < 0 ||
            asprintf(&back, "/sys/bus/pci/drivers/%s/%s", driver, fn->pci) < 0 ||
            !(link = path_join(fn->syspath, "driver")))
                return -ENOMEM;
        r = fk_symlink(fk, link, target);
        if (r < 0)
                return r;
        r = fk_symlink(fk, back, fn->syspath);
        if (r < 0)
                return r;
        fn->driver = strdup(driver);
        if (!fn->driver)
                return -ENOMEM;
        r = fn_write_pci_uevent(fk, fn);
        if (r < 0)
                return r;

        /* probe creates the class devices before the core announces "bind" */
        if (streq(driver, "vfio-pci") || endswith(driver, "_vfio_pci")) {
                _cleanup_free_ char *enable = path_join(fn->syspath, "enable");

                /* vfio-pci enables the device only when a user opens it. */
                r = enable ? fk_write_file(fk, enable, "0\n") : -ENOMEM;
                if (r >= 0)
                        r = fn_add_vfio(fk, fn);
        } else if (streq_ptr(driver, fn->native_driver)) {
                r = fn_add_netdev(fk, fn);
                if (r >= 0)
                        r = fn_add_rdma(fk, fn);
        }
        if (r < 0)
                return r;
        fk_uevent(fk, fn->syspath, "bind");
        return 0;
}

static void pf_destroy_vfs(FakeKernel *fk, FakePf *pf);

static int fn_unbind(FakeKernel *fk, FakeFn *fn)
{
        _cleanup_free_ char *link = NULL, *back = NULL;

        if (!fn->driver)
                return -ENODEV;
        /* a PF driver's remove() disables SR-IOV first (igb_remove, mlx5) */
        if (fn->vf_index < 0)
                pf_destroy_vfs(fk, fn->pf);
        fn_remove_rdma(fk, fn);
        fn_remove_netdev(fk, fn);
        if (fn->vfio_syspath) {
                _cleanup_free_ char *enable = path_join(fn->syspath, "enable");

                if (enable)
                        (void) fk_write_file(fk, enable, "1\n");
        }
        fn_remove_vfio(fk, fn);

        if (asprintf(&back, "/sys/bus/pci/drivers/%s/%s", fn->driver, fn->pci) < 0 ||
            !(link = path_join(fn->syspath, "driver")))
                return -ENOMEM;
        fk_unlink(fk, back);
        fk_unlink(fk, link);
        fn->driver = mfree(fn->driver);
        (void) fn_write_pci_uevent(fk, fn);
        fk_uevent(fk, fn->syspath, "unbind");
        return 0;
}

/* What device_attach() picks: only driver_override if set, else the matching driver. */
static const char *fn_match_driver(FakeKernel *fk, FakeFn *fn)
{
        const char *d = fn->override ?: fn->native_driver;
        return fk_driver_loaded(fk, d) ? d : NULL;
}

static int fn_probe(FakeKernel *fk, FakeFn *fn)
{
        const char *d;

        fn->probe_pending = false;
        if (fn->driver)
                return 0;
        d = fn_match_driver(fk, fn);
        /* no driver: drivers_probe still succeeds, the device stays unbound */
        return d ? fn_bind(fk, fn, d) : 0;
}

/* ---- IOMMU groups ---- */

static int fn_add_iommu_group(FakeKernel *fk, FakeFn *fn)
{
        _cleanup_free_ char *dir = NULL, *type = NULL, *member = NULL;
        int r;

        if (asprintf(&dir, "/sys/kernel/iommu_groups/%u", fn->iommu_group) < 0 ||
            asprintf(&type, "%s/type", dir) < 0 || asprintf(&member, "%s/devices/%s", dir, fn->pci) < 0)
                return -ENOMEM;
        r = fk_write_file(fk, type, "DMA\n");
        if (r < 0)
                return r;
        return fk_symlink(fk, member, fn->syspath);
}

static void fn_remove_iommu_group(FakeKernel *fk, FakeFn *fn)
{
        _cleanup_free_ char *dir = NULL, *p = NULL;

        if (asprintf(&dir, "/sys/kernel/iommu_groups/%u", fn->iommu_group) < 0)
                return;
        if (asprintf(&p, "%s/devices/%s", dir, fn->pci) >= 0)
                fk_unlink(fk, p);
        free(p);
        p = NULL;
        if (asprintf(&p, "%s/devices", dir) >= 0)
                fk_rmdir(fk, p);
        free(p);
        p = NULL;
        if (asprintf(&p, "%s/type", dir) >= 0)
                fk_unlink(fk, p);
        fk_rmdir(fk, dir);
}

static void fn_done(FakeFn *fn)
{
        free(fn->syspath);
        free(fn->native_driver);
        free(fn->driver);
        free(fn->override);
        free(fn->ifname);
        free(fn->netdev_syspath);
        free(fn->rdma_syspath);
        free(fn->vfio_syspath);
}

/* Adds the PCI device of a function: attributes and IOMMU group in place at "add". */
static int fn_add_pci_device(FakeKernel *fk, FakeFn *fn, const char *parent, char **extra_attrs)
{
        _cleanup_free_ char *vendor = NULL, *device = NULL, *class = NULL, *numa = NULL, *pci_class = NULL,
                            *pci_id = NULL, *subsys = NULL, *target = NULL;
        char *attrs[32];
        size_t n = 0;
        int r;

        fn->iommu_group = fk->next_iommu_group++;
        if (asprintf(&vendor, "0x%04x\n", fn->vendor) < 0 || asprintf(&device, "0x%04x\n", fn->device) < 0 ||
            asprintf(&class, "0x%06x\n", fn->class_code) < 0 || asprintf(&numa, "%d\n", fn->numa_node) < 0 ||
            asprintf(&pci_class, "%X", fn->class_code) < 0 ||
            asprintf(&pci_id, "%04X:%04X", fn->vendor, fn->device) < 0 ||
            asprintf(&subsys, "%04X:0000", fn->vendor) < 0 ||
            asprintf(&target, "/sys/kernel/iommu_groups/%u", fn->iommu_group) < 0)
                return -ENOMEM;

        attrs[n++] = "vendor";
        attrs[n++] = vendor;
        attrs[n++] = "device";
        attrs[n++] = device;
        attrs[n++] = "class";
        attrs[n++] = class;
        attrs[n++] = "numa_node";
        attrs[n++] = numa;
        attrs[n++] = "driver_override";
        attrs[n++] = "(null)\n";
        attrs[n++] = "enable";
        attrs[n++] = "1\n";
        for (char **a = extra_attrs; a && *a && n < ELEMENTSOF(attrs) - 1; a++)
                attrs[n++] = *a;
        attrs[n] = NULL;
        char *props[] = {
                "PCI_CLASS", pci_class,       "PCI_ID", pci_id, "PCI_SUBSYS_ID",
                subsys,      "PCI_SLOT_NAME", fn->pci,  NULL,
        };
        char *links[] = {"iommu_group", target, NULL};

        fn->syspath = path_join(parent, fn->pci);
        if (!fn->syspath)
                return -ENOMEM;
        r = fn_add_iommu_group(fk, fn);
        if (r < 0)
                return r;
        return fk_add_device(fk, "pci", parent, fn->pci, attrs, props, links, NULL);
}

/* ---- VFs ---- */

static char *pf_vf_ifname(FakePf *pf, unsigned index)
{
        const char *pattern = pf->vf_ifname ?: "<pf>v<n>";
        char *out = NULL;
        size_t sz = 0;
        FILE *f = open_memstream(&out, &sz);

        if (!f)
                return NULL;
        for (const char *p = pattern; *p;) {
                if (startswith(p, "<pf>")) {
                        fputs(strempty(pf->fn.ifname), f);
                        p += 4;
                } else if (startswith(p, "<n>")) {
                        fprintf(f, "%u", index);
                        p += 3;
                } else
                        fputc(*p++, f);
        }
        if (fclose(f) != 0)
                return mfree(out);
        return out;
}

static int pf_vf_pci(FakePf *pf, unsigned index, char ret[static 16])
{
        unsigned dom, bus, slot, func, rid;
        int r;

        r = parse_pci(pf->fn.pci, &dom, &bus, &slot, &func);
        if (r < 0)
                return r;
        rid = (bus << 8 | slot << 3 | func) + pf->vf_offset + index * pf->vf_stride;
        if (rid > 0xffff)
                return -ERANGE;
        snprintf(ret, 16, "%04x:%02x:%02x.%x", dom, rid >> 8, (rid >> 3) & 0x1f, rid & 7);
        return 0;
}

/* pci_iov_add_virtfn(): device_add ("add"), physfn/virtfnN links + "change", then the
 * driver probe unless autoprobe is off or the NIC probes late. */
static int pf_add_vf(FakeKernel *fk, FakePf *pf, unsigned index)
{
        _cleanup_free_ char *physfn = NULL, *virtfn = NULL;
        FakeFn *vf;
        int r;

        vf = calloc(1, sizeof(*vf));
        if (!vf)
                return -ENOMEM;
        pf->vfs[pf->n_vfs++] = vf;
        vf->pf = pf;
        vf->vf_index = (int) index;
        r = pf_vf_pci(pf, index, vf->pci);
        if (r < 0)
                return r;
        vf->vendor = pf->fn.vendor;
        vf->device = pf->vf_device;
        vf->class_code = pf->fn.class_code;
        vf->numa_node = pf->fn.numa_node;
        vf->mtu = 1500;
        vf->max_mtu = pf->fn.max_mtu;
        vf->speed = pf->fn.speed;
        if (pf->link_type == FAKE_LINK_INFINIBAND)
                snprintf(vf->mac, sizeof(vf->mac),
                         "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:%02x:00:00:%02x:%02x:%02x", pf->ordinal,
                         index >> 8, index & 0xff, 1);
        else
                snprintf(vf->mac, sizeof(vf->mac), "02:00:%02x:%02x:%02x:01", pf->ordinal, index >> 8,
                         index & 0xff);
        if (!isempty(pf->vf_driver)) {
                vf->native_driver = strdup(pf->vf_driver);
                vf->ifname = pf_vf_ifname(pf, index);
                if (!vf->native_driver || !vf->ifname)
                        return -ENOMEM;
        }

        r = fn_add_pci_device(fk, vf, pf->bridge_syspath, NULL);
        if (r < 0)
                return r;

        if (asprintf(&virtfn, "%s/virtfn%u", pf->fn.syspath, index) < 0 ||
            asprintf(&physfn, "%s/physfn", vf->syspath) < 0)
                return -ENOMEM;
        r = fk_symlink(fk, virtfn, vf->syspath);
        if (r < 0)
                return r;
        r = fk_symlink(fk, physfn, pf->fn.syspath);
        if (r < 0)
                return r;
        fk_uevent(fk, vf->syspath, "change");

        if (!pf->autoprobe)
                return 0;
        if (pf->vf_creation == FAKE_VF_CREATE_DEFER_PROBE) {
                vf->probe_pending = true;
                return 0;
        }
        return fn_probe(fk, vf);
}

static void pf_remove_vf(FakeKernel *fk, FakePf *pf, FakeFn *vf)
{
        _cleanup_free_ char *virtfn = NULL, *physfn = NULL;

        /* pci_iov_remove_virtfn(): links first, then stop (unbind) and remove the device */
        if (asprintf(&virtfn, "%s/virtfn%d", pf->fn.syspath, vf->vf_index) >= 0)
                fk_unlink(fk, virtfn);
        if (asprintf(&physfn, "%s/physfn", vf->syspath) >= 0)
                fk_unlink(fk, physfn);
        if (vf->driver)
                (void) fn_unbind(fk, vf);
        fk_remove_device(fk, vf->syspath);
        fn_remove_iommu_group(fk, vf);
        fn_done(vf);
        free(vf);
}

static void pf_numvfs_changed(FakeKernel *fk, FakePf *pf)
{
        (void) fk_write_attr(fk, pf->fn.syspath, "sriov_numvfs", "%u", pf->num_vfs);
        fk_uevent(fk, pf->fn.syspath, "change");
        if (fk->hooks.numvfs_changed)
                fk->hooks.numvfs_changed(fk->hooks_userdata, pf->fn.pci,
                                         pf->fn.netdev_syspath ? pf->fn.ifindex : 0, pf->n_vfs);
}

static void pf_destroy_vfs(FakeKernel *fk, FakePf *pf)
{
        bool had = pf->n_vfs > 0 || pf->num_vfs > 0;

        for (unsigned i = 0; i < pf->n_vfs; i++)
                pf_remove_vf(fk, pf, pf->vfs[i]);
        pf->vfs = mfree(pf->vfs);
        pf->n_vfs = 0;
        pf->num_vfs = 0;
        pf->create_pending = false;
        if (had)
                pf_numvfs_changed(fk, pf);
}

static int pf_create_vfs(FakeKernel *fk, FakePf *pf)
{
        int r = 0;

        pf->create_pending = false;
        pf->vfs = calloc(pf->num_vfs, sizeof(FakeFn *));
        if (!pf->vfs)
                return -ENOMEM;
        for (unsigned i = 0; i < pf->num_vfs && r >= 0; i++)
                r = pf_add_vf(fk, pf, i);
        if (r < 0) {
                /* sriov_enable() unwinds: the VFs made so far go, sriov_numvfs stays 0 (a VF
                 * routing ID taken by another function is such a failure). */
                log_error_errno(r, "fake-kernel: creating VFs of %s failed: %m", pf->fn.pci);
                pf_destroy_vfs(fk, pf);
                return r;
        }
        pf_numvfs_changed(fk, pf);
        return r;
}

/* ---- attribute writes: the kernel's store() functions ---- */

static int parse_u16(const char *value, unsigned *ret)
{
        unsigned long v;
        char *end;

        /* kstrtou16(buf, 0, ...): one trailing newline is fine, nothing else */
        errno = 0;
        if (!*value || *value == '-' || *value == '+' || *value == ' ')
                return -EINVAL;
        v = strtoul(value, &end, 0);
        if (end == value || (*end && !streq(end, "\n")))
                return -EINVAL;
        if (errno == ERANGE || v > 0xffff)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

static int parse_kbool(const char *value, bool *ret)
{
        /* kstrtobool() */
        switch (value[0]) {
        case 'y':
        case 'Y':
        case '1':
                *ret = true;
                return 0;
        case 'n':
        case 'N':
        case '0':
                *ret = false;
                return 0;
        case 'o':
        case 'O':
                if (value[1] == 'n' || value[1] == 'N') {
                        *ret = true;
                        return 0;
                }
                if (value[1] == 'f' || value[1] == 'F') {
                        *ret = false;
                        return 0;
                }
                break;
        }
        return -EINVAL;
}

static int pf_write_numvfs(FakeKernel *fk, FakePf *pf, const char *value)
{
        unsigned n;
        int r;

        /* sriov_numvfs_store() */
        r = parse_u16(value, &n);
        if (r < 0)
                return r;
        if (n > pf->total_vfs)
                return -ERANGE;
        if (n == pf->num_vfs)
                return 0;
        if (!pf->fn.driver)
                return -ENOENT;
        if (n == 0) {
                pf_destroy_vfs(fk, pf);
                return 0;
        }
        if (pf->num_vfs != 0)
                return -EBUSY;
        pf->num_vfs = n;
        if (pf->vf_creation == FAKE_VF_CREATE_DEFER_ALL) {
                pf->create_pending = true;
                return fk_write_attr(fk, pf->fn.syspath, "sriov_numvfs", "%u", n);
        }
        return pf_create_vfs(fk, pf);
}

static int pf_write_autoprobe(FakeKernel *fk, FakePf *pf, const char *value)
{
        bool b;
        int r;

        r = parse_kbool(value, &b);
        if (r < 0)
                return r;
        pf->autoprobe = b;
        return fk_write_attr(fk, pf->fn.syspath, "sriov_drivers_autoprobe", "%d", b);
}

static int fn_write_override(FakeKernel *fk, FakeFn *fn, const char *value)
{
        _cleanup_free_ char *v = strdup(value);
        size_t l;

        if (!v)
                return -ENOMEM;
        /* driver_set_override(): strips one newline; empty clears */
        l = strlen(v);
        if (l >= 4096)
                return -EINVAL;
        if (l > 0 && v[l - 1] == '\n')
                v[--l] = 0;
        free(fn->override);
        fn->override = l > 0 ? TAKE_PTR(v) : NULL;
        return fk_write_attr(fk, fn->syspath, "driver_override", "%s", fn->override ?: "(null)");
}

static int fn_write_mtu(FakeKernel *fk, FakeFn *fn, const char *value)
{
        uint32_t mtu;
        int r;

        r = safe_atou32(value, &mtu);
        if (r < 0)
                return r;
        if (mtu < 68 || mtu > fn->max_mtu)
                return -EINVAL;
        if (mtu == fn->mtu)
                return 0;
        fn->mtu = mtu;
        r = fk_write_attr(fk, fn->netdev_syspath, "mtu", "%u", mtu);
        if (r < 0)
                return r;
        if (fk->hooks.mtu_changed)
                fk->hooks.mtu_changed(fk->hooks_userdata, fn->ifname, fn->ifindex, mtu);
        return 0;
}

static char *strip_newline(const char *value)
{
        char *v = strdup(value);
        size_t l;

        if (!v)
                return NULL;
        l = strlen(v);
        while (l > 0 && (v[l - 1] == '\n' || v[l - 1] == ' '))
                v[--l] = 0;
        return v;
}

static int bus_write(FakeKernel *fk, const char *canon, const char *value)
{
        _cleanup_free_ char *pci = strip_newline(value), *driver = NULL;
        const char *rest, *slash;
        FakeFn *fn;

        if (!pci)
                return -ENOMEM;
        fn = fk_find_fn(fk, pci);

        if (streq(canon, "/sys/bus/pci/drivers_probe"))
                return fn ? fn_probe(fk, fn) : -ENODEV;

        rest = canon + strlen("/sys/bus/pci/drivers/");
        slash = strchr(rest, '/');
        if (!slash)
                return -EINVAL;
        driver = strndup(rest, slash - rest);
        if (!driver)
                return -ENOMEM;
        if (streq(slash, "/unbind")) {
                if (!fn || !streq_ptr(fn->driver, driver))
                        return -ENODEV;
                return fn_unbind(fk, fn);
        }
        if (streq(slash, "/bind")) {
                if (!fn)
                        return -ENODEV;
                if (fn->driver)
                        return -EBUSY;
                /* the driver must match the device: its ids or driver_override */
                if (!streq_ptr(driver, fn->override ?: fn->native_driver))
                        return -ENODEV;
                return fn_bind(fk, fn, driver);
        }
        /* new_id, remove_id, ...: accepted, no effect */
        return 0;
}

static const char *const read_only_attrs[] = {
        "vendor",           "device",       "class",         "sriov_totalvfs", "sriov_vf_device",
        "sriov_offset",     "sriov_stride", "ifindex",       "iflink",         "address",
        "addr_assign_type", "type",         "uevent_seqnum",
};

static int generic_write(FakeKernel *fk, const char *canon, const char *value)
{
        _cleanup_free_ char *real = fk_real(fk, canon);
        _cleanup_close_ int fd = -EBADF;
        size_t l = strlen(value);

        for (size_t i = 0; i < ELEMENTSOF(read_only_attrs); i++)
                if (streq(path_basename(canon), read_only_attrs[i]))
                        return -EACCES;
        if (!real)
                return -ENOMEM;
        fd = open(real, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, value, l) != (ssize_t) l)
                return -EIO;
        return 0;
}

typedef struct WriteArgs {
        const char *path;
        const char *value;
} WriteArgs;

static int do_write(FakeKernel *fk, void *data)
{
        WriteArgs *a = data;
        _cleanup_free_ char *real = NULL, *dir = NULL, *rdir = NULL, *canon = NULL;
        const char *base, *cdir;
        size_t rl = strlen(fk->root);

        if (!startswith(a->path, "/sys/"))
                return -EACCES;
        real = fk_real(fk, a->path);
        if (!real)
                return -ENOMEM;
        dir = strdup(real);
        if (!dir)
                return -ENOMEM;
        *strrchr(dir, '/') = 0;
        base = path_basename(a->path);
        /* resolve links like .../0000:01:00.0/driver/unbind the way the VFS would */
        rdir = realpath(dir, NULL);
        if (!rdir)
                return -ENOENT;
        if (!startswith(rdir, fk->root) || rdir[rl] != '/')
                return -EACCES;
        if (asprintf(&canon, "%s/%s", rdir + rl, base) < 0)
                return -ENOMEM;
        if (!fk_exists(fk, canon))
                return -ENOENT;
        log_debug("fake-kernel: write %s = \"%s\"", canon, a->value);

        if (startswith(canon, "/sys/bus/pci/"))
                return bus_write(fk, canon, a->value);

        cdir = rdir + rl;
        for (size_t i = 0; i < fk->n_pfs; i++) {
                FakePf *pf = fk->pfs[i];

                for (unsigned k = 0; k <= pf->n_vfs; k++) {
                        FakeFn *fn = k == 0 ? &pf->fn : pf->vfs[k - 1];

                        if (streq(cdir, fn->syspath)) {
                                if (k == 0 && streq(base, "sriov_numvfs"))
                                        return pf_write_numvfs(fk, pf, a->value);
                                if (k == 0 && streq(base, "sriov_drivers_autoprobe"))
                                        return pf_write_autoprobe(fk, pf, a->value);
                                if (streq(base, "driver_override"))
                                        return fn_write_override(fk, fn, a->value);
                        }
                        if (fn->netdev_syspath && streq(cdir, fn->netdev_syspath) && streq(base, "mtu"))
                                return fn_write_mtu(fk, fn, a->value);
                }
        }
        return generic_write(fk, canon, a->value);
}

/* ---- the kernel thread ---- */

static void *kernel_thread(void *userdata)
{
        FakeKernel *fk = userdata;

        pthread_mutex_lock(&fk->lock);
        for (;;) {
                FakeCall *c;

                while (!fk->calls && !fk->quit)
                        pthread_cond_wait(&fk->cond, &fk->lock);
                c = fk->calls;
                if (!c)
                        break;
                fk->calls = c->next;
                if (!fk->calls)
                        fk->calls_tail = NULL;
                pthread_mutex_unlock(&fk->lock);
                c->r = c->fn(fk, c->data);
                pthread_mutex_lock(&fk->lock);
                c->done = true;
                pthread_cond_broadcast(&fk->cond);
        }
        pthread_mutex_unlock(&fk->lock);
        return NULL;
}

/* Runs fn on the kernel thread and waits for it (directly if we are that thread, e.g. from
 * a hook). */
static int fk_call(FakeKernel *fk, int (*fn)(FakeKernel *fk, void *data), void *data)
{
        FakeCall c = {.fn = fn, .data = data};

        if (pthread_equal(pthread_self(), fk->thread))
                return fn(fk, data);
        pthread_mutex_lock(&fk->lock);
        if (fk->calls_tail)
                fk->calls_tail->next = &c;
        else
                fk->calls = &c;
        fk->calls_tail = &c;
        pthread_cond_broadcast(&fk->cond);
        while (!c.done)
                pthread_cond_wait(&fk->cond, &fk->lock);
        pthread_mutex_unlock(&fk->lock);
        return c.r;
}

static int setup(FakeKernel *fk, void *data)
{
        gchar *root;
        int r;

        fk->testbed = umockdev_testbed_new();
        if (!fk->testbed)
                return -ENOMEM;
        if (!umockdev_in_mock_environment())
                return log_error_errno(ENOPKG,
                                       "fake-kernel: not running under libumockdev-preload.so.0 "
                                       "(register the test with umockdev_tests in tests/meson.build)");
        root = umockdev_testbed_get_root_dir(fk->testbed);
        fk->root = strdup(root);
        g_free(root);
        if (!fk->root)
                return -ENOMEM;

        r = fk_write_file(fk, "/sys/bus/pci/drivers_probe", "");
        if (r < 0)
                return r;
        r = fk_write_file(fk, "/sys/bus/pci/rescan", "");
        if (r < 0)
                return r;
        _cleanup_free_ char *p = fk_real(fk, "/sys/kernel/iommu_groups"), *c = fk_real(fk, "/sys/class/net"),
                            *ib = fk_real(fk, "/sys/class/infiniband");
        if (!p || !c || !ib || mkdir_p(p) < 0 || mkdir_p(c) < 0 || mkdir_p(ib) < 0)
                return -EIO;
        return 0;
}

static int teardown(FakeKernel *fk, void *data)
{
        for (size_t i = 0; i < fk->n_pfs; i++) {
                FakePf *pf = fk->pfs[i];
                for (unsigned v = 0; v < pf->n_vfs; v++) {
                        fn_done(pf->vfs[v]);
                        free(pf->vfs[v]);
                }
                free(pf->vfs);
                fn_done(&pf->fn);
                free(pf->bridge_syspath);
                free(pf->vf_driver);
                free(pf->vf_ifname);
                free(pf->rdma_prefix);
                free(pf);
        }
        fk->pfs = mfree(fk->pfs);
        fk->n_pfs = 0;
        /* the testbed's finalizer removes its directory and unsets $UMOCKDEV_DIR */
        if (fk->testbed)
                g_object_unref(fk->testbed);
        fk->testbed = NULL;
        return 0;
}

static int load_driver(FakeKernel *fk, void *data)
{
        const char *driver = data;
        static const char *const files[] = {"bind", "unbind", "new_id", "remove_id", "uevent"};

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *p = NULL;
                int r;

                if (asprintf(&p, "/sys/bus/pci/drivers/%s/%s", driver, files[i]) < 0)
                        return -ENOMEM;
                r = fk_write_file(fk, p, "");
                if (r < 0)
                        return r;
        }
        return 0;
}

static int unload_driver(FakeKernel *fk, void *data)
{
        const char *driver = data;
        static const char *const files[] = {"bind", "unbind", "new_id", "remove_id", "uevent"};
        _cleanup_free_ char *dir = NULL;

        /* module removal unbinds every device first */
        for (size_t i = 0; i < fk->n_pfs; i++) {
                FakePf *pf = fk->pfs[i];
                for (unsigned v = 0; v < pf->n_vfs; v++)
                        if (streq_ptr(pf->vfs[v]->driver, driver))
                                (void) fn_unbind(fk, pf->vfs[v]);
                if (streq_ptr(pf->fn.driver, driver))
                        (void) fn_unbind(fk, &pf->fn);
        }
        if (asprintf(&dir, "/sys/bus/pci/drivers/%s", driver) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *p = path_join(dir, files[i]);
                if (p)
                        fk_unlink(fk, p);
        }
        fk_rmdir(fk, dir);
        return 0;
}

int fake_kernel_new(FakeKernel **ret)
{
        _cleanup_(fake_kernel_freep) FakeKernel *fk = NULL;
        int r;

        fk = calloc(1, sizeof(*fk));
        if (!fk)
                return -ENOMEM;
        pthread_mutex_init(&fk->lock, NULL);
        pthread_cond_init(&fk->cond, NULL);
        fk->idle_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        fk->quit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fk->idle_fd < 0 || fk->quit_fd < 0)
                return -errno;
        fk->next_ifindex = 1000; /* above the ifindexes tests give PFs */
        fk->next_iommu_group = 1;
        fk->next_pf_ordinal = 1;
        r = -pthread_create(&fk->thread, NULL, kernel_thread, fk);
        if (r < 0)
                return r;
        fk->thread_started = true;

        r = fk_call(fk, setup, NULL);
        if (r < 0)
                return r;
        r = -pthread_create(&fk->sender, NULL, sender_thread, fk);
        if (r < 0)
                return r;
        fk->sender_started = true;
        for (size_t i = 0; i < ELEMENTSOF(default_drivers); i++) {
                r = fake_kernel_load_driver(fk, default_drivers[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(fk);
        return 0;
}

FakeKernel *fake_kernel_free(FakeKernel *fk)
{
        if (!fk)
                return NULL;
        fk->missing_modules = strv_free(fk->missing_modules);
        if (fk->thread_started) {
                (void) fk_call(fk, teardown, NULL);
                pthread_mutex_lock(&fk->lock);
                fk->quit = true;
                (void) eventfd_write(fk->quit_fd, 1);
                pthread_cond_broadcast(&fk->cond);
                pthread_mutex_unlock(&fk->lock);
                pthread_join(fk->thread, NULL);
                if (fk->sender_started)
                        pthread_join(fk->sender, NULL);
        }
        free(fk->root);
        strv_free(fk->writes);
        for (size_t i = 0; i < fk->n_rules; i++)
                free(fk->rules[i].suffix);
        free(fk->rules);
        free(fk->block_suffix);
        safe_close(fk->idle_fd);
        safe_close(fk->quit_fd);
        pthread_cond_destroy(&fk->cond);
        pthread_mutex_destroy(&fk->lock);
        return mfree(fk);
}

const char *fake_kernel_root_dir(FakeKernel *fk)
{
        return fk->root;
}

typedef struct HooksArgs {
        const FakeKernelHooks *hooks;
        void *userdata;
} HooksArgs;

static int set_hooks(FakeKernel *fk, void *data)
{
        HooksArgs *a = data;

        fk->hooks = a->hooks ? *a->hooks : (FakeKernelHooks){};
        fk->hooks_userdata = a->userdata;
        return 0;
}

void fake_kernel_set_hooks(FakeKernel *fk, const FakeKernelHooks *hooks, void *userdata)
{
        HooksArgs a = {hooks, userdata};
        (void) fk_call(fk, set_hooks, &a);
}

int fake_kernel_load_driver(FakeKernel *fk, const char *driver)
{
        if (isempty(driver) || strchr(driver, '/'))
                return -EINVAL;
        return fk_call(fk, load_driver, (void *) driver);
}

int fake_kernel_unload_driver(FakeKernel *fk, const char *driver)
{
        if (isempty(driver) || strchr(driver, '/'))
                return -EINVAL;
        return fk_call(fk, unload_driver, (void *) driver);
}

/* ---- PFs ---- */

typedef struct AddPfArgs {
        const FakePfSpec *spec;
        char **ret_syspath;
} AddPfArgs;

static int ensure_bridge(FakeKernel *fk, FakePf *pf, const FakePfSpec *spec)
{
        unsigned dom, bus, slot, func;
        char bridge[16];
        _cleanup_free_ char *root = NULL, *name = NULL, *uevent = NULL;
        int r;

        r = parse_pci(spec->pci, &dom, &bus, &slot, &func);
        if (r < 0)
                return r;
        if (spec->bridge) {
                if (strlen(spec->bridge) >= sizeof(bridge))
                        return -EINVAL;
                strcpy(bridge, spec->bridge);
        } else
                snprintf(bridge, sizeof(bridge), "%04x:%02x:%02x.0", dom, bus & 0xe0, (bus + 1) & 0x1f);
        if (asprintf(&root, "pci%04x:%02x", dom, bus & 0xe0) < 0 ||
            asprintf(&name, "%s/%s", root, bridge) < 0 ||
            asprintf(&pf->bridge_syspath, "/sys/devices/%s", name) < 0 ||
            asprintf(&uevent, "%s/uevent", pf->bridge_syspath) < 0)
                return -ENOMEM;
        if (fk_exists(fk, uevent))
                return 0;
        char *attrs[] = {"vendor", "0x8086\n", "device", "0x29c9\n", "class", "0x060400\n", NULL};
        char *props[] = {"PCI_CLASS", "60400", "PCI_ID", "8086:29C9", "PCI_SLOT_NAME", bridge, NULL};
        return fk_add_device(fk, "pci", NULL, name, attrs, props, NULL, NULL);
}

static int add_pf(FakeKernel *fk, void *data)
{
        AddPfArgs *a = data;
        const FakePfSpec *s = a->spec;
        _cleanup_free_ char *total = NULL, *vfdev = NULL;
        FakePf *pf, **l;
        unsigned dom, bus, slot, func;
        int r;

        if (!s->pci || parse_pci(s->pci, &dom, &bus, &slot, &func) < 0 || s->vendor == 0 || s->device == 0 ||
            (unsigned) s->link_type >= _FAKE_LINK_TYPE_MAX ||
            (unsigned) s->vf_creation >= _FAKE_VF_CREATE_MAX)
                return -EINVAL;
        if (fk_find_fn(fk, s->pci))
                return -EEXIST;
        if (!isempty(s->driver) && !fk_driver_loaded(fk, s->driver))
                return -ENXIO;

        l = reallocarray(fk->pfs, fk->n_pfs + 1, sizeof(FakePf *));
        if (!l)
                return -ENOMEM;
        fk->pfs = l;
        pf = calloc(1, sizeof(*pf));
        if (!pf)
                return -ENOMEM;
        fk->pfs[fk->n_pfs++] = pf;

        pf->fn.pf = pf;
        pf->fn.vf_index = -1;
        snprintf(pf->fn.pci, sizeof(pf->fn.pci), "%04x:%02x:%02x.%x", dom, bus, slot, func);
        pf->fn.vendor = s->vendor;
        pf->fn.device = s->device;
        pf->fn.class_code = s->class_code ?: 0x020000;
        pf->fn.numa_node = s->numa_node;
        pf->fn.ifindex = s->ifindex;
        pf->fn.mtu = s->mtu ?: 1500;
        pf->fn.max_mtu = s->max_mtu ?: DEFAULT_MAX_MTU;
        pf->fn.speed = s->speed ?: 10000;
        pf->ordinal = fk->next_pf_ordinal++;
        pf->total_vfs = s->total_vfs;
        pf->vf_device = s->vf_device ?: s->device;
        pf->link_type = s->link_type;
        pf->vf_offset = s->vf_offset ?: 0x80;
        pf->vf_stride = s->vf_stride ?: 2;
        pf->vf_creation = s->vf_creation;
        pf->autoprobe = true;
        if (s->mac)
                snprintf(pf->fn.mac, sizeof(pf->fn.mac), "%s", s->mac);
        else if (s->link_type == FAKE_LINK_INFINIBAND)
                snprintf(pf->fn.mac, sizeof(pf->fn.mac),
                         "00:00:00:00:fe:80:00:00:00:00:00:00:b8:59:9f:%02x:00:%02x:%02x:%x", pf->ordinal,
                         bus, slot, func);
        else
                snprintf(pf->fn.mac, sizeof(pf->fn.mac), "b8:59:9f:%02x:%02x:%02x", pf->ordinal, bus,
                         slot << 3 | func);
        if ((!isempty(s->driver) && !(pf->fn.native_driver = strdup(s->driver))) ||
            (s->ifname && !(pf->fn.ifname = strdup(s->ifname))) ||
            (!isempty(s->vf_driver) && !(pf->vf_driver = strdup(s->vf_driver))) ||
            (s->vf_ifname && !(pf->vf_ifname = strdup(s->vf_ifname))) ||
            (s->rdma_prefix && !(pf->rdma_prefix = strdup(s->rdma_prefix))))
                return -ENOMEM;

        r = ensure_bridge(fk, pf, s);
        if (r < 0)
                return r;
        if (asprintf(&total, "%u\n", pf->total_vfs) < 0 || asprintf(&vfdev, "0x%04x\n", pf->vf_device) < 0)
                return -ENOMEM;
        char *attrs[] = {
                "sriov_totalvfs",  total, "sriov_numvfs", "0\n", "sriov_drivers_autoprobe", "1\n",
                "sriov_vf_device", vfdev, NULL,
        };
        r = fn_add_pci_device(fk, &pf->fn, pf->bridge_syspath, attrs);
        if (r < 0)
                return r;
        if (pf->fn.native_driver) {
                r = fn_probe(fk, &pf->fn);
                if (r < 0)
                        return r;
        }
        if (a->ret_syspath) {
                *a->ret_syspath = strdup(pf->fn.syspath);
                if (!*a->ret_syspath)
                        return -ENOMEM;
        }
        return 0;
}

int fake_kernel_add_pf(FakeKernel *fk, const FakePfSpec *spec, char **ret_syspath)
{
        AddPfArgs a = {spec, ret_syspath};
        return fk_call(fk, add_pf, &a);
}

static int remove_pf(FakeKernel *fk, void *data)
{
        FakePf *pf = fk_find_pf(fk, data);
        size_t i;

        if (!pf)
                return -ENODEV;
        /* pci_stop_and_remove_bus_device(): the driver's remove (VFs, netdev), then the device */
        if (pf->fn.driver)
                (void) fn_unbind(fk, &pf->fn);
        else
                pf_destroy_vfs(fk, pf);
        fk_remove_device(fk, pf->fn.syspath);
        fn_remove_iommu_group(fk, &pf->fn);

        for (i = 0; i < fk->n_pfs && fk->pfs[i] != pf; i++)
                ;
        memmove(fk->pfs + i, fk->pfs + i + 1, (fk->n_pfs - i - 1) * sizeof(FakePf *));
        fk->n_pfs--;
        free(pf->vfs);
        fn_done(&pf->fn);
        free(pf->bridge_syspath);
        free(pf->vf_driver);
        free(pf->vf_ifname);
        free(pf->rdma_prefix);
        free(pf);
        return 0;
}

int fake_kernel_remove_pf(FakeKernel *fk, const char *pci)
{
        return fk_call(fk, remove_pf, (void *) pci);
}

/* ---- the write seam ---- */

static int ops_write(void *userdata, const char *path, const char *value)
{
        return fake_kernel_write(userdata, path, value);
}

int fake_kernel_set_module_missing(FakeKernel *fk, const char *name)
{
        return strv_extend(&fk->missing_modules, name);
}

static bool fake_kernel_module_available(FakeKernel *fk, const char *name)
{
        return !strv_contains(fk->missing_modules, name);
}

static int ops_load_module(void *userdata, const char *name)
{
        FakeKernel *fk = userdata;

        /* Only drivers the test made available can be "loaded" (a module that exists). */
        if (fake_kernel_module_available(fk, name))
                return fake_kernel_load_driver(fk, name);
        return -ENOENT;
}

static const SysfsOps fake_ops = {
        .write = ops_write,
        .load_module = ops_load_module,
};

const SysfsOps *fake_kernel_sysfs_ops(void)
{
        return &fake_ops;
}

int fake_kernel_write(FakeKernel *fk, const char *path, const char *value)
{
        WriteArgs a = {path, value};
        int r;

        pthread_mutex_lock(&fk->lock);
        (void) strv_extend(&fk->writes, path);

        if (fk->block_suffix && endswith(path, fk->block_suffix)) {
                uint64_t gen = fk->block_generation;

                fk->n_blocked++;
                pthread_cond_broadcast(&fk->cond);
                while (gen == fk->block_generation)
                        pthread_cond_wait(&fk->cond, &fk->lock);
                fk->n_blocked--;
        }

        for (size_t i = 0; i < fk->n_rules; i++) {
                FailRule *rule = &fk->rules[i];

                if (!endswith(path, rule->suffix))
                        continue;
                r = rule->error;
                if (--rule->count == 0) {
                        free(rule->suffix);
                        memmove(rule, rule + 1, (fk->n_rules - i - 1) * sizeof(FailRule));
                        fk->n_rules--;
                }
                pthread_mutex_unlock(&fk->lock);
                log_debug_errno(r, "fake-kernel: injected failure writing %s: %m", path);
                return r;
        }
        pthread_mutex_unlock(&fk->lock);

        return fk_call(fk, do_write, &a);
}

void fake_kernel_fail_next_write(FakeKernel *fk, const char *attr_suffix, int error, unsigned count)
{
        FailRule *l;

        if (count == 0 || error >= 0)
                return;
        pthread_mutex_lock(&fk->lock);
        l = reallocarray(fk->rules, fk->n_rules + 1, sizeof(FailRule));
        if (l) {
                fk->rules = l;
                l[fk->n_rules] = (FailRule){.suffix = strdup(attr_suffix), .error = error, .count = count};
                if (l[fk->n_rules].suffix)
                        fk->n_rules++;
        }
        pthread_mutex_unlock(&fk->lock);
}

void fake_kernel_block_writes(FakeKernel *fk, const char *attr_suffix)
{
        pthread_mutex_lock(&fk->lock);
        free(fk->block_suffix);
        fk->block_suffix = strdup(attr_suffix);
        pthread_mutex_unlock(&fk->lock);
}

void fake_kernel_wait_blocked(FakeKernel *fk, unsigned n)
{
        pthread_mutex_lock(&fk->lock);
        while (fk->n_blocked < n)
                pthread_cond_wait(&fk->cond, &fk->lock);
        pthread_mutex_unlock(&fk->lock);
}

void fake_kernel_unblock_writes(FakeKernel *fk)
{
        pthread_mutex_lock(&fk->lock);
        fk->block_suffix = mfree(fk->block_suffix);
        fk->block_generation++;
        pthread_cond_broadcast(&fk->cond);
        pthread_mutex_unlock(&fk->lock);
}

unsigned fake_kernel_count_writes(FakeKernel *fk, const char *attr_suffix)
{
        unsigned n = 0;

        pthread_mutex_lock(&fk->lock);
        STRV_FOREACH(w, fk->writes)
                if (!attr_suffix || endswith(*w, attr_suffix))
                        n++;
        pthread_mutex_unlock(&fk->lock);
        return n;
}

void fake_kernel_reset_counts(FakeKernel *fk)
{
        pthread_mutex_lock(&fk->lock);
        fk->writes = strv_free(fk->writes);
        pthread_mutex_unlock(&fk->lock);
}

/* ---- slow NICs ---- */

static int complete_pending(FakeKernel *fk, void *data)
{
        unsigned n = 0;

        for (size_t i = 0; i < fk->n_pfs; i++) {
                FakePf *pf = fk->pfs[i];

                if (pf->create_pending) {
                        n += pf->num_vfs;
                        (void) pf_create_vfs(fk, pf);
                }
                for (unsigned v = 0; v < pf->n_vfs; v++)
                        if (pf->vfs[v]->probe_pending) {
                                (void) fn_probe(fk, pf->vfs[v]);
                                n++;
                        }
        }
        return (int) n;
}

static int count_pending(FakeKernel *fk, void *data)
{
        unsigned n = 0;

        for (size_t i = 0; i < fk->n_pfs; i++) {
                FakePf *pf = fk->pfs[i];

                if (pf->create_pending)
                        n += pf->num_vfs;
                for (unsigned v = 0; v < pf->n_vfs; v++)
                        n += pf->vfs[v]->probe_pending;
        }
        return (int) n;
}

unsigned fake_kernel_complete_pending(FakeKernel *fk)
{
        return (unsigned) fk_call(fk, complete_pending, NULL);
}

unsigned fake_kernel_n_pending(FakeKernel *fk)
{
        return (unsigned) fk_call(fk, count_pending, NULL);
}

unsigned fake_kernel_n_uevents_queued(FakeKernel *fk)
{
        unsigned n;

        pthread_mutex_lock(&fk->lock);
        n = fk->n_uevents;
        pthread_mutex_unlock(&fk->lock);
        return n;
}

int fake_kernel_uevent_idle_fd(FakeKernel *fk)
{
        return fk->idle_fd;
}

/* ---- queries and the world changing ---- */

typedef struct QueryArgs {
        const char *pci;
        int vf_index; /* -1: the PF */
        bool want_pci;
        char **ret;
} QueryArgs;

static int query(FakeKernel *fk, void *data)
{
        QueryArgs *a = data;
        FakePf *pf = fk_find_pf(fk, a->pci);
        FakeFn *fn;
        char *s;

        if (!pf)
                return -ENODEV;
        if (a->vf_index < 0)
                fn = &pf->fn;
        else if ((unsigned) a->vf_index < pf->n_vfs)
                fn = pf->vfs[a->vf_index];
        else
                return -ENODEV;
        s = strdup(a->want_pci ? fn->pci : fn->syspath);
        if (!s)
                return -ENOMEM;
        *a->ret = s;
        return 0;
}

int fake_kernel_pf_syspath(FakeKernel *fk, const char *pci, char **ret)
{
        QueryArgs a = {pci, -1, false, ret};
        return fk_call(fk, query, &a);
}

int fake_kernel_vf_syspath(FakeKernel *fk, const char *pf_pci, unsigned vf_index, char **ret)
{
        QueryArgs a = {pf_pci, (int) vf_index, false, ret};
        return vf_index > INT_MAX ? -ERANGE : fk_call(fk, query, &a);
}

int fake_kernel_vf_pci(FakeKernel *fk, const char *pf_pci, unsigned vf_index, char **ret)
{
        QueryArgs a = {pf_pci, (int) vf_index, true, ret};
        return vf_index > INT_MAX ? -ERANGE : fk_call(fk, query, &a);
}

typedef struct AttrArgs {
        const char *syspath, *attr, *value, *action;
} AttrArgs;

static int set_attr(FakeKernel *fk, void *data)
{
        AttrArgs *a = data;
        _cleanup_free_ char *uevent = path_join(a->syspath, "uevent");
        int r;

        if (!uevent)
                return -ENOMEM;
        if (!fk_exists(fk, uevent))
                return -ENODEV;
        if (a->attr) {
                r = fk_write_attr(fk, a->syspath, a->attr, "%s", a->value);
                if (r < 0)
                        return r;
        }
        if (a->action)
                fk_uevent(fk, a->syspath, a->action);
        return 0;
}

int fake_kernel_set_attr(FakeKernel *fk, const char *syspath, const char *attr, const char *value,
                         const char *uevent_action)
{
        AttrArgs a = {syspath, attr, value, uevent_action};

        if (!syspath || !attr || !value || strchr(attr, '/') || !startswith(syspath, "/sys/"))
                return -EINVAL;
        return fk_call(fk, set_attr, &a);
}

typedef struct MtuArgs {
        int ifindex;
        uint32_t mtu;
} MtuArgs;

static FakeFn *fk_find_netdev(FakeKernel *fk, int ifindex)
{
        for (size_t i = 0; i < fk->n_pfs; i++) {
                FakePf *pf = fk->pfs[i];

                for (unsigned k = 0; k <= pf->n_vfs; k++) {
                        FakeFn *fn = k == 0 ? &pf->fn : pf->vfs[k - 1];

                        if (fn->netdev_syspath && fn->ifindex == ifindex)
                                return fn;
                }
        }
        return NULL;
}

static int set_netdev_mtu(FakeKernel *fk, void *data)
{
        MtuArgs *a = data;
        FakeFn *fn = fk_find_netdev(fk, a->ifindex);

        if (!fn)
                return -ENODEV;
        fn->mtu = a->mtu;
        return fk_write_attr(fk, fn->netdev_syspath, "mtu", "%u", a->mtu);
}

typedef struct RenameArgs {
        int ifindex;
        const char *name;
} RenameArgs;

/* dev_change_name(): the class device takes its new name and /sys/class/net follows, then
 * "move". */
static int rename_netdev(FakeKernel *fk, void *data)
{
        RenameArgs *a = data;
        FakeFn *fn = fk_find_netdev(fk, a->ifindex);
        _cleanup_free_ char *name = NULL, *syspath = NULL, *from = NULL, *to = NULL, *old_list = NULL,
                            *new_list = NULL, *uevent = NULL, *props = NULL;
        int r;

        if (!fn)
                return -ENODEV;
        name = strdup(a->name);
        if (!name || asprintf(&syspath, "%s/net/%s", fn->syspath, a->name) < 0 ||
            asprintf(&old_list, "/sys/class/net/%s", fn->ifname) < 0 ||
            asprintf(&new_list, "/sys/class/net/%s", a->name) < 0 ||
            asprintf(&props, "INTERFACE=%s\nIFINDEX=%d\n", a->name, fn->ifindex) < 0 ||
            !(uevent = path_join(syspath, "uevent")) || !(from = fk_real(fk, fn->netdev_syspath)) ||
            !(to = fk_real(fk, syspath)))
                return -ENOMEM;
        if (fk_exists(fk, uevent))
                return -EEXIST;
        if (rename(from, to) < 0)
                return -errno;
        fk_unlink(fk, old_list);
        r = fk_symlink(fk, new_list, syspath);
        if (r >= 0)
                r = fk_write_file(fk, uevent, props);
        if (r < 0)
                return r;
        free(fn->ifname);
        fn->ifname = TAKE_PTR(name);
        free(fn->netdev_syspath);
        fn->netdev_syspath = TAKE_PTR(syspath);
        fk_uevent(fk, fn->netdev_syspath, "move");
        return 0;
}

int fake_kernel_rename_netdev(FakeKernel *fk, int ifindex, const char *name)
{
        RenameArgs a = {ifindex, name};

        if (!name || isempty(name) || strchr(name, '/'))
                return -EINVAL;
        return fk_call(fk, rename_netdev, &a);
}

int fake_kernel_netdev_mtu_changed(FakeKernel *fk, int ifindex, uint32_t mtu)
{
        MtuArgs a = {ifindex, mtu};

        return fk_call(fk, set_netdev_mtu, &a);
}

int fake_kernel_uevent(FakeKernel *fk, const char *syspath, const char *action)
{
        AttrArgs a = {syspath, NULL, NULL, action};

        if (!syspath || !action || !startswith(syspath, "/sys/"))
                return -EINVAL;
        return fk_call(fk, set_attr, &a);
}
