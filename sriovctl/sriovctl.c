/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sriovctl: the reference client of the org.sriovd1 D-Bus API (SPEC §6). Everything it shows
 * comes from the bus, nothing from sysfs; list-style verbs fetch the whole object tree with
 * one GetManagedObjects call.
 *
 * This file holds the command line and the verb table only; each verb group lives in its own
 * file (show.c, allocate.c, reload.c, watch.c, doctor.c), the shared object copy in objects.c,
 * the output helpers in output.c and the bus calls in client.c. */

#include <getopt.h>
#include <inttypes.h>
#include <systemd/sd-bus.h>

#include "allocate.h"
#include "bind.h"
#include "client.h"
#include "doctor.h"
#include "gres.h"
#include "lease.h"
#include "libvirt.h"
#include "log.h"
#include "reload.h"
#include "show.h"
#include "sriovctl.h"
#include "util.h"
#include "watch.h"

bool arg_json = false;
bool arg_system = false;
bool arg_ask_password = true;
bool arg_all = false;
const char *arg_address = NULL;
const char *arg_pool = NULL;
const char *arg_owner = NULL;
const char *arg_pf = NULL;
const char *arg_pci = NULL;
int arg_numa = -1;
bool arg_have_numa = false;
uint64_t arg_timeout_usec = 120 * 1000000ULL;

static void help(void)
{
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Query and control sriovd, the SR-IOV Virtual Function manager.\n\n"
               "Commands:\n"
               "  list                      List physical functions\n"
               "  doctor                    Check the SR-IOV/RDMA chain (IOMMU ... MTU)\n"
               "  status [PF]               Show daemon status, or one PF and its VFs\n"
               "  vfs [--pool=POOL]         List virtual functions\n"
               "  pools                     List pools\n"
               "  gres [NODENAME]           Print gres.conf lines for Slurm from the pools\n"
               "  allocate POOL --owner=O   Allocate a free VF from POOL\n"
               "         [--numa=N] [--pf=PF] [--pci=PCI]\n"
               "         [--bind-unit=UNIT] [--bind-pid=PID] [--cdi]\n"
               "  release VF --owner=O      Release a VF (object path, PCI address or interface)\n"
               "  release --all --owner=O   Release every VF of an owner\n"
               "  reload                    Re-read the configuration and apply it\n"
               "  plan                      Show what a reload would change, without applying\n"
               "  wait-online [--timeout=S] Wait until every managed PF is configured\n"
               "  monitor                   Follow changes live\n"
               "  libvirt-network POOL      Print a libvirt hostdev network of POOL's VFs\n\n"
               "Options:\n"
               "  -h --help                 Show this help\n"
               "     --version              Show package version\n"
               "     --json                 Print JSON (keys are the D-Bus property names)\n"
               "     --no-pager             Accepted for compatibility; output is never paged\n"
               "     --no-ask-password      Do not ask for polkit authentication\n"
               "     --system               Use the system bus (default)\n"
               "     --address=ADDRESS      Use this D-Bus address (also: $SRIOVD_BUS_ADDRESS)\n",
               program_invocation_short_name);
}

enum {
        ARG_VERSION = 0x100,
        ARG_JSON,
        ARG_NO_PAGER,
        ARG_NO_ASK_PASSWORD,
        ARG_SYSTEM,
        ARG_ADDRESS,
        ARG_POOL,
        ARG_OWNER,
        ARG_NUMA,
        ARG_PF,
        ARG_PCI,
        ARG_TIMEOUT,
        ARG_ALL,
        ARG_BIND_UNIT,
        ARG_BIND_PID,
        ARG_CDI,
};

static int parse_argv(int argc, char *argv[])
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"json", no_argument, NULL, ARG_JSON},
                {"no-pager", no_argument, NULL, ARG_NO_PAGER},
                {"no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD},
                {"system", no_argument, NULL, ARG_SYSTEM},
                {"address", required_argument, NULL, ARG_ADDRESS},
                {"pool", required_argument, NULL, ARG_POOL},
                {"owner", required_argument, NULL, ARG_OWNER},
                {"numa", required_argument, NULL, ARG_NUMA},
                {"pf", required_argument, NULL, ARG_PF},
                {"pci", required_argument, NULL, ARG_PCI},
                {"timeout", required_argument, NULL, ARG_TIMEOUT},
                {"all", no_argument, NULL, ARG_ALL},
                {"bind-unit", required_argument, NULL, ARG_BIND_UNIT}, /* bind.c */
                {"bind-pid", required_argument, NULL, ARG_BIND_PID},
                {"cdi", no_argument, NULL, ARG_CDI},
                {},
        };
        int c, r;
        uint32_t u;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("%s %s\n", program_invocation_short_name, PACKAGE_VERSION);
                        return 0;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_NO_PAGER:
                        break;
                case ARG_NO_ASK_PASSWORD:
                        arg_ask_password = false;
                        break;
                case ARG_SYSTEM:
                        arg_system = true;
                        arg_address = NULL;
                        break;
                case ARG_ADDRESS:
                        arg_address = optarg;
                        arg_system = false;
                        break;
                case ARG_POOL:
                        arg_pool = optarg;
                        break;
                case ARG_OWNER:
                        arg_owner = optarg;
                        break;
                case ARG_NUMA:
                        r = safe_atoi(optarg, &arg_numa);
                        if (r < 0 || arg_numa < 0)
                                return log_error_errno(EINVAL, "Invalid NUMA node: %s", optarg);
                        arg_have_numa = true;
                        break;
                case ARG_PF:
                        arg_pf = optarg;
                        break;
                case ARG_PCI:
                        if (!pci_address_is_valid(optarg))
                                return log_error_errno(EINVAL, "Invalid PCI address (want DDDD:BB:DD.F): %s",
                                                       optarg);
                        arg_pci = optarg;
                        break;
                case ARG_TIMEOUT:
                        r = safe_atou32(optarg, &u);
                        if (r < 0)
                                return log_error_errno(EINVAL, "Invalid timeout (seconds, 0 = forever): %s",
                                                       optarg);
                        arg_timeout_usec = (uint64_t) u * 1000000ULL;
                        break;
                case ARG_ALL:
                        arg_all = true;
                        break;
                case ARG_BIND_UNIT:
                        if (bind_parse_unit(optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_BIND_PID:
                        if (bind_parse_pid(optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_CDI:
                        bind_set_cdi();
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return -EINVAL;
                }
        return 1;
}

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args;
        int (*run)(sd_bus *bus, char **args);
} Verb;

static const Verb verbs[] = {
        {"list", 0, 0, verb_list},
        {"status", 0, 1, verb_status},
        {"vfs", 0, 0, verb_vfs},
        {"pools", 0, 0, verb_pools},
        {"allocate", 1, 1, verb_allocate},
        {"release", 0, 1, verb_release},
        {"reload", 0, 0, verb_reload},
        {"plan", 0, 0, verb_plan},
        {"wait-online", 0, 0, verb_wait_online},
        {"monitor", 0, 0, verb_monitor},
        {"doctor", 0, 0, verb_doctor},                   /* doctor.c */
        {"libvirt-network", 1, 1, verb_libvirt_network}, /* libvirt.c */
        {"gres", 0, 1, verb_gres},                       /* gres.c */
};

int main(int argc, char *argv[])
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const Verb *verb = NULL;
        const char *name;
        unsigned n_args;
        int r;

        log_setup();
        if (!isatty(STDIN_FILENO))
                arg_ask_password = false;

        r = parse_argv(argc, argv);
        if (r < 0)
                return EXIT_USAGE;
        if (r == 0)
                return EXIT_SUCCESS;

        name = optind < argc ? argv[optind] : "list";
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        verb = &verbs[i];
        if (!verb) {
                log_error("Unknown command '%s'. See '%s --help'.", name, program_invocation_short_name);
                return EXIT_USAGE;
        }
        n_args = optind < argc ? (unsigned) (argc - optind - 1) : 0;
        if (n_args < verb->min_args || n_args > verb->max_args) {
                log_error("'%s' takes %s%u argument%s. See '%s --help'.", name,
                          verb->min_args == verb->max_args ? "" : "at most ", verb->max_args,
                          verb->max_args == 1 ? "" : "s", program_invocation_short_name);
                return EXIT_USAGE;
        }
        if (arg_pool && verb->run != verb_vfs) {
                log_error("--pool= only applies to 'vfs'.");
                return EXIT_USAGE;
        }
        if (bind_any_set() && verb->run != verb_allocate) {
                log_error("--bind-unit=, --bind-pid= and --cdi only apply to 'allocate'.");
                return EXIT_USAGE;
        }

        r = bus_connect(&bus);
        if (r < 0)
                return EXIT_FAILURE;
        r = verb->run(bus, optind < argc ? argv + optind + 1 : (char *[]){NULL});
        if (fflush(stdout) != 0 && r >= 0)
                r = log_error_errno(errno, "Failed to write output: %m");
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
