/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sriovd's SPANK plugin: `srun/sbatch --sriov-vf=POOL[:COUNT]` leases COUNT VFs of POOL from the
 * node's sriovd for the job step (owner "slurm:<jobid>"), exports them to the tasks' environment
 * and releases them when the step ends.
 *
 * The leases are made in slurmstepd (remote context) with the Allocate hint bind_to_caller, over
 * a bus connection that stays open for the step's lifetime: if slurmstepd dies, even by SIGKILL,
 * the kernel closes the connection and sriovd ends the leases. Nothing is left for an epilog to
 * clean up. Self-contained on purpose: it only links libsystemd, never sriovd's core library,
 * because it runs inside slurmstepd. */

#include <errno.h>
#include <inttypes.h>
#include <slurm/spank.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

/* The project builds with -fvisibility=hidden; Slurm's loader looks up these symbols by name.
 * Everything else in this file is static. */
#pragma GCC visibility push(default)
SPANK_PLUGIN(sriovd, 1);

#define _cleanup_(f)  __attribute__((cleanup(f)))

#define BUS_NAME      "org.sriovd1"
#define ROOT_PATH     "/org/sriovd1"
#define IFACE_MANAGER "org.sriovd1.Manager"
#define IFACE_VF      "org.sriovd1.VirtualFunction"
#define ERR_PREFIX    "org.sriovd1.Error."
#define VF_COUNT_MAX  64
#define POOL_NAME_MAX 255
#define OPTION_VAL    1
#define ENV_VALUE_MAX 4096

typedef struct LeasedVf {
        char *path;
        char *pci, *netdev, *rdma_device, *vfio_device;
        uint32_t rdma_port;
} LeasedVf;

/* One slurmstepd serves one step, so per-process state is per-step state. */
static char *arg_pool = NULL;
static unsigned arg_count = 0;
static sd_bus *lease_bus = NULL; /* held open for the step: bind_to_caller ends the leases with it */
static LeasedVf leased[VF_COUNT_MAX];
static unsigned n_leased = 0;
static char owner[64];

static bool pool_name_is_valid(const char *s, size_t n)
{
        /* docs/dbus-api.md: 1-255 characters of A-Z a-z 0-9 . _ : @ + - */
        if (n == 0 || n > POOL_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] == '\0' ||
                    !strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@+-", s[i]))
                        return false;
        return true;
}

/* POOL[:COUNT]. Pool names may contain ':', so only a purely numeric last field is a count:
 * "a:b" is pool "a:b", "a:b:2" is two VFs of pool "a:b". */
static int parse_vf_option(const char *arg, char **ret_pool, unsigned *ret_count)
{
        const char *colon;
        size_t n;
        unsigned long count = 1;
        char *pool;

        if (!arg || !*arg)
                return -EINVAL;
        n = strlen(arg);
        colon = strrchr(arg, ':');
        if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
                char *end;

                errno = 0;
                count = strtoul(colon + 1, &end, 10);
                if (errno != 0 || *end || count < 1 || count > VF_COUNT_MAX)
                        return -ERANGE;
                n = (size_t) (colon - arg);
        }
        if (!pool_name_is_valid(arg, n))
                return -EINVAL;
        pool = strndup(arg, n);
        if (!pool)
                return -ENOMEM;
        *ret_pool = pool;
        *ret_count = (unsigned) count;
        return 0;
}

static int option_cb(int val, const char *arg, int remote)
{
        char *pool = NULL;
        unsigned count = 0;
        int r;

        (void) val;
        (void) remote;
        r = parse_vf_option(arg, &pool, &count);
        if (r == -ERANGE) {
                slurm_error("sriovd: --sriov-vf=%s: COUNT must be 1-%d", arg ?: "", VF_COUNT_MAX);
                return -1;
        }
        if (r < 0) {
                slurm_error("sriovd: --sriov-vf=%s: want POOL[:COUNT], POOL of A-Z a-z 0-9 . _ : @ + -",
                            arg ?: "");
                return -1;
        }
        free(arg_pool);
        arg_pool = pool;
        arg_count = count;
        return 0;
}

static struct spank_option vf_option = {
        .name = "sriov-vf",
        .arginfo = "POOL[:COUNT]",
        .usage = "Lease COUNT (default 1) SR-IOV VFs of POOL from sriovd on each node for the step; "
                 "they are in $SRIOVD_VF_PCI, $SRIOVD_VF_NETDEV, $SRIOVD_VF_RDMA_DEVICE",
        .has_arg = 1,
        .val = OPTION_VAL,
        .cb = option_cb,
};

int slurm_spank_init(spank_t sp, int ac, char **av)
{
        spank_context_t ctx = spank_context();
        spank_err_t e;

        (void) ac;
        (void) av;
        /* The option exists where users type it (srun, sbatch, salloc) and where it is acted on
         * (slurmstepd); slurmd and prolog contexts have no use for it. */
        if (ctx != S_CTX_LOCAL && ctx != S_CTX_REMOTE && ctx != S_CTX_ALLOCATOR)
                return 0;
        e = spank_option_register(sp, &vf_option);
        if (e != ESPANK_SUCCESS) {
                slurm_error("sriovd: cannot register --sriov-vf: %s", spank_strerror(e));
                return -1;
        }
        return 0;
}

static void leased_vf_done(LeasedVf *v)
{
        free(v->path);
        free(v->pci);
        free(v->netdev);
        free(v->rdma_device);
        free(v->vfio_device);
        *v = (LeasedVf){};
}

/* Why this step has no VFs. slurmstepd's own log lines reach slurmd's log only; a task's reach
 * the user (srun's stderr, the batch job's output), so the reason is kept here and reported
 * by each task in slurm_spank_task_init, which then fails the task: the job ends with a
 * non-zero status, which a failure in init_post_opt would not give (srun 22.05 exits 0 when
 * the launch fails). */
static char lease_error[512];

static void lease_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void lease_fail(const char *fmt, ...)
{
        char buf[sizeof(lease_error)];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        slurm_error("%s", buf);
        if (!lease_error[0])
                memcpy(lease_error, buf, sizeof(lease_error));
}

static const char *bus_error_text(const sd_bus_error *error, int r)
{
        if (sd_bus_error_is_set(error) && error->message)
                return error->message;
        return strerror(r < 0 ? -r : r);
}

/* Why the lease failed, in the words a job's user needs. */
static void log_allocate_error(const sd_bus_error *error, int r, unsigned got)
{
        const char *name = sd_bus_error_is_set(error) ? error->name : "";

        if (sd_bus_error_has_name(error, ERR_PREFIX "PoolExhausted"))
                lease_fail("sriovd: pool '%s' has no free VF on this node (%u of %u leased for %s; the "
                           "others are leased to other owners or not ready)",
                           arg_pool, got, arg_count, owner);
        else if (sd_bus_error_has_name(error, ERR_PREFIX "NoSuchPool"))
                lease_fail("sriovd: no pool '%s' on this node (see 'sriovctl pools')", arg_pool);
        else if (sd_bus_error_has_name(error, "org.freedesktop.DBus.Error.ServiceUnknown") ||
                 sd_bus_error_has_name(error, "org.freedesktop.DBus.Error.NameHasNoOwner") ||
                 sd_bus_error_has_name(error, "org.freedesktop.DBus.Error.NoReply") ||
                 sd_bus_error_has_name(error, "org.freedesktop.DBus.Error.Spawn.ServiceNotFound"))
                lease_fail("sriovd: sriovd is not running on this node (%s): cannot lease VFs of pool '%s'",
                           bus_error_text(error, r), arg_pool);
        else
                lease_fail("sriovd: cannot lease a VF of pool '%s' for %s: %s%s%s", arg_pool, owner,
                           bus_error_text(error, r), *name ? " " : "", name);
}

static int read_vf(sd_bus *bus, LeasedVf *v)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, v->path, "org.freedesktop.DBus.Properties", "GetAll", &error,
                               &reply, "s", IFACE_VF);
        if (r < 0) {
                lease_fail("sriovd: cannot read leased VF %s: %s", v->path, bus_error_text(&error, r));
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r > 0) {
                const char *name, *s;
                char type;

                r = sd_bus_message_enter_container(reply, 'e', "sv");
                if (r <= 0)
                        break;
                r = sd_bus_message_read(reply, "s", &name);
                if (r >= 0)
                        r = sd_bus_message_peek_type(reply, NULL, (const char **) &s);
                if (r < 0)
                        break;
                type = s ? s[0] : 0;
                if (type == 's' && (!strcmp(name, "PCIAddress") || !strcmp(name, "Interface") ||
                                    !strcmp(name, "RDMADevice") || !strcmp(name, "VFIODevice"))) {
                        char **dst = !strcmp(name, "PCIAddress")   ? &v->pci
                                     : !strcmp(name, "Interface")  ? &v->netdev
                                     : !strcmp(name, "RDMADevice") ? &v->rdma_device
                                                                   : &v->vfio_device;
                        r = sd_bus_message_read(reply, "v", "s", &s);
                        if (r >= 0) {
                                free(*dst);
                                *dst = strdup(s);
                                if (!*dst)
                                        r = -ENOMEM;
                        }
                } else if (type == 'u' && !strcmp(name, "RDMAPort"))
                        r = sd_bus_message_read(reply, "v", "u", &v->rdma_port);
                else
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r >= 0)
                        r = 1;
        }
        sd_bus_message_unref(reply);
        if (r < 0 || !v->pci) {
                lease_fail("sriovd: cannot parse the properties of leased VF %s: %s", v->path,
                           strerror(r < 0 ? -r : EBADMSG));
                return r < 0 ? r : -EBADMSG;
        }
        return 0;
}

static void release_all(void)
{
        for (unsigned i = 0; i < n_leased; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                int r = 0;

                if (lease_bus)
                        r = sd_bus_call_method(lease_bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "Release",
                                               &error, NULL, "os", leased[i].path, owner);
                /* The connection's close below ends a bind_to_caller lease anyway: a failed
                 * Release is worth a line in the log, not a failed step. */
                if (r < 0)
                        slurm_info("sriovd: Release of %s for %s failed (%s); it ends with the connection",
                                   leased[i].pci ?: leased[i].path, owner, bus_error_text(&error, r));
                leased_vf_done(&leased[i]);
        }
        n_leased = 0;
        lease_bus = sd_bus_flush_close_unref(lease_bus);
}

/* Comma-joined field of every leased VF, positions aligned with SRIOVD_VF_PCI; false when no VF
 * has the field (the variable is then left unset). */
static bool join_field(char *buf, size_t size, size_t offset, bool with_port)
{
        bool any = false;
        size_t len = 0;

        buf[0] = '\0';
        for (unsigned i = 0; i < n_leased; i++) {
                const char *s = *(char *const *) ((const char *) &leased[i] + offset);
                int n;

                if (with_port && (!s || !*s))
                        continue; /* UCX_NET_DEVICES lists only what exists */
                if (s && *s)
                        any = true;
                if (with_port)
                        n = snprintf(buf + len, size - len, "%s%s:%" PRIu32, len ? "," : "", s,
                                     leased[i].rdma_port ?: 1);
                else
                        n = snprintf(buf + len, size - len, "%s%s", i ? "," : "", s ?: "");
                if (n < 0 || (size_t) n >= size - len)
                        return false;
                len += (size_t) n;
        }
        return any;
}

static int export_env(spank_t sp)
{
        static const struct {
                const char *name;
                size_t offset;
                bool with_port;
                int overwrite;
        } vars[] = {
                {"SRIOVD_VF_PCI", offsetof(LeasedVf, pci), false, 1},
                {"SRIOVD_VF_NETDEV", offsetof(LeasedVf, netdev), false, 1},
                {"SRIOVD_VF_RDMA_DEVICE", offsetof(LeasedVf, rdma_device), false, 1},
                {"SRIOVD_VF_VFIO_GROUP", offsetof(LeasedVf, vfio_device), false, 1},
                /* a user's own UCX_NET_DEVICES wins */
                {"UCX_NET_DEVICES", offsetof(LeasedVf, rdma_device), true, 0},
        };
        char buf[ENV_VALUE_MAX];
        spank_err_t e;

        for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
                if (!join_field(buf, sizeof(buf), vars[i].offset, vars[i].with_port)) {
                        if (vars[i].overwrite)
                                (void) spank_unsetenv(sp, vars[i].name);
                        continue;
                }
                e = spank_setenv(sp, vars[i].name, buf, vars[i].overwrite);
                if (e != ESPANK_SUCCESS && e != ESPANK_ENV_EXISTS)
                        goto fail;
        }
        e = spank_setenv(sp, "SRIOVD_VF_POOL", arg_pool, 1);
        if (e == ESPANK_SUCCESS)
                e = spank_setenv(sp, "SRIOVD_VF_OWNER", owner, 1);
        if (e == ESPANK_SUCCESS)
                return 0;
fail:
        lease_fail("sriovd: cannot set the job environment: %s", spank_strerror(e));
        return -1;
}

/* In a batch job, srun inside the script sees the batch step's --sriov-vf again (and its
 * environment): the VFs are already the job's, so the step uses them instead of leasing more. */
static bool already_leased_for_job(spank_t sp)
{
        char env_owner[sizeof(owner)], env_pool[POOL_NAME_MAX + 1];

        if (spank_getenv(sp, "SRIOVD_VF_OWNER", env_owner, sizeof(env_owner)) != ESPANK_SUCCESS ||
            spank_getenv(sp, "SRIOVD_VF_POOL", env_pool, sizeof(env_pool)) != ESPANK_SUCCESS)
                return false;
        return !strcmp(env_owner, owner) && !strcmp(env_pool, arg_pool);
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
        uint32_t job_id = 0;
        spank_err_t e;
        int r;

        (void) ac;
        (void) av;
        if (spank_remote(sp) != 1 || !arg_pool)
                return 0;

        e = spank_get_item(sp, S_JOB_ID, &job_id);
        if (e != ESPANK_SUCCESS) {
                lease_fail("sriovd: cannot get the job id: %s", spank_strerror(e));
                goto fail;
        }
        (void) snprintf(owner, sizeof(owner), "slurm:%" PRIu32, job_id);
        if (already_leased_for_job(sp)) {
                slurm_debug("sriovd: the job's VFs of pool '%s' are already leased to %s", arg_pool, owner);
                return 0;
        }

        r = sd_bus_open_system_with_description(&lease_bus, "sriovd-spank");
        if (r < 0) {
                lease_bus = sd_bus_flush_close_unref(lease_bus);
                lease_fail("sriovd: cannot connect to the system bus to lease VFs of pool '%s': %s",
                           arg_pool, strerror(-r));
                goto fail;
        }

        while (n_leased < arg_count) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                const char *path;

                r = sd_bus_call_method(lease_bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "Allocate", &error,
                                       &reply, "ssa{sv}", arg_pool, owner, 1, "bind_to_caller", "b", 1);
                if (r < 0) {
                        log_allocate_error(&error, r, n_leased);
                        goto fail;
                }
                r = sd_bus_message_read(reply, "o", &path);
                if (r >= 0) {
                        leased[n_leased].path = strdup(path);
                        if (!leased[n_leased].path)
                                r = -ENOMEM;
                }
                sd_bus_message_unref(reply);
                if (r < 0) {
                        lease_fail("sriovd: cannot read the Allocate reply: %s", strerror(-r));
                        goto fail;
                }
                n_leased++;
                if (read_vf(lease_bus, &leased[n_leased - 1]) < 0)
                        goto fail;
        }
        if (export_env(sp) < 0)
                goto fail;
        for (unsigned i = 0; i < n_leased; i++)
                slurm_info("sriovd: leased VF %s%s%s of pool '%s' to %s", leased[i].pci,
                           leased[i].netdev && *leased[i].netdev ? " " : "", leased[i].netdev ?: "",
                           arg_pool, owner);
        return 0;
fail:
        release_all();
        return 0; /* each task reports lease_error and fails, see slurm_spank_task_init */
}

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
        (void) sp;
        (void) ac;
        (void) av;
        if (!lease_error[0])
                return 0;
        slurm_error("%s", lease_error);
        return -1;
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
        (void) ac;
        (void) av;
        if (spank_remote(sp) == 1)
                release_all();
        free(arg_pool);
        arg_pool = NULL;
        return 0;
}
