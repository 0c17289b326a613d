/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for slurmstepd (and srun) that runs the SPANK plugin's hooks in Slurm's order, for
 * tests/test-spank.py. It provides the spank_* and slurm_* functions the plugin calls, links
 * the plugin's source and talks to whatever sriovd is on $DBUS_SYSTEM_BUS_ADDRESS.
 *
 * Usage: spank-host local|remote JOBID [OPTARG] [VAR=VALUE...]
 *   Registers the options (slurm_spank_init), passes OPTARG to --sriov-vf's callback (if
 *   given), seeds the job environment with the VAR=VALUE pairs, runs init_post_opt and, in
 *   the remote context, task_init (as a task would), prints "rc=N" (the first that failed, or
 *   0) then the job environment (one VAR=VALUE per line) and "READY". It then waits for a
 *   line or EOF on stdin, runs slurm_spank_exit and prints "EXIT". Plugin log lines go to
 *   stderr as "error: ..." / "info: ...", as slurmstepd forwards them to srun. */

#include <slurm/spank.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_MAX 64

struct spank_handle {
        bool remote;
        uint32_t job_id;
        struct spank_option *option;
        char *env[ENV_MAX];
        size_t n_env;
};

static spank_context_t host_context = S_CTX_REMOTE;

__attribute__((format(printf, 2, 0))) static void vlog(const char *level, const char *fmt, va_list ap)
{
        fprintf(stderr, "%s: ", level);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

#define DEFINE_LOG(name, level)         \
        void name(const char *fmt, ...) \
        {                               \
                va_list ap;             \
                va_start(ap, fmt);      \
                vlog(level, fmt, ap);   \
                va_end(ap);             \
        }
DEFINE_LOG(slurm_error, "error")
DEFINE_LOG(slurm_info, "info")
DEFINE_LOG(slurm_verbose, "verbose")
DEFINE_LOG(slurm_debug, "debug")
DEFINE_LOG(slurm_debug2, "debug2")
DEFINE_LOG(slurm_debug3, "debug3")
DEFINE_LOG(slurm_spank_log, "spank")

const char *spank_strerror(spank_err_t err)
{
        static char buf[32];
        snprintf(buf, sizeof(buf), "spank error %d", (int) err);
        return buf;
}

spank_context_t spank_context(void)
{
        return host_context;
}

int spank_remote(spank_t sp)
{
        return sp->remote ? 1 : 0;
}

spank_err_t spank_option_register(spank_t sp, struct spank_option *opt)
{
        if (sp->option)
                return ESPANK_BAD_ARG;
        sp->option = opt;
        return ESPANK_SUCCESS;
}

spank_err_t spank_get_item(spank_t sp, spank_item_t item, ...)
{
        va_list ap;

        if (!sp->remote)
                return ESPANK_NOT_REMOTE;
        if (item != S_JOB_ID)
                return ESPANK_BAD_ARG;
        va_start(ap, item);
        *va_arg(ap, uint32_t *) = sp->job_id;
        va_end(ap);
        return ESPANK_SUCCESS;
}

static char **env_find(spank_t sp, const char *var)
{
        size_t n = strlen(var);

        for (size_t i = 0; i < sp->n_env; i++)
                if (!strncmp(sp->env[i], var, n) && sp->env[i][n] == '=')
                        return &sp->env[i];
        return NULL;
}

spank_err_t spank_getenv(spank_t sp, const char *var, char *buf, int len)
{
        char **e;

        if (!sp->remote)
                return ESPANK_NOT_REMOTE;
        e = env_find(sp, var);
        if (!e)
                return ESPANK_ENV_NOEXIST;
        if ((int) strlen(*e + strlen(var) + 1) >= len)
                return ESPANK_NOSPACE;
        strcpy(buf, *e + strlen(var) + 1);
        return ESPANK_SUCCESS;
}

spank_err_t spank_setenv(spank_t sp, const char *var, const char *val, int overwrite)
{
        char **e, *s;

        if (!sp->remote)
                return ESPANK_NOT_REMOTE;
        e = env_find(sp, var);
        if (e && !overwrite)
                return ESPANK_ENV_EXISTS;
        if (asprintf(&s, "%s=%s", var, val) < 0)
                return ESPANK_ERROR;
        if (e) {
                free(*e);
                *e = s;
        } else if (sp->n_env < ENV_MAX)
                sp->env[sp->n_env++] = s;
        else {
                free(s);
                return ESPANK_NOSPACE;
        }
        return ESPANK_SUCCESS;
}

spank_err_t spank_unsetenv(spank_t sp, const char *var)
{
        char **e;

        if (!sp->remote)
                return ESPANK_NOT_REMOTE;
        e = env_find(sp, var);
        if (e) {
                free(*e);
                *e = sp->env[--sp->n_env];
        }
        return ESPANK_SUCCESS;
}

int main(int argc, char *argv[])
{
        struct spank_handle h = {};
        char line[64];
        int r;

        if (argc < 3) {
                fprintf(stderr, "usage: spank-host local|remote JOBID [OPTARG] [VAR=VALUE...]\n");
                return 2;
        }
        h.remote = !strcmp(argv[1], "remote");
        host_context = h.remote ? S_CTX_REMOTE : S_CTX_LOCAL;
        h.job_id = (uint32_t) strtoul(argv[2], NULL, 10);

        r = slurm_spank_init(&h, 0, NULL);
        if (r < 0 || !h.option || strcmp(h.option->name, "sriov-vf") != 0 || !h.option->has_arg) {
                printf("rc=%d (init)\n", r < 0 ? r : -1);
                return 1;
        }
        if (argc > 3 && *argv[3] && h.option->cb(h.option->val, argv[3], h.remote) < 0) {
                printf("rc=-1 (option)\n");
                return 1;
        }
        for (int i = 4; i < argc; i++) {
                char *eq = strchr(argv[i], '=');
                if (eq) {
                        *eq = '\0';
                        h.remote = true;
                        spank_setenv(&h, argv[i], eq + 1, 1);
                        h.remote = !strcmp(argv[1], "remote");
                }
        }
        r = slurm_spank_init_post_opt(&h, 0, NULL);
        /* slurmstepd then forks the tasks; each runs task_init before exec (srun has none) */
        if (r >= 0 && h.remote)
                r = slurm_spank_task_init(&h, 0, NULL);
        printf("rc=%d\n", r);
        for (size_t i = 0; i < h.n_env; i++)
                printf("%s\n", h.env[i]);
        printf("READY\n");
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin))
                line[0] = '\0';
        slurm_spank_exit(&h, 0, NULL);
        printf("EXIT\n");
        for (size_t i = 0; i < h.n_env; i++)
                free(h.env[i]);
        return r < 0 ? 1 : 0;
}
