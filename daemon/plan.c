/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "plan.h"
#include "planner.h"
#include "reconcile.h"
#include "util.h"

Plan *plan_free(Plan *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_items; i++) {
                free(p->items[i].pci);
                free(p->items[i].action);
                free(p->items[i].reason);
        }
        free(p->items);
        return mfree(p);
}

_printf_(5, 6) static int plan_add(Plan *p, PlanObject object, const char *pci, const char *action,
                                   const char *fmt, ...)
{
        _cleanup_free_ char *copy = NULL;
        PlanItem *items;
        va_list ap;
        char *reason;
        int r;

        if (pci) {
                copy = strdup(pci);
                if (!copy)
                        return -ENOMEM;
        }
        va_start(ap, fmt);
        r = vasprintf(&reason, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        items = realloc(p->items, sizeof(PlanItem) * (p->n_items + 1));
        if (!items) {
                free(reason);
                return -ENOMEM;
        }
        p->items = items;
        p->items[p->n_items++] = (PlanItem){
                .object = object, .pci = TAKE_PTR(copy), .action = strdup(action), .reason = reason};
        return 0;
}

static int cmp_pf(const void *a, const void *b)
{
        const PhysicalFunction *x = *(PhysicalFunction *const *) a, *y = *(PhysicalFunction *const *) b;
        return strcmp(x->pci, y->pci);
}

/* The planner's actions for pf as rows: what the executor will run after a reload, shown. */
static int plan_render(Plan *p, PhysicalFunction *pf, const PlanActions *actions)
{
        int r;

        for (size_t i = 0; i < actions->n_actions; i++) {
                const PlanAction *a = &actions->actions[i];

                for (size_t k = 0; k < plan_action_n_rows(a); k++) {
                        _cleanup_free_ char *reason = NULL;
                        int index = plan_action_vf(a, k);
                        VirtualFunction *vf =
                                index >= 0 && (unsigned) index < pf->n_vf_slots ? pf->vfs[index] : NULL;

                        r = plan_action_reason(a, k, &reason);
                        if (r < 0)
                                return r;
                        r = plan_add(p, vf ? PLAN_OBJECT_VF : PLAN_OBJECT_PF, vf ? vf->pci : pf->pci,
                                     plan_action_type_to_string(a->type), "%s", reason);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int plan_pf(Plan *p, ConfigSet *set, PhysicalFunction *pf)
{
        _cleanup_(plan_actions_done) PlanActions actions = {};
        const PfConfig *c;
        PlannerInput in;
        PfIdentity id;
        int r;

        pf_identity(pf, &id);
        c = config_set_match(set, &id, false);
        if (!c && pf->config)
                STRV_FOREACH(e, set->errors)
                        if (strncmp(*e, pf->config->file, strlen(pf->config->file)) == 0)
                                return plan_add(p, PLAN_OBJECT_PF, pf->pci, "keep",
                                                "%s is rejected, its current declaration stays",
                                                pf->config->file);
        /* The same planner the executor runs, on the declaration a reload would assign. */
        reconcile_planner_input(pf, c, true, &in);
        r = planner_plan_pf(&in, &actions);
        if (r < 0)
                return r;
        return plan_render(p, pf, &actions);
}

int manager_plan(Manager *m, Plan **ret)
{
        _cleanup_(plan_freep) Plan *p = NULL;
        _cleanup_free_ PhysicalFunction **pfs = NULL;
        PhysicalFunction *pf;
        ConfigSet *set;
        uint64_t fp;
        size_t n = 0;
        int r;

        /* Plan is open to every local user: parse the drop-ins only when they changed
         * (a stat of each, not a parse, per call), and log nothing. */
        r = config_set_fingerprint(m->root, NULL, &fp);
        if (r < 0)
                return r;
        if (!m->plan_config || m->plan_config_fingerprint != fp) {
                ConfigSet *fresh = NULL;

                r = config_set_load(m->root, NULL, &fresh);
                if (r < 0)
                        return r;
                config_set_free(m->plan_config);
                m->plan_config = fresh;
                m->plan_config_fingerprint = fp;
                m->plan_config_loads++;
        }
        set = m->plan_config;
        p = calloc(1, sizeof(Plan));
        pfs = calloc(hashmap_size(m->pfs) + 1, sizeof(PhysicalFunction *));
        if (!p || !pfs)
                return -ENOMEM;
        STRV_FOREACH(e, set->errors) {
                r = plan_add(p, PLAN_OBJECT_MANAGER, NULL, "config-error", "%s", *e);
                if (r < 0)
                        return r;
        }
        HASHMAP_FOREACH(pf, m->pfs)
                pfs[n++] = pf;
        qsort(pfs, n, sizeof(PhysicalFunction *), cmp_pf);
        for (size_t i = 0; i < n; i++) {
                r = plan_pf(p, set, pfs[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}
