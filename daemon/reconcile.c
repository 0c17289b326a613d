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

/* ---- settings diff ---------------------------------------------------------------------- */

uint32_t vf_settings_diff(const VfSettings *want, const VfSettings *have)
{
        uint32_t diff = 0;

        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                uint32_t bit = VF_ATTR_BIT(a);

                if (!(want->mask & bit))
                        continue;
                if (!have || !(have->mask & bit) || !vf_attr_converged(want, have, a))
                        diff |= bit;
        }
        return diff;
}

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

int pf_plan_num_vfs(PhysicalFunction *pf, unsigned *ret_desired, char **ret_blocker)
{
        unsigned desired = pf_desired_num_vfs(pf);
        VirtualFunction *vf;

        *ret_desired = desired;
        if (ret_blocker)
                *ret_blocker = NULL;
        if (desired == pf->num_vfs)
                return 0;
        /* Any count change destroys every VF (the kernel goes through 0). */
        PF_FOREACH_VF(vf, pf) {
                if (vf_is_in_use(vf, ret_blocker))
                        return -EBUSY;
        }
        /* A lease blocks whether or not its VF object exists now (a VF whose device has not
         * been seen yet, or was dropped by a failed read, is still someone's). */
        {
                const Lease *l = manager_find_pf_lease(pf->manager, pf, pf->num_vfs);

                if (l) {
                        if (ret_blocker)
                                (void) asprintf_safe(ret_blocker, "VF %u is allocated to '%s'", l->vf_index,
                                                     l->owner);
                        return -EBUSY;
                }
        }
        return 1;
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
        /* Declared driver removed from the config: hand the VF back to the kernel's choice. */
        return vf->driver_override != NULL && !isempty(vf->driver_override);
}

static int pf_start_binds(PhysicalFunction *pf, unsigned desired, bool *ret_started)
{
        _cleanup_(bind_job_freep) BindJob *j = NULL;
        VirtualFunction *vf;
        int r;

        *ret_started = false;
        j = calloc(1, sizeof(BindJob));
        if (!j)
                return -ENOMEM;
        j->manager = pf->manager;
        j->pf_pci = strdup(pf->pci);
        if (!j->pf_pci)
                return -ENOMEM;
        PF_FOREACH_VF(vf, pf) {
                BindItem *it;

                if (vf->index >= desired || !vf_driver_wrong(vf))
                        continue;
                /* A bind that failed is retried with the PF's backoff, not on every pass. */
                if (vf->state == VF_STATE_FAILED && !pf->retry_failed)
                        continue;
                /* A consumer's VF is not moved between drivers under it. */
                if (vf_is_in_use(vf, NULL))
                        continue;
                it = realloc(j->items, sizeof(BindItem) * (j->n_items + 1));
                if (!it)
                        return -ENOMEM;
                j->items = it;
                it = &j->items[j->n_items++];
                *it = (BindItem){
                        .pci = strdup(vf->pci),
                        .syspath = strdup(vf->syspath),
                        .want = vf->layout && vf->layout->driver ? strdup(vf->layout->driver) : NULL,
                };
                if (!it->pci || !it->syspath)
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

/* What we last wrote stands in for what the kernel does not report (IB GUIDs on some
 * drivers, VFs beyond a truncated list): such an attribute is not rewritten every pass. And a
 * value that reads back different right after we wrote it is one the driver silently does not
 * keep: writing it again would loop (write, link event, re-read, write...), so the VF is
 * degraded with the reason instead. Drift made later by someone else is still corrected: by
 * then the write was verified. */
static uint32_t vf_filter_diff(VirtualFunction *vf, const VfSettings *want, const VfSettings *have,
                               uint32_t diff)
{
        uint32_t have_mask = have ? have->mask : 0, verified = vf->verify_mask & ~diff;

        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                uint32_t bit = VF_ATTR_BIT(a);

                if (!(diff & bit) || !(vf->applied_mask & bit) || !vf_attr_converged(want, &vf->applied, a))
                        continue;
                if (!(have_mask & bit)) {
                        diff &= ~bit;
                        continue;
                }
                if (!(vf->verify_mask & bit))
                        continue;
                /* A VF driver initialising can overwrite a value once right after our write
                 * (igbvf's reset during probe does): write again, a few times, before
                 * concluding that the driver does not keep it. */
                if (++vf->lost[a] < RECONCILE_LOST_WRITES_MAX)
                        continue;
                vf->unsupported |= bit;
                vf->error_pass = vf->pf->manager->n_reconcile_runs;
                vf_set_state(vf, VF_STATE_DEGRADED, "%s: %s does not keep the value (reads back different)",
                             vf_attr_to_string(a), strna(vf->pf->driver));
                log_vf_full_errno(vf, LOG_WARNING, 0,
                                  "VF %u: %s not kept by %s after %u writes, giving up on it.", vf->index,
                                  vf_attr_to_string(a), strna(vf->pf->driver), (unsigned) vf->lost[a]);
                diff &= ~bit;
        }
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++)
                if (verified & VF_ATTR_BIT(a))
                        vf->lost[a] = 0;
        vf->verify_mask &= ~verified;
        return diff;
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

static int pf_apply_vf_settings(PhysicalFunction *pf, unsigned desired, char **errors_summary)
{
        Manager *m = pf->manager;
        _cleanup_free_ VfSettings *want = NULL;
        VirtualFunction *vf;
        size_t n = 0;
        int r;

        if (pf->ifindex <= 0 || !m->netlink)
                return 0;
        if (pf->link_stale || !pf->link) {
                r = pf_refresh_link(pf);
                if (r < 0)
                        return r;
        }
        want = calloc(MAX(desired, 1u), sizeof(VfSettings));
        if (!want)
                return -ENOMEM;
        PF_FOREACH_VF(vf, pf) {
                VfSettings s;
                uint32_t diff;

                if (vf->index >= desired)
                        continue;
                vf_desired_settings(vf, &s);
                diff = vf_settings_diff(&s, link_info_find_vf(pf->link, vf->index));
                diff = vf_filter_diff(vf, &s, link_info_find_vf(pf->link, vf->index), diff);
                if (diff == 0)
                        continue;
                s.mask = diff; /* minimal diff: only what differs travels */
                want[n++] = s;
        }
        if (n == 0)
                return 0;
        r = netlink_set_vfs(m->netlink, pf->ifindex, want, n);
        if (r >= 0) {
                test_crash_point("after-batch");
                for (size_t i = 0; i < n; i++)
                        vf_note_applied(want[i].index < pf->n_vf_slots ? pf->vfs[want[i].index] : NULL,
                                        &want[i]);
                pf->changes += n;
                pf->link_stale = true;
                return 0;
        }
        log_pf_full_errno(pf, LOG_DEBUG, r, "Batched VF update failed (%m), finishing VF by VF.");
        return pf_apply_vfs_one_by_one(pf, want, n, errors_summary);
}

static void pf_apply_vf_mtus(PhysicalFunction *pf, unsigned desired)
{
        VirtualFunction *vf;
        int r;

        PF_FOREACH_VF(vf, pf) {
                if (vf->index >= desired || !vf->layout || vf->layout->mtu == 0 || vf->ifindex <= 0 ||
                    vf->mtu == vf->layout->mtu || !pf->manager->netlink)
                        continue;
                r = netlink_set_mtu(pf->manager->netlink, vf->ifindex, vf->layout->mtu);
                if (r < 0) {
                        vf->error_pass = pf->manager->n_reconcile_runs;
                        vf_set_state(vf, VF_STATE_DEGRADED, "mtu %u: %s", vf->layout->mtu, strerror(abs(r)));
                        continue;
                }
                vf->mtu = vf->layout->mtu;
                pf->changes++;
        }
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

static int pf_check_layout(PhysicalFunction *pf, unsigned desired)
{
        const PfConfig *c = pf->config;

        if (c->num_vfs == NUM_VFS_MAX && pf->total_vfs == 0) {
                pf_set_state(pf, PF_STATE_FAILED,
                             "num_vfs = \"max\" (%s:%u), but this device does not report sriov_totalvfs",
                             c->file, c->line);
                return -ERANGE;
        }
        /* total_vfs 0: not reported (netdevsim); the kernel's answer to the write decides. */
        if (c->num_vfs != NUM_VFS_MAX && pf->total_vfs > 0 && (unsigned) c->num_vfs > pf->total_vfs) {
                pf_set_state(
                        pf, PF_STATE_FAILED,
                        "num_vfs = %d (%s:%u) exceeds sriov_totalvfs = %u: raise the VF limit in firmware",
                        c->num_vfs, c->file, c->line, pf->total_vfs);
                return -ERANGE;
        }
        for (size_t i = 0; i < c->n_vfs; i++)
                if (c->vfs[i].last >= desired) {
                        pf_set_state(pf, PF_STATE_FAILED,
                                     "range %u-%u (%s:%u) is beyond the %u VFs of this PF", c->vfs[i].first,
                                     c->vfs[i].last, c->file, c->vfs[i].line, desired);
                        return -ERANGE;
                }
        return 0;
}

void reconcile_pf(PhysicalFunction *pf)
{
        _cleanup_free_ char *blocker = NULL, *errors = NULL;
        const PfConfig *c = pf->config;
        VirtualFunction *vf;
        unsigned desired, present = 0, degraded = 0;
        bool started;
        int r;

        if (pf->job_running)
                return; /* its completion re-queues the PF */
        pf->dirty = false;
        pf->manager->n_reconcile_runs++;

        if (!c) {
                pf->wait_source = sd_event_source_disable_unref(pf->wait_source);
                pf_set_state(pf, PF_STATE_UNMANAGED, NULL);
                return;
        }
        if (pf->retry_source)
                return; /* backing off; the timer re-queues */

        desired = pf_desired_num_vfs(pf);
        if (pf_check_layout(pf, desired) < 0)
                return;

        /* drivers_autoprobe first: it decides whether the VFs about to be created get a driver. */
        if (c->drivers_autoprobe >= 0 && pf->drivers_autoprobe != c->drivers_autoprobe) {
                r = sysfs_write_attr(pf->syspath, "sriov_drivers_autoprobe",
                                     c->drivers_autoprobe ? "1" : "0");
                if (r < 0) {
                        reconcile_pf_fail(pf, r, "writing sriov_drivers_autoprobe");
                        return;
                }
                pf->drivers_autoprobe = c->drivers_autoprobe;
                pf->changes++;
        }

        r = pf_plan_num_vfs(pf, &desired, &blocker);
        if (r == -EBUSY) {
                pf_set_state(pf, PF_STATE_BLOCKED, "num_vfs %u -> %u would destroy VFs: %s", pf->num_vfs,
                             desired, blocker);
                return;
        }
        if (r > 0) {
                pf_set_state(pf, PF_STATE_CONFIGURING, "setting sriov_numvfs %u -> %u", pf->num_vfs,
                             desired);
                r = pf_start_num_vfs(pf, desired);
                if (r < 0)
                        reconcile_pf_fail(pf, r, "starting sriov_numvfs write");
                return;
        }

        if (c->mtu > 0 && pf->link && pf->link->mtu != c->mtu && pf->manager->netlink) {
                r = netlink_set_mtu(pf->manager->netlink, pf->ifindex, c->mtu);
                if (r < 0) {
                        reconcile_pf_fail(pf, r, "setting PF mtu");
                        return;
                }
                pf->link_stale = true;
                pf->changes++;
        }

        for (unsigned i = 0; i < desired && i < pf->n_vf_slots; i++)
                present += !!pf->vfs[i];
        if (present < desired) {
                pf_wait_for_vfs(pf, present, desired);
                return;
        }
        pf->wait_source = sd_event_source_disable_unref(pf->wait_source);

        r = pf_start_binds(pf, desired, &started);
        pf->retry_failed = false;
        if (r < 0) {
                reconcile_pf_fail(pf, r, "binding VF drivers");
                return;
        }
        if (started) {
                pf_set_state(pf, PF_STATE_CONFIGURING, "binding VF drivers");
                return;
        }

        r = pf_apply_vf_settings(pf, desired, &errors);
        if (r < 0) {
                reconcile_pf_fail(pf, r, errors ?: "applying VF settings");
                return;
        }
        pf_apply_vf_mtus(pf, desired);

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
