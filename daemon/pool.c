/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pool.h"
#include "log.h"
#include "util.h"

static Pool *pool_free(Pool *p)
{
        if (!p)
                return NULL;
        free(p->name);
        return mfree(p);
}

void pools_free(Manager *m)
{
        Pool *p;

        HASHMAP_FOREACH(p, m->pools)
                pool_free(p);
        m->pools = hashmap_free(m->pools);
}

Pool *pool_get(Manager *m, const char *name)
{
        return hashmap_get(m->pools, name);
}

bool vf_is_free(const VirtualFunction *vf, bool allow_degraded)
{
        if (vf->allocated)
                return false;
        if (vf->state == VF_STATE_READY)
                return vf->pf->state == PF_STATE_CONFIGURED;
        return allow_degraded && vf->state == VF_STATE_DEGRADED;
}

static int pool_touch(Manager *m, const char *name, Pool **ret)
{
        Pool *p = hashmap_get(m->pools, name);
        int r;

        if (!p) {
                p = calloc(1, sizeof(Pool));
                if (!p)
                        return -ENOMEM;
                p->manager = m;
                p->name = strdup(name);
                if (!p->name) {
                        free(p);
                        return -ENOMEM;
                }
                r = hashmap_put(m->pools, p->name, p);
                if (r < 0) {
                        pool_free(p);
                        return r;
                }
        }
        *ret = p;
        return 0;
}

void pool_count(const Pool *p, unsigned *ret_total, unsigned *ret_free)
{
        PhysicalFunction *pf;
        VirtualFunction *vf;
        unsigned total = 0, n_free = 0;

        HASHMAP_FOREACH(pf, p->manager->pfs)
                PF_FOREACH_VF(vf, pf) {
                        if (!streq(vf->pool, p->name))
                                continue;
                        total++;
                        n_free += vf_is_free(vf, false);
                }
        *ret_total = total;
        *ret_free = n_free;
}

void pools_sync(Manager *m)
{
        PhysicalFunction *pf;
        VirtualFunction *vf;
        Pool *p;

        if (!m->pools) {
                m->pools = hashmap_new_string();
                if (!m->pools) {
                        log_oom();
                        return;
                }
        }
        /* Recount from scratch; a pool neither declared nor carried by a VF goes away. */
        HASHMAP_FOREACH(p, m->pools) {
                p->seen = false;
                p->old_total = p->total;
                p->old_free = p->free;
                p->total = p->free = 0;
        }
        for (size_t i = 0; m->config && i < m->config->n_pfs; i++)
                for (size_t j = 0; j < m->config->pfs[i].n_vfs; j++) {
                        const char *name = m->config->pfs[i].vfs[j].pool;

                        if (!isempty(name) && pool_touch(m, name, &p) >= 0)
                                p->seen = true;
                }
        HASHMAP_FOREACH(pf, m->pfs)
                PF_FOREACH_VF(vf, pf) {
                        if (isempty(vf->pool) || pool_touch(m, vf->pool, &p) < 0)
                                continue;
                        p->seen = true;
                        p->total++;
                        p->free += vf_is_free(vf, false);
                }
        HASHMAP_FOREACH(p, m->pools) {
                if (!p->seen) {
                        if (p->announced && m->hooks && m->hooks->pool_removed)
                                m->hooks->pool_removed(m, p);
                        hashmap_remove(m->pools, p->name);
                        pool_free(p);
                        continue;
                }
                if (!p->announced) {
                        p->announced = true;
                        if (m->hooks && m->hooks->pool_added)
                                m->hooks->pool_added(m, p);
                } else if ((p->total != p->old_total || p->free != p->old_free) && m->hooks &&
                           m->hooks->pool_changed)
                        m->hooks->pool_changed(m, p);
        }
}

int pool_pick_vf(Manager *m, const char *pool, const AllocateHints *h, VirtualFunction **ret)
{
        VirtualFunction *best = NULL, *vf;
        PhysicalFunction *pf;
        int best_score = -1;

        if (!pool_get(m, pool))
                return -ENOENT;
        HASHMAP_FOREACH(pf, m->pfs) {
                if (h->pf && !streq(h->pf, pf->pci) && !streq_ptr(h->pf, pf->ifname))
                        continue;
                PF_FOREACH_VF(vf, pf) {
                        int score;

                        if (!streq(vf->pool, pool) || !vf_is_free(vf, h->allow_degraded))
                                continue;
                        if (h->pci && !streq(h->pci, vf->pci))
                                continue;
                        /* Healthy before degraded, NUMA-local before remote, then lowest address. */
                        score = (vf->state == VF_STATE_READY ? 2 : 0) +
                                (h->numa_node >= 0 && vf->numa_node == h->numa_node ? 1 : 0);
                        if (score > best_score || (score == best_score && strcmp(vf->pci, best->pci) < 0)) {
                                best = vf;
                                best_score = score;
                        }
                }
        }
        if (!best)
                return -EBUSY;
        *ret = best;
        return 0;
}
