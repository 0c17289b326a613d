/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

#include "job.h"
#include "log.h"

typedef struct Job {
        JobRunner *runner;
        job_work_t work;
        job_done_t done;
        job_free_t free_func;
        void *userdata;
        int result;
} Job;

struct JobRunner {
        sd_event_source *source;
        int pipe[2];
        unsigned n_active;
};

static int on_job_done(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        JobRunner *r = userdata;
        Job *j;
        ssize_t n;

        /* Each finished worker writes its Job pointer: atomic, as it is smaller than PIPE_BUF.
         * One per dispatch: a job's completion may be a PF's worth of work (its new VFs read
         * and configured), and the loop serves other sources between two; the pipe stays
         * readable for the next. */
        n = read(fd, &j, sizeof(j));
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : log_error_errno(errno, "Job pipe failed: %m");
        if (n != (ssize_t) sizeof(j))
                return 0;
        r->n_active--;
        if (j->done)
                j->done(j->userdata, j->result);
        if (j->free_func)
                j->free_func(j->userdata);
        free(j);
        return 0;
}

int job_runner_new(sd_event *e, JobRunner **ret)
{
        _cleanup_(job_runner_freep) JobRunner *r = NULL;
        int rr;

        r = calloc(1, sizeof(JobRunner));
        if (!r)
                return -ENOMEM;
        r->pipe[0] = r->pipe[1] = -EBADF;
        /* Only the read end is non-blocking: a worker whose result does not fit waits for the
         * loop to drain the pipe rather than lose it (a lost result would leave its PF's job
         * "running" forever). */
        if (pipe2(r->pipe, O_CLOEXEC) < 0)
                return negative_errno();
        if (fcntl(r->pipe[0], F_SETFL, O_NONBLOCK) < 0)
                return negative_errno();
        rr = sd_event_add_io(e, &r->source, r->pipe[0], EPOLLIN, on_job_done, r);
        if (rr < 0)
                return rr;
        (void) sd_event_source_set_description(r->source, "job-done");
        *ret = TAKE_PTR(r);
        return 0;
}

JobRunner *job_runner_free(JobRunner *r)
{
        if (!r)
                return NULL;
        /* Workers still running hold a pointer to the pipe: leave the write end open for them
         * (the process is exiting when this happens with jobs active). */
        r->source = sd_event_source_disable_unref(r->source);
        if (r->n_active == 0) {
                safe_close(r->pipe[0]);
                safe_close(r->pipe[1]);
                return mfree(r);
        }
        return NULL;
}

static void *job_thread(void *p)
{
        Job *j = p;
        ssize_t n;

        j->result = j->work(j->userdata);
        do
                n = write(j->runner->pipe[1], &j, sizeof(j));
        while (n < 0 && errno == EINTR);
        /* A pointer is smaller than PIPE_BUF: the write is whole or fails, and it fails only
         * when the read end is gone, i.e. the process is going down. */
        if (n != (ssize_t) sizeof(j))
                log_error_errno(n < 0 ? errno : EIO, "Cannot report a finished job: %m");
        return NULL;
}

int job_start(JobRunner *r, job_work_t work, job_done_t done, job_free_t free_func, void *userdata)
{
        pthread_attr_t attr;
        pthread_t t;
        sigset_t all, old;
        Job *j;
        int rr;

        j = calloc(1, sizeof(Job));
        if (!j)
                return -ENOMEM;
        *j = (Job){.runner = r, .work = work, .done = done, .free_func = free_func, .userdata = userdata};

        /* Workers must not take our signals (they are routed to sd-event via signalfd). */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        rr = pthread_create(&t, &attr, job_thread, j);
        pthread_attr_destroy(&attr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rr != 0) {
                free(j);
                return -rr;
        }
        r->n_active++;
        return 0;
}

int job_runner_set_capacity(JobRunner *r, unsigned bytes)
{
        return fcntl(r->pipe[1], F_SETPIPE_SZ, (int) bytes) < 0 ? negative_errno() : 0;
}

unsigned job_runner_active(const JobRunner *r)
{
        return r ? r->n_active : 0;
}
