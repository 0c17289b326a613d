/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pf.h"

/* Drives one PF from observed towards desired state. Each call does what can be done now
 * and returns; blocking writes go to a worker and re-queue the PF when they finish, so the
 * PF's state machine advances over several calls:
 *
 *   unmanaged (no config)
 *   pending -> configuring -> configured
 *                          -> blocked  (a change would destroy a VF in use)
 *                          -> failed   (with LastError; retried with backoff if it may help)
 *
 * Only differences are written: a second pass over a converged PF writes nothing. */
void reconcile_pf(PhysicalFunction *pf);
/* Marks the PF failed with "WHAT: strerror"; retried with backoff when waiting may help. */
void reconcile_pf_fail(PhysicalFunction *pf, int error, const char *what);

/* The settings that differ between desired and observed (VF_ATTR_BIT mask); an attribute the
 * kernel did not report counts as different, except in a truncated list where the VF is
 * unknown and everything declared is sent. */
uint32_t vf_settings_diff(const VfSettings *want, const VfSettings *have);

/* Whether the PF's VF count would change under its current config, and what blocks it. */
int pf_plan_num_vfs(PhysicalFunction *pf, unsigned *ret_desired, char **ret_blocker);

/* Writes of one value that do not read back before the VF is degraded instead. */
#define RECONCILE_LOST_WRITES_MAX  3

#define RECONCILE_VF_WAIT_USEC     (300ULL * 1000000ULL)
#define RECONCILE_BACKOFF_MAX_USEC (300ULL * 1000000ULL)
