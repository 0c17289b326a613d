/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "log.h"
#include "util.h"

char **strv_free(char **l)
{
        STRV_FOREACH(s, l)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l)
{
        size_t n = 0;
        STRV_FOREACH(s, l)
                n++;
        return n;
}

int strv_push(char ***l, char *value)
{
        size_t n = strv_length(*l);
        char **c;

        if (!value)
                return -EINVAL;
        c = realloc(*l, sizeof(char *) * (n + 2));
        if (!c) {
                free(value);
                return -ENOMEM;
        }
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *value)
{
        char *v = strdup(value);

        if (!v)
                return -ENOMEM;
        return strv_push(l, v);
}

int strv_extendf(char ***l, const char *fmt, ...)
{
        va_list ap;
        char *v;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&v, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return strv_push(l, v);
}

bool strv_contains(char *const *l, const char *s)
{
        STRV_FOREACH(i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

char *path_join(const char *a, const char *b)
{
        char *p;
        size_t la = strlen(a);

        while (*b == '/')
                b++;
        if (asprintf(&p, "%s%s%s", a, la > 0 && a[la - 1] == '/' ? "" : "/", b) < 0)
                return NULL;
        return p;
}

char *path_prefix_root(const char *root, const char *path)
{
        if (isempty(root) || streq(root, "/"))
                return strdup(path);
        return path_join(root, path);
}

const char *path_basename(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

/* Memory on big hosts (16,384 VFs: docs/PERFORMANCE.md). One malloc arena: the job threads
 * only write sysfs, and an arena of their own each would stay resident after them. A fixed
 * mmap threshold: glibc's dynamic one rises to the largest block freed (a GetManagedObjects
 * reply of megabytes), after which such blocks come from the heap, whose pages stay when
 * the heap cannot shrink past what lives above them. The benches call it too. */
void malloc_setup(void)
{
        (void) mallopt(M_ARENA_MAX, 1);
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

int read_one_line_file(const char *path, char **ret)
{
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t sz = 0;
        ssize_t n;

        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        errno = 0;
        n = getline(&line, &sz, f);
        if (n < 0) {
                if (ferror(f))
                        return errno > 0 ? -errno : -EIO;
                /* Empty file: an empty value, not an error. */
                line = strdup("");
                if (!line)
                        return -ENOMEM;
                n = 0;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = 0;
        *ret = TAKE_PTR(line);
        return 0;
}

int write_string_file(const char *path, const char *value)
{
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(value);
        ssize_t n;

        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        /* sysfs wants the whole value in one write(); the kernel's error is the write's errno. */
        n = write(fd, value, len);
        if (n < 0)
                return negative_errno();
        if ((size_t) n != len)
                return -EIO;
        return 0;
}

int read_u32_file(const char *path, uint32_t *ret)
{
        _cleanup_free_ char *s = NULL;
        int r;

        r = read_one_line_file(path, &s);
        if (r < 0)
                return r;
        return safe_atou32(s, ret);
}

int read_int_file(const char *path, int *ret)
{
        _cleanup_free_ char *s = NULL;
        int r;

        r = read_one_line_file(path, &s);
        if (r < 0)
                return r;
        return safe_atoi(s, ret);
}

int readlink_basename(const char *path, char **ret)
{
        return readlinkat_basename(AT_FDCWD, path, ret);
}

int readlinkat_basename(int dfd, const char *path, char **ret)
{
        char buf[PATH_MAX];
        ssize_t n;
        char *b;

        n = readlinkat(dfd, path, buf, sizeof(buf) - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        b = strdup(path_basename(buf));
        if (!b)
                return -ENOMEM;
        *ret = b;
        return 0;
}

int safe_atou32(const char *s, uint32_t *ret)
{
        unsigned long long v;
        char *end;

        if (isempty(s) || !isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno > 0)
                return -errno;
        while (*end == '\n' || *end == ' ')
                end++;
        if (*end)
                return -EINVAL;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

int safe_atoi(const char *s, int *ret)
{
        long v;
        char *end;

        if (isempty(s))
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno > 0)
                return -errno;
        while (*end == '\n' || *end == ' ')
                end++;
        if (*end || end == s)
                return -EINVAL;
        if (v < INT_MIN || v > INT_MAX)
                return -ERANGE;
        *ret = (int) v;
        return 0;
}

int safe_atou16_hex(const char *s, uint16_t *ret)
{
        unsigned long v;
        char *end;

        if (isempty(s))
                return -EINVAL;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                s += 2;
        if (!isxdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 16);
        if (errno > 0)
                return -errno;
        if (*end && *end != '\n')
                return -EINVAL;
        if (v > UINT16_MAX)
                return -ERANGE;
        *ret = (uint16_t) v;
        return 0;
}

static unsigned hex_digit_value(char c)
{
        return c <= '9' ? (unsigned) (c - '0') : (unsigned) (tolower((unsigned char) c) - 'a' + 10);
}

int parse_ether_addr(const char *s, struct ether_addr *ret)
{
        struct ether_addr a;

        if (!s || strlen(s) != 17)
                return -EINVAL;
        for (size_t i = 0; i < 6; i++) {
                const char *p = s + i * 3;

                if (!isxdigit((unsigned char) p[0]) || !isxdigit((unsigned char) p[1]))
                        return -EINVAL;
                if (i < 5 && p[2] != ':')
                        return -EINVAL;
                /* Two checked hex digits: no strtoul() per octet (a config's MACs are parsed on
                 * every reload). */
                a.ether_addr_octet[i] = (uint8_t) (hex_digit_value(p[0]) << 4 | hex_digit_value(p[1]));
        }
        *ret = a;
        return 0;
}

char *ether_addr_to_string(const struct ether_addr *a, char buf[static ETHER_ADDR_STRLEN])
{
        static const char hex[] = "0123456789abcdef";
        const uint8_t *o = a->ether_addr_octet;

        /* By hand: GetManagedObjects formats one MAC per VF, and snprintf() was 3 % of it. */
        for (size_t i = 0; i < 6; i++) {
                buf[3 * i] = hex[o[i] >> 4];
                buf[3 * i + 1] = hex[o[i] & 15];
                buf[3 * i + 2] = i < 5 ? ':' : '\0';
        }
        return buf;
}

bool ether_addr_is_null(const struct ether_addr *a)
{
        static const struct ether_addr null = {};
        return ether_addr_equal(a, &null);
}

int asprintf_safe(char **ret, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(ret, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

int free_and_strdup(char **p, const char *s)
{
        char *t;

        if (streq_ptr(*p, s))
                return 0;
        if (s) {
                t = strdup(s);
                if (!t)
                        return -ENOMEM;
        } else
                t = NULL;
        free(*p);
        *p = t;
        return 1;
}

int free_and_vasprintf(char **p, const char *fmt, va_list ap)
{
        _cleanup_free_ char *v = NULL;

        if (fmt && vasprintf(&v, fmt, ap) < 0)
                return -ENOMEM;
        return free_and_strdup(p, v);
}

int parse_range(const char *s, unsigned *ret_first, unsigned *ret_last)
{
        _cleanup_free_ char *a = NULL;
        const char *dash;
        uint32_t first, last;
        int r;

        if (isempty(s))
                return -EINVAL;
        dash = strchr(s, '-');
        if (!dash) {
                r = safe_atou32(s, &first);
                if (r < 0)
                        return r;
                last = first;
        } else {
                a = strndup(s, dash - s);
                if (!a)
                        return -ENOMEM;
                r = safe_atou32(a, &first);
                if (r < 0)
                        return r;
                r = safe_atou32(dash + 1, &last);
                if (r < 0)
                        return r;
        }
        if (first > last)
                return -ERANGE;
        *ret_first = first;
        *ret_last = last;
        return 0;
}

const char *test_crash_at, *test_stop_at;

void test_crash_point(const char *point)
{
        if (test_crash_at && streq(test_crash_at, point)) {
                log_notice("Test hook: SIGKILL at %s.", point);
                (void) raise(SIGKILL);
        }
        if (test_stop_at && streq(test_stop_at, point)) {
                test_stop_at = NULL; /* once: the next pass runs through */
                log_notice("Test hook: SIGSTOP at %s.", point);
                (void) raise(SIGSTOP);
        }
}

/* A temporary file beside it, then rename: a reader of the directory sees the old content or
 * the new, never a part. No fsync: for files under /run (tmpfs) that readers need now, not
 * after a power loss (leases, which do, have their own path in lease.c). */
int write_file_atomic_at(int dir_fd, const char *name, const char *text)
{
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(text);
        int r;

        r = asprintf_safe(&tmp, ".%s.tmp", name);
        if (r < 0)
                return r;
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return negative_errno();
        if (write(fd, text, n) != (ssize_t) n) {
                r = errno > 0 ? -errno : -EIO;
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        fd = safe_close(fd);
        if (renameat(dir_fd, tmp, dir_fd, name) < 0) {
                r = negative_errno();
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        return 0;
}
