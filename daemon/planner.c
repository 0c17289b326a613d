/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>

#include "planner.h"
#include "util.h"

/* No I/O here: the inputs are read, the list is written, nothing else. */

_printf_(1, 2) static char *asprintf_safe_ret(const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

uint32_t vf_settings_diff(const VfSettings *want, const VfSettings *have)
{
        uint32_t diff = 0;

        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                uint32_t bit = VF_ATTR_BIT(a);

                if (!(want->mask & bit))
                        continue;
                if (!have || !(have->mask & bit) || !vf_attr_converged(want, have, a))
                        diff |= bit;
        }
        return diff;
}

void plan_actions_done(PlanActions *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n_actions; i++) {
                PlanAction *a = &p->actions[i];

                free(a->driver);
                free(a->from_driver);
                free(a->reason);
                free(a->want);
                free(a->have);
        }
        p->actions = mfree(p->actions);
        p->n_actions = p->n_allocated = 0;
}

static PlanAction *plan_push(PlanActions *p, PlanActionType type, int vf)
{
        PlanAction *a;

        /* A converged pass of a 256-VF PF plans 256 verifications: grow geometrically. */
        if (p->n_actions == p->n_allocated) {
                size_t n = MAX(p->n_allocated * 2, (size_t) 8);

                a = reallocarray(p->actions, n, sizeof(PlanAction));
                if (!a)
                        return NULL;
                p->actions = a;
                p->n_allocated = n;
        }
        a = &p->actions[p->n_actions++];
        *a = (PlanAction){.type = type, .vf = vf, .attr = _VF_ATTR_INVALID};
        return a;
}

static int plan_add(PlanActions *p, PlanActionType type, int vf, unsigned from, unsigned to)
{
        PlanAction *a = plan_push(p, type, vf);

        if (!a)
                return -ENOMEM;
        a->from = from;
        a->to = to;
        return 0;
}

/* Takes reason (NULL: -ENOMEM). */
static int plan_add_reason(PlanActions *p, PlanActionType type, int vf, unsigned from, unsigned to,
                           char *reason)
{
        PlanAction *a;

        if (!reason)
                return -ENOMEM;
        a = plan_push(p, type, vf);
        if (!a) {
                free(reason);
                return -ENOMEM;
        }
        a->from = from;
        a->to = to;
        a->reason = reason;
        return 0;
}

int planner_check_layout(const PfConfig *c, unsigned total_vfs, char **ret_message)
{
        unsigned desired = pf_config_num_vfs(c, total_vfs);

        *ret_message = NULL;
        if (c->num_vfs == NUM_VFS_MAX && total_vfs == 0)
                return asprintf_safe(
                               ret_message,
                               "num_vfs = \"max\" (%s:%u), but this device does not report sriov_totalvfs",
                               c->file, c->line) < 0
                               ? -ENOMEM
                               : -ERANGE;
        /* total_vfs 0: not reported (netdevsim); the kernel's answer to the write decides. */
        if (c->num_vfs != NUM_VFS_MAX && total_vfs > 0 && (unsigned) c->num_vfs > total_vfs)
                return asprintf_safe(ret_message,
                                     "num_vfs = %d (%s:%u) exceeds sriov_totalvfs = %u: raise the VF limit "
                                     "in firmware",
                                     c->num_vfs, c->file, c->line, total_vfs) < 0
                               ? -ENOMEM
                               : -ERANGE;
        for (size_t i = 0; i < c->n_vfs; i++)
                if (c->vfs[i].last >= desired)
                        return asprintf_safe(
                                       ret_message, "range %u-%u (%s:%u) is beyond the %u VFs of this PF",
                                       c->vfs[i].first, c->vfs[i].last, c->file, c->vfs[i].line, desired) < 0
                                       ? -ENOMEM
                                       : -ERANGE;
        return 0;
}

static const VfLayout *vf_layout_in(const PlannerInput *in, const VirtualFunction *vf)
{
        return pf_config_vf_layout(in->config, vf->index);
}

static bool vf_driver_wrong_for(const VirtualFunction *vf, const VfLayout *l)
{
        const char *want = l ? l->driver : NULL;

        if (!vf->syspath)
                return false; /* no device, no driver */
        if (want)
                return !streq_ptr(vf->driver, want);
        /* Declared driver removed from the config: hand the VF back to the kernel's choice. */
        return vf->driver_override != NULL && !isempty(vf->driver_override);
}

/* The count change and what blocks it: any count change destroys every VF (the kernel goes
 * through 0), so one VF in use, or a lease on any index, blocks it. Fail closed: the oracle
 * counts what it cannot tell as in use. Every blocker is listed, each VF once. */
static int plan_num_vfs(const PlannerInput *in, unsigned desired, PlanActions *p, bool *ret_blocked)
{
        const PhysicalFunction *pf = in->pf;
        VirtualFunction *vf;
        bool blocked = false;
        int r;

        PF_FOREACH_VF(vf, pf) {
                char *why = NULL;

                if (!in->vf_in_use(vf, &why, in->userdata)) {
                        free(why);
                        continue;
                }
                r = plan_add_reason(p, PLAN_BLOCKED, (int) vf->index, pf->num_vfs, desired,
                                    why ?: strdup("in use"));
                if (r < 0)
                        return r;
                blocked = true;
        }
        /* A lease blocks whether or not its VF object exists now (a VF whose device has not
         * been seen yet, or was dropped by a failed read, is still someone's). */
        if (!blocked) {
                char *why = NULL;

                if (in->lease_blocks(pf, pf->num_vfs, &why, in->userdata)) {
                        r = plan_add_reason(p, PLAN_BLOCKED, -1, pf->num_vfs, desired,
                                            why ?: strdup("leased"));
                        if (r < 0)
                                return r;
                        blocked = true;
                } else
                        free(why);
        }
        *ret_blocked = blocked;
        if (blocked)
                return 0;
        r = plan_add(p, PLAN_SET_NUM_VFS, -1, pf->num_vfs, desired);
        if (r < 0)
                return r;
        PF_FOREACH_VF(vf, pf) {
                r = plan_add(p, PLAN_DESTROY_VF, (int) vf->index, 0, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int plan_binds(const PlannerInput *in, unsigned desired, PlanActions *p, unsigned *ret_rebound)
{
        const PhysicalFunction *pf = in->pf;
        VirtualFunction *vf;
        int r;

        PF_FOREACH_VF(vf, pf) {
                const VfLayout *l = vf_layout_in(in, vf);
                char *why = NULL;
                PlanAction *a;

                if (vf->index >= desired || !vf_driver_wrong_for(vf, l))
                        continue;
                /* A bind that failed is retried with the PF's backoff, not on every pass. */
                if (vf->state == VF_STATE_FAILED && !in->retry_failed)
                        continue;
                /* A consumer's VF is not moved between drivers under it. */
                if (in->vf_in_use(vf, &why, in->userdata)) {
                        r = plan_add_reason(p, PLAN_BIND_BLOCKED, (int) vf->index, 0, 0,
                                            why ?: strdup("in use"));
                        if (r < 0)
                                return r;
                        continue;
                }
                free(why);
                a = plan_push(p, PLAN_BIND_DRIVER, (int) vf->index);
                if (!a)
                        return -ENOMEM;
                if ((l && l->driver && !(a->driver = strdup(l->driver))) ||
                    (vf->driver && !(a->from_driver = strdup(vf->driver))))
                        return -ENOMEM;
                *ret_rebound += 1;
        }
        return 0;
}

/* What we last wrote stands in for what the kernel does not report (IB GUIDs on some
 * drivers, VFs beyond a truncated list): such an attribute is not rewritten every pass. And a
 * value that reads back different right after we wrote it is one the driver silently does not
 * keep: writing it again would loop (write, link event, re-read, write...), so after a few
 * tries the VF is given up on for it (PLAN_GIVE_UP). Drift made later by someone else is
 * still corrected: by then the write was verified (PLAN_VERIFY clears it). */
static int plan_filter_diff(const VirtualFunction *vf, const VfSettings *want, const VfSettings *have,
                            uint32_t *diff, PlanActions *p)
{
        uint32_t have_mask = have ? have->mask : 0, verified = vf->verify_mask & ~*diff, rewrite = 0;
        int r;

        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                uint32_t bit = VF_ATTR_BIT(a);

                if (!(*diff & bit) || !(vf->applied_mask & bit) || !vf_attr_converged(want, &vf->applied, a))
                        continue;
                if (!(have_mask & bit)) {
                        *diff &= ~bit;
                        continue;
                }
                if (!(vf->verify_mask & bit))
                        continue;
                /* A VF driver initialising can overwrite a value once right after our write
                 * (igbvf's reset during probe does): write again, a few times, before
                 * concluding that the driver does not keep it. */
                if (vf->lost[a] + 1 < PLANNER_LOST_WRITES_MAX) {
                        rewrite |= bit;
                        continue;
                }
                *diff &= ~bit;
                r = plan_add(p, PLAN_GIVE_UP, (int) vf->index, vf->lost[a] + 1, 0);
                if (r < 0)
                        return r;
                p->actions[p->n_actions - 1].attr = a;
        }
        if (verified || rewrite) {
                PlanAction *a = plan_push(p, PLAN_VERIFY, (int) vf->index);

                if (!a)
                        return -ENOMEM;
                a->verified = verified;
                a->rewrite = rewrite;
        }
        return 0;
}

static int plan_vf_settings(const PlannerInput *in, unsigned desired, PlanActions *p)
{
        const PhysicalFunction *pf = in->pf;
        _cleanup_free_ VfSettings *want = NULL, *have = NULL;
        VirtualFunction *vf;
        PlanAction *a;
        size_t n = 0;
        int r;

        PF_FOREACH_VF(vf, pf) {
                const VfSettings *h;
                VfSettings s;
                uint32_t diff;

                if (vf->index >= desired)
                        continue;
                h = link_info_find_vf(pf->link, vf->index);
                vf_settings_declared(vf, vf_layout_in(in, vf), in->config,
                                     in->fresh_config ? 0 : vf->unsupported, &s);
                diff = vf_settings_diff(&s, h);
                r = plan_filter_diff(vf, &s, h, &diff, p);
                if (r < 0)
                        return r;
                if (diff == 0)
                        continue;
                s.mask = diff; /* minimal diff: only what differs travels */
                if (!want) {   /* a converged PF allocates nothing */
                        want = malloc(sizeof(VfSettings) * desired);
                        have = malloc(sizeof(VfSettings) * desired);
                        if (!want || !have)
                                return -ENOMEM;
                }
                want[n] = s;
                if (h)
                        have[n] = *h;
                else
                        have[n] = (VfSettings){.index = vf->index};
                n++;
        }
        if (n == 0)
                return 0;
        a = plan_push(p, PLAN_SET_VFS, -1);
        if (!a)
                return -ENOMEM;
        a->want = TAKE_PTR(want);
        a->have = TAKE_PTR(have);
        a->n_vfs = n;
        return 0;
}

static int plan_vf_mtus(const PlannerInput *in, unsigned desired, PlanActions *p)
{
        VirtualFunction *vf;
        int r;

        PF_FOREACH_VF(vf, in->pf) {
                const VfLayout *l = vf_layout_in(in, vf);

                if (vf->index >= desired || !l || l->mtu == 0 || vf->ifindex <= 0 || vf->mtu == l->mtu ||
                    !in->has_netlink)
                        continue;
                r = plan_add(p, PLAN_SET_VF_MTU, (int) vf->index, vf->mtu, l->mtu);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int plan_pools(const PlannerInput *in, PlanActions *p)
{
        VirtualFunction *vf;
        int r;

        PF_FOREACH_VF(vf, in->pf) {
                const VfLayout *l = vf_layout_in(in, vf);
                const char *want = l ? l->pool : "";

                if (streq(vf->pool, want))
                        continue;
                r = plan_add_reason(p, PLAN_SET_POOL, (int) vf->index, 0, 0,
                                    asprintf_safe_ret("pool '%s' -> '%s'", vf->pool, want));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int planner_plan(const PlannerInput *in, PlanActions *p)
{
        const PhysicalFunction *pf = in->pf;
        const PfConfig *c = in->config;
        unsigned desired, present = 0;
        unsigned rebound = 0;
        bool blocked;
        char *msg;
        int r;

        if (!c)
                return pf->state != PF_STATE_UNMANAGED ? plan_add(p, PLAN_UNMANAGE, -1, 0, 0) : 0;
        if (pf->state == PF_STATE_UNMANAGED) {
                r = plan_add(p, PLAN_MANAGE, -1, 0, 0);
                if (r < 0)
                        return r;
        }
        /* A reload re-reads the pools from the declaration before anything runs. */
        if (in->fresh_config) {
                r = plan_pools(in, p);
                if (r < 0)
                        return r;
        }

        r = planner_check_layout(c, pf->total_vfs, &msg);
        if (r == -ERANGE)
                return plan_add_reason(p, PLAN_INVALID, -1, 0, 0, msg);
        if (r < 0)
                return r;
        desired = pf_config_num_vfs(c, pf->total_vfs);

        /* drivers_autoprobe first: it decides whether the VFs about to be created get a driver. */
        if (c->drivers_autoprobe >= 0 && pf->drivers_autoprobe != c->drivers_autoprobe) {
                r = plan_add(p, PLAN_SET_AUTOPROBE, -1, (unsigned) pf->drivers_autoprobe,
                             (unsigned) c->drivers_autoprobe);
                if (r < 0)
                        return r;
        }
        if (desired != pf->num_vfs)
                return plan_num_vfs(in, desired, p, &blocked);

        /* The PF's MTU is read from the link: a stale one would be written again. */
        if (c->mtu > 0 && in->link_stale && pf->ifindex > 0 && in->has_netlink)
                return plan_add(p, PLAN_READ_LINK, -1, 0, 0);
        if (c->mtu > 0 && pf->link && pf->link->mtu != c->mtu && in->has_netlink) {
                r = plan_add(p, PLAN_SET_PF_MTU, -1, pf->link->mtu, c->mtu);
                if (r < 0)
                        return r;
        }
        for (unsigned i = 0; i < desired && i < pf->n_vf_slots; i++)
                present += !!pf->vfs[i];
        if (present < desired)
                return plan_add(p, PLAN_WAIT_VFS, -1, present, desired);

        r = plan_binds(in, desired, p, &rebound);
        if (r < 0)
                return r;
        /* A rebind replaces the VF's netdev and lets the VF driver's probe reset what the PF
         * holds (igbvf's does): the rest is planned against what the binds leave. */
        if (rebound)
                return 0;
        if (pf->ifindex > 0 && in->has_netlink) {
                if (in->link_stale || !pf->link)
                        return plan_add(p, PLAN_READ_LINK, -1, 0, 0);
                r = plan_vf_settings(in, desired, p);
                if (r < 0)
                        return r;
        }
        return plan_vf_mtus(in, desired, p);
}

int planner_plan_pf(const PlannerInput *in, PlanActions *ret)
{
        PlanActions p = {};
        int r;

        assert(in && in->pf && in->vf_in_use && in->lease_blocks);
        r = planner_plan(in, &p);
        if (r < 0) {
                plan_actions_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

/* ---- how a plan is shown ------------------------------------------------------------------ */

static const char *const plan_action_type_table[_PLAN_ACTION_TYPE_MAX] = {
        [PLAN_MANAGE] = "manage",           [PLAN_UNMANAGE] = "unmanage",
        [PLAN_INVALID] = "invalid",         [PLAN_SET_AUTOPROBE] = "configure-pf",
        [PLAN_SET_NUM_VFS] = "set-num-vfs", [PLAN_DESTROY_VF] = "destroy-vf",
        [PLAN_BLOCKED] = "blocked",         [PLAN_SET_PF_MTU] = "configure-pf",
        [PLAN_WAIT_VFS] = "wait-vfs",       [PLAN_BIND_BLOCKED] = "blocked",
        [PLAN_BIND_DRIVER] = "bind-driver", [PLAN_READ_LINK] = "read-link",
        [PLAN_VERIFY] = "verify",           [PLAN_GIVE_UP] = "degrade-vf",
        [PLAN_SET_VFS] = "configure-vf",    [PLAN_SET_VF_MTU] = "configure-vf",
        [PLAN_SET_POOL] = "set-pool",
};

const char *plan_action_type_to_string(PlanActionType t)
{
        return t >= 0 && t < _PLAN_ACTION_TYPE_MAX ? plan_action_type_table[t] : NULL;
}

bool plan_action_is_internal(const PlanAction *a)
{
        return a->type == PLAN_READ_LINK || a->type == PLAN_VERIFY;
}

size_t plan_action_n_rows(const PlanAction *a)
{
        if (plan_action_is_internal(a))
                return 0;
        return a->type == PLAN_SET_VFS ? a->n_vfs : 1;
}

int plan_action_vf(const PlanAction *a, size_t i)
{
        if (a->type == PLAN_SET_VFS)
                return i < a->n_vfs ? (int) a->want[i].index : -1;
        return a->vf;
}

/* "vlan 0 qos 0 802.1Q -> 100 qos 0 802.1Q, trust off -> on": names and values as vf-attr.c
 * words them; no "from" for what the driver does not report. */
static int format_vf_settings(const VfSettings *want, const VfSettings *have, char **ret)
{
        char what[512] = "";

        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                char from[64], to[64];
                size_t len = strlen(what);

                if (!(want->mask & VF_ATTR_BIT(a)))
                        continue;
                from[0] = 0;
                if (have->mask & VF_ATTR_BIT(a)) {
                        from[0] = ' ';
                        vf_attr_format(have, a, from + 1, sizeof(from) - 1);
                }
                vf_attr_format(want, a, to, sizeof(to));
                snprintf(what + len, sizeof(what) - len, "%s%s%s -> %s", len > 0 ? ", " : "",
                         vf_attr_to_string(a), from, to);
        }
        *ret = strdup(what);
        return *ret ? 0 : -ENOMEM;
}

int plan_action_reason(const PlanAction *a, size_t i, char **ret)
{
        char *s = NULL;

        switch (a->type) {
        case PLAN_MANAGE:
                s = strdup("a declaration matches it");
                break;
        case PLAN_UNMANAGE:
                s = strdup("no drop-in matches anymore; its VFs stay as they are");
                break;
        case PLAN_SET_AUTOPROBE:
                s = asprintf_safe_ret("sriov_drivers_autoprobe %s -> %u",
                                      a->from == (unsigned) -1 ? "unknown" : (a->from ? "1" : "0"), a->to);
                break;
        case PLAN_SET_NUM_VFS:
                s = asprintf_safe_ret("sriov_numvfs %u -> %u (all VFs are recreated)", a->from, a->to);
                break;
        case PLAN_DESTROY_VF:
                s = asprintf_safe_ret("VF %d is destroyed and recreated", a->vf);
                break;
        case PLAN_BLOCKED:
                s = asprintf_safe_ret("num_vfs %u -> %u waits: %s", a->from, a->to, a->reason);
                break;
        case PLAN_BIND_BLOCKED:
                s = asprintf_safe_ret("%s: the driver change waits until it is released", a->reason);
                break;
        case PLAN_SET_PF_MTU:
                s = asprintf_safe_ret("mtu %u -> %u", a->from, a->to);
                break;
        case PLAN_WAIT_VFS:
                s = asprintf_safe_ret("waiting for VFs (%u of %u)", a->from, a->to);
                break;
        case PLAN_BIND_DRIVER:
                s = asprintf_safe_ret("%s -> %s", a->from_driver ?: "(none)", a->driver ?: "(default)");
                break;
        case PLAN_GIVE_UP:
                s = asprintf_safe_ret("%s does not keep the value (reads back different after %u writes)",
                                      vf_attr_to_string(a->attr), a->from);
                break;
        case PLAN_SET_VFS:
                if (i >= a->n_vfs)
                        return -EINVAL;
                return format_vf_settings(&a->want[i], &a->have[i], ret);
        case PLAN_SET_VF_MTU:
                s = asprintf_safe_ret("mtu %u -> %u", a->from, a->to);
                break;
        case PLAN_INVALID:
        case PLAN_SET_POOL:
                s = strdup(strempty(a->reason));
                break;
        case PLAN_READ_LINK:
        case PLAN_VERIFY:
        default:
                s = strdup("");
                break;
        }
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
