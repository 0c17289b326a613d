/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>

#include "sysfs.h"
#include "util.h"

static int real_write(void *userdata, const char *path, const char *value)
{
        return write_string_file(path, value);
}

extern char **environ;

static int spawn_and_wait(char **argv)
{
        pid_t pid;
        int status, r;

        r = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
        if (r != 0)
                return -r;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ENOENT;
}

/* On a systemd host the module is loaded by modprobe@.service, outside our sandbox: the unit
 * then needs neither CAP_SYS_MODULE nor the module syscalls (see units/sriovd.service.in).
 * That service ignores modprobe's result, so the caller checks that the driver appeared.
 * Without systemd, or if systemctl fails, modprobe directly. */
static int real_load_module(void *userdata, const char *name)
{
        char *argv[] = {(char *) "modprobe", (char *) "-q", (char *) "--", (char *) name, NULL};

        if (sd_booted() > 0) {
                /* The instance is unescaped with "-" as "/": spell the module with "_", which
                 * modprobe takes as the same name. Driver names come from config.c's known list. */
                _cleanup_free_ char *unit = NULL;

                if (asprintf_safe(&unit, "modprobe@%s.service", name) < 0)
                        return -ENOMEM;
                for (char *c = unit; *c; c++)
                        if (*c == '-')
                                *c = '_';
                if (spawn_and_wait((char *[]){(char *) "systemctl", (char *) "start", (char *) "--quiet",
                                              unit, NULL}) >= 0)
                        return 0;
        }
        return spawn_and_wait(argv);
}

static const SysfsOps real_ops = {
        .write = real_write,
        .load_module = real_load_module,
};

static const SysfsOps *ops = &real_ops;
static void *ops_userdata;
static _Atomic uint64_t write_count, read_count;

void sysfs_set_ops(const SysfsOps *o, void *userdata)
{
        ops = o ?: &real_ops;
        ops_userdata = o ? userdata : NULL;
}

int sysfs_write(const char *path, const char *value)
{
        atomic_fetch_add(&write_count, 1);
        return ops->write(ops_userdata, path, value);
}

int sysfs_write_attr(const char *syspath, const char *attr, const char *value)
{
        _cleanup_free_ char *p = path_join(syspath, attr);

        if (!p)
                return -ENOMEM;
        return sysfs_write(p, value);
}

int sysfs_write_attr_u32(const char *syspath, const char *attr, uint32_t value)
{
        char buf[16];

        snprintf(buf, sizeof(buf), "%u", value);
        return sysfs_write_attr(syspath, attr, buf);
}

/* An attribute is one short line: open, one read, close. stdio would add an fstat, a second
 * read for EOF and a buffer allocation to every attribute of every VF. */
int sysfs_read_attr_at(int dfd, const char *dir, const char *attr, char **ret)
{
        _cleanup_free_ char *p = path_join(dir, attr);
        _cleanup_close_ int fd = -EBADF;
        char buf[4096];
        ssize_t n;
        char *s;

        if (!p)
                return -ENOMEM;
        atomic_fetch_add(&read_count, 1);
        fd = openat(dfd, p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        /* The first line, without its newline (an empty file is an empty value). */
        buf[strcspn(buf, "\r\n")] = 0;
        s = strdup(buf);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int sysfs_read_attr(const char *syspath, const char *attr, char **ret)
{
        return sysfs_read_attr_at(AT_FDCWD, syspath, attr, ret);
}

int sysfs_read_attr_u32(const char *syspath, const char *attr, uint32_t *ret)
{
        _cleanup_free_ char *s = NULL;
        int r;

        r = sysfs_read_attr(syspath, attr, &s);
        if (r < 0)
                return r;
        return safe_atou32(s, ret);
}

int sysfs_read_attr_int(const char *syspath, const char *attr, int *ret)
{
        _cleanup_free_ char *s = NULL;
        int r;

        r = sysfs_read_attr(syspath, attr, &s);
        if (r < 0)
                return r;
        return safe_atoi(s, ret);
}

int sysfs_read_link_attr_at(int dfd, const char *dir, const char *attr, char **ret)
{
        _cleanup_free_ char *p = path_join(dir, attr);

        if (!p)
                return -ENOMEM;
        atomic_fetch_add(&read_count, 1);
        return readlinkat_basename(dfd, p, ret);
}

int sysfs_read_link_attr(const char *syspath, const char *attr, char **ret)
{
        return sysfs_read_link_attr_at(AT_FDCWD, syspath, attr, ret);
}

int sysfs_read_link_path_at(int dfd, const char *syspath, const char *attr, char **ret)
{
        _cleanup_free_ char *p = dfd == AT_FDCWD ? path_join(syspath, attr) : strdup(attr), *path = NULL;
        char buf[PATH_MAX];
        const char *t;
        size_t n;
        ssize_t k;

        if (!p)
                return -ENOMEM;
        atomic_fetch_add(&read_count, 1);
        k = readlinkat(dfd, p, buf, sizeof(buf) - 1);
        if (k < 0)
                return negative_errno();
        buf[k] = 0;
        if (buf[0] == '/')
                return -EINVAL;
        /* sysfs links are relative ("../0000:03:10.0") and a device's syspath has no symlink
         * in it: resolving by hand is exact, one readlink instead of a realpath() walk. */
        path = strdup(syspath);
        if (!path)
                return -ENOMEM;
        n = strlen(path);
        for (t = buf; *t;) {
                const char *e = strchrnul(t, '/');

                if (e - t == 2 && t[0] == '.' && t[1] == '.') {
                        char *slash = memrchr(path, '/', n);

                        if (!slash || slash == path)
                                return -EINVAL;
                        n = slash - path;
                        path[n] = 0;
                } else if (e - t > 0 && !(e - t == 1 && t[0] == '.')) {
                        char *q = realloc(path, n + 1 + (e - t) + 1);

                        if (!q)
                                return -ENOMEM;
                        path = q;
                        path[n++] = '/';
                        memcpy(path + n, t, e - t);
                        n += e - t;
                        path[n] = 0;
                }
                t = *e ? e + 1 : e;
        }
        *ret = TAKE_PTR(path);
        return 0;
}

int sysfs_read_link_path(const char *syspath, const char *attr, char **ret)
{
        return sysfs_read_link_path_at(AT_FDCWD, syspath, attr, ret);
}

int sysfs_first_entry_at(int dfd, const char *dir, const char *sub, char **ret)
{
        _cleanup_free_ char *p = path_join(dir, sub);
        struct dirent *de;
        DIR *d;
        int fd, r = -ENOENT;

        if (!p)
                return -ENOMEM;
        atomic_fetch_add(&read_count, 1);
        fd = openat(dfd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                r = negative_errno();
                safe_close(fd);
                return r;
        }
        while ((de = readdir(d)))
                if (de->d_name[0] != '.') {
                        *ret = strdup(de->d_name);
                        r = *ret ? 0 : -ENOMEM;
                        break;
                }
        closedir(d);
        return r;
}

int sysfs_first_entry(const char *syspath, const char *dir, char **ret)
{
        return sysfs_first_entry_at(AT_FDCWD, syspath, dir, ret);
}

int sysfs_open_dir(const char *syspath)
{
        int fd;

        atomic_fetch_add(&read_count, 1);
        fd = open(syspath, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

int sysfs_read_uevent_seqnum(uint64_t *ret)
{
        _cleanup_free_ char *s = NULL;
        unsigned long long v;
        char *end;
        int r;

        r = sysfs_read_attr("/sys/kernel", "uevent_seqnum", &s);
        if (r < 0)
                return r;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno > 0 || end == s || *end || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        *ret = v;
        return 0;
}

int sysfs_load_module(const char *name)
{
        return ops->load_module ? ops->load_module(ops_userdata, name) : real_load_module(NULL, name);
}

uint64_t sysfs_get_write_count(void)
{
        return atomic_load(&write_count);
}

uint64_t sysfs_get_read_count(void)
{
        return atomic_load(&read_count);
}
