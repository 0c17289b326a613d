/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"

/* Runs blocking work (sysfs writes the kernel takes seconds over: sriov_numvfs, driver
 * binds, module loads) on a worker thread and reports back on the event loop, so that D-Bus
 * and events stay served and PFs proceed in parallel. One thread per job: jobs are rare and
 * coarse (one per PF per change). */

typedef struct JobRunner JobRunner;

typedef int (*job_work_t)(void *userdata);              /* worker thread */
typedef void (*job_done_t)(void *userdata, int result); /* event loop thread */
typedef void (*job_free_t)(void *userdata);

int job_runner_new(sd_event *e, JobRunner **ret);
JobRunner *job_runner_free(JobRunner *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobRunner *, job_runner_free);

/* On success the runner owns userdata (freed with free_func after done runs). */
int job_start(JobRunner *r, job_work_t work, job_done_t done, job_free_t free_func, void *userdata);
unsigned job_runner_active(const JobRunner *r);
/* Unmaps the stacks of ended jobs whose threads had not quite exited when their result was
 * read (the manager calls it once settled, before trimming the heap). */
void job_runner_reap(JobRunner *r);
/* Tests: shrink the result pipe (bytes, at least a page) to exercise a full pipe. */
int job_runner_set_capacity(JobRunner *r, unsigned bytes);
