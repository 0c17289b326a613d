/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The floor of GetManagedObjects in libsystemd: a reply of the same shape as
 * daemon/objects-bus.c builds for N VFs (same objects, interfaces, property names and
 * signatures, taken from the daemon's vtables), but with constant values (strings empty) and
 * no getters, so all that is measured is sd-bus's own marshalling through its public API.
 * Prints the main thread's CPU per reply (median of --runs; and user-space instructions where
 * the CPU has a PMU) for the ways the public API offers:
 *
 *   sequence     what objects-bus.c does: open "e"/"v" containers, append_basic each value
 *   no-standard  the same without the three property-less standard interfaces per object
 *   key-space    property names via sd_bus_message_append_string_space (no UTF-8 check)
 *   format       each property as sd_bus_message_append(m, "{sv}", ...) (format parser)
 *   copy         sd_bus_message_copy() of a finished, sealed reply into a new one (what a
 *                per-generation cache of the reply would cost to re-send)
 *
 *   bench-marshal [--pfs=16] [--runs=7]      (256 VFs per PF: 4,096 by default)
 *
 * Not a test: it asserts nothing about the daemon (docs/PERFORMANCE.md quotes it). */
#include <getopt.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bus-util.h"

static unsigned arg_pfs = 16;
static unsigned arg_vfs = 16 * 256; /* 256 per PF, as bench-bus */
static unsigned arg_runs = 7;

typedef enum Mode {
        MODE_SEQUENCE,
        MODE_NO_STANDARD,
        MODE_KEY_SPACE,
        MODE_FORMAT,
        _MODE_MAX,
} Mode;

static const char *const mode_name[_MODE_MAX] = {
        [MODE_SEQUENCE] = "sequence (as objects-bus.c)",
        [MODE_NO_STANDARD] = "no-standard (without Peer/Introspectable/Properties)",
        [MODE_KEY_SPACE] = "key-space (names via append_string_space)",
        [MODE_FORMAT] = "format (sd_bus_message_append \"{sv}\")",
};

/* Constant values, as short as the reply allows, so that this is a floor: every string empty,
 * object paths as long as the daemon's (they are the objects' own paths). */
#define VALUE_STRING ""
#define VALUE_PATH   "/org/sriovd1/vf/0000_3a3b_3a02_2e7"

static uint64_t thread_cpu_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* This thread's user-space instructions (perf_event_open), or -1 without perf access: unlike
 * CPU time they do not depend on what else the (shared) machine runs. */
static int instructions_fd = -1;

static void instructions_open(void)
{
        struct perf_event_attr a = {
                .type = PERF_TYPE_HARDWARE,
                .size = sizeof(a),
                .config = PERF_COUNT_HW_INSTRUCTIONS,
                .exclude_kernel = 1,
                .exclude_hv = 1,
        };

        instructions_fd = (int) syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static uint64_t instructions(void)
{
        uint64_t v = 0;

        if (instructions_fd < 0 || read(instructions_fd, &v, sizeof(v)) != sizeof(v))
                return 0;
        return v;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static void check(int r, const char *what)
{
        if (r < 0) {
                fprintf(stderr, "bench-marshal: %s: %s\n", what, strerror(-r));
                exit(EXIT_FAILURE);
        }
}

static int append_value(sd_bus_message *m, const char *sig, unsigned n_paths)
{
        static const uint32_t u = 1500;
        static const int32_t i = -1;
        static const uint16_t q = 0x8086;
        static const int b = 1;
        int r;

        switch (sig[0]) {
        case 's':
                return sd_bus_message_append_basic(m, 's', VALUE_STRING);
        case 'o':
                return sd_bus_message_append_basic(m, 'o', VALUE_PATH);
        case 'u':
                return sd_bus_message_append_basic(m, 'u', &u);
        case 'i':
                return sd_bus_message_append_basic(m, 'i', &i);
        case 'q':
                return sd_bus_message_append_basic(m, 'q', &q);
        case 'b':
                return sd_bus_message_append_basic(m, 'b', &b);
        case 'a':
                /* "as" (a PF's RDMA devices: none here) or "ao" (a pool's VFs) */
                r = sd_bus_message_open_container(m, 'a', sig + 1);
                for (unsigned k = 0; r >= 0 && sig[1] == 'o' && k < n_paths; k++)
                        r = sd_bus_message_append_basic(m, 'o', VALUE_PATH);
                return r < 0 ? r : sd_bus_message_close_container(m);
        }
        return -EINVAL;
}

static int append_property_format(sd_bus_message *m, const char *name, const char *sig)
{
        switch (sig[0]) {
        case 's':
                return sd_bus_message_append(m, "{sv}", name, "s", VALUE_STRING);
        case 'o':
                return sd_bus_message_append(m, "{sv}", name, "o", VALUE_PATH);
        case 'u':
                return sd_bus_message_append(m, "{sv}", name, "u", (uint32_t) 1500);
        case 'i':
                return sd_bus_message_append(m, "{sv}", name, "i", (int32_t) -1);
        case 'q':
                return sd_bus_message_append(m, "{sv}", name, "q", (unsigned) 0x8086);
        case 'b':
                return sd_bus_message_append(m, "{sv}", name, "b", 1);
        }
        return -EINVAL;
}

static int append_key(sd_bus_message *m, Mode mode, const char *name)
{
        char *s;
        size_t l;
        int r;

        if (mode != MODE_KEY_SPACE)
                return sd_bus_message_append_basic(m, 's', name);
        l = strlen(name);
        r = sd_bus_message_append_string_space(m, l, &s);
        if (r >= 0)
                memcpy(s, name, l);
        return r;
}

/* One "{oa{sa{sv}}}" entry of the shape objects-bus.c appends. */
static int append_object(sd_bus_message *m, Mode mode, const char *iface, const sd_bus_vtable *vtable,
                         unsigned n_paths)
{
        static const char *const standard[] = {
                "org.freedesktop.DBus.Peer",
                "org.freedesktop.DBus.Introspectable",
                "org.freedesktop.DBus.Properties",
        };
        int r;

        r = sd_bus_message_open_container(m, 'e', "oa{sa{sv}}");
        if (r >= 0)
                r = sd_bus_message_append_basic(m, 'o', VALUE_PATH);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sa{sv}}");
        for (size_t i = 0; r >= 0 && mode != MODE_NO_STANDARD && i < ELEMENTSOF(standard); i++) {
                r = sd_bus_message_open_container(m, 'e', "sa{sv}");
                if (r >= 0)
                        r = sd_bus_message_append_basic(m, 's', standard[i]);
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'a', "{sv}");
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'e', "sa{sv}");
        if (r >= 0)
                r = sd_bus_message_append_basic(m, 's', iface);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (const sd_bus_vtable *v = vtable + 1; r >= 0 && v->type != _SD_BUS_VTABLE_END; v++) {
                const char *sig = v->x.property.signature;

                if (v->type != _SD_BUS_VTABLE_PROPERTY && v->type != _SD_BUS_VTABLE_WRITABLE_PROPERTY)
                        continue;
                if (v->flags & (SD_BUS_VTABLE_HIDDEN | SD_BUS_VTABLE_PROPERTY_EXPLICIT))
                        continue;
                if (mode == MODE_FORMAT && sig[0] != 'a') {
                        r = append_property_format(m, v->x.property.member, sig);
                        continue;
                }
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = append_key(m, mode, v->x.property.member);
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', sig);
                if (r >= 0)
                        r = append_value(m, sig, n_paths);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        for (unsigned k = 0; r >= 0 && k < 4; k++)
                r = sd_bus_message_close_container(m);
        return r;
}

static unsigned count_properties(const sd_bus_vtable *vtable)
{
        unsigned n = 0;

        for (const sd_bus_vtable *v = vtable + 1; v->type != _SD_BUS_VTABLE_END; v++)
                if ((v->type == _SD_BUS_VTABLE_PROPERTY || v->type == _SD_BUS_VTABLE_WRITABLE_PROPERTY) &&
                    !(v->flags & (SD_BUS_VTABLE_HIDDEN | SD_BUS_VTABLE_PROPERTY_EXPLICIT)))
                        n++;
        return n;
}

static sd_bus_message *new_reply(sd_bus *bus)
{
        sd_bus_message *m = NULL;

        check(sd_bus_message_new_method_call(bus, &m, "org.sriovd1", "/org/sriovd1",
                                             "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"),
              "new message");
        return m;
}

/* The whole reply: two pools (half the VFs each), the PFs, the VFs. */
static sd_bus_message *build(sd_bus *bus, Mode mode)
{
        sd_bus_message *m = new_reply(bus);
        int r;

        r = sd_bus_message_open_container(m, 'a', "{oa{sa{sv}}}");
        for (unsigned i = 0; r >= 0 && i < 2; i++)
                r = append_object(m, mode, SRIOVD_POOL_IFACE, pool_vtable, arg_vfs / 2);
        for (unsigned i = 0; r >= 0 && i < arg_pfs; i++)
                r = append_object(m, mode, SRIOVD_PF_IFACE, pf_vtable, 0);
        for (unsigned i = 0; r >= 0 && i < arg_vfs; i++)
                r = append_object(m, mode, SRIOVD_VF_IFACE, vf_bus_vtable(), 0);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        check(r, mode_name[mode]);
        return m;
}

static void parse_argv(int argc, char *argv[])
{
        static const struct option options[] = {
                {"pfs", required_argument, NULL, 'p'},
                {"runs", required_argument, NULL, 'r'},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'p':
                        arg_pfs = (unsigned) strtoul(optarg, NULL, 10);
                        arg_vfs = arg_pfs * 256;
                        break;
                case 'r':
                        arg_runs = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                default:
                        fprintf(stderr, "usage: bench-marshal [--pfs=N] [--runs=N]\n");
                        exit(EXIT_FAILURE);
                }
        if (arg_runs == 0 || arg_runs > 1000 || arg_pfs == 0 || arg_pfs > 64) {
                fprintf(stderr, "--runs: 1..1000, --pfs: 1..64\n");
                exit(EXIT_FAILURE);
        }
}

static void row(const char *what, uint64_t *t, uint64_t *ins)
{
        qsort(t, arg_runs, sizeof(uint64_t), cmp_u64);
        qsort(ins, arg_runs, sizeof(uint64_t), cmp_u64);
        printf("%-56s %9.2f %9.2f %9.2f", what, t[arg_runs / 2] / 1000.0, t[0] / 1000.0,
               t[arg_runs - 1] / 1000.0);
        if (instructions_fd >= 0)
                printf(" %10.1f", ins[arg_runs / 2] / 1e6);
        else
                printf(" %10s", "n/a");
        printf("\n");
}

int main(int argc, char *argv[])
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        uint64_t *t, *ins;
        unsigned props;
        int fds[2];

        parse_argv(argc, argv);
        t = calloc(arg_runs, sizeof(uint64_t));
        ins = calloc(arg_runs, sizeof(uint64_t));
        if (!t || !ins)
                return EXIT_FAILURE;
        instructions_open();

        /* sd-bus builds messages only for a started connection: one end of a socket pair
         * (never authenticated, nothing is sent). */
        check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0 ? -errno : 0, "socketpair");
        check(sd_bus_new(&bus), "sd_bus_new");
        check(sd_bus_set_fd(bus, fds[0], fds[0]), "sd_bus_set_fd");
        check(sd_bus_start(bus), "sd_bus_start");

        props = 2 * count_properties(pool_vtable) + arg_pfs * count_properties(pf_vtable) +
                arg_vfs * count_properties(vf_bus_vtable());
        printf("# GetManagedObjects' shape: %u VFs, %u PFs, 2 pools; %u properties, %u objects, "
               "constant values, strings empty\n",
               arg_vfs, arg_pfs, props, arg_vfs + arg_pfs + 2);
        printf("%-56s %9s %9s %9s %10s\n", "libsystemd public API, CPU per reply", "median ms", "min ms",
               "max ms", "M instr.");
        for (Mode mode = 0; mode < _MODE_MAX; mode++) {
                for (unsigned i = 0; i < arg_runs; i++) {
                        uint64_t c0 = thread_cpu_usec(), i0 = instructions();
                        sd_bus_message *m = build(bus, mode);

                        t[i] = thread_cpu_usec() - c0;
                        ins[i] = instructions() - i0;
                        sd_bus_message_unref(m);
                }
                row(mode_name[mode], t, ins);
        }
        {
                sd_bus_message *cached = build(bus, MODE_SEQUENCE);

                check(sd_bus_message_seal(cached, 1, 0), "seal");
                for (unsigned i = 0; i < arg_runs; i++) {
                        sd_bus_message *m = new_reply(bus);
                        uint64_t c0 = thread_cpu_usec(), i0 = instructions();

                        check(sd_bus_message_rewind(cached, true), "rewind");
                        check(sd_bus_message_copy(m, cached, true), "copy");
                        t[i] = thread_cpu_usec() - c0;
                        ins[i] = instructions() - i0;
                        sd_bus_message_unref(m);
                }
                row("copy (sd_bus_message_copy of a sealed reply)", t, ins);
                sd_bus_message_unref(cached);
        }
        free(t);
        free(ins);
        return EXIT_SUCCESS;
}
