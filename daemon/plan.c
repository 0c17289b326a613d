/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "plan.h"
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

static int plan_vf(Plan *p, const PfConfig *c, VirtualFunction *vf)
{
        const VfLayout *l = c ? pf_config_vf_layout(c, vf->index) : NULL;
        VirtualFunction tmp = *vf;
        const char *want_driver = l ? l->driver : NULL;
        const VfSettings *have;
        VfSettings s;
        uint32_t diff;
        int r;

        if (!streq(vf->pool, l ? l->pool : "")) {
                r = plan_add(p, PLAN_OBJECT_VF, vf->pci, "set-pool", "pool '%s' -> '%s'", vf->pool,
                             l ? l->pool : "");
                if (r < 0)
                        return r;
        }
        if (want_driver && !streq_ptr(vf->driver, want_driver)) {
                r = plan_add(p, PLAN_OBJECT_VF, vf->pci, "bind-driver", "%s -> %s%s", strna(vf->driver),
                             want_driver, vf->allocated ? " (skipped while allocated)" : "");
                if (r < 0)
                        return r;
        }
        tmp.layout = l;
        tmp.unsupported = 0;
        vf_desired_settings(&tmp, &s);
        have = link_info_find_vf(vf->pf->link, vf->index);
        diff = vf_settings_diff(&s, have);
        if (diff) {
                char what[512] = "";

                /* "vlan 0 qos 0 802.1Q -> 100 qos 0 802.1Q, trust off -> on": names and values as
                 * vf-attr.c words them. Attributes the driver refused before are planned again:
                 * a reload asks again (pf_set_config()). */
                for (VfAttr a = 0; a < _VF_ATTR_MAX; a++)
                        if (diff & VF_ATTR_BIT(a)) {
                                char from[64], to[64];
                                size_t len = strlen(what);

                                /* Not reported by the driver: no "from". */
                                from[0] = 0;
                                if (have && (have->mask & VF_ATTR_BIT(a))) {
                                        from[0] = ' ';
                                        vf_attr_format(have, a, from + 1, sizeof(from) - 1);
                                }
                                vf_attr_format(&s, a, to, sizeof(to));
                                snprintf(what + len, sizeof(what) - len, "%s%s%s -> %s", len > 0 ? ", " : "",
                                         vf_attr_to_string(a), from, to);
                        }
                r = plan_add(p, PLAN_OBJECT_VF, vf->pci, "configure-vf", "%s", what);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int plan_pf(Plan *p, ConfigSet *set, PhysicalFunction *pf)
{
        const PfConfig *c;
        VirtualFunction *vf;
        PfIdentity id;
        unsigned desired;
        int r;

        pf_identity(pf, &id);
        c = config_set_match(set, &id, false);
        if (!c && pf->config) {
                STRV_FOREACH(e, set->errors)
                        if (strncmp(*e, pf->config->file, strlen(pf->config->file)) == 0)
                                return plan_add(p, PLAN_OBJECT_PF, pf->pci, "keep",
                                                "%s is rejected, its current declaration stays",
                                                pf->config->file);
                return plan_add(p, PLAN_OBJECT_PF, pf->pci, "unmanage",
                                "no drop-in matches anymore; its VFs stay as they are");
        }
        if (!c)
                return 0;
        if (!pf->config) {
                r = plan_add(p, PLAN_OBJECT_PF, pf->pci, "manage", "matched by %s:%u", c->file, c->line);
                if (r < 0)
                        return r;
        }
        desired = pf_config_num_vfs(c, pf->total_vfs);
        if (desired != pf->num_vfs) {
                r = plan_add(p, PLAN_OBJECT_PF, pf->pci, "set-num-vfs",
                             "sriov_numvfs %u -> %u (all VFs are recreated)", pf->num_vfs, desired);
                if (r < 0)
                        return r;
                PF_FOREACH_VF(vf, pf) {
                        _cleanup_free_ char *why = NULL;

                        if (vf_is_in_use(vf, &why))
                                r = plan_add(p, PLAN_OBJECT_VF, vf->pci, "blocked",
                                             "%s: the change waits until it is released", why);
                        else
                                r = plan_add(p, PLAN_OBJECT_VF, vf->pci, "destroy-vf",
                                             "VF %u is destroyed and recreated", vf->index);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        PF_FOREACH_VF(vf, pf) {
                r = plan_vf(p, c, vf);
                if (r < 0)
                        return r;
        }
        return 0;
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
