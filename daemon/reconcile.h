/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pf.h"
#include "planner.h"

/* Drives one PF from observed towards desired state. Each call does what can be done now
 * and returns; blocking writes go to a worker and rtnetlink requests to the asynchronous
 * queue, and their completion re-queues the PF, so the PF's state machine advances over
 * several calls:
 *
 *   unmanaged (no config)
 *   pending -> configuring -> configured
 *                          -> blocked  (a change would destroy a VF in use)
 *                          -> failed   (with LastError; retried with backoff if it may help)
 *
 * Only differences are written: a second pass over a converged PF writes nothing. */
void reconcile_pf(PhysicalFunction *pf);
/* Queues an RTM_GETLINK of the PF's VF table (the PF is busy until it is answered); the reply
 * replaces pf->link and matches the declaration again. fail_on_error: a failed read fails the
 * PF (the planner needs the table), else it only drops the table. No netdev: drops it now. */
int reconcile_read_link(PhysicalFunction *pf, bool fail_on_error);
/* Frees the steps still on m's list (their requests were dropped with the Netlink). */
void reconcile_free_steps(Manager *m);
/* Marks the PF failed with "WHAT: strerror"; retried with backoff when waiting may help. */
void reconcile_pf_fail(PhysicalFunction *pf, int error, const char *what);

/* The planner's input for PF under declaration c, with the executor's oracles (vf_is_in_use(),
 * the lease store). fresh_config: c replaces the PF's declaration (Plan of a reload). */
void reconcile_planner_input(PhysicalFunction *pf, const PfConfig *c, bool fresh_config, PlannerInput *ret);

/* Tests: told of every action the executor runs, in order, as it starts it (internal
 * bookkeeping actions excepted). One process-wide observer; NULL to stop. */
typedef void (*ReconcileObserver)(PhysicalFunction *pf, const PlanAction *a, void *userdata);
void reconcile_set_observer(ReconcileObserver o, void *userdata);

/* Writes of one value that do not read back before the VF is degraded instead. */
#define RECONCILE_LOST_WRITES_MAX  PLANNER_LOST_WRITES_MAX

#define RECONCILE_VF_WAIT_USEC     (300ULL * 1000000ULL)
#define RECONCILE_BACKOFF_MAX_USEC (300ULL * 1000000ULL)
