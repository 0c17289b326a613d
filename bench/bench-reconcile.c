/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Plan + apply against the fake substrate (umockdev sysfs player + rtnetlink peer): how long
 * sriovd takes from start to a settled host, how many kernel round trips it makes, how much
 * memory it holds, and what a pass over a converged host costs. Prints tables; not a test.
 *
 * Every sample runs in a forked child, so that its peak RSS (VmHWM) is its own. The fake
 * kernel lives in the same process as the daemon code: its sysfs player runs on its own
 * threads, but the rtnetlink peer answers synchronously on the daemon's thread. The bench
 * wraps the peer's transport with a stopwatch and reports the daemon's own CPU time as the
 * daemon thread's CPU time minus the time spent inside the peer. Memory is split the same
 * way: a child that builds the same devices without a daemon gives the fake's baseline.
 *
 * Usage: bench-reconcile [--runs=N] [--quick] [--pfs=N] [--guard]  (needs
 * LD_PRELOAD=libumockdev-preload.so.0; bench/run-bench.sh sets it up). --guard: CI's scale
 * check at 16 × 256 (ratios to 1 × 256 in the same run), exit status 1 when it fails. */
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

#include "fake-substrate.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "netlink.h"
#include "pf.h"
#include "reconcile.h"
#include "sysfs.h"
#include "udev.h"
#include "util.h"

#define USEC_PER_SEC 1000000ULL
#define VFS_PER_PF   256u

/* ---- clocks ----------------------------------------------------------------------------- */

static uint64_t now_ns(clockid_t c)
{
        struct timespec ts;

        (void) clock_gettime(c, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* This thread's CPU clock, read by the bench around the fake peer, its settled? checks and
 * each loop iteration. A read is a system call (~0.6 µs on a KVM guest), charged to the
 * daemon's thread like anything else on it: counted here, and taken out of the daemon's CPU
 * as the bench's own work (cpu_clock_read_ns(), calibrated once per process). */
static uint64_t n_cpu_reads;

static uint64_t cpu_now(void)
{
        n_cpu_reads++;
        return now_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* The CPU time since t, read by cpu_now() to open an interval the bench excludes (the peer, a
 * settled? check): about one read's cost falls inside the interval, excluded with it. */
static uint64_t cpu_excluded_since(uint64_t t)
{
        uint64_t d = cpu_now() - t;

        n_cpu_reads--;
        return d;
}

static double cpu_clock_read_ns(void)
{
        static double cost = -1;

        if (cost < 0) {
                /* In CPU time, so that being preempted meanwhile does not count. */
                uint64_t t = now_ns(CLOCK_THREAD_CPUTIME_ID);

                for (unsigned i = 0; i < 20000; i++)
                        (void) now_ns(CLOCK_THREAD_CPUTIME_ID);
                cost = (double) (now_ns(CLOCK_THREAD_CPUTIME_ID) - t) / 20001;
        }
        return cost;
}

static double ms(uint64_t ns)
{
        return (double) ns / 1e6;
}

static long proc_status_kb(const char *key)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        size_t len = strlen(key);
        long v = -1;

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, len) == 0 && line[len] == ':') {
                        v = strtol(line + len + 1, NULL, 10);
                        break;
                }
        return v;
}

/* ---- the rtnetlink peer, timed ---------------------------------------------------------- */

typedef struct TimedPeer {
        FakeNetlink *fake;
        uint64_t ns; /* spent inside the fake, on the calling (daemon) thread */
} TimedPeer;

static int timed_send(void *userdata, const struct nlmsghdr *req)
{
        TimedPeer *p = userdata;
        uint64_t t = cpu_now();
        int r = fake_netlink_transport.send(p->fake, req);

        p->ns += cpu_excluded_since(t);
        return r;
}

static int timed_recv(void *userdata, unsigned char **ret_buf)
{
        TimedPeer *p = userdata;
        uint64_t t = cpu_now();
        int r = fake_netlink_transport.recv(p->fake, ret_buf);

        p->ns += cpu_excluded_since(t);
        return r;
}

static int timed_event_fd(void *userdata)
{
        TimedPeer *p = userdata;

        return fake_netlink_transport.event_fd(p->fake);
}

static int timed_recv_event(void *userdata, unsigned char **ret_buf)
{
        TimedPeer *p = userdata;
        uint64_t t = cpu_now();
        int r = fake_netlink_transport.recv_event(p->fake, ret_buf);

        p->ns += cpu_excluded_since(t);
        return r;
}

static int timed_reply_fd(void *userdata)
{
        TimedPeer *p = userdata;

        return fake_netlink_transport.reply_fd(p->fake);
}

static const NetlinkTransport timed_transport = {
        .send = timed_send,
        .recv = timed_recv,
        .event_fd = timed_event_fd,
        .recv_event = timed_recv_event,
        .reply_fd = timed_reply_fd,
};

/* ---- one sample ------------------------------------------------------------------------- */

typedef struct Sample {
        /* start (manager_new) -> settled */
        double wall_ms, cpu_ms, peer_ms, settle_ms, clock_ms;
        /* the longest event loop iteration, start -> settled: wall, thread CPU; iterations
         * over 20 ms of CPU */
        double loop_max_ms, loop_max_cpu_ms;
        uint64_t loop_over_20ms;
        uint64_t nl_messages, nl_setlinks, nl_getlinks, vf_infos, sysfs_writes, sysfs_reads, passes,
                pf_reconciles;
        long hwm_kb, rss_kb;
        /* the main thread's arena (daemon + the fake rtnetlink peer, which runs on its thread) */
        long heap_used_kb, heap_free_kb, rss_trimmed_kb;
        /* every arena and mmap()ed chunk: the daemon run minus the fake alone is the daemon's */
        long heap_all_used_kb, heap_all_free_kb;
        /* a full resync of the converged host */
        double wall2_ms, cpu2_ms, peer2_ms, clock2_ms;
        uint64_t nl2_setlinks, nl2_getlinks, vf_infos2, sysfs_writes2, sysfs_reads2, numvfs_writes2;
        /* planning only: reconcile_pf() on every PF with the link state cached */
        double plan_ms;
        uint64_t vfs_seen;
        int ok;
} Sample;

static char *layout_conf(unsigned num_vfs)
{
        char *s = NULL;

        (void) asprintf_safe(
                &s,
                "physical_functions = (\n"
                "  { match = { vendor = \"8086\"; device = \"10c9\"; };\n"
                "    num_vfs = %u;\n"
                "%s"
                "  }\n"
                ");\n",
                num_vfs,
                num_vfs == 0 ? ""
                             : "    vfs = ( { range = \"0-255\"; pool = \"bench\"; mac = \"stable\";\n"
                               "              vlan = 100; spoofchk = false; trust = true;\n"
                               "              max_tx_rate = 10000; } );\n");
        return s;
}

static unsigned pf_bus(unsigned i)
{
        return 0x10 + 2 * i;
}

static int add_pfs(FakeSubstrate *s, unsigned n_pfs)
{
        for (unsigned i = 0; i < n_pfs; i++) {
                char pci[16], ifname[16];
                FakePfSpec spec = {
                        .pci = pci,
                        .vendor = 0x8086,
                        .device = 0x10c9,
                        .total_vfs = VFS_PER_PF,
                        .numa_node = (int) (i % 2),
                        .driver = "igb",
                        .ifname = ifname,
                        .ifindex = 100 + (int) i,
                        .vf_device = 0x10ca,
                        .vf_driver = "igbvf",
                        .vf_offset = 0x80,
                        .vf_stride = 1,
                };
                int r;

                /* VF routing IDs = PF's + offset + index * stride: 256 VFs with offset 0x80 and
                 * stride 1 fill the rest of the PF's bus and half the next one, so every PF
                 * gets two buses (as firmware reserves them), else VFs of one PF would land
                 * on the next PF's addresses. */
                snprintf(pci, sizeof(pci), "0000:%02x:00.0", pf_bus(i));
                snprintf(ifname, sizeof(ifname), "enp%us0", pf_bus(i));
                r = fake_substrate_add_pf(s, &spec);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int dump_unsettled(FakeSubstrate *s, int r)
{
        PhysicalFunction *pf;

        fprintf(stderr, "not settled: %u uevents queued, %u pending, udev pending %d, %u jobs\n",
                fake_kernel_n_uevents_queued(s->kernel), fake_kernel_n_pending(s->kernel),
                udev_watch_has_pending(s->manager->udev), job_runner_active(s->manager->jobs));
        HASHMAP_FOREACH(pf, s->manager->pfs)
                fprintf(stderr, "  PF %s: %s (%s), %u VFs, dirty=%d job=%d refresh=%d\n", pf->pci,
                        pf_state_to_string(pf->state), strempty(pf->last_error), pf_count_vfs(pf), pf->dirty,
                        pf->job_running, pf->needs_refresh);
        return r < 0 ? r : -ETIMEDOUT;
}

/* The event loop, run here as the daemon's main() runs it, one dispatch at a time: the
 * longest iteration (one dispatched source, the wait excluded) in wall and thread CPU time,
 * and the CPU the bench's own "settled?" check costs on this thread (it asks the fake kernel
 * and polls its sockets), which is not the daemon's. */
typedef struct LoopStats {
        uint64_t max_ns, max_cpu_ns, settle_cpu_ns, iterations, over_20ms;
} LoopStats;

static int run_until_settled(FakeSubstrate *s, uint64_t usec, LoopStats *st)
{
        sd_event *e = s->manager->event;
        uint64_t end = now_ns(CLOCK_MONOTONIC) + usec * 1000ULL;
        int r;

        for (;;) {
                uint64_t c = cpu_now(), t0, c0, now;
                bool done = fake_substrate_settle(s, 0) == 1;

                st->settle_cpu_ns += cpu_excluded_since(c);
                if (done)
                        return 1;
                now = now_ns(CLOCK_MONOTONIC);
                if (now >= end)
                        return 0;
                r = sd_event_prepare(e);
                if (r == 0)
                        r = sd_event_wait(e, (end - now) / 1000ULL);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                t0 = now_ns(CLOCK_MONOTONIC);
                c0 = cpu_now();
                r = sd_event_dispatch(e);
                if (r < 0)
                        return r;
                c0 = cpu_now() - c0;
                st->max_ns = MAX(st->max_ns, now_ns(CLOCK_MONOTONIC) - t0);
                st->max_cpu_ns = MAX(st->max_cpu_ns, c0);
                st->over_20ms += c0 > 20000000ULL;
                st->iterations++;
        }
}

/* Heap in use and free, from malloc_info(): the main thread's arena (heap 0: the daemon's
 * model and whatever runs on its thread) and all arenas with mmap()ed chunks (the fake's
 * sysfs and sender threads and the daemon's job workers have arenas of their own). */
typedef struct HeapKb {
        long main_used, main_free, all_used, all_free;
} HeapKb;

/* BENCH_SMAPS=1: where the RSS is, by kind of mapping (stderr). */
static void dump_smaps(const char *what)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/smaps", "re");
        char line[512], name[256] = "";
        long kb, heap = 0, heap_size = 0, anon = 0, stacks = 0, file = 0, n_anon = 0;
        struct mallinfo2 mi = mallinfo2();
        bool is_anon = false;

        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                unsigned long a, b;
                char perms[8];

                if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) == 3 && strchr(line, ' ')) {
                        char *p = line;

                        name[0] = 0;
                        for (int i = 0; i < 5 && p; i++)
                                p = strchr(p + 1, ' ');
                        if (p) {
                                p += strspn(p, " ");
                                (void) sscanf(p, "%255s", name);
                        }
                        is_anon = !name[0] || name[0] == '[';
                        continue;
                }
                if (streq(name, "[heap]") && sscanf(line, "Size: %ld kB", &kb) == 1)
                        heap_size = kb;
                if (sscanf(line, "Rss: %ld kB", &kb) != 1)
                        continue;
                if (streq(name, "[heap]"))
                        heap += kb;
                else if (streq(name, "[stack]"))
                        stacks += kb;
                else if (is_anon && !name[0]) {
                        anon += kb;
                        n_anon += kb > 0;
                        if (kb >= 1024)
                                fprintf(stderr, "  anon mapping: %ld KiB\n", kb);
                } else if (!is_anon) {
                        file += kb;
                        if (kb >= 512)
                                fprintf(stderr, "  %s: %ld KiB\n", name, kb);
                }
        }
        fprintf(stderr,
                "smaps, %s: [heap] %ld KiB resident of %ld KiB (malloc's main arena: %zu KiB, %zu KiB in "
                "use), other anonymous %ld KiB in %ld mappings, [stack] %ld KiB, files %ld KiB\n",
                what, heap, heap_size, mi.arena / 1024, mi.uordblks / 1024, anon, n_anon, stacks, file);
}

static void heap_kb(HeapKb *ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        HeapKb k = {-1, -1, 0, 0};

        *ret = k;
        if (!f)
                return;
        (void) malloc_info(0, f);
        fclose(f);
        for (const char *h = buf ? strstr(buf, "<heap nr=\"") : NULL; h; h = strstr(h + 1, "<heap nr=\"")) {
                const char *e = strstr(h, "</heap>");
                size_t fast = 0, rest = 0, system = 0;
                long used, free_;

                if (!e)
                        break;
                for (const char *l = h; l && l < e; l = strchr(l + 1, '<')) {
                        (void) sscanf(l, "<total type=\"fast\" count=\"%*u\" size=\"%zu\"/>", &fast);
                        (void) sscanf(l, "<total type=\"rest\" count=\"%*u\" size=\"%zu\"/>", &rest);
                        (void) sscanf(l, "<system type=\"current\" size=\"%zu\"/>", &system);
                }
                used = (long) ((system - MIN(system, fast + rest)) / 1024);
                free_ = (long) ((fast + rest) / 1024);
                if (startswith(h, "<heap nr=\"0\">")) {
                        k.main_used = used;
                        k.main_free = free_;
                }
                k.all_used += used;
                k.all_free += free_;
        }
        {
                /* After the heaps: large chunks served by mmap(). */
                const char *t = buf ? strstr(buf, "<total type=\"mmap\"") : NULL;
                size_t mm = 0;

                if (t && sscanf(t, "<total type=\"mmap\" count=\"%*u\" size=\"%zu\"/>", &mm) == 1)
                        k.all_used += (long) (mm / 1024);
        }
        *ret = k;
}

/* The fake kernel creates 16,384 VFs in over a minute on an idle 2-core host, and a CI host
 * is shared: a bound that grows with the PFs (BENCH_TIMEOUT set: 5 s, for tests of the bench). */
static uint64_t settle_timeout(unsigned n_pfs)
{
        return (getenv("BENCH_TIMEOUT") ? 5 : 100 + 10 * n_pfs) * USEC_PER_SEC;
}

static int run_daemon(unsigned n_pfs, unsigned num_vfs, bool passes, Sample *ret)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s = NULL;
        _cleanup_free_ char *conf = layout_conf(num_vfs);
        TimedPeer peer = {};
        LoopStats ls = {}, ls2 = {};
        ManagerOptions o = {.no_notify = true};
        const NetlinkStats *ns;
        FakeNetlinkStats fs;
        Sample x = {};
        uint64_t w0, c0, sw0, sr0, p0, g0, v0, n0;
        PhysicalFunction *pf;
        int r;

        if (!conf)
                return -ENOMEM;
        r = fake_substrate_new(&s);
        if (r < 0)
                return r;
        r = add_pfs(s, n_pfs);
        if (r < 0)
                return r;
        r = fake_substrate_write_config(s, "50-bench.conf", conf);
        if (r < 0)
                return r;
        peer.fake = s->netlink;
        o.root = s->root;
        o.state_dir = s->state_dir;

        fake_substrate_reset_counts(s);
        sw0 = sysfs_get_write_count();
        sr0 = sysfs_get_read_count();
        (void) cpu_clock_read_ns(); /* calibrated before the clock starts */
        n0 = n_cpu_reads;
        w0 = now_ns(CLOCK_MONOTONIC);
        c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
        r = netlink_new_with_transport(&timed_transport, &peer, &o.netlink);
        if (r < 0)
                return r;
        r = manager_new(&o, &s->manager);
        if (r < 0)
                return r;
        /* Without it the loop could read the last uevent while the fake still counted it and
         * sleep until the settle timeout (1 run in 4 at --pfs=4 on a loaded host). */
        r = fake_substrate_watch_uevents(s);
        if (r < 0)
                return r;
        r = manager_start(s->manager);
        if (r < 0)
                return r;
        r = run_until_settled(s, settle_timeout(n_pfs), &ls);
        if (r <= 0)
                return dump_unsettled(s, r);
        x.wall_ms = ms(now_ns(CLOCK_MONOTONIC) - w0);
        x.cpu_ms = ms(now_ns(CLOCK_THREAD_CPUTIME_ID) - c0);
        x.peer_ms = ms(peer.ns);
        x.settle_ms = ms(ls.settle_cpu_ns);
        x.clock_ms = (double) (n_cpu_reads - n0) * cpu_clock_read_ns() / 1e6;
        x.loop_max_ms = ms(ls.max_ns);
        x.loop_max_cpu_ms = ms(ls.max_cpu_ns);
        x.loop_over_20ms = ls.over_20ms;
        fs = fake_netlink_get_stats(s->netlink);
        ns = netlink_get_stats(s->manager->netlink);
        x.nl_messages = fs.messages;
        x.nl_setlinks = fs.setlinks;
        x.nl_getlinks = fs.getlinks;
        x.vf_infos = ns->vf_infos_sent;
        x.sysfs_writes = sysfs_get_write_count() - sw0;
        x.sysfs_reads = sysfs_get_read_count() - sr0;
        x.passes = s->manager->n_reconcile_passes;
        x.pf_reconciles = s->manager->n_reconcile_runs;
        HASHMAP_FOREACH(pf, s->manager->pfs) {
                if (pf->state != PF_STATE_CONFIGURED || pf_count_vfs(pf) != num_vfs) {
                        fprintf(stderr, "PF %s: %s (%s), %u VFs\n", pf->pci, pf_state_to_string(pf->state),
                                strempty(pf->last_error), pf_count_vfs(pf));
                        return -EPROTO;
                }
                x.vfs_seen += pf_count_vfs(pf);
        }

        if (passes) {
                /* Second pass over the converged host: everything re-read, nothing written. */
                fake_substrate_reset_counts(s);
                sw0 = sysfs_get_write_count();
                sr0 = sysfs_get_read_count();
                p0 = peer.ns;
                g0 = ns->get_requests;
                v0 = ns->vf_infos_sent;
                n0 = n_cpu_reads;
                w0 = now_ns(CLOCK_MONOTONIC);
                c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
                manager_resync(s->manager);
                r = run_until_settled(s, settle_timeout(n_pfs), &ls2);
                if (r <= 0)
                        return r < 0 ? r : -ETIMEDOUT;
                x.wall2_ms = ms(now_ns(CLOCK_MONOTONIC) - w0);
                x.cpu2_ms = ms(now_ns(CLOCK_THREAD_CPUTIME_ID) - c0 - ls2.settle_cpu_ns);
                x.peer2_ms = ms(peer.ns - p0);
                x.clock2_ms = (double) (n_cpu_reads - n0) * cpu_clock_read_ns() / 1e6;
                fs = fake_netlink_get_stats(s->netlink);
                x.nl2_setlinks = fs.setlinks;
                x.nl2_getlinks = ns->get_requests - g0;
                x.vf_infos2 = ns->vf_infos_sent - v0;
                x.sysfs_writes2 = sysfs_get_write_count() - sw0;
                x.sysfs_reads2 = sysfs_get_read_count() - sr0;
                x.numvfs_writes2 = fake_substrate_numvfs_writes(s);

                /* Planning alone: the full diff of every VF against the cached kernel state,
                 * as a reconcile pass does it, minus the re-reads (GETLINK, sysfs walks). */
                {
                        double best = 1e9;

                        for (int k = 0; k < 5; k++) {
                                uint64_t t, pe = peer.ns;
                                double d;

                                HASHMAP_FOREACH(pf, s->manager->pfs)
                                        if (pf->link_stale && reconcile_read_link(pf, true) < 0)
                                                return -EIO;
                                if (run_until_settled(s, settle_timeout(n_pfs), &(LoopStats){}) <= 0)
                                        return -ETIMEDOUT;
                                pe = peer.ns;
                                t = now_ns(CLOCK_THREAD_CPUTIME_ID);
                                HASHMAP_FOREACH(pf, s->manager->pfs) {
                                        pf->dirty = true;
                                        reconcile_pf(pf);
                                }
                                d = ms(now_ns(CLOCK_THREAD_CPUTIME_ID) - t - (peer.ns - pe));
                                best = MIN(best, d);
                                if (peer.ns != pe || fake_netlink_get_stats(s->netlink).setlinks != 0)
                                        return -EPROTO; /* planning must not talk to the kernel */
                        }
                        x.plan_ms = best;
                }
        }
        x.hwm_kb = proc_status_kb("VmHWM");
        x.rss_kb = proc_status_kb("VmRSS");
        {
                HeapKb k;

                heap_kb(&k);
                x.heap_used_kb = k.main_used;
                x.heap_free_kb = k.main_free;
                x.heap_all_used_kb = k.all_used;
                x.heap_all_free_kb = k.all_free;
        }
        (void) malloc_trim(0);
        x.rss_trimmed_kb = proc_status_kb("VmRSS");
        if (getenv("BENCH_SMAPS"))
                dump_smaps("daemon run, settled");
        x.ok = 1;
        *ret = x;
        return 0;
}

/* The fake alone: the same devices and VFs, created by writing sriov_numvfs ourselves. */
static int run_baseline(unsigned n_pfs, unsigned num_vfs, Sample *ret)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s = NULL;
        Sample x = {};
        int r;

        r = fake_substrate_new(&s);
        if (r < 0)
                return r;
        r = add_pfs(s, n_pfs);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < n_pfs && num_vfs > 0; i++) {
                _cleanup_free_ char *sp = NULL, *p = NULL;
                char pci[16], n[16];

                snprintf(pci, sizeof(pci), "0000:%02x:00.0", pf_bus(i));
                snprintf(n, sizeof(n), "%u", num_vfs);
                r = fake_kernel_pf_syspath(s->kernel, pci, &sp);
                if (r < 0)
                        return r;
                p = path_join(sp, "sriov_numvfs");
                if (!p)
                        return -ENOMEM;
                r = fake_kernel_write(s->kernel, p, n);
                if (r < 0)
                        return r;
        }
        while (fake_kernel_n_uevents_queued(s->kernel) > 0)
                (void) usleep(1000); /* bench only: let the sender thread drain */
        x.hwm_kb = proc_status_kb("VmHWM");
        x.rss_kb = proc_status_kb("VmRSS");
        {
                HeapKb k;

                heap_kb(&k);
                x.heap_used_kb = k.main_used;
                x.heap_all_used_kb = k.all_used;
                x.heap_all_free_kb = k.all_free;
        }
        if (getenv("BENCH_SMAPS"))
                dump_smaps("fake alone");
        x.ok = 1;
        *ret = x;
        return 0;
}

typedef enum Mode {
        MODE_DAEMON,
        MODE_DAEMON_NO_PASSES,
        MODE_BASELINE,
} Mode;

static int sample_in_child(Mode mode, unsigned n_pfs, unsigned num_vfs, Sample *ret)
{
        int fds[2], status, r;
        pid_t pid;
        Sample x = {};
        ssize_t n;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                close(fds[0]);
                r = mode == MODE_BASELINE ? run_baseline(n_pfs, num_vfs, &x)
                                          : run_daemon(n_pfs, num_vfs, mode == MODE_DAEMON, &x);
                if (r < 0)
                        fprintf(stderr, "sample (%u PFs x %u VFs) failed: %s\n", n_pfs, num_vfs,
                                strerror(-r));
                if (write(fds[1], &x, sizeof(x)) != sizeof(x))
                        _exit(2);
                _exit(r < 0);
        }
        close(fds[1]);
        n = read(fds[0], &x, sizeof(x));
        close(fds[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (n != sizeof(x) || !x.ok)
                return -EPROTO;
        *ret = x;
        return 0;
}

/* ---- statistics and tables -------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

typedef struct Stat {
        double med, min, max;
} Stat;

static Stat stat_of(const Sample *v, size_t n, size_t offset)
{
        double a[64];

        for (size_t i = 0; i < n; i++)
                a[i] = *(const double *) ((const char *) &v[i] + offset);
        qsort(a, n, sizeof(double), cmp_double);
        return (Stat){.med = n % 2 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2, .min = a[0], .max = a[n - 1]};
}

#define STAT(v, n, field) stat_of(v, n, offsetof(Sample, field))

static void print_stat(const char *label, Stat s)
{
        printf("| %-44s | %9.1f | %9.1f | %9.1f |\n", label, s.med, s.min, s.max);
}

/* CI's regression guard (suite "bench"): ratios within this run only, never absolute times,
 * with margins wide enough for a loaded machine. 16 PFs must cost about 16 times one PF
 * (an O(n²) walk costs 256 times), and the kernel traffic per PF must stay one batch. */
#define GUARD_SCALE_MAX 40.0 /* 16 PFs / 1 PF, CPU: 16 if linear; 17 measured */

static int guard_ratio(const char *what, double one, double sixteen)
{
        double ratio = one > 0 ? sixteen / one : 0;
        bool ok = one > 0 && ratio <= GUARD_SCALE_MAX;

        printf("guard: %-40s 1 PF %9.1f ms, 16 PFs %9.1f ms: x%.1f (limit x%.0f) %s\n", what, one, sixteen,
               ratio, GUARD_SCALE_MAX, ok ? "ok" : "FAIL");
        return ok ? 0 : -1;
}

static int guard_count(const char *what, uint64_t have, uint64_t limit)
{
        bool ok = have <= limit;

        printf("guard: %-40s %llu (at most %llu) %s\n", what, (unsigned long long) have,
               (unsigned long long) limit, ok ? "ok" : "FAIL");
        return ok ? 0 : -1;
}

static int guard_check(const Sample *first, const Stat *cpu, const Stat *cpu2, const Stat *plan)
{
        const Sample *s = &first[16];
        int r = 0;

        printf("### guard (16 PFs x 256 VFs against 1 PF x 256 in this run)\n\n");
        /* Planning is ~0.1 ms for one PF: below 0.05 ms the ratio is only noise. */
        r |= guard_ratio("daemon CPU, start -> settled", cpu[1].med, cpu[16].med);
        r |= guard_ratio("daemon CPU, full resync", cpu2[1].med, cpu2[16].med);
        r |= guard_ratio("planning", MAX(plan[1].med, 0.05), plan[16].med);
        r |= guard_count("RTM_SETLINK, first pass (16 PFs)", s->nl_setlinks, 16);
        r |= guard_count("sysfs writes, first pass (16 PFs)", s->sysfs_writes, 16);
        /* 3 per PF with the synchronous executor, 4-5 on the queue: a link event that arrives
         * while a read is on its way (our own SETLINK's notification) asks for one more. A
         * re-read per VF or per event would be hundreds. */
        r |= guard_count("RTM_GETLINK, first pass (16 PFs)", s->nl_getlinks, 16 * 5);
        /* A new VF costs its virtfn link, driver and IOMMU group (3; its netdev comes from
         * rtnetlink, 3-4 more when read from sysfs), whatever its creation's four uevents;
         * per-event re-reads cost 20+ per VF. */
        r |= guard_count("sysfs reads, first pass (16 PFs)", s->sysfs_reads, 16 * VFS_PER_PF * 6);
        r |= guard_count("second pass: RTM_SETLINK", s->nl2_setlinks, 0);
        r |= guard_count("second pass: sysfs writes", s->sysfs_writes2, 0);
        r |= guard_count("VFs missing from the model", 16 * VFS_PER_PF - MIN(s->vfs_seen, 16 * VFS_PER_PF),
                         0);
        printf("\nguard: %s\n", r < 0 ? "FAIL" : "ok");
        return r < 0 ? 1 : 0;
}

int main(int argc, char *argv[])
{
        static const unsigned scenarios[] = {1, 4, 16, 64};
        static const struct option options[] = {
                {"runs", required_argument, NULL, 'r'},
                {"quick", no_argument, NULL, 'q'},
                {"pfs", required_argument, NULL, 'p'},
                {"large-runs", required_argument, NULL, 'l'},
                {"no-memory", no_argument, NULL, 'm'},
                {"guard", no_argument, NULL, 'g'},
                {},
        };
        unsigned runs = 5, large_runs = 1, only_pfs = 0;
        Sample first_of[65] = {}; /* by PF count: the first run, for the memory table */
        bool quick = false, memory = true, guard = false;
        Stat cpu_of[65] = {}, cpu2_of[65] = {}, plan_of[65] = {}; /* by PF count, for --guard */
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'r':
                        if (safe_atou32(optarg, &runs) < 0 || runs < 1 || runs > 64) {
                                fprintf(stderr, "--runs: 1..64\n");
                                return 2;
                        }
                        break;
                case 'q':
                        quick = true;
                        break;
                case 'p':
                        if (safe_atou32(optarg, &only_pfs) < 0 || only_pfs < 1 || only_pfs > 64) {
                                fprintf(stderr, "--pfs: 1..64\n");
                                return 2;
                        }
                        break;
                case 'l':
                        if (safe_atou32(optarg, &large_runs) < 0 || large_runs < 1 || large_runs > 64) {
                                fprintf(stderr, "--large-runs: 1..64\n");
                                return 2;
                        }
                        break;
                case 'm':
                        memory = false;
                        break;
                case 'g':
                        guard = true;
                        memory = false;
                        runs = 3;
                        break;
                default:
                        return 2;
                }
        malloc_setup(); /* the daemon's (main.c) */
        if (!getenv("SRIOVD_LOG_LEVEL"))
                log_set_max_level(LOG_WARNING);

        printf("## bench-reconcile: plan + apply on the fake substrate, %u VFs per PF, %u runs (%u at 64 "
               "PFs)\n\n",
               VFS_PER_PF, runs, large_runs);
        printf("Layout: every VF with mac = \"stable\", vlan = 100, spoofchk = false, trust = true, "
               "max_tx_rate = 10000.\n");
        printf("daemon CPU = CPU time of the daemon thread minus the time inside the fake rtnetlink peer, "
               "the bench's own settled? checks and its reads of the thread's CPU clock (%.2f us each, "
               "counted; umockdev's preload overhead on sysfs reads stays in).\n\n",
               cpu_clock_read_ns() / 1000);

        for (size_t k = 0; k < ELEMENTSOF(scenarios); k++) {
                unsigned n_pfs = scenarios[k];
                Sample v[64];
                size_t n = 0;

                if ((quick && n_pfs > 16) || (only_pfs && n_pfs != only_pfs && !guard) ||
                    (guard && n_pfs != 1 && n_pfs != 16))
                        continue;
                /* 16,384 VFs take the fake kernel ~70 s to create on 2 cores: one run by default.
                 * The guard's 16 × 256 is one run too (its budget is minutes on a loaded CI). */
                for (unsigned i = 0; i < (n_pfs >= 64 || (guard && n_pfs > 1) ? large_runs : runs); i++) {
                        int r = sample_in_child(MODE_DAEMON, n_pfs, VFS_PER_PF, &v[n]);

                        if (r < 0) {
                                fprintf(stderr, "%u PFs: run %u failed\n", n_pfs, i);
                                return 1;
                        }
                        v[n].cpu_ms -= v[n].peer_ms + v[n].settle_ms + v[n].clock_ms;
                        v[n].cpu2_ms -= v[n].peer2_ms + v[n].clock2_ms;
                        n++;
                }
                first_of[n_pfs] = v[0];
                cpu_of[n_pfs] = STAT(v, n, cpu_ms);
                cpu2_of[n_pfs] = STAT(v, n, cpu2_ms);
                plan_of[n_pfs] = STAT(v, n, plan_ms);
                printf("### %u PF%s x %u VFs = %u VFs\n\n", n_pfs, n_pfs == 1 ? "" : "s", VFS_PER_PF,
                       n_pfs * VFS_PER_PF);
                printf("| %-44s | %9s | %9s | %9s |\n", "first pass (fresh host -> settled)", "median",
                       "min", "max");
                printf("|%.46s|%.11s|%.11s|%.11s|\n", "----------------------------------------------",
                       "-----------", "-----------", "-----------");
                print_stat("wall time, start -> settled (ms)", STAT(v, n, wall_ms));
                print_stat("daemon CPU (ms)", STAT(v, n, cpu_ms));
                print_stat("fake rtnetlink peer CPU (ms, excluded above)", STAT(v, n, peer_ms));
                print_stat("bench's settled? checks, CPU (ms, excluded)", STAT(v, n, settle_ms));
                print_stat("bench's CPU clock reads (ms, excluded)", STAT(v, n, clock_ms));
                print_stat("longest loop iteration, wall (ms)", STAT(v, n, loop_max_ms));
                print_stat("longest loop iteration, thread CPU (ms)", STAT(v, n, loop_max_cpu_ms));
                print_stat("second pass: wall, resync -> settled (ms)", STAT(v, n, wall2_ms));
                print_stat("second pass: daemon CPU (ms)", STAT(v, n, cpu2_ms));
                print_stat("planning only, all VFs diffed (ms CPU)", STAT(v, n, plan_ms));
                printf("\n");
                printf("| %-44s | %9s | %9s |\n", "counts (run 1)", "total", "per PF");
                printf("|%.46s|%.11s|%.11s|\n", "----------------------------------------------",
                       "-----------", "-----------");
#define ROW(label, val) \
        printf("| %-44s | %9llu | %9.1f |\n", label, (unsigned long long) (val), (double) (val) / n_pfs)
                ROW("netlink messages (requests)", v[0].nl_messages);
                ROW("  of which RTM_SETLINK", v[0].nl_setlinks);
                ROW("  of which RTM_GETLINK", v[0].nl_getlinks);
                ROW("IFLA_VF_INFOs sent", v[0].vf_infos);
                ROW("sysfs writes", v[0].sysfs_writes);
                ROW("sysfs reads (files, links, directories)", v[0].sysfs_reads);
                ROW("reconcile passes (loop iterations)", v[0].passes);
                ROW("loop iterations over 20 ms CPU", v[0].loop_over_20ms);
                ROW("reconcile_pf() calls", v[0].pf_reconciles);
                ROW("second pass: RTM_SETLINK", v[0].nl2_setlinks);
                ROW("second pass: RTM_GETLINK", v[0].nl2_getlinks);
                ROW("second pass: IFLA_VF_INFOs", v[0].vf_infos2);
                ROW("second pass: sysfs writes", v[0].sysfs_writes2);
                ROW("second pass: sysfs reads", v[0].sysfs_reads2);
#undef ROW
                printf("| %-44s | %9ld | %9s |\n", "peak RSS, VmHWM (KiB, daemon + fake)", v[0].hwm_kb, "");
                printf("| %-44s | %9ld | %9.2f |\n", "main heap in use, settled (KiB; per VF)",
                       v[0].heap_used_kb, (double) v[0].heap_used_kb / (n_pfs * VFS_PER_PF));
                printf("| %-44s | %9ld | %9s |\n", "main heap free, settled (KiB)", v[0].heap_free_kb, "");
                printf("| %-44s | %9ld | %9s |\n", "VmRSS settled (KiB, daemon + fake)", v[0].rss_kb, "");
                printf("| %-44s | %9ld | %9s |\n", "VmRSS after malloc_trim(0) (KiB)", v[0].rss_trimmed_kb,
                       "");
                printf("\n");
                fflush(stdout);
        }

        if (guard)
                return guard_check(first_of, cpu_of, cpu2_of, plan_of);

        /* Memory by VF count: the daemon's share is the difference to the fake alone. */
        if (memory) {
                static const struct {
                        unsigned n_pfs, num_vfs;
                } mem[] = {{1, 0}, {4, VFS_PER_PF}, {64, VFS_PER_PF}};

                printf("### Memory\n\n");
                printf("VmRSS daemon = the daemon run's VmRSS minus the fake alone's. Heap = bytes in use "
                       "in "
                       "every malloc arena and mmap()ed chunk (malloc_info); heap daemon = the daemon run's "
                       "minus the fake alone's: the daemon's own live data (model, maps, caches), whatever "
                       "thread allocated it. Main arena = the daemon thread's.\n\n");
                printf("| %-6s | %-12s | %11s | %11s | %11s | %11s | %11s | %11s | %9s |\n", "VFs", "layout",
                       "VmRSS total", "VmRSS fake", "VmRSS dmn", "heap run", "heap fake", "heap dmn",
                       "per VF");
                printf("|--------|--------------|-------------|-------------|-------------|-------------|---"
                       "-"
                       "---------|-------------|-----------|\n");
                for (size_t k = 0; k < ELEMENTSOF(mem); k++) {
                        Sample d = {}, b = {};
                        char layout[32];

                        if (quick && mem[k].n_pfs > 16)
                                continue;
                        /* The apply runs above measured the same layouts: reuse them. */
                        if (mem[k].num_vfs == VFS_PER_PF && first_of[mem[k].n_pfs].ok)
                                d = first_of[mem[k].n_pfs];
                        else if (sample_in_child(MODE_DAEMON_NO_PASSES, mem[k].n_pfs, mem[k].num_vfs, &d) <
                                 0)
                                d.ok = 0;
                        if (!d.ok || sample_in_child(MODE_BASELINE, mem[k].n_pfs, mem[k].num_vfs, &b) < 0) {
                                fprintf(stderr, "memory sample failed\n");
                                return 1;
                        }
                        snprintf(layout, sizeof(layout), "%u PF x %u", mem[k].n_pfs, mem[k].num_vfs);
                        printf("| %6u | %-12s | %7ld KiB | %7ld KiB | %7ld KiB | %7ld KiB | %7ld KiB | %7ld "
                               "KiB | %5.2f KiB |\n",
                               mem[k].n_pfs * mem[k].num_vfs, layout, d.rss_kb, b.rss_kb,
                               d.rss_kb - b.rss_kb, d.heap_all_used_kb, b.heap_all_used_kb,
                               d.heap_all_used_kb - b.heap_all_used_kb,
                               mem[k].num_vfs ? (double) (d.heap_all_used_kb - b.heap_all_used_kb) /
                                                        (mem[k].n_pfs * mem[k].num_vfs)
                                              : 0.0);
                }
                printf("\n");
        }
        return 0;
}
