/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "allocation.h"
#include "lease.h"
#include "log.h"
#include "util.h"

void vf_attach_lease(VirtualFunction *vf, const Lease *l)
{
        bool was = vf->allocated;
        int r;

        vf->allocated = l != NULL;
        r = free_and_strdup(&vf->owner, l ? l->owner : NULL);
        if (r < 0)
                log_oom();
        if (was != vf->allocated || r > 0)
                manager_vf_changed(vf->pf->manager, vf);
}

int manager_allocate(Manager *m, const char *pool, const char *owner, const AllocateHints *h,
                     const char *caller, VirtualFunction **ret)
{
        return manager_allocate_bound(m, pool, owner, h, &(LeaseBinding){.caller = caller}, ret);
}

int manager_allocate_bound(Manager *m, const char *pool, const char *owner, const AllocateHints *h,
                           const LeaseBinding *b, VirtualFunction **ret)
{
        const Lease *stored;
        VirtualFunction *vf;
        Lease l;
        int r;

        r = pool_pick_vf(m, pool, h, &vf);
        if (r < 0)
                return r;
        l = (Lease){
                .pf_pci = vf->pf->pci,
                .vf_index = vf->index,
                .vf_pci = vf->pci,
                .pool = (char *) pool,
                .owner = (char *) owner,
                .bind_to_caller = b->caller != NULL,
                .caller = (char *) strempty(b->caller),
                .bind_unit = (char *) strempty(b->unit),
                .bind_unit_invocation = (char *) strempty(b->unit ? b->unit_invocation : NULL),
                .bind_pid = b->pid,
                .bind_pid_start = b->pid > 0 ? b->pid_start : 0,
                .bind_boot_id = (char *) strempty(b->pid > 0 ? b->boot_id : NULL),
        };
        /* Durable before anything else changes: a crash after this point keeps the lease. */
        r = lease_store_add(m->leases, &l, &stored);
        if (r < 0)
                return r;
        vf_attach_lease(vf, stored);
        log_vf_full_errno(vf, LOG_INFO, 0, "VF %s allocated to '%s' from pool '%s'.", vf->pci, owner, pool);
        *ret = vf;
        return 0;
}

static VirtualFunction *vf_of_lease(Manager *m, const char *pf_pci, unsigned index)
{
        PhysicalFunction *pf = manager_get_pf(m, pf_pci);

        return pf && index < pf->n_vf_slots ? pf->vfs[index] : NULL;
}

/* After a release the declared settings come back (the consumer owned MAC and VLAN), and a
 * PF blocked by this lease may proceed. */
static void vf_released(Manager *m, VirtualFunction *vf)
{
        log_vf_full_errno(vf, LOG_INFO, 0, "VF %s released by '%s'.", vf->pci, strempty(vf->owner));
        vf_attach_lease(vf, NULL);
        vf->pf->link_stale = true;
        manager_pf_dirty(m, vf->pf);
}

int manager_release_vf(Manager *m, VirtualFunction *vf)
{
        int r;

        r = lease_store_remove(m->leases, vf->pf->pci, vf->index);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == -ENOENT && !vf->allocated)
                return r;
        vf_released(m, vf);
        return 0;
}

typedef struct LeaseMatch {
        const char *owner, *caller, *unit, *keep_invocation;
        uint32_t pid;
        uint64_t pid_start;
} LeaseMatch;

static bool lease_matches(const Lease *l, const LeaseMatch *k)
{
        if (k->owner)
                return streq(l->owner, k->owner);
        if (k->caller)
                return l->bind_to_caller && streq_ptr(l->caller, k->caller);
        if (k->unit)
                return streq_ptr(l->bind_unit, k->unit) &&
                       !(k->keep_invocation && streq_ptr(l->bind_unit_invocation, k->keep_invocation));
        return k->pid > 0 && l->bind_pid == k->pid && l->bind_pid_start == k->pid_start;
}

static int release_matching(Manager *m, const LeaseMatch *match, unsigned *ret_n)
{
        _cleanup_(strv_freep) char **pfs = NULL;
        _cleanup_free_ unsigned *idx = NULL;
        size_t n = 0, k = 0;
        int r = 0;

        /* Collect first: removing changes the store under an iteration. */
        LEASE_STORE_FOREACH(l, m->leases) {
                unsigned *t;

                if (!lease_matches(l, match))
                        continue;
                t = realloc(idx, sizeof(unsigned) * (n + 1));
                if (!t)
                        return -ENOMEM;
                idx = t;
                if (strv_extend(&pfs, l->pf_pci) < 0)
                        return -ENOMEM;
                idx[n++] = l->vf_index;
        }
        for (size_t i = 0; i < n; i++) {
                VirtualFunction *vf;

                r = lease_store_remove(m->leases, pfs[i], idx[i]);
                if (r < 0)
                        break;
                k++;
                vf = vf_of_lease(m, pfs[i], idx[i]);
                if (vf)
                        vf_released(m, vf);
        }
        if (ret_n)
                *ret_n = (unsigned) k;
        return r < 0 ? r : 0;
}

int manager_release_owner(Manager *m, const char *owner, unsigned *ret_n)
{
        return release_matching(m, &(LeaseMatch){.owner = owner}, ret_n);
}

int manager_release_caller(Manager *m, const char *caller, unsigned *ret_n)
{
        return release_matching(m, &(LeaseMatch){.caller = caller}, ret_n);
}

int manager_release_unit(Manager *m, const char *unit, const char *keep_invocation, unsigned *ret_n)
{
        return release_matching(m, &(LeaseMatch){.unit = unit, .keep_invocation = keep_invocation}, ret_n);
}

int manager_release_pid(Manager *m, uint32_t pid, uint64_t pid_start, unsigned *ret_n)
{
        return release_matching(m, &(LeaseMatch){.pid = pid, .pid_start = pid_start}, ret_n);
}

const Lease *manager_find_pf_lease(Manager *m, const PhysicalFunction *pf, unsigned below)
{
        /* Leases are sorted by (PF, index): the PF's are one run. */
        for (unsigned i = 0; i < below; i++) {
                const Lease *l = lease_store_find(m->leases, pf->pci, i);

                if (l)
                        return l;
        }
        return NULL;
}
