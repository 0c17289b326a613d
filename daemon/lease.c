/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>

#include "lease.h"
#include "log.h"
#include "util.h"

#define LEASES_SUBDIR "leases"
#define TEMP_PREFIX   ".#"
/* A lease file is a handful of short lines; anything much bigger is not ours. */
#define LEASE_FILE_MAX (16 * 1024)

struct LeaseStore {
        char *dir; /* <state dir>/leases */
        int dir_fd;
        Lease **leases; /* sorted by (pf_pci, vf_index) */
        size_t n_leases, n_allocated;
        char **load_errors;
        /* Storage faults injected by tests (lease_store_fail_next()). */
        int fault_error[_LEASE_IO_MAX];
        unsigned fault_count[_LEASE_IO_MAX];
};

void lease_store_fail_next(LeaseStore *s, LeaseIo io, int error, unsigned count)
{
        assert(io >= 0 && io < _LEASE_IO_MAX && error < 0);
        s->fault_error[io] = error;
        s->fault_count[io] = count;
}

/* The storage seam: 0, or the injected -errno (the operation is then not performed). */
static int lease_io_fault(LeaseStore *s, LeaseIo io)
{
        if (s->fault_count[io] == 0)
                return 0;
        s->fault_count[io]--;
        return s->fault_error[io];
}

static bool utf8_valid_no_control(const char *s, size_t max)
{
        const unsigned char *p = (const unsigned char *) s;
        size_t len = 0;

        while (*p) {
                unsigned c = *p, n;
                uint32_t cp;

                if (c < 0x80) {
                        if (c < 0x20 || c == 0x7f)
                                return false;
                        p++;
                        len++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0) {
                        n = 1;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        n = 2;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        n = 3;
                        cp = c & 0x07;
                } else
                        return false;
                for (unsigned i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                /* Reject overlong forms, surrogates, out-of-range and C1 controls. */
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || (cp >= 0x80 && cp < 0xa0))
                        return false;
                p += n + 1;
                len += n + 1;
        }
        return len > 0 && len <= max;
}

bool lease_owner_is_valid(const char *owner)
{
        return owner && utf8_valid_no_control(owner, LEASE_OWNER_MAX);
}

bool lease_pool_is_valid(const char *pool)
{
        size_t n;

        if (isempty(pool))
                return false;
        n = strlen(pool);
        if (n > LEASE_POOL_MAX)
                return false;
        for (const char *p = pool; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("._:@+-", *p)))
                        return false;
        return true;
}

static bool is_lower_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool pci_address_is_valid(const char *pci)
{
        /* DDDD:BB:DD.F; the domain may be longer than 4 digits (VMD uses 10000+). */
        size_t n, dom;

        if (!pci)
                return false;
        n = strlen(pci);
        if (n < 12 || n > 16)
                return false;
        dom = n - 8;
        for (size_t i = 0; i < dom; i++)
                if (!is_lower_hex(pci[i]))
                        return false;
        const char *t = pci + dom;
        return t[0] == ':' && is_lower_hex(t[1]) && is_lower_hex(t[2]) && t[3] == ':' &&
               is_lower_hex(t[4]) && is_lower_hex(t[5]) && t[4] <= '1' && t[6] == '.' && t[7] >= '0' &&
               t[7] <= '7';
}

bool bus_unique_name_is_valid(const char *name)
{
        if (!name || name[0] != ':' || !name[1] || strlen(name) > 255)
                return false;
        for (const char *p = name + 1; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '.' || *p == '_' || *p == '-'))
                        return false;
        return true;
}

bool unit_name_is_valid(const char *name)
{
        const char *dot;

        if (isempty(name) || strlen(name) > 255)
                return false;
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr(":_.@\\-", *p)))
                        return false;
        dot = strrchr(name, '.');
        return dot && dot != name && dot[1] && name[0] != '.';
}

bool id128_string_is_valid(const char *s)
{
        if (!s || strlen(s) != 32)
                return false;
        for (; *s; s++)
                if (!is_lower_hex(*s))
                        return false;
        return true;
}

static Lease *lease_free(Lease *l)
{
        if (!l)
                return NULL;
        free(l->pf_pci);
        free(l->vf_pci);
        free(l->pool);
        free(l->owner);
        free(l->caller);
        free(l->bind_unit);
        free(l->bind_unit_invocation);
        free(l->bind_boot_id);
        return mfree(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Lease *, lease_free);

static int lease_validate(const Lease *l)
{
        if (!pci_address_is_valid(l->pf_pci))
                return -EINVAL;
        if (!isempty(l->vf_pci) && !pci_address_is_valid(l->vf_pci))
                return -EINVAL;
        if (!lease_pool_is_valid(l->pool) || !lease_owner_is_valid(l->owner))
                return -EINVAL;
        if (l->bind_to_caller ? !bus_unique_name_is_valid(l->caller) : !isempty(l->caller))
                return -EINVAL;
        if (l->vf_index > 65535) /* PCIe: TotalVFs is 16 bit */
                return -EINVAL;
        if (!isempty(l->bind_unit) &&
            (!unit_name_is_valid(l->bind_unit) || !id128_string_is_valid(l->bind_unit_invocation)))
                return -EINVAL;
        if (isempty(l->bind_unit) && !isempty(l->bind_unit_invocation))
                return -EINVAL;
        if (l->bind_pid > 0 ? !id128_string_is_valid(l->bind_boot_id)
                            : l->bind_pid_start != 0 || !isempty(l->bind_boot_id))
                return -EINVAL;
        return 0;
}

static int lease_dup(const Lease *l, Lease **ret)
{
        _cleanup_(lease_freep) Lease *c = NULL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->pf_pci = strdup(l->pf_pci);
        c->vf_pci = strdup(strempty(l->vf_pci));
        c->pool = strdup(l->pool);
        c->owner = strdup(l->owner);
        c->caller = strdup(strempty(l->caller));
        c->bind_unit = strdup(strempty(l->bind_unit));
        c->bind_unit_invocation = strdup(strempty(l->bind_unit_invocation));
        c->bind_boot_id = strdup(strempty(l->bind_boot_id));
        if (!c->pf_pci || !c->vf_pci || !c->pool || !c->owner || !c->caller || !c->bind_unit ||
            !c->bind_unit_invocation || !c->bind_boot_id)
                return -ENOMEM;
        c->bind_pid = l->bind_pid;
        c->bind_pid_start = l->bind_pid_start;
        c->vf_index = l->vf_index;
        c->bind_to_caller = l->bind_to_caller;
        c->created_usec = l->created_usec;
        *ret = TAKE_PTR(c);
        return 0;
}

static int lease_cmp_key(const char *pf_a, unsigned idx_a, const char *pf_b, unsigned idx_b)
{
        int r = strcmp(pf_a, pf_b);

        if (r != 0)
                return r;
        return idx_a < idx_b ? -1 : idx_a > idx_b ? 1 : 0;
}

/* Index of the lease with this key, or of where it would be inserted; *found says which. */
static size_t lease_store_bisect(const LeaseStore *s, const char *pf_pci, unsigned vf_index, bool *found)
{
        size_t lo = 0, hi = s->n_leases;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int r = lease_cmp_key(s->leases[mid]->pf_pci, s->leases[mid]->vf_index, pf_pci, vf_index);

                if (r == 0) {
                        *found = true;
                        return mid;
                }
                if (r < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

static int lease_store_reserve(LeaseStore *s, size_t n)
{
        Lease **a;
        size_t m;

        if (n <= s->n_allocated)
                return 0;
        m = MAX(n, s->n_allocated * 2);
        m = MAX(m, (size_t) 16);
        a = reallocarray(s->leases, m, sizeof(Lease *));
        if (!a)
                return -ENOMEM;
        s->leases = a;
        s->n_allocated = m;
        return 0;
}

/* Takes ownership of l. Caller made sure the key is free and there is room. */
static void lease_store_insert_at(LeaseStore *s, size_t i, Lease *l)
{
        memmove(s->leases + i + 1, s->leases + i, (s->n_leases - i) * sizeof(Lease *));
        s->leases[i] = l;
        s->n_leases++;
}

static void lease_store_drop_at(LeaseStore *s, size_t i)
{
        lease_free(s->leases[i]);
        memmove(s->leases + i, s->leases + i + 1, (s->n_leases - i - 1) * sizeof(Lease *));
        s->n_leases--;
}

static int lease_file_name(const char *pf_pci, unsigned vf_index, char **ret)
{
        return asprintf_safe(ret, "%s-%u", pf_pci, vf_index);
}

static int lease_serialize(const Lease *l, char **ret)
{
        return asprintf_safe(ret,
                             "# sriovd lease; written by sriovd, do not edit while it runs\n"
                             "PF=%s\n"
                             "VF_INDEX=%u\n"
                             "VF=%s\n"
                             "POOL=%s\n"
                             "OWNER=%s\n"
                             "BIND_TO_CALLER=%s\n"
                             "CALLER=%s\n"
                             "CREATED_USEC=%" PRIu64 "\n"
                             "BIND_UNIT=%s\n"
                             "BIND_UNIT_INVOCATION=%s\n"
                             "BIND_PID=%" PRIu32 "\n"
                             "BIND_PID_START=%" PRIu64 "\n"
                             "BIND_BOOT_ID=%s\n",
                             l->pf_pci, l->vf_index, l->vf_pci, l->pool, l->owner,
                             l->bind_to_caller ? "yes" : "no", l->caller, l->created_usec,
                             strempty(l->bind_unit), strempty(l->bind_unit_invocation), l->bind_pid,
                             l->bind_pid_start, strempty(l->bind_boot_id));
}

static int parse_bool(const char *v, bool *ret)
{
        if (streq(v, "yes") || streq(v, "1") || streq(v, "true"))
                *ret = true;
        else if (streq(v, "no") || streq(v, "0") || streq(v, "false"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

static int parse_u64(const char *v, uint64_t *ret)
{
        char *end;
        unsigned long long u;

        if (!*v || *v < '0' || *v > '9')
                return -EINVAL;
        errno = 0;
        u = strtoull(v, &end, 10);
        if (errno || *end)
                return -EINVAL;
        *ret = u;
        return 0;
}

/* Parses the text of one lease file. *ret_why gets a static reason on -EINVAL. */
static int lease_parse(char *text, Lease **ret, const char **ret_why)
{
        _cleanup_(lease_freep) Lease *l = NULL;
        bool have_index = false, have_bind = false, have_created = false, have_pid = false,
             have_pid_start = false;
        char *line, *saveptr = NULL;

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;

        for (line = strtok_r(text, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                char *eq, **field = NULL;
                const char *v;

                if (line[0] == '#')
                        continue;
                eq = strchr(line, '=');
                if (!eq) {
                        *ret_why = "line without '='";
                        return -EINVAL;
                }
                *eq = 0;
                v = eq + 1;

                if (streq(line, "PF"))
                        field = &l->pf_pci;
                else if (streq(line, "VF"))
                        field = &l->vf_pci;
                else if (streq(line, "POOL"))
                        field = &l->pool;
                else if (streq(line, "OWNER"))
                        field = &l->owner;
                else if (streq(line, "CALLER"))
                        field = &l->caller;
                else if (streq(line, "BIND_UNIT"))
                        field = &l->bind_unit;
                else if (streq(line, "BIND_UNIT_INVOCATION"))
                        field = &l->bind_unit_invocation;
                else if (streq(line, "BIND_BOOT_ID"))
                        field = &l->bind_boot_id;
                else if (streq(line, "BIND_PID")) {
                        if (have_pid || safe_atou32(v, &l->bind_pid) < 0) {
                                *ret_why = "bad BIND_PID";
                                return -EINVAL;
                        }
                        have_pid = true;
                } else if (streq(line, "BIND_PID_START")) {
                        if (have_pid_start || parse_u64(v, &l->bind_pid_start) < 0) {
                                *ret_why = "bad BIND_PID_START";
                                return -EINVAL;
                        }
                        have_pid_start = true;
                } else if (streq(line, "VF_INDEX")) {
                        uint32_t u;
                        if (have_index || safe_atou32(v, &u) < 0) {
                                *ret_why = "bad VF_INDEX";
                                return -EINVAL;
                        }
                        l->vf_index = u;
                        have_index = true;
                } else if (streq(line, "BIND_TO_CALLER")) {
                        if (have_bind || parse_bool(v, &l->bind_to_caller) < 0) {
                                *ret_why = "bad BIND_TO_CALLER";
                                return -EINVAL;
                        }
                        have_bind = true;
                } else if (streq(line, "CREATED_USEC")) {
                        if (have_created || parse_u64(v, &l->created_usec) < 0) {
                                *ret_why = "bad CREATED_USEC";
                                return -EINVAL;
                        }
                        have_created = true;
                } else {
                        /* Newer versions may add keys: ignore them rather than lose a lease. */
                        continue;
                }

                if (field) {
                        if (*field) {
                                *ret_why = "duplicate key";
                                return -EINVAL;
                        }
                        *field = strdup(v);
                        if (!*field)
                                return -ENOMEM;
                }
        }

        if (!l->pf_pci || !have_index || !l->pool || !l->owner) {
                *ret_why = "missing key (PF, VF_INDEX, POOL and OWNER are required)";
                return -EINVAL;
        }
        if (!l->vf_pci && !(l->vf_pci = strdup("")))
                return -ENOMEM;
        if (!l->caller && !(l->caller = strdup("")))
                return -ENOMEM;
        if ((!l->bind_unit && !(l->bind_unit = strdup(""))) ||
            (!l->bind_unit_invocation && !(l->bind_unit_invocation = strdup(""))) ||
            (!l->bind_boot_id && !(l->bind_boot_id = strdup(""))))
                return -ENOMEM;
        if (lease_validate(l) < 0) {
                *ret_why = "invalid value";
                return -EINVAL;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int read_file_at(int dir_fd, const char *name, char **ret)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_size > LEASE_FILE_MAX)
                return -EFBIG;
        buf = malloc(LEASE_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, LEASE_FILE_MAX - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n == LEASE_FILE_MAX)
                        return -EFBIG;
        }
        if (memchr(buf, 0, n))
                return -EBADMSG;
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int lease_store_record_error(LeaseStore *s, const char *name, const char *why)
{
        log_warning("Lease file %s/%s skipped: %s", s->dir, name, why);
        return strv_extendf(&s->load_errors, "%s/%s: %s", s->dir, name, why);
}

static int lease_store_load_one(LeaseStore *s, const char *name)
{
        _cleanup_free_ char *text = NULL, *expected = NULL;
        _cleanup_(lease_freep) Lease *l = NULL;
        const char *why = NULL;
        bool found;
        size_t i;
        int r;

        r = read_file_at(s->dir_fd, name, &text);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                errno = -r;
                return lease_store_record_error(s, name, r == -EBADFD ? "not a regular file" : strerror(-r));
        }
        r = lease_parse(text, &l, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return lease_store_record_error(s, name, why);

        /* The name is the key: a file whose content names another VF is foreign or was
         * copied by hand; trusting either would hand out the same VF twice. */
        r = lease_file_name(l->pf_pci, l->vf_index, &expected);
        if (r < 0)
                return r;
        if (!streq(expected, name))
                return lease_store_record_error(s, name, "file name does not match PF and VF_INDEX");

        i = lease_store_bisect(s, l->pf_pci, l->vf_index, &found);
        if (found) /* cannot happen with one file per key, but be safe */
                return lease_store_record_error(s, name, "duplicate lease");
        r = lease_store_reserve(s, s->n_leases + 1);
        if (r < 0)
                return r;
        lease_store_insert_at(s, i, TAKE_PTR(l));
        return 0;
}

static int fsync_dir_fd(int fd)
{
        return fsync(fd) < 0 ? negative_errno() : 0;
}

static int mkdir_durable(const char *path)
{
        _cleanup_free_ char *parent = NULL;
        _cleanup_close_ int pfd = -EBADF;
        char *slash;

        if (mkdir(path, 0755) < 0)
                return errno == EEXIST ? 0 : negative_errno();
        parent = strdup(path);
        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        if (slash && slash != parent)
                *slash = 0;
        else if (slash)
                slash[1] = 0;
        else
                return 0;
        pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0)
                return negative_errno();
        return fsync_dir_fd(pfd);
}

int lease_store_open(const char *dir, LeaseStore **ret)
{
        _cleanup_(lease_store_freep) LeaseStore *s = NULL;
        _cleanup_close_ int iter_fd = -EBADF;
        DIR *d;
        struct dirent *de;
        int r;

        if (!dir)
                dir = SRIOVD_STATE_DIR;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->dir_fd = -EBADF;
        s->dir = path_join(dir, LEASES_SUBDIR);
        if (!s->dir)
                return -ENOMEM;

        r = mkdir_durable(dir);
        if (r < 0)
                return log_error_errno(r, "Failed to create state directory %s: %m", dir);
        r = mkdir_durable(s->dir);
        if (r < 0)
                return log_error_errno(r, "Failed to create lease directory %s: %m", s->dir);
        s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->dir_fd < 0)
                return log_error_errno(errno, "Failed to open lease directory %s: %m", s->dir);

        iter_fd = fcntl(s->dir_fd, F_DUPFD_CLOEXEC, 3);
        if (iter_fd < 0)
                return negative_errno();
        d = fdopendir(iter_fd);
        if (!d)
                return negative_errno();
        TAKE_FD(iter_fd); /* owned by d now */

        r = 0;
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (strncmp(de->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0) {
                        /* Interrupted write: the rename never happened, so the lease was
                         * never granted. */
                        log_debug("Removing stale temporary lease file %s/%s", s->dir, de->d_name);
                        (void) unlinkat(s->dir_fd, de->d_name, 0);
                        continue;
                }
                if (de->d_name[0] == '.')
                        continue;
                r = lease_store_load_one(s, de->d_name);
                if (r < 0)
                        break;
        }
        if (r == 0 && errno != 0)
                r = negative_errno();
        closedir(d);
        if (r < 0)
                return log_error_errno(r, "Failed to load leases from %s: %m", s->dir);

        log_debug("Loaded %zu lease(s) from %s", s->n_leases, s->dir);
        *ret = TAKE_PTR(s);
        return 0;
}

LeaseStore *lease_store_free(LeaseStore *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_leases; i++)
                lease_free(s->leases[i]);
        free(s->leases);
        strv_free(s->load_errors);
        safe_close(s->dir_fd);
        free(s->dir);
        return mfree(s);
}

static int write_all(int fd, const char *buf, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, buf, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                buf += k;
                n -= (size_t) k;
        }
        return 0;
}

/* temp file in the same directory, fsync, rename over, fsync the directory. The rename is
 * the point of no return: if the directory cannot be synced after it, the file is taken
 * back (unlink) so that disk and memory agree that nothing was granted; if even that
 * fails, the lease stands (returns 1): it is on disk, so it must be in memory too. */
static int lease_store_write_file(LeaseStore *s, const char *name, const char *text)
{
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r, k;

        r = asprintf_safe(&tmp, "%s/" TEMP_PREFIX "%s.XXXXXX", s->dir, name);
        if (r < 0)
                return r;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fchmod(fd, 0644) < 0) {
                r = negative_errno();
                goto fail;
        }
        r = lease_io_fault(s, LEASE_IO_WRITE) ?: write_all(fd, text, strlen(text));
        if (r < 0)
                goto fail;
        r = lease_io_fault(s, LEASE_IO_FSYNC);
        if (r == 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r < 0)
                goto fail;
        fd = safe_close(fd);
        r = lease_io_fault(s, LEASE_IO_RENAME);
        if (r == 0 && renameat(AT_FDCWD, tmp, s->dir_fd, name) < 0)
                r = negative_errno();
        if (r < 0)
                goto fail;

        r = lease_io_fault(s, LEASE_IO_DIR_FSYNC) ?: fsync_dir_fd(s->dir_fd);
        if (r >= 0)
                return 0;
        k = lease_io_fault(s, LEASE_IO_UNLINK);
        if (k == 0 && unlinkat(s->dir_fd, name, 0) < 0 && errno != ENOENT)
                k = negative_errno();
        if (k < 0) {
                log_warning_errno(r,
                                  "Lease %s/%s is on disk but the directory could not be synced (%m), "
                                  "and taking it back failed too: keeping it.",
                                  s->dir, name);
                return 1;
        }
        (void) fsync_dir_fd(s->dir_fd);
        return r;

fail:
        (void) unlink(tmp);
        return r;
}

int lease_store_add(LeaseStore *s, const Lease *l, const Lease **ret)
{
        _cleanup_(lease_freep) Lease *c = NULL;
        _cleanup_free_ char *name = NULL, *text = NULL;
        struct timespec ts;
        bool found;
        size_t i;
        int r;

        if (!s || !l)
                return -EINVAL;
        if (!l->pf_pci || !l->pool || !l->owner)
                return -EINVAL;
        r = lease_validate(l);
        if (r < 0)
                return r;

        i = lease_store_bisect(s, l->pf_pci, l->vf_index, &found);
        if (found)
                return -EEXIST;

        r = lease_dup(l, &c);
        if (r < 0)
                return r;
        if (c->created_usec == 0) {
                clock_gettime(CLOCK_REALTIME, &ts);
                c->created_usec = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
        }
        /* Everything that can fail with -ENOMEM before the write, so that a lease on disk
         * is always also in memory. */
        r = lease_store_reserve(s, s->n_leases + 1);
        if (r < 0)
                return r;
        r = lease_file_name(c->pf_pci, c->vf_index, &name);
        if (r < 0)
                return r;
        r = lease_serialize(c, &text);
        if (r < 0)
                return r;

        r = lease_store_write_file(s, name, text);
        if (r < 0)
                return log_object_full_errno(LOG_ERR, r, c->pf_pci, NULL,
                                             "Failed to write lease for VF %u to %s: %m", c->vf_index,
                                             s->dir);

        if (ret)
                *ret = c;
        lease_store_insert_at(s, i, TAKE_PTR(c));
        return 0;
}

/* unlink is the point of no return: once the file is gone, so is the lease, in memory too,
 * even if the directory cannot be synced after it (logged; the lease could only come back
 * after a power loss, never after a restart). */
static int lease_store_remove_at(LeaseStore *s, size_t i)
{
        _cleanup_free_ char *name = NULL;
        int r;

        r = lease_file_name(s->leases[i]->pf_pci, s->leases[i]->vf_index, &name);
        if (r < 0)
                return r;
        r = lease_io_fault(s, LEASE_IO_UNLINK);
        if (r == 0 && unlinkat(s->dir_fd, name, 0) < 0 && errno != ENOENT)
                r = negative_errno();
        if (r < 0)
                return log_object_full_errno(LOG_ERR, r, s->leases[i]->pf_pci, NULL,
                                             "Failed to remove lease file %s/%s: %m", s->dir, name);
        r = lease_io_fault(s, LEASE_IO_DIR_FSYNC) ?: fsync_dir_fd(s->dir_fd);
        if (r < 0)
                log_warning_errno(r, "Removed lease %s/%s, but syncing the directory failed: %m", s->dir,
                                  name);
        lease_store_drop_at(s, i);
        return 0;
}

int lease_store_remove(LeaseStore *s, const char *pf_pci, unsigned vf_index)
{
        bool found;
        size_t i;

        if (!s || !pf_pci)
                return -EINVAL;
        i = lease_store_bisect(s, pf_pci, vf_index, &found);
        if (!found)
                return -ENOENT;
        return lease_store_remove_at(s, i);
}

static int lease_store_remove_matching(LeaseStore *s, bool by_caller, const char *key, unsigned *ret_n)
{
        unsigned n = 0;
        int r;

        for (size_t i = 0; i < s->n_leases;) {
                const Lease *l = s->leases[i];
                bool match = by_caller ? l->bind_to_caller && streq(l->caller, key) : streq(l->owner, key);

                if (!match) {
                        i++;
                        continue;
                }
                r = lease_store_remove_at(s, i);
                if (r < 0)
                        return r;
                n++;
        }
        if (ret_n)
                *ret_n = n;
        return 0;
}

int lease_store_remove_owner(LeaseStore *s, const char *owner, unsigned *ret_n)
{
        if (!s || !lease_owner_is_valid(owner))
                return -EINVAL;
        return lease_store_remove_matching(s, false, owner, ret_n);
}

int lease_store_remove_caller(LeaseStore *s, const char *unique_name, unsigned *ret_n)
{
        if (!s || !bus_unique_name_is_valid(unique_name))
                return -EINVAL;
        return lease_store_remove_matching(s, true, unique_name, ret_n);
}

const Lease *lease_store_find(const LeaseStore *s, const char *pf_pci, unsigned vf_index)
{
        bool found;
        size_t i;

        if (!s || !pf_pci)
                return NULL;
        i = lease_store_bisect(s, pf_pci, vf_index, &found);
        return found ? s->leases[i] : NULL;
}

size_t lease_store_size(const LeaseStore *s)
{
        return s ? s->n_leases : 0;
}

const Lease *lease_store_get(const LeaseStore *s, size_t i)
{
        return s && i < s->n_leases ? s->leases[i] : NULL;
}

char *const *lease_store_load_errors(const LeaseStore *s)
{
        return s ? s->load_errors : NULL;
}

const char *lease_store_dir(const LeaseStore *s)
{
        return s ? s->dir : NULL;
}
