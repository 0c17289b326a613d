/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An idle sriovd costs nothing: once the host is converged, no event source fires for 30 s
 * and no timer is armed, with PFs configured, failed (without a pending retry) and blocked.
 * The wait is one sd_event_run() with a deadline on the manager's own loop: any wake-up (a
 * timer left armed, a defer source left enabled, a readable udev or netlink fd) either
 * dispatches something or ends the run before the deadline, and a second loop iteration
 * would show in sd_event_get_iteration(). */
#include <dirent.h>
#include <time.h>

#include "fake-substrate.h"
#include "macro.h"
#include "tests.h"

#include "lease.h"
#include "log.h"
#include "pf.h"

#define SEC       1000000ULL
#define IDLE_USEC (30 * SEC)

/* PF 1 configured; PF 2 asks for more VFs than sriov_totalvfs: failed, and waiting cannot
 * help, so no retry timer; PF 3 gets pf3_vfs VFs. */
static void write_conf(FakeSubstrate *s, unsigned pf3_vfs)
{
        _cleanup_free_ char *text = NULL;

        ASSERT_TRUE(asprintf(&text,
                             "physical_functions = (\n"
                             "  { match = { interface = \"enp1s0\"; }; num_vfs = 4;\n"
                             "    vfs = ( { range = \"0-3\"; pool = \"a\"; vlan = 10; mac = \"stable\"; "
                             "trust = true; } ); },\n"
                             "  { match = { interface = \"enp2s0\"; }; num_vfs = 6; },\n"
                             "  { match = { interface = \"enp3s0\"; }; num_vfs = %u;\n"
                             "    vfs = ( { range = \"0-1\"; pool = \"b\"; } ); }\n"
                             ");\n",
                             pf3_vfs) > 0);
        ASSERT_OK(fake_substrate_write_config(s, "50-idle.conf", text));
}

/* Armed timerfds of this process (sd-event disarms its per-clock timerfd when no timer
 * source is enabled): counts those whose it_value is not zero. */
static unsigned armed_timerfds(void)
{
        DIR *d = opendir("/proc/self/fdinfo");
        struct dirent *de;
        unsigned n = 0;

        ASSERT_TRUE(d != NULL);
        while ((de = readdir(d))) {
                char path[300], target[64] = "", line[256];
                _cleanup_fclose_ FILE *f = NULL;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
                if (readlink(path, target, sizeof(target) - 1) < 0 || !strstr(target, "timerfd"))
                        continue;
                snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                while (fgets(line, sizeof(line), f)) {
                        unsigned long long sec, nsec;

                        if (sscanf(line, "it_value: (%llu, %llu)", &sec, &nsec) == 2 && (sec || nsec)) {
                                fprintf(stderr, "armed timerfd %s: %s", de->d_name, line);
                                n++;
                        }
                }
        }
        closedir(d);
        return n;
}

static void assert_no_timers(Manager *m)
{
        PhysicalFunction *pf;
        int enabled = -1;

        /* Readiness came, so its deadline is gone. */
        ASSERT_TRUE(m->initial_done);
        ASSERT_TRUE(m->startup_deadline == NULL);
        ASSERT_OK(sd_event_source_get_enabled(m->reconcile_source, &enabled));
        ASSERT_EQ(enabled, SD_EVENT_OFF);
        HASHMAP_FOREACH(pf, m->pfs) {
                ASSERT_TRUE(pf->retry_source == NULL);
                ASSERT_TRUE(pf->wait_source == NULL);
                ASSERT_TRUE(!pf->dirty && !pf->needs_refresh && !pf->vfs_stale && !pf->job_running);
        }
        /* sd-event re-arms (or disarms) its timerfds when it prepares the next iteration: let it,
         * so a source removed in the last dispatch is not counted. */
        ASSERT_TRUE(sd_event_run(m->event, 0) >= 0);
        ASSERT_EQ(armed_timerfds(), 0u);
}

static void assert_idle(Manager *m, const char *what)
{
        uint64_t before, after, t0, t1;
        struct timespec ts;
        int state;

        assert_no_timers(m);
        ASSERT_OK(sd_event_get_iteration(m->event, &before));
        fprintf(stderr, "%s: waiting %llus for a wake-up (iteration %llu)...\n", what,
                (unsigned long long) (IDLE_USEC / SEC), (unsigned long long) before);
        ASSERT_OK(clock_gettime(CLOCK_MONOTONIC, &ts));
        t0 = (uint64_t) ts.tv_sec * SEC + (uint64_t) ts.tv_nsec / 1000;
        /* 0: nothing was dispatched. sd_event_run() also returns 0 early when it woke up for
         * nothing (e.g. a timerfd expiring for a disabled source), so the time must be up,
         * and the loop went round exactly once: the iteration counter counts every
         * sd_event_prepare(), the one of this run included. */
        ASSERT_EQ(sd_event_run(m->event, IDLE_USEC), 0);
        ASSERT_OK(clock_gettime(CLOCK_MONOTONIC, &ts));
        t1 = (uint64_t) ts.tv_sec * SEC + (uint64_t) ts.tv_nsec / 1000;
        ASSERT_OK(sd_event_get_iteration(m->event, &after));
        ASSERT_EQ(after, before + 1);
        ASSERT_TRUE(t1 - t0 >= IDLE_USEC);
        state = sd_event_get_state(m->event);
        ASSERT_EQ(state, SD_EVENT_INITIAL);
        assert_no_timers(m);
}

TEST(idle_configured_failed_blocked)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s = NULL;
        PhysicalFunction *pf1, *pf2, *pf3;
        VirtualFunction *vf;
        Manager *m;
        Lease l = {.vf_index = 1, .pool = (char *) "b", .owner = (char *) "job-7", .caller = (char *) ""};

        ASSERT_OK(fake_substrate_new(&s));
        ASSERT_OK(fake_substrate_add_igb(s, 1, 7, NULL));
        ASSERT_OK(fake_substrate_add_igb(s, 2, 4, NULL));
        ASSERT_OK(fake_substrate_add_igb(s, 3, 7, NULL));
        write_conf(s, 2);
        ASSERT_OK(fake_substrate_manager(s, &m));
        /* As the daemon runs: the kernel's uevent monitor (udev.c) must stay quiet too. */
        m->kernel_uevents = true;
        ASSERT_OK(manager_start(m));
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
        pf1 = manager_get_pf(m, "0000:01:00.0");
        pf2 = manager_get_pf(m, "0000:02:00.0");
        pf3 = manager_get_pf(m, "0000:03:00.0");
        ASSERT_TRUE(pf1 && pf2 && pf3);
        ASSERT_EQ(pf1->state, PF_STATE_CONFIGURED);
        ASSERT_EQ(pf2->state, PF_STATE_FAILED);
        ASSERT_EQ(pf3->state, PF_STATE_CONFIGURED);
        ASSERT_EQ(pf_count_vfs(pf1), 4);
        assert_idle(m, "converged, one PF failed");

        /* A consumer holds VF 1 of PF 3, then the admin asks for a different count. */
        vf = pf3->vfs[1];
        l.pf_pci = pf3->pci;
        l.vf_pci = vf->pci;
        ASSERT_OK(lease_store_add(m->leases, &l, NULL));
        vf->allocated = true;
        vf->owner = strdup("job-7");
        write_conf(s, 3);
        ASSERT_OK(manager_reload(m));
        ASSERT_EQ(fake_substrate_settle(s, 10 * SEC), 1);
        ASSERT_EQ(pf3->state, PF_STATE_BLOCKED);
        ASSERT_EQ(pf2->state, PF_STATE_FAILED);
        assert_idle(m, "one PF blocked, one failed");
}

int main(void)
{
        log_set_max_level(LOG_INFO);
        RUN(idle_configured_failed_blocked);
        return 0;
}
