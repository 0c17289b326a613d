/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "allocation.h"
#include "lease.h"
#include "liveness.h"
#include "log.h"
#include "util.h"

typedef struct PidWatch {
        uint32_t pid;
        uint64_t start;
        sd_event_source *source;
} PidWatch;

struct Liveness {
        PidWatch *pids;
        size_t n_pids;
        void *unit_data;
        void (*unit_data_free)(void *data);
};

static Liveness *liveness_get(Manager *m)
{
        if (!m->liveness)
                m->liveness = calloc(1, sizeof(Liveness));
        return m->liveness;
}

void liveness_set_unit_data(Manager *m, void *data, void (*free_func)(void *data))
{
        Liveness *l = liveness_get(m);

        if (!l) {
                free_func(data);
                return;
        }
        l->unit_data = data;
        l->unit_data_free = free_func;
}

void *liveness_get_unit_data(Manager *m)
{
        return m->liveness ? m->liveness->unit_data : NULL;
}

void liveness_free(Manager *m)
{
        Liveness *l = m->liveness;

        if (!l)
                return;
        for (size_t i = 0; i < l->n_pids; i++)
                sd_event_source_disable_unref(l->pids[i].source);
        free(l->pids);
        if (l->unit_data_free)
                l->unit_data_free(l->unit_data);
        m->liveness = mfree(l);
}

static const char *proc_path(const char *proc_root)
{
        return proc_root ?: "/proc";
}

int boot_id_get(const char *proc_root, char ret[static ID128_STRING_MAX])
{
        _cleanup_free_ char *path = NULL, *line = NULL;
        size_t k = 0;
        int r;

        r = asprintf_safe(&path, "%s/sys/kernel/random/boot_id", proc_path(proc_root));
        if (r < 0)
                return r;
        r = read_one_line_file(path, &line);
        if (r < 0)
                return r;
        for (const char *p = line; *p; p++) {
                if (*p == '-')
                        continue;
                if (k >= 32)
                        return -EBADMSG;
                ret[k++] = *p;
        }
        ret[k] = 0;
        return id128_string_is_valid(ret) ? 0 : -EBADMSG;
}

/* Field 22 of /proc/PID/stat; field 2 (comm, in parentheses) may hold anything, so count
 * from the last ')'. */
static int process_start_time(const char *proc_root, pid_t pid, uint64_t *ret)
{
        _cleanup_free_ char *path = NULL, *line = NULL;
        const char *p;
        int r;

        r = asprintf_safe(&path, "%s/%d/stat", proc_path(proc_root), (int) pid);
        if (r < 0)
                return r;
        r = read_one_line_file(path, &line);
        if (r == -ENOENT)
                return -ESRCH;
        if (r < 0)
                return r;
        p = strrchr(line, ')');
        if (!p)
                return -EBADMSG;
        p++;
        /* Fields 3..21 come first: skip 19 of them. */
        for (unsigned field = 3; field <= 22; field++) {
                p += strspn(p, " ");
                if (!*p)
                        return -EBADMSG;
                if (field == 22) {
                        char *end;

                        errno = 0;
                        *ret = strtoull(p, &end, 10);
                        if (errno || end == p)
                                return -EBADMSG;
                        return 0;
                }
                p += strcspn(p, " ");
        }
        return -EBADMSG;
}

static int pidfd_open_(pid_t pid)
{
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);

        return fd < 0 ? negative_errno() : fd;
}

/* A pidfd polls readable once its process has exited. */
static bool pidfd_exited(int fd)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};

        return poll(&p, 1, 0) > 0;
}

int process_identify(const char *proc_root, pid_t pid, int *ret_pidfd, uint64_t *ret_start,
                     char ret_boot_id[static ID128_STRING_MAX])
{
        _cleanup_close_ int fd = -EBADF;
        uint64_t start;
        int r;

        if (pid <= 0)
                return -EINVAL;
        r = boot_id_get(proc_root, ret_boot_id);
        if (r < 0)
                return r;
        fd = pidfd_open_(pid);
        if (fd < 0)
                return fd;
        r = process_start_time(proc_root, pid, &start);
        /* The pidfd says the process exists: a /proc that does not show it hides it
         * (ProtectProc=invisible hides other users' processes from sriovd). */
        if (r == -ESRCH && !pidfd_exited(fd))
                return -EACCES;
        if (r < 0)
                return r;
        /* Still running now: the stat read above was of the process the pidfd holds. */
        if (pidfd_exited(fd))
                return -ESRCH;
        *ret_start = start;
        *ret_pidfd = TAKE_FD(fd);
        return 0;
}

static void pid_watch_drop(Liveness *l, size_t i)
{
        sd_event_source_disable_unref(l->pids[i].source);
        l->pids[i] = l->pids[--l->n_pids];
}

static int on_pid_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;
        Liveness *l = m->liveness;
        unsigned n = 0;
        int r;

        for (size_t i = 0; i < l->n_pids; i++) {
                uint32_t pid;
                uint64_t start;

                if (l->pids[i].source != s)
                        continue;
                pid = l->pids[i].pid;
                start = l->pids[i].start;
                pid_watch_drop(l, i);
                r = manager_release_pid(m, pid, start, &n);
                if (r < 0)
                        /* Those not ended stay, on disk and on the bus; the next start ends
                         * them (the process is gone by then). */
                        log_error_errno(r,
                                        "Process %" PRIu32
                                        " exited; released %u bound lease(s), the rest stay: %m",
                                        pid, n);
                else if (n > 0)
                        log_info("Process %" PRIu32 " exited, released %u bound lease(s).", pid, n);
                break;
        }
        return 0;
}

int manager_watch_pid(Manager *m, uint32_t pid, uint64_t start, int pidfd)
{
        _cleanup_close_ int fd = pidfd;
        Liveness *l = liveness_get(m);
        PidWatch *a;
        int r;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_pids; i++)
                if (l->pids[i].pid == pid && l->pids[i].start == start)
                        return 0;
        a = reallocarray(l->pids, l->n_pids + 1, sizeof(PidWatch));
        if (!a)
                return -ENOMEM;
        l->pids = a;
        a = &l->pids[l->n_pids];
        *a = (PidWatch){.pid = pid, .start = start};
        r = sd_event_add_io(m->event, &a->source, fd, EPOLLIN, on_pid_exit, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_io_fd_own(a->source, true);
        (void) sd_event_source_set_description(a->source, "lease-pid");
        TAKE_FD(fd);
        l->n_pids++;
        return 0;
}

/* Is the process a lease is bound to still the one that took it? 1 yes (*ret_pidfd set), 0 no. */
static int lease_process_alive(Manager *m, const Lease *l, const char *boot_id, int *ret_pidfd)
{
        char b[ID128_STRING_MAX];
        uint64_t start;
        int r;

        if (!streq_ptr(l->bind_boot_id, boot_id))
                return 0;
        r = process_identify(NULL, (pid_t) l->bind_pid, ret_pidfd, &start, b);
        if (r == -ESRCH)
                return 0;
        if (r < 0)
                return r;
        if (start != l->bind_pid_start) {
                *ret_pidfd = safe_close(*ret_pidfd);
                return 0;
        }
        return 1;
}

int manager_rearm_bindings(Manager *m)
{
        _cleanup_free_ PidWatch *gone = NULL;
        char boot_id[ID128_STRING_MAX];
        size_t n_gone = 0;
        bool have_boot_id;
        int r;

        have_boot_id = boot_id_get(NULL, boot_id) >= 0;
        LEASE_STORE_FOREACH(l, m->leases) {
                if (l->bind_pid == 0)
                        continue;
                if (have_boot_id) {
                        _cleanup_close_ int fd = -EBADF;

                        r = lease_process_alive(m, l, boot_id, &fd);
                        if (r > 0) {
                                r = manager_watch_pid(m, l->bind_pid, l->bind_pid_start, TAKE_FD(fd));
                                if (r < 0)
                                        log_warning_errno(
                                                r, "Cannot watch process %" PRIu32 ", its leases stay: %m",
                                                l->bind_pid);
                                continue;
                        }
                        if (r < 0) {
                                log_warning_errno(r, "Cannot check process %" PRIu32 ", its leases stay: %m",
                                                  l->bind_pid);
                                continue;
                        }
                } else {
                        log_warning("Cannot read this boot's id, leases of process %" PRIu32 " stay.",
                                    l->bind_pid);
                        continue;
                }
                {
                        PidWatch *a = reallocarray(gone, n_gone + 1, sizeof(PidWatch));

                        if (!a)
                                return log_oom();
                        gone = a;
                        gone[n_gone++] = (PidWatch){.pid = l->bind_pid, .start = l->bind_pid_start};
                }
        }
        /* Not while iterating the store. */
        for (size_t i = 0; i < n_gone; i++) {
                unsigned n = 0;

                r = manager_release_pid(m, gone[i].pid, gone[i].start, &n);
                if (r < 0)
                        log_warning_errno(r, "Cannot remove leases of process %" PRIu32 ": %m", gone[i].pid);
                else if (n > 0)
                        log_info("Process %" PRIu32 " ended while we were down (or its pid is another "
                                 "process's now), released %u bound lease(s).",
                                 gone[i].pid, n);
        }
        return 0;
}
