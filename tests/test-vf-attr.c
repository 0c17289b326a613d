/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VF attribute table (daemon/vf-attr.c): the docs and the D-Bus interface file say what
 * it says, every row survives a trip through the fake kernel, and query_rss (added as one
 * row) is declared, applied, reported, planned and refused like the others. */
#include <linux/if_link.h>

#include "fake-substrate.h"
#include "macro.h"
#include "netlink-wait.h"
#include "tests.h"

#include "bus-util.h"
#include "log.h"
#include "pf.h"
#include "plan.h"
#include "util.h"

#define SEC 1000000ULL

static char *read_source(const char *rel)
{
        const char *srcdir = getenv("TESTS_SRCDIR");
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char *text = NULL;
        size_t len = 0;

        if (!srcdir)
                return NULL;
        ASSERT_OK(asprintf_safe(&path, "%s/../%s", srcdir, rel));
        f = fopen(path, "re");
        ASSERT_TRUE(f);
        ASSERT_TRUE(getdelim(&text, &len, '\0', f) > 0);
        return text;
}

TEST(rows_are_complete)
{
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                const VfAttrInfo *i = vf_attr_info(a);

                ASSERT_TRUE(i);
                ASSERT_EQ(i->attr, a);
                ASSERT_TRUE(i->name && i->put && i->parse && i->format);
                ASSERT_TRUE(i->fields[0].size > 0 && i->ifla[0].type > 0);
                ASSERT_EQ(vf_attr_from_string(i->name), a);
                for (size_t k = 0; k < VF_ATTR_KEYS_MAX && i->keys[k].name; k++) {
                        const VfAttrConfigKey *key;

                        /* One row per key, and no key of config-keys.c's own table. */
                        ASSERT_TRUE(vf_attr_from_config_key(i->keys[k].name, &key) == i);
                        ASSERT_TRUE(key == &i->keys[k]);
                        ASSERT_TRUE(i->keys[k].field < VF_ATTR_FIELDS_MAX &&
                                    i->fields[i->keys[k].field].size > 0);
                        ASSERT_TRUE(i->keys[k].type != VF_ATTR_CONFIG_STRING || i->keys[k].set);
                }
                for (size_t p = 0; p < VF_ATTR_PROPERTIES_MAX && i->properties[p].name; p++) {
                        const VfAttrProperty *prop;

                        ASSERT_TRUE(vf_attr_from_property(i->properties[p].name, &prop) == i);
                        ASSERT_TRUE(prop == &i->properties[p]);
                        ASSERT_TRUE(strchr("bqus", prop->signature[0]) && prop->signature[1] == 0);
                        ASSERT_TRUE(prop->get || prop->signature[0] != 's');
                }
        }
        ASSERT_TRUE(!vf_attr_info(_VF_ATTR_MAX));
        ASSERT_EQ(vf_attr_from_string("rate"), -EINVAL);

        size_t n;
        const ConfigKey *keys = config_known_keys(&n);

        for (size_t i = 0; i < n; i++)
                ASSERT_TRUE(!streq(keys[i].section, "vfs") || !vf_attr_from_config_key(keys[i].name, NULL));
}

/* docs/sriov.d.md: a "### `vfs.KEY`" heading for every key of the table, and every vfs.*
 * heading is a key of the table or of config-keys.c's table. */
TEST(docs_key_list_matches_table)
{
        _cleanup_free_ char *doc = read_source("docs/sriov.d.md");
        const ConfigKey *keys;
        unsigned n_table = 0, n_doc = 0;
        bool bad = false;
        size_t n;

        if (!doc) {
                fprintf(stderr, "TESTS_SRCDIR not set, skipping docs check\n");
                return;
        }
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++)
                for (size_t k = 0; k < VF_ATTR_KEYS_MAX && vf_attr_info(a)->keys[k].name; k++) {
                        _cleanup_free_ char *heading = NULL;

                        ASSERT_OK(
                                asprintf_safe(&heading, "\n### `vfs.%s`\n", vf_attr_info(a)->keys[k].name));
                        n_table++;
                        if (!strstr(doc, heading)) {
                                fprintf(stderr, "docs/sriov.d.md does not document vfs.%s\n",
                                        vf_attr_info(a)->keys[k].name);
                                bad = true;
                        }
                }
        keys = config_known_keys(&n);
        for (const char *p = doc; (p = strstr(p, "\n### `vfs.")); p++) {
                const char *name = p + strlen("\n### `vfs."), *end = strchr(name, '`');
                _cleanup_free_ char *key = NULL, *path = NULL;
                bool known;

                ASSERT_TRUE(end);
                key = strndup(name, end - name);
                ASSERT_TRUE(key);
                ASSERT_OK(asprintf_safe(&path, "vfs.%s", key));
                known = vf_attr_from_config_key(key, NULL);
                for (size_t i = 0; i < n && !known; i++)
                        known = streq(keys[i].path, path);
                n_doc++;
                if (!known) {
                        fprintf(stderr, "docs/sriov.d.md documents %s, which the loader does not take\n",
                                path);
                        bad = true;
                }
        }
        fprintf(stderr, "%u table keys, %u vfs.* headings\n", n_table, n_doc);
        ASSERT_TRUE(n_table >= 10);
        ASSERT_TRUE(!bad);
}

/* dbus/org.sriovd1.xml and docs/dbus-api.md list every property of the table on
 * VirtualFunction, with its type; the daemon's vtable carries it. */
TEST(dbus_properties_match_table)
{
        _cleanup_free_ char *xml = read_source("dbus/org.sriovd1.xml"),
                            *api = read_source("docs/dbus-api.md");
        const char *iface, *iface_end;
        unsigned n = 0;
        bool bad = false;

        if (!xml || !api) {
                fprintf(stderr, "TESTS_SRCDIR not set, skipping interface check\n");
                return;
        }
        iface = strstr(xml, "<interface name=\"org.sriovd1.VirtualFunction\">");
        ASSERT_TRUE(iface);
        iface_end = strstr(iface, "</interface>");
        ASSERT_TRUE(iface_end);
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++)
                for (size_t p = 0; p < VF_ATTR_PROPERTIES_MAX && vf_attr_info(a)->properties[p].name; p++) {
                        const VfAttrProperty *prop = &vf_attr_info(a)->properties[p];
                        _cleanup_free_ char *x = NULL, *row = NULL;
                        const char *hit;
                        bool in_vtable = false;

                        ASSERT_OK(asprintf_safe(&x, "<property name=\"%s\" type=\"%s\"", prop->name,
                                                prop->signature));
                        ASSERT_OK(asprintf_safe(&row, "\n| `%s` | `%s` |", prop->name, prop->signature));
                        hit = strstr(iface, x);
                        if (!hit || hit > iface_end) {
                                fprintf(stderr, "dbus/org.sriovd1.xml: VirtualFunction lacks %s\n", x);
                                bad = true;
                        }
                        if (!strstr(api, row)) {
                                fprintf(stderr, "docs/dbus-api.md lacks the row %s\n", row + 1);
                                bad = true;
                        }
                        for (const sd_bus_vtable *v = vf_bus_vtable(); v->type != _SD_BUS_VTABLE_END; v++)
                                if (v->type == _SD_BUS_VTABLE_PROPERTY &&
                                    streq(v->x.property.member, prop->name) &&
                                    streq(v->x.property.signature, prop->signature))
                                        in_vtable = true;
                        ASSERT_TRUE(in_vtable);
                        n++;
                }
        ASSERT_TRUE(n >= 10);
        ASSERT_TRUE(!bad);
}

/* Every row, set to a non-default value through the adapter, reads back equal. */
TEST(every_row_round_trips)
{
        _cleanup_(fake_netlink_freep) FakeNetlink *fk = fake_netlink_new();
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        _cleanup_(link_info_freep) LinkInfo *li = NULL;
        struct ether_addr mac = {{0x02, 0, 0, 0, 0x12, 0x34}};
        VfSettings want = {
                .index = 1,
                .mask = VF_ATTR_ALL,
                .mac = mac,
                .vlan = 42,
                .qos = 3,
                .vlan_proto = ETH_P_8021AD,
                .spoofchk = false,
                .trust = true,
                .link_state = IFLA_VF_LINK_STATE_DISABLE,
                .min_tx_rate = 10,
                .max_tx_rate = 500,
                .node_guid = 0x1122,
                .port_guid = 0x3344,
                .query_rss = true,
        };
        const VfSettings *got;

        ASSERT_TRUE(fk);
        ASSERT_OK(fake_netlink_add_link(fk, 7, "ib0", &mac));
        ASSERT_OK(fake_netlink_set_quirks(fk, 7, FAKE_QUIRK_IB));
        ASSERT_OK(fake_netlink_set_num_vfs(fk, 7, 2));
        ASSERT_OK(fake_netlink_new_netlink(fk, &nl));
        ASSERT_OK(netlink_wait_set_vfs(nl, 7, &want, 1));
        ASSERT_OK(netlink_wait_get_link(nl, 7, &li));
        got = link_info_find_vf(li, 1);
        ASSERT_TRUE(got);
        ASSERT_EQ(got->mask, VF_ATTR_ALL);
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                char buf[64];

                vf_attr_format(got, a, buf, sizeof(buf));
                fprintf(stderr, "%s: %s\n", vf_attr_to_string(a), buf);
                ASSERT_TRUE(vf_attr_equal(&want, got, a));
        }
        /* VF 0 was left alone: query_rss off, as the driver starts it. */
        ASSERT_TRUE(!link_info_find_vf(li, 0)->query_rss);
        ASSERT_TRUE(link_info_find_vf(li, 0)->mask & VF_ATTR_BIT(VF_ATTR_QUERY_RSS));
}

TEST(query_rss_config)
{
        _cleanup_(config_set_freep) ConfigSet *set = NULL;
        const char *ok = "physical_functions = ( { match = { interface = \"x\"; }; num_vfs = 2;\n"
                         "  vfs = ( { range = \"0\"; query_rss = true; }, { range = \"1\"; query_rss = "
                         "false; } ); } );\n";
        const char *bad = "physical_functions = ( { match = { interface = \"x\"; }; num_vfs = 2;\n"
                          "  vfs = ( { range = \"0\"; query_rss = \"on\"; } ); } );\n";

        set = calloc(1, sizeof(ConfigSet));
        ASSERT_TRUE(set);
        ASSERT_OK(config_set_add_buffer(set, "/etc/sriov.d/q.conf", ok, strlen(ok)));
        ASSERT_EQ(strv_length(set->errors), 0);
        ASSERT_EQ(set->pfs[0].vfs[0].settings.mask, VF_ATTR_BIT(VF_ATTR_QUERY_RSS));
        ASSERT_TRUE(set->pfs[0].vfs[0].settings.query_rss);
        ASSERT_EQ(set->pfs[0].vfs[1].settings.mask, VF_ATTR_BIT(VF_ATTR_QUERY_RSS));
        ASSERT_TRUE(!set->pfs[0].vfs[1].settings.query_rss);
        ASSERT_OK(config_set_add_buffer(set, "/etc/sriov.d/r.conf", bad, strlen(bad)));
        ASSERT_EQ(strv_length(set->errors), 1);
        ASSERT_STREQ(set->errors[0],
                     "/etc/sriov.d/r.conf:2: query_rss must be a boolean (true or false), got a string");
}

/* A PF whose driver has the setting gets it on every declared VF and the bus reads it back; a
 * PF whose driver lacks it (igb) degrades those VFs with the reason and still applies the rest. */
TEST(query_rss_applied_reported_refused)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        PhysicalFunction *good, *igb;
        VfSettings v;
        bool planned = false;

        ASSERT_OK(fake_substrate_new(&s));
        ASSERT_OK(fake_substrate_add_igb(s, 1, 7, NULL));
        ASSERT_OK(fake_substrate_add_igb(s, 2, 7, NULL));
        ASSERT_OK(fake_netlink_set_quirks(s->netlink, 102, FAKE_QUIRK_NO_RSS_QUERY));
        ASSERT_OK(fake_substrate_write_config(
                s, "50-test.conf",
                "physical_functions = (\n"
                "  { match = { interface = \"enp1s0\"; }; num_vfs = 3;\n"
                "    vfs = ( { range = \"0-1\"; query_rss = true; vlan = 5; } ); },\n"
                "  { match = { interface = \"enp2s0\"; }; num_vfs = 2;\n"
                "    vfs = ( { range = \"0-1\"; query_rss = true; vlan = 6; } ); } );\n"));
        ASSERT_OK(fake_substrate_manager(s, NULL));
        ASSERT_OK(manager_start(s->manager));
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
        good = manager_get_pf(s->manager, "0000:01:00.0");
        igb = manager_get_pf(s->manager, "0000:02:00.0");
        ASSERT_TRUE(good && igb);

        for (unsigned i = 0; i < 3; i++) {
                ASSERT_OK(fake_netlink_get_vf(s->netlink, 101, i, &v));
                ASSERT_EQ(v.query_rss, i < 2);                      /* VF 2 is in no range */
                ASSERT_TRUE(good->vfs[i]->state == VF_STATE_READY); /* nothing refused */
                ASSERT_TRUE(link_info_find_vf(good->link, i)->query_rss == (i < 2));
        }
        for (unsigned i = 0; i < 2; i++) {
                ASSERT_EQ(igb->vfs[i]->state, VF_STATE_DEGRADED);
                fprintf(stderr, "igb VF %u: %s\n", i, igb->vfs[i]->last_error);
                ASSERT_STREQ(igb->vfs[i]->last_error, "query_rss: Operation not supported (refused by igb)");
                ASSERT_OK(fake_netlink_get_vf(s->netlink, 102, i, &v));
                ASSERT_EQ(v.vlan, 6); /* the rest landed */
                ASSERT_TRUE(!(link_info_find_vf(igb->link, i)->mask & VF_ATTR_BIT(VF_ATTR_QUERY_RSS)));
        }

        /* Converged: a resync writes nothing, the refused one is not retried in a loop. */
        fake_substrate_reset_counts(s);
        manager_resync(s->manager);
        ASSERT_EQ(fake_substrate_settle(s, 10 * SEC), 1);
        ASSERT_EQ(fake_substrate_setlinks(s), 0);

        /* Plan words a change of it from the table. */
        ASSERT_OK(fake_substrate_write_config(
                s, "50-test.conf",
                "physical_functions = (\n"
                "  { match = { interface = \"enp1s0\"; }; num_vfs = 3;\n"
                "    vfs = ( { range = \"0-1\"; query_rss = false; vlan = 5; } ); } );\n"));
        ASSERT_OK(manager_plan(s->manager, &plan));
        for (size_t i = 0; i < plan->n_items; i++) {
                fprintf(stderr, "plan: %s %s %s\n", strna(plan->items[i].pci), plan->items[i].action,
                        plan->items[i].reason);
                if (streq(plan->items[i].action, "configure-vf") &&
                    streq(plan->items[i].reason, "query_rss on -> off"))
                        planned = true;
        }
        ASSERT_TRUE(planned);

        /* A reload does what Plan said. */
        ASSERT_OK(manager_reload(s->manager));
        ASSERT_EQ(fake_substrate_settle(s, 10 * SEC), 1);
        ASSERT_OK(fake_netlink_get_vf(s->netlink, 101, 0, &v));
        ASSERT_TRUE(!v.query_rss);
}

int main(void)
{
        log_set_max_level(LOG_DEBUG);
        RUN(rows_are_complete);
        RUN(docs_key_list_matches_table);
        RUN(dbus_properties_match_table);
        RUN(every_row_round_trips);
        RUN(query_rss_config);
        RUN(query_rss_applied_reported_refused);
        return 0;
}
