/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pf.h"

/* The planner: from one PF as observed, the layout declared for it and the leases on it, the
 * ordered list of actions that bring it to the declaration. Pure: it reads its inputs and
 * writes nothing, no syscall, no log, no D-Bus. The two facts that need a look at the system
 * (whether a VF is in use, whether a lease holds an index) come from the caller's oracles and
 * are asked only when the plan depends on them.
 *
 * The executor (reconcile.c) runs the list of each pass in order; Manager.Plan() (plan.c)
 * renders the list computed on the drop-ins now on disk. One list, two readers: what Plan
 * shows is what the next reload does.
 *
 * A list ends early at a step whose outcome the planner cannot know:
 *   - set-num-vfs: the new VFs start from the kernel's defaults; they are planned when they exist;
 *   - bind-driver: a rebind replaces the VF's netdev and its driver's probe may reset settings;
 *   - blocked: a count change that would destroy a VF in use (fail closed: vf_is_in_use());
 *   - wait-vfs: some VFs of the declared count do not exist yet;
 *   - invalid: the declaration does not fit this device;
 *   - read-link (executor only): the VF table must be re-read before the batch is computed. */

typedef enum PlanActionType {
        PLAN_MANAGE,        /* PF: a declaration matches it now */
        PLAN_UNMANAGE,      /* PF: no declaration anymore; left as it is */
        PLAN_INVALID,       /* PF: the declaration does not fit the device (reason) */
        PLAN_SET_AUTOPROBE, /* PF: sriov_drivers_autoprobe from -> to */
        PLAN_SET_NUM_VFS,   /* PF: sriov_numvfs from -> to (through 0) */
        PLAN_DESTROY_VF,    /* VF: destroyed by the count change before it */
        PLAN_BLOCKED,       /* PF or VF: the count change from -> to waits (reason) */
        PLAN_SET_PF_MTU,    /* PF: MTU from -> to */
        PLAN_WAIT_VFS,      /* PF: from of to VFs exist */
        PLAN_BIND_BLOCKED,  /* VF: its driver change waits while it is in use (reason) */
        PLAN_BIND_DRIVER,   /* VF: driver from_driver -> driver (NULL: the kernel's default) */
        PLAN_READ_LINK,     /* PF: re-read the VF table, then plan again (executor only) */
        PLAN_VERIFY,        /* VF: bookkeeping of written values read back (not shown) */
        PLAN_GIVE_UP,       /* VF: attr does not read back what was written: degraded */
        PLAN_SET_VFS,       /* PF: one batched RTM_SETLINK of the VF settings that differ */
        PLAN_SET_VF_MTU,    /* VF: MTU from -> to */
        PLAN_SET_POOL,      /* VF: pool (reason) changes with the declaration (Plan only) */
        _PLAN_ACTION_TYPE_MAX,
        _PLAN_ACTION_TYPE_INVALID = -EINVAL,
} PlanActionType;

typedef struct PlanAction {
        PlanActionType type;
        int vf; /* VF index, -1 for the PF */
        unsigned from, to;
        char *driver, *from_driver; /* PLAN_BIND_DRIVER */
        char *reason;               /* PLAN_INVALID, PLAN_BLOCKED, PLAN_BIND_BLOCKED, PLAN_SET_POOL */
        VfAttr attr;                /* PLAN_GIVE_UP */
        uint32_t verified, rewrite; /* PLAN_VERIFY: VF_ATTR_BITs read back / written again */
        /* PLAN_SET_VFS: what is sent (each mask: only what differs) and what was observed (mask 0:
         * the kernel did not list the VF), n_vfs entries each. */
        VfSettings *want, *have;
        size_t n_vfs;
} PlanAction;

typedef struct PlanActions {
        PlanAction *actions;
        size_t n_actions, n_allocated;
} PlanActions;

typedef struct PlannerInput {
        const PhysicalFunction *pf; /* observed: attributes, link (VF table), VFs and their bookkeeping */
        const PfConfig *config;     /* declared; NULL: no declaration matches */
        /* The declaration replaces the PF's (Plan of a reload): what pf_set_config() resets is
         * taken as reset (refused settings asked again, failed binds retried). */
        bool fresh_config;
        bool retry_failed; /* failed binds may be retried (backoff expired, config changed) */
        bool has_netlink;  /* rtnetlink is there to set MTUs and VF settings */
        bool link_stale;   /* the VF table must be re-read before the batch: plan PLAN_READ_LINK */
        /* Whether destroying/rebinding vf would break a consumer, and why (vf_is_in_use()). */
        bool (*vf_in_use)(const VirtualFunction *vf, char **ret_reason, void *userdata);
        /* A lease on an index below `below` of the PF, whether or not its VF object exists:
         * true with the reason. */
        bool (*lease_blocks)(const PhysicalFunction *pf, unsigned below, char **ret_reason, void *userdata);
        void *userdata;
} PlannerInput;

int planner_plan_pf(const PlannerInput *in, PlanActions *ret);
void plan_actions_done(PlanActions *a);

/* True for actions that are not shown nor compared (bookkeeping, re-reads). */
bool plan_action_is_internal(const PlanAction *a);

/* The action's name on D-Bus ("set-num-vfs", "configure-vf", ...). PLAN_SET_VFS is shown as
 * one "configure-vf" per VF: see plan_action_format_vf(). */
const char *plan_action_type_to_string(PlanActionType t);
/* The reason shown with the action ("sriov_numvfs 2 -> 4 (all VFs are recreated)"). For
 * PLAN_SET_VFS, i picks the VF entry; ignored otherwise. Returns -ENOMEM or 0. */
int plan_action_reason(const PlanAction *a, size_t i, char **ret);
/* The VF index an entry i of the action is about, -1 for the PF. */
int plan_action_vf(const PlanAction *a, size_t i);
/* How many rows the action is shown as: n_vfs for PLAN_SET_VFS, 0 if internal, else 1. */
size_t plan_action_n_rows(const PlanAction *a);

/* The settings that differ between desired and observed (VF_ATTR_BIT mask); an attribute the
 * kernel did not report counts as different. */
uint32_t vf_settings_diff(const VfSettings *want, const VfSettings *have);

/* Whether the declaration fits the device (count within sriov_totalvfs, ranges within the
 * count): 0, or -ERANGE with a message for the admin (FILE:LINE in it). */
int planner_check_layout(const PfConfig *c, unsigned total_vfs, char **ret_message);

/* Writes of one value that do not read back before the VF is degraded instead. */
#define PLANNER_LOST_WRITES_MAX 3
