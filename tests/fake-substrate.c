/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fake-substrate.h"
#include "udev.h"
#include "util.h"

static void on_numvfs_changed(void *userdata, const char *pf_pci, int pf_ifindex, unsigned n_vfs)
{
        FakeSubstrate *s = userdata;

        if (pf_ifindex > 0)
                (void) fake_netlink_set_num_vfs(s->netlink, pf_ifindex, n_vfs);
}

static void on_netdev_added(void *userdata, const char *ifname, int ifindex, const char *mac, unsigned mtu,
                            const char *parent_pci, int pf_ifindex, int vf_index)
{
        FakeSubstrate *s = userdata;
        struct ether_addr a = {};

        /* Only PFs have a VF table; VF netdevs are plain links. */
        if (mac)
                (void) parse_ether_addr(mac, &a);
        if (s->no_parent_names)
                parent_pci = NULL;
        (void) fake_netlink_add_link_on(s->netlink, ifindex, ifname, &a, mtu, parent_pci ? "pci" : NULL,
                                        parent_pci);
}

static void on_netdev_removed(void *userdata, const char *ifname, int ifindex)
{
        FakeSubstrate *s = userdata;

        (void) fake_netlink_remove_link(s->netlink, ifindex);
}

static void on_netlink_mtu_changed(void *userdata, int ifindex, uint32_t mtu)
{
        FakeSubstrate *s = userdata;

        (void) fake_kernel_netdev_mtu_changed(s->kernel, ifindex, mtu);
}

static const FakeKernelHooks hooks = {
        .numvfs_changed = on_numvfs_changed,
        .netdev_added = on_netdev_added,
        .netdev_removed = on_netdev_removed,
};

static int mkdir_p(const char *root, const char *rel)
{
        _cleanup_free_ char *p = path_join(root, rel);
        char *slash;

        if (!p)
                return -ENOMEM;
        for (slash = strchr(p + 1, '/');; slash = strchr(slash + 1, '/')) {
                if (slash)
                        *slash = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                if (!slash)
                        return 0;
                *slash = '/';
        }
}

int fake_substrate_new(FakeSubstrate **ret)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s = NULL;
        char tmpl[] = "/tmp/sriovd-test-XXXXXX";
        _cleanup_free_ char *mid = NULL;
        int r;

        s = calloc(1, sizeof(FakeSubstrate));
        if (!s)
                return -ENOMEM;
        r = fake_kernel_new(&s->kernel);
        if (r < 0)
                return r;
        s->netlink = fake_netlink_new();
        if (!s->netlink)
                return -ENOMEM;
        fake_kernel_set_hooks(s->kernel, &hooks, s);
        fake_netlink_set_mtu_hook(s->netlink, on_netlink_mtu_changed, s);
        sysfs_set_ops(fake_kernel_sysfs_ops(), s->kernel);

        if (!mkdtemp(tmpl))
                return -errno;
        s->root = strdup(tmpl);
        s->state_dir = path_join(tmpl, "var/lib/sriovd");
        if (!s->root || !s->state_dir)
                return -ENOMEM;
        r = mkdir_p(s->root, "etc/sriov.d");
        if (r >= 0)
                r = mkdir_p(s->root, "var/lib/sriovd");
        if (r < 0)
                return r;
        mid = path_join(s->root, "etc/machine-id");
        if (!mid)
                return -ENOMEM;
        {
                FILE *f = fopen(mid, "we");

                if (!f)
                        return -errno;
                fputs("5a1c0ffee0ddf00d5a1c0ffee0ddf00d\n", f);
                fclose(f);
        }
        *ret = TAKE_PTR(s);
        return 0;
}

static void rm_rf(const char *p)
{
        char *argv[] = {(char *) "rm", (char *) "-rf", (char *) "--", (char *) p, NULL};
        pid_t pid = fork();

        if (pid == 0) {
                execvp("rm", argv);
                _exit(127);
        }
        if (pid > 0)
                (void) waitpid(pid, NULL, 0);
}

FakeSubstrate *fake_substrate_free(FakeSubstrate *s)
{
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->uevents_idle);
        manager_free(s->manager);
        sysfs_set_ops(NULL, NULL);
        fake_kernel_free(s->kernel);
        fake_netlink_free(s->netlink);
        if (s->root && strncmp(s->root, "/tmp/sriovd-test-", 17) == 0)
                rm_rf(s->root);
        free(s->root);
        free(s->state_dir);
        return mfree(s);
}

int fake_substrate_add_pf(FakeSubstrate *s, const FakePfSpec *spec)
{
        return fake_kernel_add_pf(s->kernel, spec, NULL);
}

int fake_substrate_add_igb(FakeSubstrate *s, unsigned bus, unsigned total_vfs, char **ret_pci)
{
        char pci[16], ifname[16];
        FakePfSpec spec = {
                .pci = pci,
                .vendor = 0x8086,
                .device = 0x10c9,
                .total_vfs = total_vfs,
                .numa_node = (int) (bus % 2),
                .driver = "igb",
                .ifname = ifname,
                .ifindex = 100 + (int) bus,
                .vf_device = 0x10ca,
                .vf_driver = "igbvf",
        };
        int r;

        snprintf(pci, sizeof(pci), "0000:%02x:00.0", bus);
        snprintf(ifname, sizeof(ifname), "enp%us0", bus);
        r = fake_kernel_add_pf(s->kernel, &spec, NULL);
        if (r < 0)
                return r;
        if (ret_pci) {
                *ret_pci = strdup(pci);
                if (!*ret_pci)
                        return -ENOMEM;
        }
        return 0;
}

int fake_substrate_write_config(FakeSubstrate *s, const char *name, const char *text)
{
        _cleanup_free_ char *dir = path_join(s->root, "etc/sriov.d"), *p = NULL, *tmp = NULL;
        FILE *f;

        if (!dir)
                return -ENOMEM;
        p = path_join(dir, name);
        if (!p || asprintf_safe(&tmp, "%s.tmp", p) < 0)
                return -ENOMEM;
        f = fopen(tmp, "we");
        if (!f)
                return -errno;
        fputs(text, f);
        if (fclose(f) < 0)
                return -errno;
        return rename(tmp, p) < 0 ? -errno : 0;
}

int fake_substrate_remove_config(FakeSubstrate *s, const char *name)
{
        _cleanup_free_ char *dir = path_join(s->root, "etc/sriov.d"), *p = NULL;

        if (!dir)
                return -ENOMEM;
        p = path_join(dir, name);
        if (!p)
                return -ENOMEM;
        return unlink(p) < 0 ? -errno : 0;
}

/* The fake kernel's sender thread counts a uevent as delivered only after send() returns, so
 * the loop can read the last uevent, find it still counted (settled() says no) and go back to
 * sleep with nothing left to wake it: settling then took the whole timeout (seen as a test
 * daemon ready after 60 s under load). The kernel's "queue ran empty" eventfd wakes it. */
static int on_uevents_idle(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        eventfd_t v;

        (void) eventfd_read(fd, &v);
        return 0;
}

int fake_substrate_watch_uevents(FakeSubstrate *s)
{
        return sd_event_add_io(s->manager->event, &s->uevents_idle, fake_kernel_uevent_idle_fd(s->kernel),
                               EPOLLIN, on_uevents_idle, s);
}

int fake_substrate_manager(FakeSubstrate *s, Manager **ret)
{
        ManagerOptions o = {
                .root = s->root,
                .state_dir = s->state_dir,
                .no_notify = true,
                .pci_names_no_hwdb = true,
        };
        int r;

        r = fake_netlink_new_netlink(s->netlink, &o.netlink);
        if (r < 0)
                return r;
        r = manager_new(&o, &s->manager);
        if (r < 0)
                return r;
        r = fake_substrate_watch_uevents(s);
        if (r < 0)
                return r;
        if (ret)
                *ret = s->manager;
        return 0;
}

static bool netlink_events_pending(FakeSubstrate *s)
{
        struct pollfd p = {.fd = fake_netlink_transport.event_fd(s->netlink), .events = POLLIN};

        return poll(&p, 1, 0) > 0;
}

static bool settled(Manager *m, void *userdata)
{
        FakeSubstrate *s = userdata;

        if (netlink_events_pending(s))
                return false;

        /* Everything the fake kernel did is in our sockets and read, and nothing is pending. */
        return fake_kernel_n_uevents_queued(s->kernel) == 0 && fake_kernel_n_pending(s->kernel) == 0 &&
               !udev_watch_has_pending(m->udev) && job_runner_active(m->jobs) == 0 &&
               manager_is_settled(m) && m->initial_done;
}

int fake_substrate_settle(FakeSubstrate *s, uint64_t usec)
{
        return manager_run_until(s->manager, settled, s, usec);
}

int fake_substrate_rename_netdev(FakeSubstrate *s, int ifindex, const char *name)
{
        int r = fake_kernel_rename_netdev(s->kernel, ifindex, name);

        return r < 0 ? r : fake_netlink_set_link_name(s->netlink, ifindex, name);
}

unsigned fake_substrate_numvfs_writes(FakeSubstrate *s)
{
        return fake_kernel_count_writes(s->kernel, "sriov_numvfs");
}

uint64_t fake_substrate_setlinks(FakeSubstrate *s)
{
        return fake_netlink_get_stats(s->netlink).setlinks;
}

void fake_substrate_reset_counts(FakeSubstrate *s)
{
        fake_kernel_reset_counts(s->kernel);
        fake_netlink_reset_stats(s->netlink);
}
