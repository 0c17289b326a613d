/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The real daemon (Manager + bus_setup() + the same sd-event loop as daemon/main.c) on the
 * in-process fake kernel, for tests and benches that talk to it over D-Bus. Run it under
 * libumockdev-preload.so.0 (see tests/meson.build), with SRIOVD_BUS_ADDRESS set.
 *
 * Readiness: once the initial reconcile has settled and org.sriovd1 is owned, it writes
 * "READY root=DIR testbed=DIR\n" to --ready-fd (then closes it) and sends READY=1 to
 * $NOTIFY_SOCKET. Both DIRs are temporary and removed on a clean exit (SIGTERM); a test that
 * kills it with SIGKILL removes them itself.
 *
 * For hotplug tests it exports a control object outside /org/sriovd1, never in the
 * production daemon: /sriovd_test org.sriovd1.TestDaemon AddPF(u bus, u total_vfs) → s pci,
 * RemovePF(s pci), SetReplyDelay(t usec) (the fake kernel holds every rtnetlink reply that
 * long, 0: none), and for the benches LoopStats(b reset) → (t max_usec, t max_cpu_usec,
 * t iterations): the longest event loop iteration since the last reset. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "bus-util.h"
#include "fake-substrate.h"
#include "log.h"
#include "manager.h"
#include "util.h"

#define SEC 1000000ULL

static unsigned arg_pfs = 2;
static unsigned arg_vfs = 4;
static unsigned arg_total_vfs;
static const char *arg_config;
static const char *arg_config_dir;
static const char *arg_state_dir;
static int arg_ready_fd = -1;

static void help(void)
{
        printf("%s [OPTIONS...]\n\n"
               "sriovd on a fake kernel of igb-like PFs, on the bus $SRIOVD_BUS_ADDRESS.\n\n"
               "  --pfs=N          Number of PFs (default 2), at 0000:BB:00.0 named enpBs0\n"
               "  --vfs=N          num_vfs of the default config (default 4): first half in pool\n"
               "                   \"rdma-train\", second half in \"vm\"\n"
               "  --total-vfs=N    sriov_totalvfs per PF (default max(7, --vfs))\n"
               "  --config=FILE    Use FILE as etc/sriov.d/50-test.conf instead of the default\n"
               "  --config-dir=DIR Copy DIR/*.conf into etc/sriov.d instead of the default\n"
               "  --state-dir=DIR  Lease directory (default: a temporary one)\n"
               "  --ready-fd=FD    Write READY to FD when serving\n",
               program_invocation_short_name);
}

static int parse_uint(const char *s, unsigned *ret)
{
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v > 65535)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int parse_argv(int argc, char *argv[])
{
        enum {
                ARG_PFS = 0x100,
                ARG_VFS,
                ARG_TOTAL,
                ARG_CONFIG,
                ARG_CONFIG_DIR,
                ARG_STATE_DIR,
                ARG_READY_FD
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"pfs", required_argument, NULL, ARG_PFS},
                {"vfs", required_argument, NULL, ARG_VFS},
                {"total-vfs", required_argument, NULL, ARG_TOTAL},
                {"config", required_argument, NULL, ARG_CONFIG},
                {"config-dir", required_argument, NULL, ARG_CONFIG_DIR},
                {"state-dir", required_argument, NULL, ARG_STATE_DIR},
                {"ready-fd", required_argument, NULL, ARG_READY_FD},
                {},
        };
        unsigned u;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_PFS:
                case ARG_VFS:
                case ARG_TOTAL:
                case ARG_READY_FD:
                        if (parse_uint(optarg, &u) < 0)
                                return log_error_errno(EINVAL, "Bad number '%s'.", optarg);
                        if (c == ARG_PFS)
                                arg_pfs = u;
                        else if (c == ARG_VFS)
                                arg_vfs = u;
                        else if (c == ARG_TOTAL)
                                arg_total_vfs = u;
                        else
                                arg_ready_fd = (int) u;
                        break;
                case ARG_CONFIG:
                        arg_config = optarg;
                        break;
                case ARG_CONFIG_DIR:
                        arg_config_dir = optarg;
                        break;
                case ARG_STATE_DIR:
                        arg_state_dir = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        if (arg_total_vfs == 0)
                arg_total_vfs = MAX(7u, arg_vfs);
        if (arg_pfs > 64 || arg_vfs > arg_total_vfs || arg_total_vfs > 256)
                return log_error_errno(EINVAL, "At most 64 PFs of at most 256 VFs.");
        return 1;
}

static int read_file(const char *path, char **ret)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t n = 0;

        if (!f)
                return -errno;
        if (getdelim(&buf, &n, '\0', f) < 0 && !feof(f)) {
                free(buf);
                return -EIO;
        }
        *ret = buf ? buf : strdup("");
        return *ret ? 0 : -ENOMEM;
}

static int copy_config(FakeSubstrate *s, const char *dir, const char *name)
{
        _cleanup_free_ char *p = path_join(dir, name), *text = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        r = read_file(p, &text);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", p);
        return fake_substrate_write_config(s, name, text);
}

static int write_config(FakeSubstrate *s)
{
        _cleanup_free_ char *text = NULL;
        int r;

        if (arg_config) {
                r = read_file(arg_config, &text);
                if (r < 0)
                        return log_error_errno(r, "Cannot read %s: %m", arg_config);
                return fake_substrate_write_config(s, "50-test.conf", text);
        }
        if (arg_config_dir) {
                DIR *d = opendir(arg_config_dir);
                struct dirent *de;

                if (!d)
                        return log_error_errno(errno, "Cannot open %s: %m", arg_config_dir);
                r = 0;
                while (r >= 0 && (de = readdir(d))) {
                        size_t n = strlen(de->d_name);

                        if (n > 5 && streq(de->d_name + n - 5, ".conf"))
                                r = copy_config(s, arg_config_dir, de->d_name);
                }
                closedir(d);
                return r;
        }
        if (arg_vfs == 0)
                r = asprintf_safe(
                        &text,
                        "physical_functions = ( { match = { interface = \"enp*\"; }; num_vfs = 0; } );\n");
        else if (arg_vfs == 1)
                r = asprintf_safe(
                        &text, "physical_functions = ( { match = { interface = \"enp*\"; }; num_vfs = 1;\n"
                               "  vfs = ( { range = \"0\"; pool = \"vm\"; } ); } );\n");
        else
                r = asprintf_safe(
                        &text,
                        "physical_functions = ( { match = { interface = \"enp*\"; }; num_vfs = %u;\n"
                        "  vfs = ( { range = \"0-%u\"; pool = \"rdma-train\"; vlan = 100; trust = true; },\n"
                        "          { range = \"%u-%u\"; pool = \"vm\"; } ); } );\n",
                        arg_vfs, arg_vfs / 2 - 1, arg_vfs / 2, arg_vfs - 1);
        if (r < 0)
                return -ENOMEM;
        return fake_substrate_write_config(s, "50-test.conf", text);
}

/* igb VFs sit at routing id PF + 0x80 + 2 n: leave enough bus numbers between PFs. */
static unsigned pf_bus(unsigned i)
{
        return 1 + i * (1 + (0x80 + 2 * arg_total_vfs - 1) / 256);
}

/* ---- control object (tests only) -------------------------------------------------------- */

static int method_add_pf(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        FakeSubstrate *s = userdata;
        _cleanup_free_ char *pci = NULL;
        uint32_t bus, total;
        int r;

        r = sd_bus_message_read(message, "uu", &bus, &total);
        if (r < 0)
                return r;
        if (bus == 0 || bus > 255 || total > 256)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Bad bus or VF count.");
        r = fake_substrate_add_igb(s, bus, total, &pci);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot add PF: %s", strerror(-r));
        return sd_bus_reply_method_return(message, "s", pci);
}

static int method_remove_pf(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        FakeSubstrate *s = userdata;
        const char *pci;
        int r;

        r = sd_bus_message_read(message, "s", &pci);
        if (r < 0)
                return r;
        r = fake_kernel_remove_pf(s->kernel, pci);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot remove PF: %s", strerror(-r));
        return sd_bus_reply_method_return(message, NULL);
}

static int method_set_reply_delay(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        FakeSubstrate *s = userdata;
        uint64_t usec;
        int r;

        r = sd_bus_message_read(message, "t", &usec);
        if (r < 0)
                return r;
        r = fake_netlink_set_reply_delay(s->netlink, s->manager->event, usec);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot set the delay: %s", strerror(-r));
        return sd_bus_reply_method_return(message, NULL);
}

/* The event loop, with the longest iteration (one dispatched source; the wait excluded) kept
 * for the benches: wall and thread CPU time, read and reset through LoopStats(). */
static struct {
        uint64_t max_usec, max_cpu_usec, iterations;
} loop_stats;

static uint64_t now_clock(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * SEC + (uint64_t) ts.tv_nsec / 1000;
}

static int event_loop(sd_event *e)
{
        int code = 0, r;

        while (sd_event_get_state(e) != SD_EVENT_FINISHED) {
                uint64_t t0, c0;

                r = sd_event_prepare(e);
                if (r == 0)
                        r = sd_event_wait(e, UINT64_MAX);
                if (r <= 0) {
                        if (r < 0)
                                return r;
                        continue;
                }
                t0 = now_clock(CLOCK_MONOTONIC);
                c0 = now_clock(CLOCK_THREAD_CPUTIME_ID);
                r = sd_event_dispatch(e);
                if (r < 0)
                        return r;
                loop_stats.max_usec = MAX(loop_stats.max_usec, now_clock(CLOCK_MONOTONIC) - t0);
                loop_stats.max_cpu_usec =
                        MAX(loop_stats.max_cpu_usec, now_clock(CLOCK_THREAD_CPUTIME_ID) - c0);
                loop_stats.iterations++;
        }
        (void) sd_event_get_exit_code(e, &code);
        return code;
}

static int method_loop_stats(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        int reset, r;

        r = sd_bus_message_read(message, "b", &reset);
        if (r < 0)
                return r;
        r = sd_bus_reply_method_return(message, "ttt", loop_stats.max_usec, loop_stats.max_cpu_usec,
                                       loop_stats.iterations);
        if (reset)
                loop_stats = (typeof(loop_stats)){};
        return r;
}

static const sd_bus_vtable test_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("AddPF", SD_BUS_ARGS("u", bus, "u", total_vfs), SD_BUS_RESULT("s", pci),
                                method_add_pf, 0),
        SD_BUS_METHOD_WITH_ARGS("RemovePF", SD_BUS_ARGS("s", pci), SD_BUS_NO_RESULT, method_remove_pf, 0),
        SD_BUS_METHOD_WITH_ARGS("SetReplyDelay", SD_BUS_ARGS("t", usec), SD_BUS_NO_RESULT,
                                method_set_reply_delay, 0),
        SD_BUS_METHOD_WITH_ARGS("LoopStats", SD_BUS_ARGS("b", reset),
                                SD_BUS_RESULT("t", max_usec, "t", max_cpu_usec, "t", iterations),
                                method_loop_stats, 0),
        SD_BUS_VTABLE_END,
};

static int announce_ready(FakeSubstrate *s)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        /* RequestName went out before this call on the same connection: its answer means the
         * name is ours. */
        r = sd_bus_call_method(bus_get(s->manager), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetNameOwner", &error, &reply, "s", SRIOVD_BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Did not get %s: %s", SRIOVD_BUS_NAME, error.message);
        if (arg_ready_fd >= 0) {
                _cleanup_free_ char *line = NULL;

                if (asprintf_safe(&line, "READY root=%s testbed=%s\n", s->root,
                                  fake_kernel_root_dir(s->kernel)) < 0)
                        return -ENOMEM;
                if (write(arg_ready_fd, line, strlen(line)) < 0)
                        return log_error_errno(errno, "Cannot write to the ready fd: %m");
                arg_ready_fd = safe_close(arg_ready_fd);
        }
        /* The same over $NOTIFY_SOCKET, as systemd gets readiness: test-bus waits for this. */
        (void) sd_notifyf(false, "READY=1\nX_SRIOVD_TEST_ROOT=%s\nX_SRIOVD_TEST_TESTBED=%s", s->root,
                          fake_kernel_root_dir(s->kernel));
        return 0;
}

static int run(int argc, char *argv[])
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s = NULL;
        sigset_t ss;
        int r;

        log_setup();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        /* Before the fake kernel starts its threads: they must not take our SIGTERM. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return -errno;

        r = fake_substrate_new(&s);
        if (r < 0)
                return log_error_errno(r, "Cannot create the fake kernel (umockdev preload?): %m");
        for (unsigned i = 0; i < arg_pfs; i++) {
                r = fake_substrate_add_igb(s, pf_bus(i), arg_total_vfs, NULL);
                if (r < 0)
                        return log_error_errno(r, "Cannot add PF %u: %m", i);
        }
        r = write_config(s);
        if (r < 0)
                return log_error_errno(r, "Cannot write the config: %m");
        if (arg_state_dir) {
                r = free_and_strdup(&s->state_dir, arg_state_dir);
                if (r < 0)
                        return r;
        }

        r = fake_substrate_manager(s, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot set up: %m");
        r = bus_setup(s->manager, getenv("SRIOVD_BUS_ADDRESS"));
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus_get(s->manager), NULL, "/sriovd_test", "org.sriovd1.TestDaemon",
                                     test_vtable, s);
        if (r < 0)
                return log_error_errno(r, "Cannot export the control object: %m");
        r = manager_start(s->manager);
        if (r < 0)
                return log_error_errno(r, "Cannot start: %m");
        /* The fake kernel creates 16,384 VFs in minutes on a loaded machine. */
        r = fake_substrate_settle(s, (60 + 5 * arg_pfs) * SEC);
        if (r == -ESTALE) /* SIGTERM while starting */
                return 0;
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        if (r == 0)
                return log_error_errno(ETIMEDOUT, "Initial reconcile did not settle.");
        r = announce_ready(s);
        if (r < 0)
                return r;
        return event_loop(s->manager->event);
}

int main(int argc, char *argv[])
{
        malloc_setup(); /* the daemon's (main.c) */
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
