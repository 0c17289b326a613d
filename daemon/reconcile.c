/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <linux/if_ether.h>
#include <sys/stat.h>

#include "allocation.h"
#include "job.h"
#include "lease.h"
#include "log.h"
#include "manager.h"
#include "rdma.h"
#include "reconcile.h"
#include "sysfs.h"
#include "util.h"

/* ---- backoff ---------------------------------------------------------------------------- */

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        PhysicalFunction *pf = userdata;

        pf->retry_source = sd_event_source_disable_unref(pf->retry_source);
        pf->needs_refresh = true;
        pf->retry_failed = true;
        manager_pf_dirty(pf->manager, pf);
        return 0;
}

static bool error_is_retriable(int r)
{
        r = abs(r);
        return r == EBUSY || r == EAGAIN || r == ENOMEM || r == EIO || r == ETIMEDOUT || r == EINTR;
}

/* A failure that waiting may cure: retry after 1, 2, 4 … 300 s. Otherwise it stays failed
 * until the config or the device changes (both re-queue the PF). */
static void pf_fail_message(PhysicalFunction *pf, bool retriable, const char *message)
{
        Manager *m = pf->manager;
        uint64_t delay, now;

        if (!retriable || !m->event) {
                pf_set_state(pf, PF_STATE_FAILED, "%s", message);
                return;
        }
        delay = u64_min(1000000ULL << MIN(pf->n_failures, 20u), RECONCILE_BACKOFF_MAX_USEC);
        pf->n_failures++;
        pf_set_state(pf, PF_STATE_FAILED, "%s (retrying in %llus)", message,
                     (unsigned long long) (delay / 1000000ULL));
        pf->retry_source = sd_event_source_disable_unref(pf->retry_source);
        if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0 ||
            sd_event_add_time(m->event, &pf->retry_source, CLOCK_MONOTONIC, now + delay, 0, on_retry, pf) <
                    0)
                log_pf_full_errno(pf, LOG_ERR, ENOMEM, "Cannot arm retry timer.");
}

void reconcile_pf_fail(PhysicalFunction *pf, int error, const char *what)
{
        _cleanup_free_ char *msg = NULL;

        if (asprintf_safe(&msg, "%s: %s", what, strerror(abs(error))) < 0)
                return (void) log_oom();
        pf_fail_message(pf, error_is_retriable(error), msg);
}

/* ---- sriov_numvfs, off the event loop --------------------------------------------------- */

typedef struct NumVfsJob {
        Manager *manager;
        char *pci, *syspath;
        uint64_t generation;
        unsigned from, to;
        int step_failed; /* 0: writing 0 failed, 1: writing `to` failed */
} NumVfsJob;

static void num_vfs_job_free(void *p)
{
        NumVfsJob *j = p;

        free(j->pci);
        free(j->syspath);
        free(j);
}

static int num_vfs_job_work(void *p)
{
        NumVfsJob *j = p;
        int r;

        test_crash_point("before-numvfs");
        /* The kernel only accepts a non-zero count from zero: go through 0. This write is what
         * takes seconds on real NICs (VF teardown and PCI device creation). */
        if (j->from != 0) {
                j->step_failed = 0;
                r = sysfs_write_attr(j->syspath, "sriov_numvfs", "0");
                if (r < 0)
                        return r;
        }
        if (j->to != 0) {
                j->step_failed = 1;
                r = sysfs_write_attr_u32(j->syspath, "sriov_numvfs", j->to);
                if (r < 0)
                        return r;
        }
        test_crash_point("after-numvfs");
        return 0;
}

/* A job writes one PF's sysfs; no second job may write it meanwhile, even for a PF object
 * that replaced a removed one of the same address (hot-unplug and re-add during a job). */
static int job_claim(Manager *m, const char *pci)
{
        return hashmap_put(m->busy_pcis, pci, (void *) pci);
}

/* The PF a finished job belongs to: the same object (generation), else NULL. A namesake
 * that waited for this job may start its own now. */
static PhysicalFunction *job_pf(Manager *m, const char *pci, uint64_t generation)
{
        PhysicalFunction *pf;

        hashmap_remove(m->busy_pcis, pci);
        pf = manager_get_pf(m, pci);
        if (!pf)
                return NULL;
        pf->job_running = false;
        pf->needs_refresh = true;
        pf->link_stale = true;
        if (pf->generation != generation) {
                manager_pf_dirty(m, pf);
                return NULL;
        }
        return pf;
}

static void num_vfs_job_done(void *p, int result)
{
        NumVfsJob *j = p;
        PhysicalFunction *pf = job_pf(j->manager, j->pci, j->generation);

        if (!pf)
                return; /* unplugged meanwhile */
        if (result < 0) {
                char what[64];

                snprintf(what, sizeof(what), "writing sriov_numvfs = %u", j->step_failed ? j->to : 0);
                reconcile_pf_fail(pf, result, what);
                return;
        }
        log_pf_full_errno(pf, LOG_INFO, 0, "sriov_numvfs %u -> %u", j->from, j->to);
        pf->changes++;
        pf->n_failures = 0;
        /* All VF settings start from kernel defaults now: nothing is known unsupported. The
         * VFs are in the PF's table as soon as the write returns, and that is all the
         * RTM_SETLINK needs: configure them now rather than after the burst of VF uevents
         * udevd is about to deliver (on igb in the VM, ~130 ms of them). Their netdevs were
         * announced on the link monitor during the write: read first, they spare the pass
         * three sysfs reads per VF (manager.c, "VF netdevs from rtnetlink"). */
        netlink_monitor_drain(pf->manager->netlink);
        manager_pf_dirty(pf->manager, pf);
        manager_reconcile_pf_now(pf->manager, pf);
}

static int pf_start_num_vfs(PhysicalFunction *pf, unsigned to)
{
        NumVfsJob *j;
        int r;

        j = calloc(1, sizeof(NumVfsJob));
        if (!j)
                return -ENOMEM;
        j->manager = pf->manager;
        j->pci = strdup(pf->pci);
        j->syspath = strdup(pf->syspath);
        j->from = pf->num_vfs;
        j->to = to;
        j->generation = pf->generation;
        if (!j->pci || !j->syspath) {
                num_vfs_job_free(j);
                return -ENOMEM;
        }
        r = job_claim(pf->manager, j->pci);
        if (r < 0) {
                num_vfs_job_free(j);
                return r;
        }
        r = job_start(pf->manager->jobs, num_vfs_job_work, num_vfs_job_done, num_vfs_job_free, j);
        if (r < 0) {
                hashmap_remove(pf->manager->busy_pcis, j->pci);
                num_vfs_job_free(j);
                return r;
        }
        pf->job_running = true;
        return 0;
}

/* ---- VF driver binding, off the event loop ---------------------------------------------- */

typedef struct BindItem {
        char *pci, *syspath, *want; /* want NULL: back to the kernel's default */
        int result;
} BindItem;

typedef struct BindJob {
        Manager *manager;
        char *pf_pci;
        uint64_t generation;
        BindItem *items;
        size_t n_items;
} BindJob;

static void bind_job_free(void *p)
{
        BindJob *j = p;

        for (size_t i = 0; i < j->n_items; i++) {
                free(j->items[i].pci);
                free(j->items[i].syspath);
                free(j->items[i].want);
        }
        free(j->items);
        free(j->pf_pci);
        free(j);
}

/* _cleanup_ passes the variable's address: free what it points to (NULL after TAKE_PTR). */
static void bind_job_freep(BindJob **j)
{
        if (*j)
                bind_job_free(*j);
}

static int driver_ensure_loaded(const char *driver)
{
        _cleanup_free_ char *p = NULL;
        struct stat st;
        int r;

        if (asprintf_safe(&p, "/sys/bus/pci/drivers/%s", driver) < 0)
                return -ENOMEM;
        if (stat(p, &st) >= 0)
                return 0;
        /* drivers_probe does not load modules (vfio-pci is the usual victim): do it for the
         * admin, as udev would for a device's own driver. */
        r = sysfs_load_module(driver);
        if (r < 0)
                return r;
        return stat(p, &st) >= 0 ? 0 : -ENOENT;
}

static int bind_job_work(void *p)
{
        BindJob *j = p;
        int r;

        for (size_t i = 0; i < j->n_items; i++) {
                BindItem *it = &j->items[i];
                _cleanup_free_ char *current = NULL;

                if (it->want) {
                        r = driver_ensure_loaded(it->want);
                        if (r < 0) {
                                it->result = r;
                                continue;
                        }
                }
                /* Override first: from then on no other driver can take the VF, so what is bound
                 * now (read now, not when the job was planned: a default driver may have probed
                 * meanwhile) is all there is to unbind. */
                r = sysfs_write_attr(it->syspath, "driver_override", it->want ?: "\n");
                if (r < 0) {
                        it->result = r;
                        continue;
                }
                (void) sysfs_read_link_attr(it->syspath, "driver", &current);
                if (current && it->want && streq(current, it->want)) {
                        it->result = 0;
                        continue;
                }
                if (current) {
                        r = sysfs_write_attr(it->syspath, "driver/unbind", it->pci);
                        if (r < 0 && r != -ENOENT && r != -ENODEV) {
                                it->result = r;
                                continue;
                        }
                }
                test_crash_point("during-bind"); /* unbound, override set, not probed */
                /* EINVAL/ENODEV from drivers_probe only means "no driver took it". */
                r = sysfs_write("/sys/bus/pci/drivers_probe", it->pci);
                it->result = r == -EINVAL || r == -ENODEV ? 0 : r;
        }
        return 0;
}

static void bind_job_done(void *p, int result)
{
        BindJob *j = p;
        PhysicalFunction *pf = job_pf(j->manager, j->pf_pci, j->generation);

        if (!pf)
                return;
        for (size_t i = 0; i < j->n_items; i++) {
                BindItem *it = &j->items[i];
                VirtualFunction *vf = manager_get_vf(j->manager, it->pci);

                if (!vf)
                        continue;
                (void) vf_refresh(vf);
                if (it->result == -ENOENT && it->want)
                        vf_set_state(vf, VF_STATE_FAILED, "driver %s is not available (modprobe %s failed)",
                                     it->want, it->want);
                else if (it->result < 0)
                        vf_set_state(vf, VF_STATE_FAILED, "binding to %s: %s", it->want ?: "default driver",
                                     strerror(abs(it->result)));
                else if (it->want && !streq_ptr(vf->driver, it->want))
                        vf_set_state(vf, VF_STATE_FAILED, "%s did not bind (driver_override set, probe ran)",
                                     it->want);
                else
                        pf->changes++;
                manager_vf_changed(j->manager, vf);
        }
        manager_pf_dirty(pf->manager, pf);
}

static bool vf_driver_wrong(const VirtualFunction *vf)
{
        const char *want = vf->layout ? vf->layout->driver : NULL;

        if (!vf->syspath)
                return false; /* no device, no driver */
        if (want)
                return !streq_ptr(vf->driver, want);
        return vf->driver_override != NULL && !isempty(vf->driver_override);
}

/* One job for the planned binds (PLAN_BIND_DRIVER actions) of actions[0..n). */
static int pf_start_binds(PhysicalFunction *pf, const PlanAction *actions, size_t n, bool *ret_started)
{
        _cleanup_(bind_job_freep) BindJob *j = NULL;
        int r;

        *ret_started = false;
        j = calloc(1, sizeof(BindJob));
        if (!j)
                return -ENOMEM;
        j->manager = pf->manager;
        j->pf_pci = strdup(pf->pci);
        if (!j->pf_pci)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const PlanAction *a = &actions[i];
                VirtualFunction *vf;
                BindItem *it;

                if (a->type != PLAN_BIND_DRIVER)
                        continue;
                vf = (unsigned) a->vf < pf->n_vf_slots ? pf->vfs[a->vf] : NULL;
                if (!vf || !vf->syspath)
                        continue;
                it = realloc(j->items, sizeof(BindItem) * (j->n_items + 1));
                if (!it)
                        return -ENOMEM;
                j->items = it;
                it = &j->items[j->n_items++];
                *it = (BindItem){
                        .pci = strdup(vf->pci),
                        .syspath = strdup(vf->syspath),
                        .want = a->driver ? strdup(a->driver) : NULL,
                };
                if (!it->pci || !it->syspath || (a->driver && !it->want))
                        return -ENOMEM;
        }
        if (j->n_items == 0)
                return 0;
        j->generation = pf->generation;
        r = job_claim(pf->manager, j->pf_pci);
        if (r < 0)
                return r;
        r = job_start(pf->manager->jobs, bind_job_work, bind_job_done, bind_job_free, j);
        if (r < 0) {
                hashmap_remove(pf->manager->busy_pcis, j->pf_pci);
                return r;
        }
        TAKE_PTR(j);
        pf->job_running = true;
        *ret_started = true;
        return 0;
}

/* ---- rtnetlink steps, on the asynchronous queue ------------------------------------------
 *
 * A netlink step is queued and the pass ends, as for a sysfs job: the PF is busy (nl_steps)
 * until every step it queued is answered. Each reply is applied to the model, and the last
 * one re-queues the PF, whose next pass plans again from the model. A step names its PF by
 * address and generation, never by pointer: a PF removed (or replaced by a namesake) meanwhile
 * is not touched. A step also remembers the declaration's generation: verdicts about a
 * declaration that a reload replaced meanwhile (refused, degraded) are not recorded, only the
 * fact that a value was written. The steps live on the Manager, so that those still in flight
 * when it goes are freed with it. */

typedef enum StepKind {
        STEP_READ_LINK,     /* RTM_GETLINK: the VF table */
        STEP_PF_MTU,        /* the PF's MTU */
        STEP_SET_VFS,       /* the batched RTM_SETLINK */
        STEP_FALLBACK_READ, /* the batch failed: re-read before finishing VF by VF */
        STEP_SET_VFS_EACH,  /* the per-VF, per-attribute fallback, all queued */
        STEP_VF_MTU,        /* one VF's MTU */
} StepKind;

typedef struct NetlinkStep {
        struct NetlinkStep *prev, *next;
        Manager *manager;
        char *pci;
        uint64_t generation, config_generation;
        StepKind kind;
        bool fail_on_error; /* STEP_READ_LINK: the planner asked for it (a model re-read is not) */
        unsigned n_pending; /* requests of this step not answered yet */
        int vf;             /* STEP_VF_MTU */
        uint32_t mtu;       /* STEP_PF_MTU, STEP_VF_MTU */
        VfSettings *want;   /* STEP_SET_VFS, STEP_FALLBACK_READ, STEP_SET_VFS_EACH */
        size_t n_want;
        int first_retriable;
        char *errors;
} NetlinkStep;

static NetlinkStep *step_free(NetlinkStep *st)
{
        if (!st)
                return NULL;
        free(st->pci);
        free(st->want);
        free(st->errors);
        return mfree(st);
}

void reconcile_free_steps(Manager *m)
{
        while (m->netlink_steps) {
                NetlinkStep *st = m->netlink_steps;

                m->netlink_steps = st->next;
                step_free(st);
        }
}

static NetlinkStep *step_new(PhysicalFunction *pf, StepKind kind)
{
        NetlinkStep *st = calloc(1, sizeof(NetlinkStep));

        if (!st)
                return NULL;
        st->pci = strdup(pf->pci);
        if (!st->pci)
                return step_free(st);
        st->manager = pf->manager;
        st->generation = pf->generation;
        st->config_generation = pf->config_generation;
        st->kind = kind;
        st->vf = -1;
        return st;
}

/* The step is on the Manager's list and its PF waits for it. */
static void step_link(PhysicalFunction *pf, NetlinkStep *st)
{
        Manager *m = pf->manager;

        st->next = m->netlink_steps;
        if (st->next)
                st->next->prev = st;
        m->netlink_steps = st;
        pf->nl_steps++;
}

static void step_unlink(NetlinkStep *st)
{
        Manager *m = st->manager;

        if (st->prev)
                st->prev->next = st->next;
        else
                m->netlink_steps = st->next;
        if (st->next)
                st->next->prev = st->prev;
        st->prev = st->next = NULL;
}

/* The PF a reply belongs to: the same object, else NULL (a namesake re-reads: the kernel may
 * have changed under it). */
static PhysicalFunction *step_pf(NetlinkStep *st)
{
        PhysicalFunction *pf = manager_get_pf(st->manager, st->pci);

        if (!pf)
                return NULL;
        if (pf->generation != st->generation) {
                pf->link_stale = true;
                manager_pf_dirty(st->manager, pf);
                return NULL;
        }
        return pf;
}

/* The step is answered: when it was the PF's last, the PF's next pass plans again. */
static void step_done(NetlinkStep *st)
{
        PhysicalFunction *pf = manager_get_pf(st->manager, st->pci);
        bool now = false;

        step_unlink(st);
        if (pf && pf->generation == st->generation) {
                assert(pf->nl_steps > 0);
                /* A step the executor queued continues its chain of passes; the model's
                 * re-read of the table (not fail_on_error) starts none. */
                if (st->kind != STEP_READ_LINK || st->fail_on_error)
                        pf->nl_resume = true;
                if (--pf->nl_steps == 0) {
                        /* A step that failed the PF leaves it to its backoff timer or to a
                         * change (config, device): no pass now, which would only send the
                         * refused request again. */
                        if (pf->nl_failed) {
                                pf->nl_failed = false;
                                pf->nl_resume = false;
                        } else {
                                manager_pf_dirty(st->manager, pf);
                                /* Its model is current (nothing to re-read from sysfs, RDMA
                                 * mapped): the next pass runs now, not behind the events
                                 * queued meanwhile (a burst of VF uevents). Those are read
                                 * after it, as when the pass ran in one go. */
                                now = !pf->needs_refresh && !pf->vfs_stale && !st->manager->rdma_stale;
                        }
                }
        }
        step_free(st);
        if (now)
                reconcile_pf(pf);
}

/* A verdict about the declaration the step was planned for still holds. */
static bool step_config_current(const NetlinkStep *st, const PhysicalFunction *pf)
{
        return pf->config_generation == st->config_generation;
}

static bool error_means_unsupported(int r)
{
        r = abs(r);
        return r == EOPNOTSUPP || r == EINVAL || r == ERANGE || r == EPERM;
}

static void vf_note_applied(VirtualFunction *vf, const VfSettings *sent)
{
        if (!vf)
                return;
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++)
                if (sent->mask & VF_ATTR_BIT(a))
                        vf_attr_copy(&vf->applied, sent, a);
        vf->applied_mask |= sent->mask;
        vf->verify_mask |= sent->mask;
}

static VirtualFunction *pf_vf(PhysicalFunction *pf, int index)
{
        return index >= 0 && (unsigned) index < pf->n_vf_slots ? pf->vfs[index] : NULL;
}

static void on_step_reply(Netlink *nl, int error, LinkInfo *link, void *userdata);

/* Queues the step's request(s); on failure the step is freed and nothing is pending. */
static int step_queue(PhysicalFunction *pf, NetlinkStep *st)
{
        Netlink *nl = pf->manager->netlink;
        int r;

        switch (st->kind) {
        case STEP_READ_LINK:
        case STEP_FALLBACK_READ:
                r = netlink_get_link_async(nl, pf->ifindex, on_step_reply, st);
                break;
        case STEP_PF_MTU:
                r = netlink_set_mtu_async(nl, pf->ifindex, st->mtu, on_step_reply, st);
                break;
        case STEP_VF_MTU: {
                VirtualFunction *vf = pf_vf(pf, st->vf);

                r = vf ? netlink_set_mtu_async(nl, vf->ifindex, st->mtu, on_step_reply, st) : -ENODEV;
                break;
        }
        case STEP_SET_VFS:
                r = netlink_set_vfs_async(nl, pf->ifindex, st->want, st->n_want, on_step_reply, st);
                break;
        case STEP_SET_VFS_EACH:
                /* One request per VF and attribute, counted one by one: a failure after some
                 * were queued leaves exactly those pending (they free the step). */
                st->n_pending = 0;
                r = 0;
                for (size_t i = 0; i < st->n_want && r >= 0; i++)
                        for (VfAttr a = 0; a < _VF_ATTR_MAX && r >= 0; a++) {
                                VfSettings one = st->want[i];

                                if (!(one.mask & VF_ATTR_BIT(a)))
                                        continue;
                                one.mask = VF_ATTR_BIT(a);
                                r = netlink_set_vfs_each_async(nl, pf->ifindex, &one, 1, on_step_reply, st);
                                if (r > 0)
                                        st->n_pending++;
                        }
                if (st->n_pending == 0) {
                        step_free(st);
                        return MIN(r, 0);
                }
                step_link(pf, st);
                return MIN(r, 0);
        default:
                r = -EINVAL;
        }
        if (r < 0) {
                step_free(st);
                return r;
        }
        st->n_pending = 1;
        step_link(pf, st);
        return 0;
}

int reconcile_read_link(PhysicalFunction *pf, bool fail_on_error)
{
        NetlinkStep *st;
        int r;

        pf->link_stale = false;
        if (pf->ifindex <= 0 || !pf->manager->netlink) {
                pf_set_link(pf, NULL);
                return 0;
        }
        st = step_new(pf, STEP_READ_LINK);
        if (!st)
                return -ENOMEM;
        st->fail_on_error = fail_on_error;
        r = step_queue(pf, st);
        if (r < 0)
                pf_set_link(pf, NULL);
        return r;
}

/* The batch failed: the kernel stopped at the first failing VF, earlier ones are applied.
 * With the table re-read, finish VF by VF and attribute by attribute (all queued), to name
 * what failed. */
static int pf_queue_fallback(PhysicalFunction *pf, NetlinkStep *read)
{
        NetlinkStep *st = step_new(pf, STEP_SET_VFS_EACH);
        size_t n = 0;

        if (!st)
                return -ENOMEM;
        st->config_generation = read->config_generation;
        st->want = calloc(MAX(read->n_want, (size_t) 1), sizeof(VfSettings));
        if (!st->want) {
                step_free(st);
                return -ENOMEM;
        }
        for (size_t i = 0; i < read->n_want; i++) {
                const VfSettings *have = link_info_find_vf(pf->link, read->want[i].index);

                st->want[n] = read->want[i];
                st->want[n].mask = vf_settings_diff(&read->want[i], have) & read->want[i].mask;
                if (st->want[n].mask != 0)
                        n++;
        }
        st->n_want = n;
        return step_queue(pf, st);
}

static void on_fallback_reply(NetlinkStep *st, PhysicalFunction *pf, int error)
{
        Manager *m = pf->manager;
        VirtualFunction *vf;
        VfSettings one = {};
        uint32_t index;
        VfAttr a;

        if (!netlink_async_current(m->netlink, &index, &a))
                return;
        for (size_t i = 0; i < st->n_want; i++)
                if (st->want[i].index == index) {
                        one = st->want[i];
                        break;
                }
        one.mask = VF_ATTR_BIT(a);
        vf = pf_vf(pf, (int) index);
        if (error >= 0) {
                vf_note_applied(vf, &one);
                pf->changes++;
                return;
        }
        if (!vf || !step_config_current(st, pf))
                return; /* a verdict on a declaration that is gone */
        if (error_means_unsupported(error)) {
                /* Reported once on the VF, not retried in a loop. */
                vf->unsupported |= VF_ATTR_BIT(a);
                vf->error_pass = pf->pass_start;
                vf_set_state(vf, VF_STATE_DEGRADED, "%s: %s (refused by %s)", vf_attr_to_string(a),
                             strerror(abs(error)), strna(pf->driver));
                log_vf_full_errno(vf, LOG_WARNING, error, "VF %u: %s refused by %s: %m", vf->index,
                                  vf_attr_to_string(a), strna(pf->driver));
        } else {
                vf->error_pass = pf->pass_start;
                vf_set_state(vf, VF_STATE_FAILED, "%s: %s", vf_attr_to_string(a), strerror(abs(error)));
                if (!st->first_retriable)
                        st->first_retriable = error;
        }
        if (!st->errors)
                (void) asprintf_safe(&st->errors, "VF %u %s: %s", vf->index, vf_attr_to_string(a),
                                     strerror(abs(error)));
}

/* A reply fails the PF (reconcile_pf_fail()), and its chain of passes ends there. */
static void step_fail(PhysicalFunction *pf, int error, const char *what)
{
        reconcile_pf_fail(pf, error, what);
        pf->nl_failed = true;
}

/* Applies one reply to the model. Returns false if the step was handed on (it stays pending
 * under another kind). */
static bool step_apply(NetlinkStep *st, PhysicalFunction *pf, int error, LinkInfo *link)
{
        Manager *m = pf->manager;
        int r;

        switch (st->kind) {
        case STEP_READ_LINK:
                pf_set_link(pf, error < 0 ? NULL : TAKE_PTR(link));
                manager_pf_link_read(m, pf);
                if (error < 0 && st->fail_on_error)
                        step_fail(pf, error, "applying VF settings");
                break;
        case STEP_PF_MTU:
                if (error < 0) {
                        step_fail(pf, error, "setting PF mtu");
                        break;
                }
                pf->link_stale = true;
                pf->changes++;
                break;
        case STEP_SET_VFS:
                if (error >= 0) {
                        test_crash_point("after-batch");
                        for (size_t i = 0; i < st->n_want; i++)
                                vf_note_applied(pf_vf(pf, (int) st->want[i].index), &st->want[i]);
                        pf->changes += st->n_want;
                        pf->link_stale = true;
                        break;
                }
                log_pf_full_errno(pf, LOG_DEBUG, error,
                                  "Batched VF update failed (%m), finishing VF by VF.");
                /* The same step goes on as the re-read (still linked, still pending). */
                st->kind = STEP_FALLBACK_READ;
                r = netlink_get_link_async(m->netlink, pf->ifindex, on_step_reply, st);
                if (r >= 0)
                        return false;
                step_fail(pf, r, "applying VF settings");
                break;
        case STEP_FALLBACK_READ:
                pf_set_link(pf, error < 0 ? NULL : TAKE_PTR(link));
                if (error < 0) {
                        step_fail(pf, error, "applying VF settings");
                        break;
                }
                r = pf_queue_fallback(pf, st);
                if (r < 0)
                        step_fail(pf, r, "applying VF settings");
                break;
        case STEP_SET_VFS_EACH:
                on_fallback_reply(st, pf, error);
                if (st->n_pending > 1)
                        break;
                /* The last answer: the table moved. */
                pf->link_stale = true;
                if (st->first_retriable)
                        step_fail(pf, st->first_retriable, st->errors ?: "applying VF settings");
                break;
        case STEP_VF_MTU: {
                VirtualFunction *vf = pf_vf(pf, st->vf);

                if (!vf)
                        break;
                if (error < 0) {
                        if (!step_config_current(st, pf))
                                break;
                        vf->error_pass = pf->pass_start;
                        vf_set_state(vf, VF_STATE_DEGRADED, "mtu %u: %s", st->mtu, strerror(abs(error)));
                        break;
                }
                vf->mtu = st->mtu;
                pf->changes++;
                break;
        }
        }
        link_info_free(link);
        return true;
}

static void on_step_reply(Netlink *nl, int error, LinkInfo *link, void *userdata)
{
        NetlinkStep *st = userdata;
        PhysicalFunction *pf = step_pf(st);

        if (!pf) {
                /* Its PF went meanwhile: nothing to apply to. */
                link_info_free(link);
                if (--st->n_pending == 0) {
                        step_unlink(st);
                        step_free(st);
                }
                return;
        }
        if (!step_apply(st, pf, error, link))
                return;
        if (--st->n_pending == 0)
                step_done(st);
}

/* Queues a step whose planned action was announced; false if it could not be (the PF failed). */
static bool pf_queue_step(PhysicalFunction *pf, NetlinkStep *st, const char *what)
{
        int r;

        if (!st) {
                reconcile_pf_fail(pf, -ENOMEM, what);
                return false;
        }
        r = step_queue(pf, st);
        if (r < 0) {
                reconcile_pf_fail(pf, r, what);
                return false;
        }
        return true;
}

static bool pf_queue_pf_mtu(PhysicalFunction *pf, const PlanAction *a)
{
        NetlinkStep *st = step_new(pf, STEP_PF_MTU);

        if (st)
                st->mtu = a->to;
        return pf_queue_step(pf, st, "setting PF mtu");
}

static bool pf_queue_vf_settings(PhysicalFunction *pf, const PlanAction *a)
{
        NetlinkStep *st = step_new(pf, STEP_SET_VFS);

        if (st && a->n_vfs > 0) {
                st->want = malloc(a->n_vfs * sizeof(VfSettings));
                if (!st->want)
                        st = step_free(st);
                else {
                        memcpy(st->want, a->want, a->n_vfs * sizeof(VfSettings));
                        st->n_want = a->n_vfs;
                }
        }
        return pf_queue_step(pf, st, "applying VF settings");
}

static void pf_queue_vf_mtu(PhysicalFunction *pf, const PlanAction *a)
{
        VirtualFunction *vf = pf_vf(pf, a->vf);
        NetlinkStep *st;
        int r;

        if (!vf)
                return;
        st = step_new(pf, STEP_VF_MTU);
        if (!st)
                return (void) log_oom();
        st->vf = a->vf;
        st->mtu = a->to;
        r = step_queue(pf, st);
        if (r < 0) {
                vf->error_pass = pf->pass_start;
                vf_set_state(vf, VF_STATE_DEGRADED, "mtu %u: %s", a->to, strerror(abs(r)));
        }
}

/* Written values read back (verified) or not (rewrite: one more try). */
static void vf_note_verified(PhysicalFunction *pf, const PlanAction *a)
{
        VirtualFunction *vf = (unsigned) a->vf < pf->n_vf_slots ? pf->vfs[a->vf] : NULL;

        if (!vf)
                return;
        for (VfAttr x = 0; x < _VF_ATTR_MAX; x++) {
                if (a->rewrite & VF_ATTR_BIT(x))
                        vf->lost[x]++;
                if (a->verified & VF_ATTR_BIT(x))
                        vf->lost[x] = 0;
        }
        vf->verify_mask &= ~a->verified;
}

static void vf_give_up(PhysicalFunction *pf, const PlanAction *a)
{
        VirtualFunction *vf = (unsigned) a->vf < pf->n_vf_slots ? pf->vfs[a->vf] : NULL;

        if (!vf)
                return;
        vf->lost[a->attr] = (uint8_t) MIN(a->from, 255u);
        vf->unsupported |= VF_ATTR_BIT(a->attr);
        vf->error_pass = pf->pass_start;
        vf_set_state(vf, VF_STATE_DEGRADED, "%s: %s does not keep the value (reads back different)",
                     vf_attr_to_string(a->attr), strna(pf->driver));
        log_vf_full_errno(vf, LOG_WARNING, 0, "VF %u: %s not kept by %s after %u writes, giving up on it.",
                          vf->index, vf_attr_to_string(a->attr), strna(pf->driver), a->from);
}

/* ---- the state machine ------------------------------------------------------------------ */

static int on_vf_wait_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        PhysicalFunction *pf = userdata;

        pf->wait_source = sd_event_source_disable_unref(pf->wait_source);
        pf_set_state(pf, PF_STATE_FAILED, "only %u of %u VFs appeared", pf_count_vfs(pf),
                     pf_desired_num_vfs(pf));
        return 0;
}

static void pf_wait_for_vfs(PhysicalFunction *pf, unsigned present, unsigned desired)
{
        Manager *m = pf->manager;
        uint64_t now;

        pf_set_state(pf, PF_STATE_CONFIGURING, "waiting for VFs (%u of %u)", present, desired);
        if (pf->wait_source || !m->event)
                return;
        /* Some NICs take tens of seconds to create VFs; udev events move us on, this deadline
         * only keeps readiness from hanging on a device that never delivers. */
        if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) >= 0)
                (void) sd_event_add_time(m->event, &pf->wait_source, CLOCK_MONOTONIC,
                                         now + RECONCILE_VF_WAIT_USEC, 0, on_vf_wait_timeout, pf);
}

/* ---- planner inputs ---------------------------------------------------------------------- */

static bool oracle_vf_in_use(const VirtualFunction *vf, char **ret_reason, void *userdata)
{
        return vf_is_in_use(vf, ret_reason);
}

static bool oracle_lease_blocks(const PhysicalFunction *pf, unsigned below, char **ret_reason,
                                void *userdata)
{
        const Lease *l = manager_find_pf_lease(pf->manager, pf, below);

        if (!l)
                return false;
        (void) asprintf_safe(ret_reason, "VF %u is allocated to '%s'", l->vf_index, l->owner);
        return true;
}

void reconcile_planner_input(PhysicalFunction *pf, const PfConfig *c, bool fresh_config, PlannerInput *ret)
{
        *ret = (PlannerInput){
                .pf = pf,
                .config = c,
                .fresh_config = fresh_config,
                .retry_failed = fresh_config || pf->retry_failed,
                .has_netlink = pf->manager->netlink != NULL,
                .link_stale = !fresh_config && pf->link_stale,
                .vf_in_use = oracle_vf_in_use,
                .lease_blocks = oracle_lease_blocks,
        };
}

/* ---- the executor ------------------------------------------------------------------------- */

static ReconcileObserver observer;
static void *observer_userdata;

void reconcile_set_observer(ReconcileObserver o, void *userdata)
{
        observer = o;
        observer_userdata = userdata;
}

static void executed(PhysicalFunction *pf, const PlanAction *a)
{
        if (observer && !plan_action_is_internal(a))
                observer(pf, a, observer_userdata);
}

typedef enum ExecResult {
        EXEC_DONE,   /* every action ran: the PF is where the plan leads */
        EXEC_STOP,   /* a step ends the pass (a job, a wait, a block, a failure) */
        EXEC_QUEUED, /* netlink steps are queued: their replies re-queue the PF */
} ExecResult;

/* Runs the plan's actions in order, each as planned. */
static ExecResult reconcile_execute(PhysicalFunction *pf, const PlanActions *p)
{
        int r;

        for (size_t i = 0; i < p->n_actions; i++) {
                const PlanAction *a = &p->actions[i];

                switch (a->type) {
                case PLAN_MANAGE:
                        executed(pf, a);
                        pf_set_state(pf, PF_STATE_PENDING, NULL);
                        break;
                case PLAN_SET_POOL: /* done by the reload's assignment, before any pass */
                        executed(pf, a);
                        break;
                case PLAN_UNMANAGE:
                        executed(pf, a);
                        return EXEC_DONE;
                case PLAN_INVALID:
                        executed(pf, a);
                        pf_set_state(pf, PF_STATE_FAILED, "%s", a->reason);
                        return EXEC_STOP;
                case PLAN_SET_AUTOPROBE:
                        executed(pf, a);
                        r = sysfs_write_attr(pf->syspath, "sriov_drivers_autoprobe", a->to ? "1" : "0");
                        if (r < 0) {
                                reconcile_pf_fail(pf, r, "writing sriov_drivers_autoprobe");
                                return EXEC_STOP;
                        }
                        pf->drivers_autoprobe = (int) a->to;
                        pf->changes++;
                        break;
                case PLAN_BLOCKED:
                        /* Every blocker is listed; the state names the first. */
                        for (size_t k = i; k < p->n_actions && p->actions[k].type == PLAN_BLOCKED; k++)
                                executed(pf, &p->actions[k]);
                        pf_set_state(pf, PF_STATE_BLOCKED, "num_vfs %u -> %u would destroy VFs: %s", a->from,
                                     a->to, a->reason);
                        return EXEC_STOP;
                case PLAN_SET_NUM_VFS:
                        /* The VFs it destroys follow it in the plan: one write does them all. */
                        for (size_t k = i; k < p->n_actions; k++)
                                executed(pf, &p->actions[k]);
                        pf_set_state(pf, PF_STATE_CONFIGURING, "setting sriov_numvfs %u -> %u", a->from,
                                     a->to);
                        r = pf_start_num_vfs(pf, a->to);
                        if (r < 0)
                                reconcile_pf_fail(pf, r, "starting sriov_numvfs write");
                        return EXEC_STOP;
                case PLAN_DESTROY_VF:
                        break; /* with PLAN_SET_NUM_VFS */
                case PLAN_SET_PF_MTU:
                        executed(pf, a);
                        return pf_queue_pf_mtu(pf, a) ? EXEC_QUEUED : EXEC_STOP;
                case PLAN_WAIT_VFS:
                        executed(pf, a);
                        pf_wait_for_vfs(pf, a->from, a->to);
                        return EXEC_STOP;
                case PLAN_BIND_BLOCKED:
                case PLAN_BIND_DRIVER: {
                        size_t k = i;
                        bool started;

                        pf->wait_source = sd_event_source_disable_unref(pf->wait_source);
                        for (; k < p->n_actions && (p->actions[k].type == PLAN_BIND_DRIVER ||
                                                    p->actions[k].type == PLAN_BIND_BLOCKED);
                             k++)
                                executed(pf, &p->actions[k]);
                        r = pf_start_binds(pf, p->actions + i, k - i, &started);
                        pf->retry_failed = false;
                        if (r < 0) {
                                reconcile_pf_fail(pf, r, "binding VF drivers");
                                return EXEC_STOP;
                        }
                        if (started) {
                                pf_set_state(pf, PF_STATE_CONFIGURING, "binding VF drivers");
                                return EXEC_STOP;
                        }
                        i = k - 1;
                        break;
                }
                case PLAN_READ_LINK:
                        r = reconcile_read_link(pf, true);
                        if (r < 0) {
                                reconcile_pf_fail(pf, r, "applying VF settings");
                                return EXEC_STOP;
                        }
                        return pf->nl_steps > 0 ? EXEC_QUEUED : EXEC_STOP;
                case PLAN_VERIFY:
                        vf_note_verified(pf, a);
                        break;
                case PLAN_GIVE_UP:
                        executed(pf, a);
                        vf_give_up(pf, a);
                        break;
                case PLAN_SET_VFS:
                        executed(pf, a);
                        return pf_queue_vf_settings(pf, a) ? EXEC_QUEUED : EXEC_STOP;
                case PLAN_SET_VF_MTU:
                        /* The VFs' MTUs are independent: all queued at once, several in flight. */
                        for (; i < p->n_actions && p->actions[i].type == PLAN_SET_VF_MTU; i++) {
                                executed(pf, &p->actions[i]);
                                pf_queue_vf_mtu(pf, &p->actions[i]);
                        }
                        if (pf->nl_steps > 0)
                                return EXEC_QUEUED;
                        i--;
                        break;
                default:
                        break;
                }
        }
        return EXEC_DONE;
}

void reconcile_pf(PhysicalFunction *pf)
{
        const PfConfig *c = pf->config;
        _cleanup_(plan_actions_done) PlanActions p = {};
        PlannerInput in;
        VirtualFunction *vf;
        unsigned degraded = 0;
        ExecResult e;
        int r;

        if (pf->job_running || pf->nl_steps > 0)
                return; /* its completion re-queues the PF */
        pf->dirty = false;
        pf->manager->n_reconcile_runs++;
        /* A pass after a netlink step goes on with the same chain: what a VF failed or refused
         * in it is kept until the chain ends. */
        if (!pf->nl_resume)
                pf->pass_start = pf->manager->n_reconcile_runs;
        pf->nl_resume = false;

        if (c && pf->retry_source)
                return; /* backing off; the timer re-queues */

        reconcile_planner_input(pf, c, false, &in);
        r = planner_plan_pf(&in, &p);
        if (r < 0) {
                reconcile_pf_fail(pf, r, "planning");
                return;
        }
        e = reconcile_execute(pf, &p);
        if (e == EXEC_QUEUED)
                return;
        if (!c) {
                pf->wait_source = sd_event_source_disable_unref(pf->wait_source);
                pf_set_state(pf, PF_STATE_UNMANAGED, NULL);
                return;
        }
        if (e != EXEC_DONE)
                return;
        pf->wait_source = sd_event_source_disable_unref(pf->wait_source);
        pf->retry_failed = false;

        PF_FOREACH_VF(vf, pf) {
                if (vf->error_pass == pf->pass_start)
                        ; /* failed or refused something in this pass: keep that reason */
                else if (vf->unsupported)
                        vf_set_state(vf, VF_STATE_DEGRADED, "%s", strempty(vf->last_error));
                else if (vf->layout && vf->layout->rdma == 1 && !vf->rdma_device) {
                        const char *mod = rdma_driver_hint(vf->driver) ?: rdma_driver_hint(pf->driver);

                        /* Name the link of the chain that is missing. */
                        if (mod)
                                vf_set_state(vf, VF_STATE_DEGRADED, "no RDMA device on VF %s: is %s loaded?",
                                             vf->pci, mod);
                        else
                                vf_set_state(vf, VF_STATE_DEGRADED,
                                             "no RDMA device on VF %s: is the RDMA driver loaded?", vf->pci);
                } else if (vf->layout && vf->layout->rdma == 1 && vf->rdma_port_state != RDMA_PORT_ACTIVE &&
                           vf->rdma_port_state != RDMA_PORT_ACTIVE_DEFER)
                        vf_set_state(vf, VF_STATE_DEGRADED, "RDMA port %u of %s on VF %s is %s",
                                     vf->rdma_port, vf->rdma_device, vf->pci,
                                     vf->rdma_port_state == RDMA_PORT_NOP
                                             ? "in an unknown state"
                                             : rdma_port_state_to_string(vf->rdma_port_state));
                else if (vf->state != VF_STATE_FAILED || !vf_driver_wrong(vf))
                        vf_set_state(vf, VF_STATE_READY, NULL);
                degraded += vf->state != VF_STATE_READY;
        }
        /* A VF that failed (a driver that did not bind, a setting the kernel refused for now)
         * keeps the PF from "configured": wait-online must not report it ready. Retried with
         * backoff, since module loads and busy devices do clear up. */
        PF_FOREACH_VF(vf, pf) {
                if (vf->state == VF_STATE_FAILED) {
                        _cleanup_free_ char *msg = NULL;

                        if (asprintf_safe(&msg, "VF %u (%s): %s", vf->index, vf->pci,
                                          strna(vf->last_error)) < 0)
                                return (void) log_oom();
                        pf_fail_message(pf, true, msg);
                        return;
                }
        }
        pf->n_failures = 0;
        if (degraded > 0)
                pf_set_state(pf, PF_STATE_CONFIGURED, "%u VF%s degraded", degraded,
                             degraded == 1 ? "" : "s");
        else
                pf_set_state(pf, PF_STATE_CONFIGURED, NULL);
}
