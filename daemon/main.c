/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>

#include "bus-util.h"
#include "config.h"
#include "log.h"
#include "manager.h"
#include "util.h"

static const char *arg_root;
static const char *arg_state_dir;
static const char *arg_cdi_dir = "/run/cdi";
static const char *arg_hint_dir = "/run/sriovd/udev";
static bool arg_check_config;

static void help(void)
{
        printf("%s [OPTIONS...]\n\n"
               "Applies the SR-IOV layouts declared in sriov.d drop-ins and keeps them.\n\n"
               "  -h --help              Show this help\n"
               "     --version           Show package version\n"
               "     --root=DIR          Use DIR as the root for configuration and machine-id\n"
               "     --state-dir=DIR     Where leases are kept (default $STATE_DIRECTORY, else\n"
               "                         " SRIOVD_STATE_DIR ")\n"
               "     --cdi-dir=DIR       Where CDI specs of leased VFs go (default /run/cdi; \"\" = none)\n"
               "     --udev-hint-dir=DIR Where udev hints for pooled VFs go (default /run/sriovd/udev)\n"
               "     --log-level=LEVEL   debug, info, notice, warning, err\n"
               "     --check-config      Load the drop-ins, print errors and the effective files, exit\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[])
{
        enum {
                ARG_VERSION = 0x100,
                ARG_ROOT,
                ARG_STATE_DIR,
                ARG_CDI_DIR,
                ARG_HINT_DIR,
                ARG_LOG_LEVEL,
                ARG_CHECK_CONFIG,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"root", required_argument, NULL, ARG_ROOT},
                {"state-dir", required_argument, NULL, ARG_STATE_DIR},
                {"cdi-dir", required_argument, NULL, ARG_CDI_DIR},
                {"udev-hint-dir", required_argument, NULL, ARG_HINT_DIR},
                {"log-level", required_argument, NULL, ARG_LOG_LEVEL},
                {"check-config", no_argument, NULL, ARG_CHECK_CONFIG},
                {},
        };
        int c, l;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("sriovd %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_ROOT:
                        arg_root = optarg;
                        break;
                case ARG_STATE_DIR:
                        arg_state_dir = optarg;
                        break;
                case ARG_CDI_DIR:
                        arg_cdi_dir = optarg;
                        break;
                case ARG_HINT_DIR:
                        arg_hint_dir = optarg;
                        break;
                case ARG_LOG_LEVEL:
                        l = log_level_from_string(optarg);
                        if (l < 0)
                                return log_error_errno(EINVAL, "Unknown log level '%s'.", optarg);
                        log_set_max_level(l);
                        break;
                case ARG_CHECK_CONFIG:
                        arg_check_config = true;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "%s takes no positional arguments.",
                                       program_invocation_short_name);
        return 1;
}

static int check_config(void)
{
        _cleanup_(config_set_freep) ConfigSet *set = NULL;
        int r;

        r = config_set_load(arg_root, NULL, &set);
        if (r < 0)
                return log_error_errno(r, "Cannot load configuration: %m");
        STRV_FOREACH(f, set->files)
                printf("%s\n", *f);
        STRV_FOREACH(e, set->errors)
                fprintf(stderr, "%s\n", *e);
        return set->errors ? -EINVAL : 0;
}

static int run(int argc, char *argv[])
{
        _cleanup_(manager_freep) Manager *m = NULL;
        ManagerOptions o = {};
        int r;

        malloc_setup();

        log_setup();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;
        if (arg_check_config)
                return check_config();

        test_crash_at = getenv("SRIOVD_TEST_CRASH_AT");
        test_stop_at = getenv("SRIOVD_TEST_STOP_AT");
        o.root = arg_root;
        o.state_dir = arg_state_dir;
        o.cdi_dir = arg_cdi_dir;
        o.hint_dir = arg_hint_dir;
        /* SRIOVD_KERNEL_UEVENTS=0: hear of new PFs from udevd only (benches compare both). */
        o.kernel_uevents = !streq_ptr(getenv("SRIOVD_KERNEL_UEVENTS"), "0");
        /* Under the unit (StateDirectory=sriovd) the lease directory is the one systemd made
         * writable, whatever prefix the build was configured with. Only one is declared. */
        if (!o.state_dir && !isempty(getenv("STATE_DIRECTORY")) && !strchr(getenv("STATE_DIRECTORY"), ':'))
                o.state_dir = getenv("STATE_DIRECTORY");
        r = manager_new(&o, &m);
        if (r < 0)
                return log_error_errno(r, "Cannot set up: %m");
        r = bus_setup(m, getenv("SRIOVD_BUS_ADDRESS"));
        if (r < 0)
                return r;
        r = manager_start(m);
        if (r < 0)
                return log_error_errno(r, "Cannot start: %m");
        return sd_event_loop(m->event);
}

int main(int argc, char *argv[])
{
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
