/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* A pool is a name that VF ranges declare; its members are the VFs that carry it now. Pools
 * are derived from the model, never configured on their own. */
struct Pool {
        Manager *manager;
        char *name;
        unsigned total, free;
        unsigned old_total, old_free; /* for change detection in pools_sync() */
        bool seen;
        bool announced; /* ManagerHooks.pool_added called */
};

typedef struct AllocateHints {
        int numa_node;   /* -1: any */
        const char *pf;  /* PF PCI address or interface, NULL: any */
        const char *pci; /* a specific VF, NULL: any */
        bool allow_degraded;
} AllocateHints;

/* Recomputes pools from VFs and declarations; calls the pool hooks for what moved. The
 * model runs it once per loop iteration after a change (Manager.pools_source); read paths
 * call it to be current within an iteration. */
void pools_sync(Manager *m);
void pools_free(Manager *m);
Pool *pool_get(Manager *m, const char *name);
/* The pool's members counted now (Total/Free on the bus are read live: the cached counts
 * only decide which signals pools_sync() sends). */
void pool_count(const Pool *p, unsigned *ret_total, unsigned *ret_free);
bool vf_is_free(const VirtualFunction *vf, bool allow_degraded);

/* Picks a free, healthy VF of the pool: the hinted NUMA node first, then the lowest PCI
 * address (deterministic). -ENOENT: no such pool; -EBUSY: none free. */
int pool_pick_vf(Manager *m, const char *pool, const AllocateHints *h, VirtualFunction **ret);
