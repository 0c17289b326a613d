/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The /etc/sriov.d loader (SPEC §2): finds the drop-ins, parses them with libconfig, validates
 * every value and turns each accepted file into PfConfig entries. A file with any error is
 * rejected whole, with "FILE:LINE: message" lines meant for an admin.
 *
 * This file is the ConfigSet's entry points: loading (config-files.c finds the drop-ins,
 * config-lexer.c and config-parse.c read each) and the queries the model asks. The key table
 * and the driver list are config-keys.c's. */

#include <fnmatch.h>

#include "config-internal.h"
#include "config.h"
#include "log.h"
#include "util.h"

int config_set_load(const char *root, const char *const *dirs, ConfigSet **ret)
{
        _cleanup_(config_set_freep) ConfigSet *set = NULL;
        DropIn *drop_ins = NULL;
        size_t n_drop_ins = 0;
        int r = 0;

        if (!ret)
                return -EINVAL;

        set = calloc(1, sizeof(ConfigSet));
        if (!set)
                return -ENOMEM;
        r = collect_drop_ins(root, dirs, &drop_ins, &n_drop_ins);
        if (r < 0)
                return r;

        FOREACH_ARRAY(d, drop_ins, n_drop_ins) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;

                if (d->masked) {
                        log_debug("%s is masked.", d->path);
                        continue;
                }
                r = read_drop_in(d->target, &text, &len);
                if (r == -ENOMEM)
                        goto finish;
                if (r < 0) {
                        /* Not readable counts as a bad file: reported, and the rest loads. */
                        if (!config_set_intern_file(set, d->path) ||
                            strv_extendf(&set->errors, "%s:1: cannot read file: %s", d->path, strerror(-r)) <
                                    0) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        continue;
                }
                r = config_set_add_buffer(set, d->path, text, len);
                if (r < 0)
                        goto finish;
        }
        r = 0;
        *ret = TAKE_PTR(set);

finish:
        drop_ins_free(drop_ins, n_drop_ins);
        return r;
}

/* ---- queries ---- */

bool pf_match_test(const PfMatch *m, const PfIdentity *id)
{
        bool any = false;

        if (!m || !id)
                return false;
        if (m->interface) {
                /* A PF without a netdev (driver unbound, or IB-only) cannot match by name. */
                if (!id->interface || fnmatch(m->interface, id->interface, 0) != 0)
                        return false;
                any = true;
        }
        if (m->pci) {
                if (!id->pci || fnmatch(m->pci, id->pci, 0) != 0)
                        return false;
                any = true;
        }
        if (m->has_vendor) {
                if (m->vendor != id->vendor)
                        return false;
                any = true;
        }
        if (m->has_device) {
                if (m->device != id->device)
                        return false;
                any = true;
        }
        if (m->has_mac) {
                if (!id->has_mac || !ether_addr_equal(&m->mac, &id->mac))
                        return false;
                any = true;
        }
        /* An empty match would claim every PF; the parser rejects it, this is belt and braces. */
        return any;
}

const PfConfig *config_set_match(const ConfigSet *set, const PfIdentity *id, bool log_later)
{
        const PfConfig *owner = NULL;

        if (!set || !id)
                return NULL;
        for (size_t i = 0; i < set->n_pfs; i++) {
                const PfConfig *c = &set->pfs[i];

                if (!pf_match_test(&c->match, id))
                        continue;
                if (!owner) {
                        owner = c;
                        if (!log_later)
                                break;
                        continue;
                }
                log_object_full_errno(LOG_NOTICE, 0, id->pci, id->interface,
                                      "Entry %s:%u also matches, ignored: the PF is configured by %s:%u.",
                                      c->file, c->line, owner->file, owner->line);
        }
        return owner;
}

int config_set_match_before_name(const ConfigSet *set, const PfIdentity *id, const PfConfig **ret)
{
        if (!set || !id)
                return -EINVAL;
        for (size_t i = 0; i < set->n_pfs; i++) {
                const PfConfig *c = &set->pfs[i];
                PfMatch rest = c->match;
                bool by_name = rest.interface || rest.has_mac;

                rest.interface = NULL;
                rest.has_mac = false;
                /* Only a name or MAC given: it may match, or not, once they are known. */
                if (!rest.pci && !rest.has_vendor && !rest.has_device)
                        return 0;
                /* Fails on what is known: it cannot match whatever the name turns out to be. */
                if (!pf_match_test(&rest, id))
                        continue;
                if (by_name)
                        return 0;
                *ret = c;
                return 1;
        }
        *ret = NULL;
        return 1;
}

const VfLayout *pf_config_vf_layout(const PfConfig *c, unsigned vf_index)
{
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_vfs; i++)
                if (vf_index >= c->vfs[i].first && vf_index <= c->vfs[i].last)
                        return &c->vfs[i];
        return NULL;
}

unsigned pf_config_num_vfs(const PfConfig *c, unsigned total_vfs)
{
        if (!c)
                return 0;
        if (c->num_vfs == NUM_VFS_MAX)
                return total_vfs;
        /* Not clamped: asking for more than the device has is the planner's error to report
         * (planner_check_layout()), not something to paper over. */
        return (unsigned) c->num_vfs;
}
