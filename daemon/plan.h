/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* What a Reload with the drop-ins now on disk would do, computed without touching anything:
 * which PFs change owner, which VF counts change (and so destroy every VF of the PF), which
 * leases would block that, and which VF settings and drivers would be rewritten. */

/* What an item is about. The bus names it by its object path (manager-bus.c). */
typedef enum PlanObject {
        PLAN_OBJECT_MANAGER, /* config errors */
        PLAN_OBJECT_PF,
        PLAN_OBJECT_VF,
} PlanObject;

typedef struct PlanItem {
        PlanObject object;
        char *pci;    /* of the PF or VF; NULL for the manager */
        char *action; /* manage, unmanage, set-num-vfs, destroy-vf, blocked, configure-vf, bind-driver,
                         set-pool, config-error */
        char *reason;
} PlanItem;

typedef struct Plan {
        PlanItem *items;
        size_t n_items;
} Plan;

int manager_plan(Manager *m, Plan **ret);
Plan *plan_free(Plan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Plan *, plan_free);
