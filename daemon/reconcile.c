/* SPDX-License-Identifier: LGPL-2.1-or-later */
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
         * udevd is about to deliver (on igb in the VM, ~130 ms of them). */
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

/* ---- rtnetlink settings ----------------------------------------------------------------- */

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

/* The batch failed somewhere: the kernel stopped at the first failing VF, earlier ones are
 * applied. Re-read, then finish VF by VF and attribute by attribute, to name what failed. */
static int pf_apply_vfs_one_by_one(PhysicalFunction *pf, VfSettings *want, size_t n, char **errors_summary)
{
        Manager *m = pf->manager;
        int r, first_retriable = 0;

        r = pf_refresh_link(pf);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                VirtualFunction *vf = want[i].index < pf->n_vf_slots ? pf->vfs[want[i].index] : NULL;
                const VfSettings *have = link_info_find_vf(pf->link, want[i].index);
                uint32_t diff = vf_settings_diff(&want[i], have);

                for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                        VfSettings one = want[i];

                        if (!(diff & VF_ATTR_BIT(a)))
                                continue;
                        one.mask = VF_ATTR_BIT(a);
                        r = netlink_set_vfs(m->netlink, pf->ifindex, &one, 1);
                        if (r >= 0) {
                                vf_note_applied(vf, &one);
                                pf->changes++;
                                continue;
                        }
                        if (!vf)
                                continue;
                        if (error_means_unsupported(r)) {
                                /* Reported once on the VF, not retried in a loop. */
                                vf->unsupported |= VF_ATTR_BIT(a);
                                vf->error_pass = m->n_reconcile_runs;
                                vf_set_state(vf, VF_STATE_DEGRADED, "%s: %s (refused by %s)",
                                             vf_attr_to_string(a), strerror(abs(r)), strna(pf->driver));
                                log_vf_full_errno(vf, LOG_WARNING, r, "VF %u: %s refused by %s: %m",
                                                  vf->index, vf_attr_to_string(a), strna(pf->driver));
                        } else {
                                vf->error_pass = m->n_reconcile_runs;
                                vf_set_state(vf, VF_STATE_FAILED, "%s: %s", vf_attr_to_string(a),
                                             strerror(abs(r)));
                                if (!first_retriable)
                                        first_retriable = r;
                        }
                        if (errors_summary && !*errors_summary)
                                (void) asprintf_safe(errors_summary, "VF %u %s: %s", vf->index,
                                                     vf_attr_to_string(a), strerror(abs(r)));
                }
        }
        pf->link_stale = true;
        return first_retriable;
}

static int pf_apply_vf_settings(PhysicalFunction *pf, const PlanAction *a, char **errors_summary)
{
        Manager *m = pf->manager;
        int r;

        r = netlink_set_vfs(m->netlink, pf->ifindex, a->want, a->n_vfs);
        if (r >= 0) {
                test_crash_point("after-batch");
                for (size_t i = 0; i < a->n_vfs; i++)
                        vf_note_applied(a->want[i].index < pf->n_vf_slots ? pf->vfs[a->want[i].index] : NULL,
                                        &a->want[i]);
                pf->changes += a->n_vfs;
                pf->link_stale = true;
                return 0;
        }
        log_pf_full_errno(pf, LOG_DEBUG, r, "Batched VF update failed (%m), finishing VF by VF.");
        return pf_apply_vfs_one_by_one(pf, a->want, a->n_vfs, errors_summary);
}

static void pf_apply_vf_mtu(PhysicalFunction *pf, const PlanAction *a)
{
        VirtualFunction *vf = (unsigned) a->vf < pf->n_vf_slots ? pf->vfs[a->vf] : NULL;
        int r;

        if (!vf)
                return;
        r = netlink_set_mtu(pf->manager->netlink, vf->ifindex, a->to);
        if (r < 0) {
                vf->error_pass = pf->manager->n_reconcile_runs;
                vf_set_state(vf, VF_STATE_DEGRADED, "mtu %u: %s", a->to, strerror(abs(r)));
                return;
        }
        vf->mtu = a->to;
        pf->changes++;
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
        vf->error_pass = pf->manager->n_reconcile_runs;
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
        EXEC_REPLAN, /* the VF table was re-read: plan again */
} ExecResult;

/* Runs the plan's actions in order, each as planned. */
static ExecResult reconcile_execute(PhysicalFunction *pf, const PlanActions *p)
{
        Manager *m = pf->manager;
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
                        r = netlink_set_mtu(m->netlink, pf->ifindex, a->to);
                        if (r < 0) {
                                reconcile_pf_fail(pf, r, "setting PF mtu");
                                return EXEC_STOP;
                        }
                        pf->link_stale = true;
                        pf->changes++;
                        break;
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
                        r = pf_refresh_link(pf);
                        if (r < 0) {
                                reconcile_pf_fail(pf, r, "applying VF settings");
                                return EXEC_STOP;
                        }
                        return EXEC_REPLAN;
                case PLAN_VERIFY:
                        vf_note_verified(pf, a);
                        break;
                case PLAN_GIVE_UP:
                        executed(pf, a);
                        vf_give_up(pf, a);
                        break;
                case PLAN_SET_VFS: {
                        _cleanup_free_ char *errors = NULL;

                        executed(pf, a);
                        r = pf_apply_vf_settings(pf, a, &errors);
                        if (r < 0) {
                                reconcile_pf_fail(pf, r, errors ?: "applying VF settings");
                                return EXEC_STOP;
                        }
                        break;
                }
                case PLAN_SET_VF_MTU:
                        executed(pf, a);
                        pf_apply_vf_mtu(pf, a);
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
        VirtualFunction *vf;
        unsigned degraded = 0;
        ExecResult e = EXEC_REPLAN;
        int r;

        if (pf->job_running)
                return; /* its completion re-queues the PF */
        pf->dirty = false;
        pf->manager->n_reconcile_runs++;

        if (c && pf->retry_source)
                return; /* backing off; the timer re-queues */

        /* Plan, run the plan; once more after the VF table was re-read. */
        for (unsigned pass = 0; e == EXEC_REPLAN && pass < 3; pass++) {
                _cleanup_(plan_actions_done) PlanActions p = {};
                PlannerInput in;

                reconcile_planner_input(pf, c, false, &in);
                r = planner_plan_pf(&in, &p);
                if (r < 0) {
                        reconcile_pf_fail(pf, r, "planning");
                        return;
                }
                e = reconcile_execute(pf, &p);
        }
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
                if (vf->error_pass == pf->manager->n_reconcile_runs)
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
