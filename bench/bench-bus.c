/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* D-Bus API figures of the real daemon code (tests/sriovd-test-daemon: Manager + bus_setup()
 * on the fake kernel) on a private dbus-daemon, measured from a client in this process:
 * ListVirtualFunctions("") over 4,096 VFs, GetAll on one VF, GetManagedObjects, Allocate +
 * Release round trips with durable leases (state directory on the real disk), and the
 * daemon's idle RSS with 1,024 VFs. Prints a table; see docs/PERFORMANCE.md.
 *
 *   bench-bus --daemon=build/tests/sriovd-test-daemon --preload=libumockdev-preload.so.0
 *             [--state-dir=DIR] [--calls=N] [--seconds=S] [--pfs=N] [--gmo-only]
 *
 * --gmo-only: after READY, print the test daemon's pid and only call GetManagedObjects,
 * --calls times (for profiling it with perf -p, and for quick A/B runs of it).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

static const char *arg_daemon;
static const char *arg_preload = "libumockdev-preload.so.0";
static const char *arg_state_dir = "bench-bus-state";
static const char *arg_sriovd;
static const char *arg_sriovctl;
static unsigned arg_calls = 50;
static unsigned arg_pfs = 16;
static bool arg_gmo_only;
static double arg_seconds = 2.0;

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* Every child still running: a bench that dies must not leave its dbus-daemon behind (it
 * holds the bench's stdout open, and a reader of it waits for ever) nor a test daemon. */
static pid_t children[8];

static void die(const char *what, int r)
{
        fprintf(stderr, "bench-bus: %s: %s\n", what, strerror(abs(r)));
        for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
                if (children[i] > 0)
                        (void) kill(children[i], SIGTERM);
        exit(EXIT_FAILURE);
}

/* Reads one line from fd, with a deadline, without stdio buffering past it. */
static int read_line(int fd, char *buf, size_t size, int timeout_ms)
{
        size_t n = 0;

        while (n + 1 < size) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                ssize_t k;

                if (poll(&p, 1, timeout_ms) <= 0)
                        return -ETIMEDOUT;
                k = read(fd, buf + n, 1);
                if (k <= 0)
                        return k < 0 ? -errno : -EPIPE;
                if (buf[n++] == '\n')
                        break;
        }
        buf[n] = 0;
        return (int) n;
}

static void child_track(pid_t pid, bool add)
{
        for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
                if (add ? children[i] == 0 : children[i] == pid) {
                        children[i] = add ? pid : 0;
                        return;
                }
}

typedef struct Child {
        pid_t pid;
        char line[512];
} Child;

static void child_spawn(Child *c, char *const argv[], const char *preload, const char *address)
{
        int p[2];

        if (pipe2(p, 0) < 0)
                die("pipe", errno);
        c->pid = fork();
        if (c->pid < 0)
                die("fork", errno);
        if (c->pid > 0)
                child_track(c->pid, true);
        if (c->pid == 0) {
                char fd[16];

                close(p[0]);
                if (p[1] != 3) {
                        dup2(p[1], 3);
                        close(p[1]);
                }
                snprintf(fd, sizeof(fd), "%d", 3);
                if (preload)
                        setenv("LD_PRELOAD", preload, 1);
                if (address)
                        setenv("SRIOVD_BUS_ADDRESS", address, 1);
                setenv("SRIOVD_LOG_LEVEL", "warning", 1);
                unsetenv("NOTIFY_SOCKET");
                execv(argv[0], argv);
                _exit(127);
        }
        close(p[1]);
        /* 16,384 fake VFs (--pfs=64) take minutes to create on a shared host. */
        if (read_line(p[0], c->line, sizeof(c->line), 600000) <= 0)
                die("child did not get ready", ETIMEDOUT);
        close(p[0]);
}

static void child_stop(Child *c, int sig)
{
        int status;

        kill(c->pid, sig);
        (void) waitpid(c->pid, &status, 0);
        child_track(c->pid, false);
}

typedef struct Mem {
        unsigned long rss, hwm, pss, anon, heap; /* kB */
} Mem;

/* VmRSS/VmHWM from status; PSS and anonymous memory from smaps_rollup; the main thread's
 * malloc arena (the "[heap]" mapping) from smaps. */
static Mem mem_of(pid_t pid)
{
        char path[64], line[512];
        bool in_heap = false;
        Mem m = {};
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                die("open status", errno);
        while (fgets(line, sizeof(line), f)) {
                sscanf(line, "VmRSS: %lu kB", &m.rss);
                sscanf(line, "VmHWM: %lu kB", &m.hwm);
        }
        fclose(f);
        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
        f = fopen(path, "re");
        if (f) {
                while (fgets(line, sizeof(line), f)) {
                        sscanf(line, "Pss: %lu kB", &m.pss);
                        sscanf(line, "Anonymous: %lu kB", &m.anon);
                }
                fclose(f);
        }
        snprintf(path, sizeof(path), "/proc/%d/smaps", (int) pid);
        f = fopen(path, "re");
        if (f) {
                while (fgets(line, sizeof(line), f)) {
                        unsigned long kb;

                        if (strchr(line, '-') && strchr(line, ':') && line[0] != ' ' &&
                            (line[0] < 'A' || line[0] > 'Z'))
                                in_heap = strstr(line, "[heap]") != NULL;
                        else if (in_heap && sscanf(line, "Rss: %lu kB", &kb) == 1)
                                m.heap += kb;
                }
                fclose(f);
        }
        return m;
}

static void mem_row(const char *what, Mem m)
{
        printf("%-44s %7.2f %7.2f %7.2f %7.2f %7.2f\n", what, m.rss / 1024.0, m.hwm / 1024.0, m.pss / 1024.0,
               m.anon / 1024.0, m.heap / 1024.0);
}

/* Starts a test daemon with npf × nvf VFs on the bus; returns its child. */
static void daemon_spawn(Child *c, const char *address, unsigned npf, unsigned nvf)
{
        char pfs[32], vfs[32], total[32], state[512];
        char *argv[] = {(char *) arg_daemon, pfs, vfs, total, state, (char *) "--ready-fd=3", NULL};

        snprintf(pfs, sizeof(pfs), "--pfs=%u", npf);
        snprintf(vfs, sizeof(vfs), "--vfs=%u", nvf);
        snprintf(total, sizeof(total), "--total-vfs=%u", nvf < 7 ? 7 : nvf);
        snprintf(state, sizeof(state), "--state-dir=%s", arg_state_dir);
        child_spawn(c, argv, arg_preload, address);
        if (strncmp(c->line, "READY", 5) != 0)
                die("test daemon did not say READY", EPROTO);
}

static void daemon_cleanup(Child *c)
{
        /* "READY root=… testbed=…": the SIGTERM path removes them itself. */
        child_stop(c, SIGTERM);
}

/* The real daemon has no ready fd: wait for its name, then for State to leave "starting",
 * each by a blocking GetNameOwner/Get with the bus as the clock (no sleeps). */
static void sriovd_spawn(Child *c, char *const argv[], const char *address, sd_bus *bus)
{
        uint64_t deadline = now_usec() + 30 * 1000000ULL;

        c->pid = fork();
        if (c->pid < 0)
                die("fork", errno);
        if (c->pid > 0)
                child_track(c->pid, true);
        if (c->pid == 0) {
                setenv("SRIOVD_BUS_ADDRESS", address, 1);
                setenv("SRIOVD_LOG_LEVEL", "err", 1);
                unsetenv("NOTIFY_SOCKET");
                execv(argv[0], argv);
                _exit(127);
        }
        for (;;) {
                sd_bus_message *reply = NULL;
                const char *state = NULL;
                int r;

                if (now_usec() > deadline)
                        die("sriovd did not start", ETIMEDOUT);
                /* Wait for the name (blocks in the bus until it is owned or the call times out). */
                r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetNameOwner", NULL, &reply, "s",
                                       "org.sriovd1");
                sd_bus_message_unref(reply);
                reply = NULL;
                if (r < 0) {
                        /* Not there yet: block on the bus until something changes. */
                        (void) sd_bus_wait(bus, 100000);
                        (void) sd_bus_process(bus, NULL);
                        continue;
                }
                r = sd_bus_get_property(bus, "org.sriovd1", "/org/sriovd1", "org.sriovd1.Manager", "State",
                                        NULL, &reply, "s");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "s", &state);
                if (r >= 0 && strcmp(state, "starting") != 0) {
                        sd_bus_message_unref(reply);
                        return;
                }
                sd_bus_message_unref(reply);
                (void) sd_bus_wait(bus, 100000);
        }
}

typedef struct Stats {
        uint64_t min, median, max;
        unsigned n;
        uint64_t cpu_median; /* daemon main thread CPU per call, µs */
        uint64_t loop_max;   /* longest loop iteration of the daemon during the calls, µs */
        uint64_t loop_max_cpu;
} Stats;

/* The test daemon under measurement: its main thread's CPU time (schedstat, ns) and its
 * event loop's longest iteration (LoopStats() on its control object). */
static pid_t bench_pid;

static uint64_t daemon_cpu_usec(void)
{
        char path[64];
        unsigned long long ns = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int) bench_pid, (int) bench_pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (fscanf(f, "%llu", &ns) != 1)
                ns = 0;
        fclose(f);
        return ns / 1000;
}

static void loop_stats(sd_bus *bus, bool reset, uint64_t *ret_max, uint64_t *ret_max_cpu)
{
        sd_bus_message *reply = NULL;
        uint64_t max = 0, max_cpu = 0, n = 0;
        int r;

        r = sd_bus_call_method(bus, "org.sriovd1", "/sriovd_test", "org.sriovd1.TestDaemon", "LoopStats",
                               NULL, &reply, "b", reset);
        if (r >= 0)
                r = sd_bus_message_read(reply, "ttt", &max, &max_cpu, &n);
        if (r < 0)
                die("LoopStats", r);
        sd_bus_message_unref(reply);
        if (ret_max)
                *ret_max = max;
        if (ret_max_cpu)
                *ret_max_cpu = max_cpu;
}

static Stats stats_of(uint64_t *v, unsigned n)
{
        qsort(v, n, sizeof(uint64_t), cmp_u64);
        return (Stats){.min = v[0], .median = v[n / 2], .max = v[n - 1], .n = n};
}

static void row(const char *what, Stats s, const char *extra)
{
        printf("%-44s %6u %10.3f %10.3f %10.3f %10.3f %10.3f  %s\n", what, s.n, s.median / 1000.0,
               s.min / 1000.0, s.max / 1000.0, s.cpu_median / 1000.0, s.loop_max_cpu / 1000.0, extra);
}

static Stats time_call(sd_bus *bus, unsigned n, const char *path, const char *iface, const char *member,
                       const char *sig, const char *arg)
{
        uint64_t *t = calloc(n, sizeof(uint64_t)), *cpu = calloc(n, sizeof(uint64_t));
        Stats s;

        if (!t || !cpu)
                die("calloc", ENOMEM);
        loop_stats(bus, true, NULL, NULL);
        for (unsigned i = 0; i < n; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                uint64_t t0 = now_usec(), c0 = daemon_cpu_usec();
                int r;

                r = sig ? sd_bus_call_method(bus, "org.sriovd1", path, iface, member, &error, &reply, sig,
                                             arg)
                        : sd_bus_call_method(bus, "org.sriovd1", path, iface, member, &error, &reply, NULL);
                t[i] = now_usec() - t0;
                cpu[i] = daemon_cpu_usec() - c0;
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", member, error.message);
                        die(member, r);
                }
                sd_bus_message_unref(reply);
                sd_bus_error_free(&error);
        }
        s = stats_of(t, n);
        s.cpu_median = stats_of(cpu, n).median;
        loop_stats(bus, false, &s.loop_max, &s.loop_max_cpu);
        free(t);
        free(cpu);
        return s;
}

static unsigned count_vfs(sd_bus *bus)
{
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        unsigned n = 0;
        int r;

        r = sd_bus_call_method(bus, "org.sriovd1", "/org/sriovd1", "org.sriovd1.Manager",
                               "ListVirtualFunctions", &error, &reply, "s", "");
        if (r < 0)
                die("ListVirtualFunctions", r);
        r = sd_bus_message_enter_container(reply, 'a', "(osoussb)");
        while (r >= 0 && (r = sd_bus_message_skip(reply, "(osoussb)")) > 0)
                n++;
        sd_bus_message_unref(reply);
        return n;
}

static const char *first_vf(sd_bus *bus, char *buf, size_t size)
{
        sd_bus_message *reply = NULL;
        const char *p;
        int r;

        r = sd_bus_call_method(bus, "org.sriovd1", "/org/sriovd1", "org.sriovd1.Manager",
                               "ListVirtualFunctions", NULL, &reply, "s", "vm");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(osoussb)");
        if (r >= 0)
                r = sd_bus_message_read(reply, "(osoussb)", &p, NULL, NULL, NULL, NULL, NULL, NULL);
        if (r <= 0)
                die("first VF", r < 0 ? r : ENOENT);
        snprintf(buf, size, "%s", p);
        sd_bus_message_unref(reply);
        return buf;
}

static double allocate_release(sd_bus *bus, double seconds, unsigned *ret_n)
{
        uint64_t t0 = now_usec(), end = t0 + (uint64_t) (seconds * 1e6);
        unsigned n = 0;

        while (now_usec() < end) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                const char *vf;
                char path[256];
                int r;

                r = sd_bus_call_method(bus, "org.sriovd1", "/org/sriovd1", "org.sriovd1.Manager", "Allocate",
                                       &error, &reply, "ssa{sv}", "vm", "bench", 0);
                if (r >= 0)
                        r = sd_bus_message_read(reply, "o", &vf);
                if (r < 0) {
                        fprintf(stderr, "Allocate: %s\n", error.message);
                        die("Allocate", r);
                }
                snprintf(path, sizeof(path), "%s", vf);
                sd_bus_message_unref(reply);
                r = sd_bus_call_method(bus, "org.sriovd1", "/org/sriovd1", "org.sriovd1.Manager", "Release",
                                       &error, NULL, "os", path, "bench");
                if (r < 0) {
                        fprintf(stderr, "Release: %s\n", error.message);
                        die("Release", r);
                }
                n++;
        }
        *ret_n = n;
        return n / ((now_usec() - t0) / 1e6);
}

/* sriovctl as a user runs it against this bus, n times: the client's own CPU (user + system,
 * from wait4()) and its wall time, medians. What a big host costs the CLI, not the daemon. */
static void time_sriovctl(const char *address, unsigned n, const char *what, const char *arg1,
                          const char *arg2)
{
        uint64_t *wall = calloc(n, sizeof(uint64_t)), *cpu = calloc(n, sizeof(uint64_t));

        if (!wall || !cpu)
                die("calloc", -ENOMEM);
        for (unsigned i = 0; i < n; i++) {
                char *argv[] = {(char *) arg_sriovctl, (char *) arg1, (char *) arg2, NULL};
                struct rusage ru;
                uint64_t t0 = now_usec();
                int status;
                pid_t pid = fork();

                if (pid < 0)
                        die("fork", -errno);
                if (pid == 0) {
                        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                        if (null >= 0)
                                (void) dup2(null, STDOUT_FILENO);
                        setenv("SRIOVD_BUS_ADDRESS", address, 1);
                        execv(argv[0], argv);
                        _exit(127);
                }
                if (wait4(pid, &status, 0, &ru) < 0)
                        die("wait4", -errno);
                wall[i] = now_usec() - t0;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "bench-bus: sriovctl %s %s failed (status %d)\n", arg1,
                                arg2 ? arg2 : "", status);
                        die("sriovctl", EIO);
                }
                cpu[i] = (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ULL +
                         (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        }
        qsort(wall, n, sizeof(uint64_t), cmp_u64);
        qsort(cpu, n, sizeof(uint64_t), cmp_u64);
        printf("%-44s %6u %10.1f %10.1f %10.1f %10.1f\n", what, n, wall[n / 2] / 1000.0, wall[0] / 1000.0,
               wall[n - 1] / 1000.0, cpu[n / 2] / 1000.0);
        free(wall);
        free(cpu);
}

static void parse_argv(int argc, char *argv[])
{
        static const struct option options[] = {
                {"daemon", required_argument, NULL, 'd'},    {"preload", required_argument, NULL, 'p'},
                {"state-dir", required_argument, NULL, 's'}, {"calls", required_argument, NULL, 'n'},
                {"seconds", required_argument, NULL, 't'},   {"sriovd", required_argument, NULL, 'S'},
                {"pfs", required_argument, NULL, 'P'},       {"sriovctl", required_argument, NULL, 'C'},
                {"gmo-only", no_argument, NULL, 'G'},        {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        arg_daemon = optarg;
                        break;
                case 'p':
                        arg_preload = optarg;
                        break;
                case 's':
                        arg_state_dir = optarg;
                        break;
                case 'n':
                        arg_calls = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 't':
                        arg_seconds = strtod(optarg, NULL);
                        break;
                case 'S':
                        arg_sriovd = optarg;
                        break;
                case 'C':
                        arg_sriovctl = optarg;
                        break;
                case 'P':
                        arg_pfs = (unsigned) strtoul(optarg, NULL, 10);
                        if (arg_pfs < 1 || arg_pfs > 64) {
                                fprintf(stderr, "--pfs: 1..64\n");
                                exit(EXIT_FAILURE);
                        }
                        break;
                case 'G':
                        arg_gmo_only = true;
                        break;
                default:
                        exit(EXIT_FAILURE);
                }
        if (!arg_daemon || arg_calls == 0) {
                fprintf(stderr,
                        "usage: bench-bus --daemon=PATH [--preload=LIB] [--state-dir=DIR] [--calls=N] "
                        "[--seconds=S] [--pfs=N] [--sriovd=PATH] [--sriovctl=PATH] [--gmo-only]\n");
                exit(EXIT_FAILURE);
        }
}

int main(int argc, char *argv[])
{
        char *bus_argv[] = {
                (char *) "/usr/bin/dbus-daemon", (char *) "--session",         (char *) "--nofork",
                (char *) "--nopidfile",          (char *) "--print-address=3", NULL};
        Child dbus = {}, d = {};
        sd_bus *bus = NULL;
        char vfbuf[256], extra[128];
        const char *vf;
        Mem mem_before_idle;
        unsigned n;
        uint64_t t0;
        Stats s;
        int r;

        parse_argv(argc, argv);
        signal(SIGPIPE, SIG_IGN);
        (void) mkdir(arg_state_dir, 0755);

        child_spawn(&dbus, bus_argv, NULL, NULL);
        dbus.line[strcspn(dbus.line, "\n")] = 0;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, dbus.line);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0) {
                const char *unique;

                /* Finish authenticating now: dbus-daemon drops a connection still in its
                 * handshake after a few minutes, and 16,384 fake VFs take that long. */
                r = sd_bus_get_unique_name(bus, &unique);
        }
        if (r < 0)
                die("connect", r);

        /* The daemon columns: its main thread's CPU per call (median) and its longest event
         * loop iteration (thread CPU) while the calls ran: on a loaded machine the wall
         * times include waiting for a core, these do not. */
        printf("%-44s %6s %10s %10s %10s %10s %10s\n", "D-Bus call", "calls", "median ms", "min ms",
               "max ms", "daemon CPU", "longest it");

        /* 4,096 VFs: 16 PFs × 256 (--pfs). */
        t0 = now_usec();
        daemon_spawn(&d, dbus.line, arg_pfs, 256);
        bench_pid = d.pid;
        snprintf(extra, sizeof(extra), "startup to READY %.2f s", (now_usec() - t0) / 1e6);
        n = count_vfs(bus);
        printf("# %u VFs; %s\n", n, extra);
        {
                /* Start -> READY (every VF created, configured and on the bus): the test
                 * daemon's loop stats have not been reset yet. */
                uint64_t max = 0, max_cpu = 0;

                loop_stats(bus, false, &max, &max_cpu);
                printf("# longest loop iteration, start -> READY: %.1f ms wall, %.1f ms thread CPU\n",
                       max / 1000.0, max_cpu / 1000.0);
        }
        if (arg_gmo_only) {
                printf("# test daemon pid %d\n", (int) d.pid);
                fflush(stdout);
                s = time_call(bus, arg_calls, "/org/sriovd1", "org.freedesktop.DBus.ObjectManager",
                              "GetManagedObjects", NULL, NULL);
                row("ObjectManager.GetManagedObjects", s, "all objects");
                daemon_cleanup(&d);
                sd_bus_flush_close_unref(bus);
                child_stop(&dbus, SIGTERM);
                return 0;
        }
        s = time_call(bus, arg_calls, "/org/sriovd1", "org.sriovd1.Manager", "ListVirtualFunctions", "s",
                      "");
        snprintf(extra, sizeof(extra), "%u entries", n);
        row("Manager.ListVirtualFunctions(\"\")", s, extra);
        s = time_call(bus, arg_calls, "/org/sriovd1", "org.sriovd1.Manager", "ListVirtualFunctions", "s",
                      "vm");
        row("Manager.ListVirtualFunctions(\"vm\")", s, "half of them");
        vf = first_vf(bus, vfbuf, sizeof(vfbuf));
        s = time_call(bus, arg_calls * 4, vf, "org.freedesktop.DBus.Properties", "GetAll", "s",
                      "org.sriovd1.VirtualFunction");
        row("Properties.GetAll(VirtualFunction)", s, "one VF");
        s = time_call(bus, arg_calls / 5 > 3 ? arg_calls / 5 : 3, "/org/sriovd1",
                      "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL, NULL);
        row("ObjectManager.GetManagedObjects", s, "all objects");
        if (arg_sriovctl) {
                printf("\n%-44s %6s %10s %10s %10s %10s\n", "sriovctl (client process)", "runs", "median ms",
                       "min ms", "max ms", "client CPU");
                time_sriovctl(dbus.line, 3, "sriovctl --json vfs", "--json", "vfs");
                time_sriovctl(dbus.line, 3, "sriovctl status", "status", NULL);
                time_sriovctl(dbus.line, 3, "sriovctl wait-online (online already)", "wait-online", NULL);
                printf("\n");
        }
        {
                double rate = allocate_release(bus, arg_seconds, &n);

                printf("%-44s %6u %10.1f/s  durable leases in %s\n", "Allocate+Release round trips", n, rate,
                       arg_state_dir);
        }
        mem_before_idle = mem_of(d.pid);
        daemon_cleanup(&d);

        /* Idle memory with 1,024 VFs (4 × 256), with none (what the process costs without
         * VFs: libraries and the in-process fake kernel), and of the real sriovd binary with no
         * SR-IOV device (the libraries' share without any fake). The VFs' cost to the daemon
         * is the growth of the main thread's heap: the fake kernel lives on its own threads. */
        printf("\n%-44s %7s %7s %7s %7s %7s\n", "daemon memory, MiB", "VmRSS", "VmHWM", "PSS", "anon",
               "[heap]");
        mem_row("after the runs above (4,096 VFs)", mem_before_idle);
        daemon_spawn(&d, dbus.line, 4, 256);
        mem_row("test daemon idle, 1,024 VFs (4 PFs x 256)", mem_of(d.pid));
        daemon_cleanup(&d);
        daemon_spawn(&d, dbus.line, 4, 0);
        mem_row("test daemon idle, 4 PFs, 0 VFs", mem_of(d.pid));
        daemon_cleanup(&d);
        if (arg_sriovd) {
                char root[600], state[600];
                char *sargv[] = {(char *) arg_sriovd, root, state, NULL};

                snprintf(root, sizeof(root), "--root=%s", arg_state_dir);
                snprintf(state, sizeof(state), "--state-dir=%s", arg_state_dir);
                sriovd_spawn(&d, sargv, dbus.line, bus);
                mem_row("sriovd idle, no SR-IOV device", mem_of(d.pid));
                child_stop(&d, SIGTERM);
        }

        sd_bus_flush_close_unref(bus);
        child_stop(&dbus, SIGTERM);
        return 0;
}
