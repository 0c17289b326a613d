/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "netdev-hints.h"
#include "pf.h"
#include "sysfs.h"
#include "util.h"

static int hint_dir_open(Manager *m, bool create)
{
        int fd;

        if (create && mkdir(m->hint_dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        fd = open(m->hint_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

/* udev runs the rules again for the netdev and the managers read the result. */
static void netdev_retrigger(VirtualFunction *vf)
{
        _cleanup_free_ char *net = NULL, *dev = NULL;

        if (!vf->syspath || !vf->ifname)
                return;
        net = path_join(vf->syspath, "net");
        dev = net ? path_join(net, vf->ifname) : NULL;
        if (dev)
                (void) sysfs_write_attr(dev, "uevent", "change");
}

/* Kept in the VF (a netdev name is shorter than IFNAMSIZ), not in a string of its own. */
static void hint_ifname_set(VirtualFunction *vf)
{
        _Static_assert(sizeof(vf->hint_ifname) == IFNAMSIZ, "hint_ifname holds a netdev name");
        (void) snprintf(vf->hint_ifname, sizeof(vf->hint_ifname), "%s", strempty(vf->ifname));
}

int netdev_hint_sync_vf(Manager *m, VirtualFunction *vf)
{
        _cleanup_close_ int dir_fd = -EBADF;
        int want = !isempty(vf->pool);
        int r;

        if (!m->hint_dir || !vf->syspath || !vf->pf->pools_known)
                return 0;
        if (want == vf->netdev_hint) {
                /* Its netdev appeared (or was renamed) after the file: udev may have run the
                 * rules for it before the file existed. */
                if (want && vf->ifname && !streq(vf->ifname, vf->hint_ifname)) {
                        netdev_retrigger(vf);
                        hint_ifname_set(vf);
                }
                return 0;
        }
        dir_fd = hint_dir_open(m, want);
        if (dir_fd == -ENOENT && !want) {
                vf->netdev_hint = 0;
                return 0;
        }
        if (dir_fd < 0)
                return log_vf_full_errno(vf, LOG_WARNING, dir_fd, "Cannot open %s: %m", m->hint_dir);
        /* First look at this VF (a restart): a file from before that is still right stays,
         * and its netdev is not bothered with another uevent. */
        if (vf->netdev_hint < 0 && (faccessat(dir_fd, vf->pci, F_OK, 0) == 0) == want) {
                vf->netdev_hint = want;
                hint_ifname_set(vf);
                return 0;
        }
        if (want) {
                r = write_file_atomic_at(dir_fd, vf->pci, NETDEV_HINT_TEXT);
                if (r < 0)
                        return log_vf_full_errno(vf, LOG_WARNING, r, "Cannot write %s/%s: %m", m->hint_dir,
                                                 vf->pci);
        } else if (unlinkat(dir_fd, vf->pci, 0) < 0 && errno != ENOENT)
                return log_vf_full_errno(vf, LOG_WARNING, errno, "Cannot remove %s/%s: %m", m->hint_dir,
                                         vf->pci);
        vf->netdev_hint = want;
        netdev_retrigger(vf);
        hint_ifname_set(vf);
        return 0;
}

int netdev_hint_prune(Manager *m)
{
        _cleanup_close_ int dir_fd = -EBADF;
        struct dirent *de;
        DIR *d;
        int fd;

        if (!m->hint_dir)
                return 0;
        dir_fd = hint_dir_open(m, false);
        if (dir_fd == -ENOENT)
                return 0;
        if (dir_fd < 0)
                return dir_fd;
        fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        /* After the initial reconcile every VF that exists has been looked at: a file of a
         * PCI function that is no pooled VF of ours now is stale (VF gone, PF unplugged while
         * we were down). */
        while ((de = readdir(d))) {
                VirtualFunction *vf;

                if (de->d_name[0] == '.')
                        continue;
                vf = manager_get_vf(m, de->d_name);
                if (vf && vf->netdev_hint > 0)
                        continue;
                if (unlinkat(dir_fd, de->d_name, 0) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Cannot remove %s/%s: %m", m->hint_dir, de->d_name);
                else if (vf) {
                        /* Pooled before, not now: the host may manage it again. */
                        vf->netdev_hint = 0;
                        netdev_retrigger(vf);
                }
        }
        closedir(d);
        return 0;
}
