/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "lease.h"
#include "tests.h"
#include "util.h"

/* fsync discipline: this definition interposes libc's fsync for the whole test binary
 * (the store is linked in statically), so we see what the store syncs and in which order. */
static char fsync_log[64][PATH_MAX + 8];
static unsigned n_fsync;

int fsync(int fd)
{
        char proc[64], target[PATH_MAX];
        struct stat st;
        ssize_t k;

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        k = readlink(proc, target, sizeof(target) - 1);
        target[k < 0 ? 0 : k] = 0;
        if (n_fsync < ELEMENTSOF(fsync_log))
                snprintf(fsync_log[n_fsync], sizeof(fsync_log[0]), "%s:%s",
                         fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) ? "dir" : "file", target);
        n_fsync++;
        return (int) syscall(SYS_fsync, fd);
}

static char *make_tmpdir(void)
{
        char *d = strdup("/tmp/test-lease.XXXXXX");

        ASSERT_TRUE(d);
        ASSERT_TRUE(mkdtemp(d));
        return d;
}

static void rm_rf(const char *dir)
{
        char cmd[PATH_MAX + 16];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ASSERT_EQ(system(cmd), 0);
}

static bool file_exists(const char *dir, const char *name)
{
        char p[PATH_MAX];
        struct stat st;

        snprintf(p, sizeof(p), "%s/leases/%s", dir, name);
        return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void write_raw(const char *dir, const char *name, const char *text)
{
        char p[PATH_MAX];
        FILE *f;

        snprintf(p, sizeof(p), "%s/leases/%s", dir, name);
        f = fopen(p, "we");
        ASSERT_TRUE(f);
        ASSERT_TRUE(fputs(text, f) >= 0);
        ASSERT_EQ(fclose(f), 0);
}

static Lease mk(const char *pf, unsigned idx, const char *pool, const char *owner)
{
        return (Lease){
                .pf_pci = (char *) pf,
                .vf_index = idx,
                .vf_pci = (char *) "0000:81:10.1",
                .pool = (char *) pool,
                .owner = (char *) owner,
        };
}

TEST(round_trip)
{
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_(lease_store_freep) LeaseStore *s = NULL;
        const Lease *l;
        Lease a = mk("0000:81:00.0", 3, "rdma-train", "job 42 = \"x\" ✓");
        Lease b = mk("0000:81:00.0", 1, "vm", "libvirt/vm-1");
        Lease c = mk("0000:03:00.1", 0, "vm", "libvirt/vm-1");
        unsigned n = 99;

        c.bind_to_caller = true;
        c.caller = (char *) ":1.42";
        c.created_usec = 1700000000123456ULL;

        ASSERT_OK(lease_store_open(dir, &s));
        ASSERT_EQ(lease_store_size(s), 0);
        ASSERT_OK(lease_store_add(s, &a, &l));
        ASSERT_STREQ(l->owner, a.owner);
        ASSERT_TRUE(l->created_usec > 0);
        ASSERT_OK(lease_store_add(s, &b, NULL));
        ASSERT_OK(lease_store_add(s, &c, NULL));
        ASSERT_ERROR(lease_store_add(s, &a, NULL), EEXIST);
        ASSERT_TRUE(file_exists(dir, "0000:81:00.0-3"));
        ASSERT_TRUE(file_exists(dir, "0000:03:00.1-0"));

        /* sorted by (PF, index) */
        ASSERT_STREQ(lease_store_get(s, 0)->pf_pci, "0000:03:00.1");
        ASSERT_EQ(lease_store_get(s, 1)->vf_index, 1);
        ASSERT_EQ(lease_store_get(s, 2)->vf_index, 3);
        ASSERT_TRUE(!lease_store_get(s, 3));

        /* reload: everything comes back, byte for byte */
        s = lease_store_free(s);
        ASSERT_OK(lease_store_open(dir, &s));
        ASSERT_EQ(lease_store_size(s), 3);
        ASSERT_TRUE(!lease_store_load_errors(s));
        l = lease_store_find(s, "0000:81:00.0", 3);
        ASSERT_TRUE(l);
        ASSERT_STREQ(l->owner, "job 42 = \"x\" ✓");
        ASSERT_STREQ(l->pool, "rdma-train");
        ASSERT_STREQ(l->vf_pci, "0000:81:10.1");
        ASSERT_TRUE(!l->bind_to_caller);
        ASSERT_STREQ(l->caller, "");
        l = lease_store_find(s, "0000:03:00.1", 0);
        ASSERT_TRUE(l && l->bind_to_caller);
        ASSERT_STREQ(l->caller, ":1.42");
        ASSERT_EQ(l->created_usec, 1700000000123456ULL);
        ASSERT_TRUE(!lease_store_find(s, "0000:81:00.0", 4));

        /* remove, remove by caller, remove by owner */
        ASSERT_OK(lease_store_remove(s, "0000:81:00.0", 3));
        ASSERT_ERROR(lease_store_remove(s, "0000:81:00.0", 3), ENOENT);
        ASSERT_TRUE(!file_exists(dir, "0000:81:00.0-3"));
        ASSERT_OK(lease_store_remove_caller(s, ":1.7", &n));
        ASSERT_EQ(n, 0);
        ASSERT_OK(lease_store_remove_caller(s, ":1.42", &n));
        ASSERT_EQ(n, 1);
        ASSERT_OK(lease_store_remove_owner(s, "libvirt/vm-1", &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(lease_store_size(s), 0);

        s = lease_store_free(s);
        ASSERT_OK(lease_store_open(dir, &s));
        ASSERT_EQ(lease_store_size(s), 0);
        rm_rf(dir);
}

TEST(fsync_discipline)
{
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_(lease_store_freep) LeaseStore *s = NULL;
        Lease a = mk("0000:81:00.0", 0, "p", "o");
        char want_dir[PATH_MAX];

        ASSERT_OK(lease_store_open(dir, &s));
        snprintf(want_dir, sizeof(want_dir), "dir:%s/leases", dir);

        /* add: the temp file is synced while it still has its temp name (before the rename),
         * then the directory (after the rename). */
        n_fsync = 0;
        ASSERT_OK(lease_store_add(s, &a, NULL));
        ASSERT_EQ(n_fsync, 2);
        ASSERT_TRUE(strncmp(fsync_log[0], "file:", 5) == 0);
        ASSERT_TRUE(strstr(fsync_log[0], "/leases/.#0000:81:00.0-0."));
        ASSERT_STREQ(fsync_log[1], want_dir);
        ASSERT_TRUE(file_exists(dir, "0000:81:00.0-0"));

        /* remove: unlink, then the directory */
        n_fsync = 0;
        ASSERT_OK(lease_store_remove(s, "0000:81:00.0", 0));
        ASSERT_EQ(n_fsync, 1);
        ASSERT_STREQ(fsync_log[0], want_dir);
        rm_rf(dir);
}

TEST(crash_consistency)
{
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_(lease_store_freep) LeaseStore *s = NULL;
        Lease a = mk("0000:81:00.0", 0, "p", "good");
        char *const *errs;

        ASSERT_OK(lease_store_open(dir, &s));
        ASSERT_OK(lease_store_add(s, &a, NULL));
        s = lease_store_free(s);

        /* A crash between write and rename leaves a temp file: it was never granted. */
        write_raw(dir, ".#0000:81:00.0-1.AbC123", "PF=0000:81:00.0\nVF_INDEX=1\nPOOL=p\nOWNER=x\n");
        /* Torn write on a file system without data=ordered: truncated. */
        write_raw(dir, "0000:81:00.0-2", "PF=0000:81:00.0\nVF_INDEX=2\nPOO");
        /* Garbage, binary, foreign, and a file whose name lies about its content. */
        write_raw(dir, "0000:81:00.0-3", "\x01\x02garbage");
        write_raw(dir, "README", "hello\n");
        write_raw(dir, "0000:81:00.0-4", "PF=0000:81:00.0\nVF_INDEX=5\nPOOL=p\nOWNER=x\n");
        /* Owner with a control character, as a hand edit could produce. */
        write_raw(dir, "0000:81:00.0-6", "PF=0000:81:00.0\nVF_INDEX=6\nPOOL=p\nOWNER=a\tb\n");
        /* Unknown keys from a newer version are fine. */
        write_raw(dir, "0000:81:00.0-7", "PF=0000:81:00.0\nVF_INDEX=7\nPOOL=p\nOWNER=new\nFUTURE_KEY=1\n");

        ASSERT_OK(lease_store_open(dir, &s));
        ASSERT_EQ(lease_store_size(s), 2);
        ASSERT_TRUE(lease_store_find(s, "0000:81:00.0", 0));
        ASSERT_TRUE(lease_store_find(s, "0000:81:00.0", 7));
        errs = lease_store_load_errors(s);
        ASSERT_EQ(strv_length(errs), 5);
        STRV_FOREACH(e, errs)
                fprintf(stderr, "reported: %s\n", *e);
        ASSERT_TRUE(!file_exists(dir, ".#0000:81:00.0-1.AbC123")); /* cleaned up */
        ASSERT_TRUE(file_exists(dir, "0000:81:00.0-2"));           /* kept for inspection */

        /* A corrupt file does not block a new lease for that VF: it is overwritten. */
        Lease b = mk("0000:81:00.0", 2, "p", "new owner");
        ASSERT_OK(lease_store_add(s, &b, NULL));
        s = lease_store_free(s);
        ASSERT_OK(lease_store_open(dir, &s));
        ASSERT_STREQ(lease_store_find(s, "0000:81:00.0", 2)->owner, "new owner");
        rm_rf(dir);
}

TEST(validation)
{
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_(lease_store_freep) LeaseStore *s = NULL;
        char long_owner[LEASE_OWNER_MAX + 2];
        Lease l;

        memset(long_owner, 'x', sizeof(long_owner));
        long_owner[LEASE_OWNER_MAX] = 0;
        ASSERT_TRUE(lease_owner_is_valid(long_owner));
        long_owner[LEASE_OWNER_MAX] = 'x';
        long_owner[LEASE_OWNER_MAX + 1] = 0;
        ASSERT_TRUE(!lease_owner_is_valid(long_owner));
        ASSERT_TRUE(lease_owner_is_valid("kubelet/pod-ab12 (ns=default)"));
        ASSERT_TRUE(lease_owner_is_valid("Jörg"));
        ASSERT_TRUE(!lease_owner_is_valid(""));
        ASSERT_TRUE(!lease_owner_is_valid(NULL));
        ASSERT_TRUE(!lease_owner_is_valid("a\nb"));
        ASSERT_TRUE(!lease_owner_is_valid("a\x7f"));
        ASSERT_TRUE(!lease_owner_is_valid("\xc3"));         /* truncated sequence */
        ASSERT_TRUE(!lease_owner_is_valid("\xc0\xaf"));     /* overlong '/' */
        ASSERT_TRUE(!lease_owner_is_valid("\xed\xa0\x80")); /* surrogate */
        ASSERT_TRUE(!lease_owner_is_valid("\xc2\x85"));     /* C1 control NEL */
        ASSERT_TRUE(!lease_owner_is_valid("\xff"));

        ASSERT_TRUE(lease_pool_is_valid("rdma-train"));
        ASSERT_TRUE(lease_pool_is_valid("vm_1.a:b@c+d"));
        ASSERT_TRUE(!lease_pool_is_valid(""));
        ASSERT_TRUE(!lease_pool_is_valid("a b"));
        ASSERT_TRUE(!lease_pool_is_valid("a/b"));

        ASSERT_TRUE(pci_address_is_valid("0000:81:00.0"));
        ASSERT_TRUE(pci_address_is_valid("10000:01:1f.7"));
        ASSERT_TRUE(!pci_address_is_valid("0000:81:00.8"));
        ASSERT_TRUE(!pci_address_is_valid("0000:81:20.0"));
        ASSERT_TRUE(!pci_address_is_valid("0000:81:00"));
        ASSERT_TRUE(!pci_address_is_valid("0000:8G:00.0"));
        ASSERT_TRUE(!pci_address_is_valid("../../etc/x"));

        ASSERT_TRUE(bus_unique_name_is_valid(":1.42"));
        ASSERT_TRUE(!bus_unique_name_is_valid("org.sriovd1"));
        ASSERT_TRUE(!bus_unique_name_is_valid(":"));

        ASSERT_OK(lease_store_open(dir, &s));
        l = mk("0000:81:00.0", 0, "p", "a\nb");
        ASSERT_ERROR(lease_store_add(s, &l, NULL), EINVAL);
        l = mk("../../x", 0, "p", "o");
        ASSERT_ERROR(lease_store_add(s, &l, NULL), EINVAL);
        l = mk("0000:81:00.0", 0, "", "o");
        ASSERT_ERROR(lease_store_add(s, &l, NULL), EINVAL);
        l = mk("0000:81:00.0", 0, "p", "o");
        l.bind_to_caller = true; /* without a caller */
        ASSERT_ERROR(lease_store_add(s, &l, NULL), EINVAL);
        l.caller = (char *) "not-unique";
        ASSERT_ERROR(lease_store_add(s, &l, NULL), EINVAL);
        ASSERT_ERROR(lease_store_remove_owner(s, "", NULL), EINVAL);
        ASSERT_EQ(lease_store_size(s), 0);
        rm_rf(dir);
}

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

TEST(many)
{
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_(lease_store_freep) LeaseStore *s = NULL;
        char pf[32], name[64], text[256];
        uint64_t t;

        /* 4096 leases: 64 PFs x 64 VFs. Add 128 through the API (every one synced), write the
         * rest directly as the daemon would have, then time a cold load. */
        ASSERT_OK(lease_store_open(dir, &s));
        for (unsigned i = 0; i < 128; i++) {
                snprintf(pf, sizeof(pf), "0000:%02x:00.0", i / 64);
                Lease l = mk(pf, i % 64, "bulk", "owner");
                ASSERT_OK(lease_store_add(s, &l, NULL));
        }
        s = lease_store_free(s);
        for (unsigned i = 128; i < 4096; i++) {
                snprintf(pf, sizeof(pf), "0000:%02x:00.0", i / 64);
                snprintf(name, sizeof(name), "%s-%u", pf, i % 64);
                snprintf(text, sizeof(text), "PF=%s\nVF_INDEX=%u\nVF=\nPOOL=bulk\nOWNER=owner-%u\n", pf,
                         i % 64, i % 7);
                write_raw(dir, name, text);
        }

        t = now_usec();
        ASSERT_OK(lease_store_open(dir, &s));
        t = now_usec() - t;
        fprintf(stderr, "loaded %zu leases in %.1f ms\n", lease_store_size(s), t / 1000.0);
        ASSERT_EQ(lease_store_size(s), 4096);
        ASSERT_TRUE(t < 2 * 1000 * 1000);
        ASSERT_TRUE(lease_store_find(s, "0000:3f:00.0", 63));
        for (size_t i = 1; i < lease_store_size(s); i++) {
                const Lease *a = lease_store_get(s, i - 1), *b = lease_store_get(s, i);
                int c = strcmp(a->pf_pci, b->pf_pci);
                ASSERT_TRUE(c < 0 || (c == 0 && a->vf_index < b->vf_index));
        }
        rm_rf(dir);
}

/* Liveness bindings (unit run, process identity) are kept with the lease, validated, and a
 * file from a version without them loads as unbound. */
TEST(bindings)
{
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_(lease_store_freep) LeaseStore *s = NULL;
        const char *inv = "0123456789abcdef0123456789abcdef", *boot = "fedcba9876543210fedcba9876543210";
        Lease a = mk("0000:81:00.0", 1, "ctr", "podman:web");
        Lease bad;
        const Lease *l;

        a.bind_unit = (char *) "ctr-web.service";
        a.bind_unit_invocation = (char *) inv;
        a.bind_pid = 4242;
        a.bind_pid_start = 123456789ULL;
        a.bind_boot_id = (char *) boot;
        ASSERT_OK(lease_store_open(dir, &s));
        ASSERT_OK(lease_store_add(s, &a, NULL));

        bad = mk("0000:81:00.0", 2, "ctr", "x");
        bad.bind_unit = (char *) "ctr-web.service"; /* a unit without its run */
        ASSERT_ERROR(lease_store_add(s, &bad, NULL), EINVAL);
        bad.bind_unit_invocation = (char *) "0123";
        ASSERT_ERROR(lease_store_add(s, &bad, NULL), EINVAL);
        bad.bind_unit = (char *) "no-suffix";
        bad.bind_unit_invocation = (char *) inv;
        ASSERT_ERROR(lease_store_add(s, &bad, NULL), EINVAL);
        bad = mk("0000:81:00.0", 2, "ctr", "x");
        bad.bind_pid = 7; /* a pid without its boot */
        ASSERT_ERROR(lease_store_add(s, &bad, NULL), EINVAL);
        ASSERT_TRUE(!file_exists(dir, "0000:81:00.0-2"));

        write_raw(dir, "0000:81:00.0-3",
                  "PF=0000:81:00.0\nVF_INDEX=3\nPOOL=ctr\nOWNER=old\nBIND_TO_CALLER=no\n");
        write_raw(dir, "0000:81:00.0-4", "PF=0000:81:00.0\nVF_INDEX=4\nPOOL=ctr\nOWNER=bad\nBIND_PID=x\n");

        s = lease_store_free(s);
        ASSERT_OK(lease_store_open(dir, &s));
        ASSERT_EQ(lease_store_size(s), 2);
        l = lease_store_find(s, "0000:81:00.0", 1);
        ASSERT_TRUE(l);
        ASSERT_STREQ(l->bind_unit, "ctr-web.service");
        ASSERT_STREQ(l->bind_unit_invocation, inv);
        ASSERT_EQ(l->bind_pid, 4242u);
        ASSERT_EQ(l->bind_pid_start, 123456789ULL);
        ASSERT_STREQ(l->bind_boot_id, boot);
        l = lease_store_find(s, "0000:81:00.0", 3);
        ASSERT_TRUE(l);
        ASSERT_STREQ(l->bind_unit, "");
        ASSERT_EQ(l->bind_pid, 0u);
        ASSERT_TRUE(!lease_store_find(s, "0000:81:00.0", 4)); /* skipped, reported */
        ASSERT_TRUE(lease_store_load_errors(s) && strstr(lease_store_load_errors(s)[0], "BIND_PID"));
        rm_rf(dir);
}

int main(void)
{
        RUN(round_trip);
        RUN(bindings);
        RUN(fsync_discipline);
        RUN(crash_consistency);
        RUN(validation);
        RUN(many);
        return 0;
}
