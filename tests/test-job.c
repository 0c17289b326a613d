/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Worker jobs report back on the loop: no result is ever lost, even when more finish at once
 * than the result pipe holds (a lost result left its PF's job "running" forever). */
#include <stdatomic.h>

#include "job.h"
#include "macro.h"
#include "tests.h"

#define N_JOBS 700 /* more than a 4 KiB pipe holds (512 pointers) */

static atomic_uint worked;
static unsigned done, freed;

static int work(void *userdata)
{
        atomic_fetch_add(&worked, 1);
        return 7;
}

static void on_done(void *userdata, int result)
{
        ASSERT_EQ(result, 7);
        done++;
}

static void on_free(void *userdata)
{
        freed++;
}

TEST(no_result_lost_when_the_pipe_is_full)
{
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(job_runner_freep) JobRunner *r = NULL;
        uint64_t start, now;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(job_runner_new(e, &r));
        ASSERT_OK(job_runner_set_capacity(r, 4096));
        for (unsigned i = 0; i < N_JOBS; i++)
                ASSERT_OK(job_start(r, work, on_done, on_free, NULL));
        ASSERT_EQ(job_runner_active(r), N_JOBS);

        /* The loop is not running while they finish: the pipe fills up. */
        ASSERT_OK(sd_event_now(e, CLOCK_MONOTONIC, &start));
        while (done < N_JOBS) {
                ASSERT_OK(sd_event_run(e, 5 * 1000000ULL));
                ASSERT_OK(sd_event_now(e, CLOCK_MONOTONIC, &now));
                if (now - start > 30 * 1000000ULL) {
                        fprintf(stderr, "only %u of %u results arrived (%u jobs worked)\n", done, N_JOBS,
                                atomic_load(&worked));
                        ASSERT_TRUE(false);
                }
        }
        ASSERT_EQ(done, N_JOBS);
        ASSERT_EQ(freed, N_JOBS);
        ASSERT_EQ(job_runner_active(r), 0);
}

int main(void)
{
        RUN(no_result_lost_when_the_pipe_is_full);
        return 0;
}
