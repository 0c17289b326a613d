/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include "job.h"
#include "log.h"

/* A job's stack is ours (mmap()), not glibc's: glibc keeps the stacks of ended threads for
 * reuse (up to 40 MiB of them) with their top ~20 KiB still resident, so the burst of one job
 * per PF at the start of a big host (64 at once) would leave ~1.3 MiB behind for good. Ours
 * is unmapped once its thread has ended: joined without waiting (pthread_tryjoin_np()) when
 * its result is read, or at a later job's end if it was still on its way out then. */
#define JOB_STACK_SIZE (256u * 1024u)
#define JOB_GUARD_SIZE 4096u

typedef struct Job Job;
struct Job {
        JobRunner *runner;
        job_work_t work;
        job_done_t done;
        job_free_t free_func;
        void *userdata;
        int result;
        pthread_t thread;
        void *stack;
        Job *exiting_next;
};

struct JobRunner {
        sd_event_source *source;
        int pipe[2];
        unsigned n_active;
        Job *exiting; /* result read, thread maybe not ended yet: its stack to unmap */
};

static void job_release(Job *j)
{
        (void) munmap(j->stack, JOB_STACK_SIZE);
        free(j);
}

/* Unmaps the stacks of the threads that have ended; with wait, waits for the others. */
static void job_reap(JobRunner *r, bool wait)
{
        Job **p = &r->exiting;

        while (*p) {
                Job *j = *p;

                if ((wait ? pthread_join(j->thread, NULL) : pthread_tryjoin_np(j->thread, NULL)) != 0) {
                        p = &j->exiting_next;
                        continue;
                }
                *p = j->exiting_next;
                job_release(j);
        }
}

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
        j->exiting_next = r->exiting;
        r->exiting = j;
        job_reap(r, false);
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
                job_reap(r, true); /* they are past their last write: ending, not working */
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
        sigset_t all, old;
        void *stack;
        Job *j;
        int rr;

        stack = mmap(NULL, JOB_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                     -1, 0);
        if (stack == MAP_FAILED)
                return negative_errno();
        /* The stack grows down: its lowest page is the guard glibc would have put there. */
        if (mprotect(stack, JOB_GUARD_SIZE, PROT_NONE) < 0) {
                rr = negative_errno();
                (void) munmap(stack, JOB_STACK_SIZE);
                return rr;
        }
        j = calloc(1, sizeof(Job));
        if (!j) {
                (void) munmap(stack, JOB_STACK_SIZE);
                return -ENOMEM;
        }
        *j = (Job){.runner = r,
                   .work = work,
                   .done = done,
                   .free_func = free_func,
                   .userdata = userdata,
                   .stack = stack};

        /* Workers must not take our signals (they are routed to sd-event via signalfd). */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        pthread_attr_init(&attr);
        pthread_attr_setstack(&attr, stack, JOB_STACK_SIZE);
        rr = pthread_create(&j->thread, &attr, job_thread, j);
        pthread_attr_destroy(&attr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rr != 0) {
                job_release(j);
                return -rr;
        }
        r->n_active++;
        return 0;
}

int job_runner_set_capacity(JobRunner *r, unsigned bytes)
{
        return fcntl(r->pipe[1], F_SETPIPE_SZ, (int) bytes) < 0 ? negative_errno() : 0;
}

void job_runner_reap(JobRunner *r)
{
        if (r)
                job_reap(r, false);
}

unsigned job_runner_active(const JobRunner *r)
{
        return r ? r->n_active : 0;
}
