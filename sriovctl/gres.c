/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "gres.h"
#include "log.h"
#include "sriovctl.h"
#include "util.h"

/* The GRES name every pool is a type of: jobs ask for "--gres=sriov:POOL:N". */
#define GRES_NAME "sriov"

typedef struct GresPool {
        char *name;
        uint32_t total;
} GresPool;

static int gres_pool_cmp(const void *a, const void *b)
{
        return strcmp(((const GresPool *) a)->name, ((const GresPool *) b)->name);
}

static void gres_pools_free(GresPool *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(p[i].name);
        free(p);
}

/* Slurm splits "--gres=name:type:count" and gres.conf's Gres= lists on ':' and ','; a pool
 * name with ':' (allowed by sriovd) cannot be a GRES type. */
static bool gres_type_is_valid(const char *pool)
{
        return !strpbrk(pool, ":,");
}

static void json_str(const char *s)
{
        putchar('"');
        for (; *s; s++)
                if (*s == '"' || *s == '\\')
                        printf("\\%c", *s);
                else
                        putchar(*s);
        putchar('"');
}

int verb_gres(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char host[HOST_NAME_MAX + 1] = "";
        const char *node = args[0];
        GresPool *pools = NULL;
        size_t n = 0, n_usable = 0;
        bool first = true;
        int r;

        if (!node) {
                /* slurmd's default NodeName is the short host name */
                if (gethostname(host, sizeof(host) - 1) < 0)
                        return log_error_errno(errno, "Failed to get the host name: %m");
                host[strcspn(host, ".")] = '\0';
                node = host;
        }
        if (isempty(node) || strpbrk(node, " \t\n=#"))
                return log_error_errno(EINVAL, "Invalid node name: '%s'", node);

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "ListPools", &error, &reply, NULL);
        if (r < 0) {
                log_error("Failed to list pools: %s", error.message ?: strerror(-r));
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(osuu)");
        while (r >= 0) {
                const char *path, *name;
                uint32_t total, free_;
                GresPool *p;

                r = sd_bus_message_read(reply, "(osuu)", &path, &name, &total, &free_);
                if (r <= 0)
                        break;
                p = realloc(pools, sizeof(GresPool) * (n + 1));
                if (!p) {
                        r = -ENOMEM;
                        break;
                }
                pools = p;
                pools[n] = (GresPool){.name = strdup(name), .total = total};
                if (!pools[n++].name)
                        r = -ENOMEM;
        }
        if (r < 0) {
                gres_pools_free(pools, n);
                return r == -ENOMEM ? log_oom() : log_error_errno(r, "Failed to parse ListPools reply: %m");
        }
        if (n > 0)
                qsort(pools, n, sizeof(GresPool), gres_pool_cmp);

        if (arg_json) {
                putchar('[');
                for (size_t i = 0; i < n; i++) {
                        if (!gres_type_is_valid(pools[i].name) || pools[i].total == 0)
                                continue;
                        fputs(first ? "{\"NodeName\":" : ",{\"NodeName\":", stdout);
                        json_str(node);
                        fputs(",\"Name\":\"" GRES_NAME "\",\"Type\":", stdout);
                        json_str(pools[i].name);
                        printf(",\"Count\":%" PRIu32 "}", pools[i].total);
                        first = false;
                }
                puts("]");
                gres_pools_free(pools, n);
                return 0;
        }

        printf("# gres.conf for node %s from sriovd's pools (sriovctl gres): one GRES type per pool,\n"
               "# Count = the pool's VFs now. Jobs ask with --gres=" GRES_NAME
               ":POOL:N --sriov-vf=POOL:N.\n",
               node);
        for (size_t i = 0; i < n; i++) {
                if (!gres_type_is_valid(pools[i].name)) {
                        printf("# pool %s left out: ':' and ',' cannot be in a GRES type\n", pools[i].name);
                        log_warning("Pool '%s' cannot be a GRES type (':' or ','): left out.",
                                    pools[i].name);
                        continue;
                }
                if (pools[i].total == 0) {
                        printf("# pool %s left out: it has no VF now\n", pools[i].name);
                        continue;
                }
                printf("NodeName=%s Name=" GRES_NAME " Type=%s Count=%" PRIu32 "\n", node, pools[i].name,
                       pools[i].total);
                n_usable++;
        }
        /* What slurm.conf must say for slurmctld to accept these lines. */
        printf("# slurm.conf: GresTypes=" GRES_NAME " and, on NodeName=%s, Gres=", node);
        for (size_t i = 0; i < n; i++)
                if (gres_type_is_valid(pools[i].name) && pools[i].total > 0) {
                        printf("%s" GRES_NAME ":%s:%" PRIu32, first ? "" : ",", pools[i].name,
                               pools[i].total);
                        first = false;
                }
        printf("%s\n", n_usable ? "" : "(none)");
        gres_pools_free(pools, n);
        return 0;
}
