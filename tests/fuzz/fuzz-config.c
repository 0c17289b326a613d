/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the drop-in parser: any bytes as a file's text. Beyond "no crash, no
 * leak, no UB" it checks the loader's promises: a file either contributes entries or errors,
 * never both; every error names the file; every accepted entry satisfies the validation. */

#include <stdint.h>

#include "config.h"
#include "log.h"
#include "planner.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PATH "/etc/sriov.d/50-fuzz.conf"

#define CHECK(expr)                                                       \
        do {                                                              \
                if (!(expr)) {                                            \
                        fprintf(stderr, "invariant failed: %s\n", #expr); \
                        abort();                                          \
                }                                                         \
        } while (0)

static void check_entry(const PfConfig *c)
{
        PfIdentity id = {.interface = "ens3f0", .pci = "0000:81:00.0", .vendor = 0x15b3, .device = 0x101b};
        _cleanup_free_ char *msg = NULL;

        CHECK(streq(c->file, PATH));
        CHECK(c->match.interface || c->match.pci || c->match.has_vendor || c->match.has_device ||
              c->match.has_mac);
        CHECK(c->num_vfs == NUM_VFS_MAX || (c->num_vfs >= 0 && c->num_vfs <= (int) CONFIG_NUM_VFS_MAX));
        CHECK(c->mtu == 0 || (c->mtu >= 68 && c->mtu <= 65535));
        CHECK(c->n_vfs <= CONFIG_VF_ENTRIES_MAX);

        for (size_t i = 0; i < c->n_vfs; i++) {
                const VfLayout *vf = &c->vfs[i];

                CHECK(vf->pool);
                CHECK(vf->first <= vf->last);
                CHECK(c->num_vfs == NUM_VFS_MAX || vf->last < (unsigned) c->num_vfs);
                CHECK(vf->settings.vlan <= 4095 && vf->settings.qos <= 7);
                CHECK((vf->settings.mask & ~VF_ATTR_ALL) == 0);
                CHECK(vf->mac_mode != VF_MAC_FIXED || vf->first == vf->last);
                CHECK(config_driver_name_is_known(vf->driver));
                for (size_t j = 0; j < i; j++)
                        CHECK(vf->first > c->vfs[j].last || vf->last < c->vfs[j].first);
                CHECK(pf_config_vf_layout(c, vf->first) == vf);
        }

        (void) pf_match_test(&c->match, &id);
        (void) pf_config_num_vfs(c, 64);
        if (planner_check_layout(c, 64, &msg) == -ERANGE)
                CHECK(msg != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_(config_set_freep) ConfigSet *set = NULL;
        PfIdentity id = {.interface = "ens3f0", .pci = "0000:81:00.0"};

        if (log_get_max_level() != LOG_EMERG)
                log_set_max_level(LOG_EMERG); /* rejected files are the normal case here */

        set = calloc(1, sizeof(ConfigSet));
        if (!set)
                return 0;
        if (config_set_add_buffer(set, PATH, (const char *) data, size) < 0)
                return 0;

        CHECK(strv_length(set->files) == 1);
        CHECK(!set->errors || set->n_pfs == 0);
        CHECK(strv_length(set->errors) <= CONFIG_ERRORS_MAX + 1);
        STRV_FOREACH(e, set->errors)
                CHECK(strncmp(*e, PATH ":", strlen(PATH) + 1) == 0);
        for (size_t i = 0; i < set->n_pfs; i++)
                check_entry(&set->pfs[i]);
        (void) config_set_match(set, &id, true);
        return 0;
}
