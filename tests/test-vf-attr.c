/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VF attribute table (daemon/vf-attr.c): the docs and the D-Bus interface file say what
 * it says, and every row survives a trip through the fake kernel. */
#include <linux/if_link.h>

#include "fake-substrate.h"
#include "macro.h"
#include "tests.h"

#include "bus-util.h"
#include "log.h"
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

                        /* One row per key, and no key of config.c's own table. */
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
 * heading is a key of the table or of config.c's table. */
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
        ASSERT_TRUE(n_table >= 9);
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
        ASSERT_TRUE(n >= 9);
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
        };
        const VfSettings *got;

        ASSERT_TRUE(fk);
        ASSERT_OK(fake_netlink_add_link(fk, 7, "ib0", &mac));
        ASSERT_OK(fake_netlink_set_quirks(fk, 7, FAKE_QUIRK_IB));
        ASSERT_OK(fake_netlink_set_num_vfs(fk, 7, 2));
        ASSERT_OK(fake_netlink_new_netlink(fk, &nl));
        ASSERT_OK(netlink_set_vfs(nl, 7, &want, 1));
        ASSERT_OK(netlink_get_link(nl, 7, &li));
        got = link_info_find_vf(li, 1);
        ASSERT_TRUE(got);
        ASSERT_EQ(got->mask, VF_ATTR_ALL);
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                char buf[64];

                vf_attr_format(got, a, buf, sizeof(buf));
                fprintf(stderr, "%s: %s\n", vf_attr_to_string(a), buf);
                ASSERT_TRUE(vf_attr_equal(&want, got, a));
        }
}

int main(void)
{
        log_set_max_level(LOG_DEBUG);
        RUN(rows_are_complete);
        RUN(docs_key_list_matches_table);
        RUN(dbus_properties_match_table);
        RUN(every_row_round_trips);
        return 0;
}
