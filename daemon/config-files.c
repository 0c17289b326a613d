/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finding the drop-ins: the directories by priority, masking by /dev/null, symlinks inside
 * root, one file per basename; reading one bounded; and the fingerprint Reload compares. */

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "config-internal.h"
#include "config.h"
#include "log.h"
#include "util.h"

#ifndef PKG_LIBDIR_SRIOVD
#define PKG_LIBDIR_SRIOVD "/usr/local/lib/sriov.d"
#endif

const char *const config_dirs_default[] = {
        "/usr/lib/sriov.d", PKG_LIBDIR_SRIOVD, /* dropped at load time when it equals one of the others */
        "/run/sriov.d",     "/etc/sriov.d",    NULL,
};

static void drop_in_done(DropIn *d)
{
        free(d->name);
        free(d->path);
        free(d->target);
}

static int drop_in_compare(const void *a, const void *b)
{
        return strcmp(((const DropIn *) a)->name, ((const DropIn *) b)->name);
}

static bool is_dev_null(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

/* Decides what a directory entry is: 1 = a file to read (or a mask, *ret_masked), 0 = skip. */
static int classify_drop_in(const char *root, const char *path, bool *ret_masked, char **ret_target)
{
        _cleanup_free_ char *target = NULL;
        struct stat st;

        if (lstat(path, &st) < 0)
                return log_debug_errno(errno, "Ignoring %s: %m", path), 0;

        if (S_ISLNK(st.st_mode)) {
                char buf[PATH_MAX];
                ssize_t n = readlink(path, buf, sizeof(buf) - 1);

                if (n < 0)
                        return log_debug_errno(errno, "Ignoring %s: %m", path), 0;
                buf[n] = '\0';
                if (streq(buf, "/dev/null")) {
                        *ret_masked = true;
                        *ret_target = NULL;
                        return 1;
                }
                /* In an image or test tree an absolute link points into that tree, not the
                 * host's. One level is enough for the "link to a shared file" use. */
                target = buf[0] == '/' ? path_prefix_root(root, buf) : strdup(path);
        } else
                target = strdup(path);
        if (!target)
                return -ENOMEM;

        if (stat(target, &st) < 0)
                return log_debug_errno(errno, "Ignoring %s: %m", path), 0;
        if (is_dev_null(&st)) {
                *ret_masked = true;
                *ret_target = NULL;
                return 1;
        }
        if (!S_ISREG(st.st_mode))
                return log_debug("Ignoring %s: not a regular file.", path), 0;

        *ret_masked = false;
        *ret_target = TAKE_PTR(target);
        return 1;
}

static bool drop_in_name_is_valid(const char *name)
{
        size_t n = strlen(name);

        /* Hidden files are editor and package-manager leftovers (".#50-x.conf" is an Emacs
         * lock symlink). */
        return name[0] != '.' && n > 5 && streq(name + n - 5, ".conf");
}

static int collect_dir(const char *root, const char *dir, DropIn **drop_ins, size_t *n_drop_ins)
{
        _cleanup_free_ char *d = NULL;
        DIR *dh;
        struct dirent *de;
        int r = 0;

        d = path_prefix_root(root, dir);
        if (!d)
                return -ENOMEM;
        dh = opendir(d);
        if (!dh) {
                if (errno != ENOENT)
                        log_debug_errno(errno, "Cannot read %s, ignoring: %m", d);
                return 0;
        }

        while ((errno = 0, de = readdir(dh))) {
                _cleanup_free_ char *path = NULL, *target = NULL;
                DropIn *found = NULL;
                bool masked = false;

                if (!drop_in_name_is_valid(de->d_name))
                        continue;
                path = path_join(d, de->d_name);
                if (!path) {
                        r = -ENOMEM;
                        break;
                }
                r = classify_drop_in(root, path, &masked, &target);
                if (r < 0)
                        break;
                if (r == 0)
                        continue;

                FOREACH_ARRAY(x, *drop_ins, *n_drop_ins)
                        if (streq(x->name, de->d_name)) {
                                found = x;
                                break;
                        }
                if (!found) {
                        DropIn *a = reallocarray(*drop_ins, *n_drop_ins + 1, sizeof(DropIn));

                        if (!a) {
                                r = -ENOMEM;
                                break;
                        }
                        *drop_ins = a;
                        found = &a[(*n_drop_ins)++];
                        *found = (DropIn){.name = strdup(de->d_name)};
                        if (!found->name) {
                                r = -ENOMEM;
                                break;
                        }
                } else
                        log_debug("%s overrides %s%s.", path, found->path, masked ? " (masked)" : "");

                /* Directories come lowest priority first: the later one wins. */
                free(found->path);
                free(found->target);
                found->path = TAKE_PTR(path);
                found->target = TAKE_PTR(target);
                found->masked = masked;
                r = 0;
        }
        if (r == 0 && errno > 0)
                log_debug_errno(errno, "Cannot read %s completely: %m", d);
        closedir(dh);
        return r;
}

int read_drop_in(const char *path, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;

        /* At most one byte more than allowed, so that the parser can tell "too large"; sized
         * by the file rather than by that bound (a 1 MiB buffer per drop-in and reload was an
         * mmap() and munmap() each time), grown if the file grows while it is read. */
        cap = MIN((size_t) MAX(st.st_size, (off_t) 0), (size_t) CONFIG_FILE_SIZE_MAX) + 1;
        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        while (len < CONFIG_FILE_SIZE_MAX + 1) {
                ssize_t n;

                if (len == cap) {
                        size_t c = MIN(cap * 2, (size_t) CONFIG_FILE_SIZE_MAX + 1);
                        char *b = realloc(buf, c);

                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        cap = c;
                }
                n = read(fd, buf + len, cap - len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += n;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static bool dir_is_repeated_later(const char *const *dirs, size_t i)
{
        for (size_t j = i + 1; dirs[j]; j++)
                if (streq(dirs[i], dirs[j]))
                        return true;
        return false;
}

void drop_ins_free(DropIn *drop_ins, size_t n_drop_ins)
{
        FOREACH_ARRAY(d, drop_ins, n_drop_ins)
                drop_in_done(d);
        free(drop_ins);
}

/* The surviving drop-ins of all directories, by basename, in the order they are read. */
int collect_drop_ins(const char *root, const char *const *dirs, DropIn **ret, size_t *ret_n)
{
        DropIn *drop_ins = NULL;
        size_t n_drop_ins = 0;
        int r;

        if (!dirs)
                dirs = config_dirs_default;
        for (size_t i = 0; dirs[i]; i++) {
                /* PKG_LIBDIR_SRIOVD may equal /usr/lib/sriov.d; keep only the occurrence with
                 * the highest priority so a directory is never read twice. */
                if (dir_is_repeated_later(dirs, i))
                        continue;
                r = collect_dir(root, dirs[i], &drop_ins, &n_drop_ins);
                if (r < 0) {
                        drop_ins_free(drop_ins, n_drop_ins);
                        return r;
                }
        }
        if (n_drop_ins > 0)
                qsort(drop_ins, n_drop_ins, sizeof(DropIn), drop_in_compare);
        *ret = drop_ins;
        *ret_n = n_drop_ins;
        return 0;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
        const unsigned char *c = p;

        for (size_t i = 0; i < n; i++) {
                h ^= c[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

int config_set_fingerprint(const char *root, const char *const *dirs, uint64_t *ret)
{
        DropIn *drop_ins = NULL;
        size_t n_drop_ins = 0;
        uint64_t h = 0xcbf29ce484222325ULL;
        int r;

        r = collect_drop_ins(root, dirs, &drop_ins, &n_drop_ins);
        if (r < 0)
                return r;
        FOREACH_ARRAY(d, drop_ins, n_drop_ins) {
                struct stat st = {};

                h = fnv1a(h, d->path, strlen(d->path) + 1);
                h = fnv1a(h, &d->masked, sizeof(d->masked));
                if (d->target && stat(d->target, &st) >= 0) {
                        uint64_t v[5] = {st.st_dev, st.st_ino, (uint64_t) st.st_size,
                                         (uint64_t) st.st_mtim.tv_sec, (uint64_t) st.st_mtim.tv_nsec};

                        h = fnv1a(h, v, sizeof(v));
                }
        }
        drop_ins_free(drop_ins, n_drop_ins);
        *ret = h;
        return 0;
}
