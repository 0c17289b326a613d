/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"
#include "pool.h"

/* Allocation and release of VFs: the model's side of Allocate/Release/ReleaseOwner and of a
 * bus client going away, without D-Bus. One rule keeps disk and bus in agreement: the lease
 * store changes first (durably), the model follows only what the store did. A failure
 * leaves both as they were, or both changed (lease.c rolls the store forward or back past
 * its point of no return). */

/* Picks a VF of `pool` (hints as for pool_pick_vf()) and leases it to `owner`; `caller`
 * (a unique bus name) binds the lease to that connection, NULL does not. -ENOENT: no such
 * pool; -EBUSY: no free VF; other -errno: the lease could not be recorded. */
int manager_allocate(Manager *m, const char *pool, const char *owner, const AllocateHints *h,
                     const char *caller, VirtualFunction **ret);
/* What else a lease's life is bound to, besides its owner's Release (all optional; the lease
 * ends with the first of them to end). The process and unit are checked and watched by the
 * caller (liveness.c, unit-watch-bus.c) before the lease is made. */
typedef struct LeaseBinding {
        const char *caller;          /* unique bus name */
        const char *unit;            /* systemd unit ... */
        const char *unit_invocation; /* ... in this run of it (InvocationID, 32 hex) */
        uint32_t pid;                /* process ... */
        uint64_t pid_start;          /* ... with this start time ... */
        const char *boot_id;         /* ... in this boot */
} LeaseBinding;
int manager_allocate_bound(Manager *m, const char *pool, const char *owner, const AllocateHints *h,
                           const LeaseBinding *b, VirtualFunction **ret);

/* Ends the VF's lease. -ENOENT if it has none. */
int manager_release_vf(Manager *m, VirtualFunction *vf);
/* End every lease of an owner / every lease bound to a caller, whether or not the VF exists
 * now. On error the leases ended so far stay ended; *ret_n (optional) counts them. */
int manager_release_owner(Manager *m, const char *owner, unsigned *ret_n);
int manager_release_caller(Manager *m, const char *caller, unsigned *ret_n);
/* Ends the leases bound to a run of `unit`: all of them (keep_invocation NULL: the unit
 * stopped or failed), or those of runs other than keep_invocation (the unit runs, as a new
 * run). Same error rule as above. */
int manager_release_unit(Manager *m, const char *unit, const char *keep_invocation, unsigned *ret_n);
/* Ends the leases bound to the process (pid, start time): it exited. */
int manager_release_pid(Manager *m, uint32_t pid, uint64_t pid_start, unsigned *ret_n);
/* The first lease on one of the PF's VFs with an index below `below` (the VFs a count change
 * would destroy), whether a VF object exists for it or not; NULL if none. */
const Lease *manager_find_pf_lease(Manager *m, const PhysicalFunction *pf, unsigned below);
/* Makes the VF's model state match its lease (NULL: none). */
void vf_attach_lease(VirtualFunction *vf, const Lease *l);
