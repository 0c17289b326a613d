/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The config loader as an admin sees it: what a drop-in turns into, and the exact
 * "FILE:LINE: message" a bad one produces. */

#include <fcntl.h>
#include <ftw.h>
#include <linux/if_ether.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "tests.h"
#include "util.h"

#define F "/t/50-x.conf"

/* ---- helpers ---- */

static ConfigSet *parse(const char *text)
{
        ConfigSet *set = calloc(1, sizeof(ConfigSet));

        ASSERT_TRUE(set);
        ASSERT_OK(config_set_add_buffer(set, F, text, strlen(text)));
        return set;
}

static ConfigSet *parse_ok(const char *text)
{
        ConfigSet *set = parse(text);

        if (set->errors) {
                STRV_FOREACH(e, set->errors)
                        fprintf(stderr, "unexpected error: %s\n", *e);
                abort();
        }
        return set;
}

/* Asserts that text is rejected with exactly these errors, in this order. */
#define EXPECT_ERRORS(text, ...)                                                                      \
        do {                                                                                          \
                _cleanup_(config_set_freep) ConfigSet *_s = parse(text);                              \
                const char *_exp[] = {__VA_ARGS__, NULL};                                             \
                size_t _n = 0;                                                                        \
                for (; _exp[_n]; _n++)                                                                \
                        ASSERT_STREQ(_n < strv_length(_s->errors) ? _s->errors[_n] : NULL, _exp[_n]); \
                ASSERT_EQ(strv_length(_s->errors), _n);                                               \
                ASSERT_EQ(_s->n_pfs, 0);                                                              \
                ASSERT_EQ(strv_length(_s->files), 1);                                                 \
        } while (0)

/* A PF entry whose line 3 holds the key under test: errors are reported at F:3. */
#define PF_WITH(keyline)                                                     \
        "physical_functions = ( {\n"                                         \
        "  match = { interface = \"ens3f0\"; }; num_vfs = 8;\n" keyline "\n" \
        "} );\n"

/* A PF entry with one vfs entry whose line 4 holds the keys under test. */
#define VF_WITH(keys)                                           \
        "physical_functions = ( {\n"                            \
        "  match = { interface = \"ens3f0\"; }; num_vfs = 8;\n" \
        "  vfs = (\n"                                           \
        "    { range = \"0\"; " keys " }\n"                     \
        "  );\n"                                                \
        "} );\n"

static const VfLayout *vf_ok(ConfigSet **ret_set, const char *text)
{
        ConfigSet *set = parse_ok(text);

        ASSERT_EQ(set->n_pfs, 1);
        ASSERT_EQ(set->pfs[0].n_vfs, 1);
        *ret_set = set;
        return &set->pfs[0].vfs[0];
}

static void write_file(const char *root, const char *path, const char *text)
{
        _cleanup_free_ char *p = path_join(root, path);
        _cleanup_fclose_ FILE *f = NULL;

        ASSERT_TRUE(p);
        for (char *s = strchr(p + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                (void) mkdir(p, 0755);
                *s = '/';
        }
        f = fopen(p, "we");
        ASSERT_TRUE(f);
        ASSERT_TRUE(fputs(text, f) >= 0);
}

static void make_symlink(const char *root, const char *target, const char *path)
{
        _cleanup_free_ char *p = path_join(root, path);

        ASSERT_TRUE(p);
        ASSERT_EQ(symlink(target, p), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

static char *make_root(void)
{
        char *root = strdup("/tmp/test-config-XXXXXX");

        ASSERT_TRUE(root);
        ASSERT_TRUE(mkdtemp(root));
        return root;
}

static void remove_root(char *root)
{
        ASSERT_EQ(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
        free(root);
}

static char *rooted(const char *root, const char *path)
{
        char *p = path_join(root, path);

        ASSERT_TRUE(p);
        return p;
}

#define PF_FILE(ifname, nvfs) \
        "physical_functions = ( { match = { interface = \"" ifname "\"; }; num_vfs = " #nvfs "; } );\n"

static const char *const test_dirs[] = {"/usr/lib/sriov.d", "/run/sriov.d", "/etc/sriov.d", NULL};

/* ---- whole entries ---- */

TEST(spec_example)
{
        _cleanup_(config_set_freep) ConfigSet *s =
                parse_ok("# /etc/sriov.d/50-training.conf\n"
                         "physical_functions = (\n"
                         "  {\n"
                         "    match = {\n"
                         "      interface = \"ens3f0\";\n"
                         "    };\n"
                         "    num_vfs = 8;\n"
                         "    mtu = 9000;\n"
                         "    drivers_autoprobe = true;\n"
                         "    vfs = (\n"
                         "      { range = \"0-5\"; pool = \"rdma-train\";\n"
                         "        vlan = 100; qos = 0; vlan_proto = \"802.1Q\";\n"
                         "        mac = \"stable\";\n"
                         "        trust = true; spoofchk = false; link_state = \"auto\";\n"
                         "        min_tx_rate = 0; max_tx_rate = 25000;\n"
                         "        mtu = 9000; rdma = true; },\n"
                         "      { range = \"6-7\"; pool = \"vm\"; driver = \"vfio-pci\"; }\n"
                         "    );\n"
                         "  }\n"
                         ");\n");
        const PfConfig *c;
        const VfLayout *a, *b;

        ASSERT_EQ(s->n_pfs, 1);
        ASSERT_EQ(strv_length(s->files), 1);
        ASSERT_STREQ(s->files[0], F);
        c = &s->pfs[0];
        ASSERT_TRUE(c->file == s->files[0]);
        ASSERT_EQ(c->line, 3);
        ASSERT_STREQ(c->match.interface, "ens3f0");
        ASSERT_TRUE(!c->match.pci && !c->match.has_vendor && !c->match.has_device && !c->match.has_mac);
        ASSERT_EQ(c->num_vfs, 8);
        ASSERT_EQ(c->mtu, 9000);
        ASSERT_EQ(c->drivers_autoprobe, 1);
        ASSERT_EQ(c->link_type, PF_LINK_TYPE_ETHERNET);
        ASSERT_EQ(c->n_vfs, 2);

        a = &c->vfs[0];
        ASSERT_EQ(a->first, 0);
        ASSERT_EQ(a->last, 5);
        ASSERT_EQ(a->line, 11);
        ASSERT_STREQ(a->pool, "rdma-train");
        ASSERT_EQ(a->settings.mask, VF_ATTR_BIT(VF_ATTR_MAC) | VF_ATTR_BIT(VF_ATTR_VLAN) |
                                            VF_ATTR_BIT(VF_ATTR_TRUST) | VF_ATTR_BIT(VF_ATTR_SPOOFCHK) |
                                            VF_ATTR_BIT(VF_ATTR_LINK_STATE) | VF_ATTR_BIT(VF_ATTR_RATE));
        ASSERT_EQ(a->settings.vlan, 100);
        ASSERT_EQ(a->settings.qos, 0);
        ASSERT_EQ(a->settings.vlan_proto, ETH_P_8021Q);
        ASSERT_EQ(a->mac_mode, VF_MAC_STABLE);
        ASSERT_EQ(a->settings.trust, 1);
        ASSERT_EQ(a->settings.spoofchk, 0);
        ASSERT_EQ(a->settings.link_state, VF_LINK_STATE_AUTO);
        ASSERT_EQ(a->settings.min_tx_rate, 0);
        ASSERT_EQ(a->settings.max_tx_rate, 25000);
        ASSERT_EQ(a->mtu, 9000);
        ASSERT_EQ(a->rdma, 1);
        ASSERT_TRUE(!a->driver);

        b = &c->vfs[1];
        ASSERT_EQ(b->first, 6);
        ASSERT_EQ(b->last, 7);
        ASSERT_EQ(b->line, 17);
        ASSERT_STREQ(b->pool, "vm");
        ASSERT_STREQ(b->driver, "vfio-pci");
        ASSERT_EQ(b->mac_mode, VF_MAC_UNSET);
        ASSERT_EQ(b->settings.mask, 0); /* no VF attribute declared */
        ASSERT_EQ(b->rdma, -1);
        ASSERT_EQ(b->mtu, 0);
}

TEST(minimal_entry_defaults)
{
        _cleanup_(config_set_freep) ConfigSet *s = parse_ok(PF_FILE("ens*", 0));
        const PfConfig *c = &s->pfs[0];

        ASSERT_EQ(s->n_pfs, 1);
        ASSERT_EQ(c->line, 1);
        ASSERT_EQ(c->num_vfs, 0);
        ASSERT_EQ(c->mtu, 0);
        ASSERT_EQ(c->drivers_autoprobe, -1);
        ASSERT_EQ(c->link_type, PF_LINK_TYPE_ETHERNET);
        ASSERT_EQ(c->n_vfs, 0);
        ASSERT_TRUE(!c->vfs);
        /* A VF without a layout entry: pool "" and kernel defaults, i.e. no entry at all. */
        ASSERT_TRUE(!pf_config_vf_layout(c, 0));
}

TEST(several_entries_in_file_order)
{
        _cleanup_(config_set_freep) ConfigSet *s =
                parse_ok("physical_functions = (\n"
                         "  { match = { pci = \"0000:81:00.0\"; }; num_vfs = 4; },\n"
                         "  { match = { vendor = \"15b3\"; device = \"101b\"; }; num_vfs = \"max\"; "
                         "link_type = \"ib\"; }\n"
                         ");\n");

        ASSERT_EQ(s->n_pfs, 2);
        ASSERT_STREQ(s->pfs[0].match.pci, "0000:81:00.0");
        ASSERT_EQ(s->pfs[0].line, 2);
        ASSERT_EQ(s->pfs[1].line, 3);
        ASSERT_TRUE(s->pfs[1].match.has_vendor && s->pfs[1].match.vendor == 0x15b3);
        ASSERT_TRUE(s->pfs[1].match.has_device && s->pfs[1].match.device == 0x101b);
        ASSERT_EQ(s->pfs[1].num_vfs, NUM_VFS_MAX);
        ASSERT_EQ(s->pfs[1].link_type, PF_LINK_TYPE_INFINIBAND);
}

TEST(empty_and_comment_only_files)
{
        _cleanup_(config_set_freep) ConfigSet *a = parse_ok("");
        _cleanup_(config_set_freep) ConfigSet *b = parse_ok("# nothing here yet\n// nor here\n/* x */\n");
        _cleanup_(config_set_freep) ConfigSet *c = parse_ok("physical_functions = ();\n");

        ASSERT_EQ(a->n_pfs + b->n_pfs + c->n_pfs, 0);
        ASSERT_STREQ(a->files[0], F); /* read, but contributes nothing */
}

/* ---- syntax ---- */

TEST(syntax_error_line)
{
        EXPECT_ERRORS("physical_functions = (\n"
                      "  { match = { interface = \"x\"; }; num_vfs = 8;\n"
                      "    mtu = ;\n"
                      "  }\n"
                      ");\n",
                      F ":3: syntax error");
}

TEST(duplicate_key)
{
        EXPECT_ERRORS("physical_functions = ( {\n"
                      "  match = { interface = \"x\"; }; num_vfs = 8;\n"
                      "  num_vfs = 4;\n"
                      "} );\n",
                      F ":3: duplicate setting name");
}

TEST(include_rejected)
{
        EXPECT_ERRORS("physical_functions = ();\n"
                      "  @include \"/etc/passwd\"\n",
                      F ":2: @include is not supported; use separate drop-in files");
        /* In a string or a comment it is just text. */
        _cleanup_(config_set_freep) ConfigSet *s = parse_ok("/*\n@include \"x\"\n*/\n# @include \"y\"\n");
        ASSERT_EQ(s->n_pfs, 0);
}

TEST(integer_wraparound_rejected)
{
        /* libconfig 1.5 would read this as vlan = 100. */
        EXPECT_ERRORS(VF_WITH("vlan = 4294967396;"), F ":4: number 4294967396 is out of range");
        EXPECT_ERRORS(PF_WITH("mtu = 0x100002328;"), F ":3: number 0x100002328 is out of range");
        EXPECT_ERRORS(PF_WITH("mtu = -2147483649;"), F ":3: number -2147483649 is out of range");
        /* Large values are fine with libconfig's 64-bit suffix, and digits in names are names. */
        ConfigSet *s;
        const VfLayout *vf = vf_ok(&s, VF_WITH("max_tx_rate = 4294967295L; min_tx_rate = 0x10;"));
        ASSERT_EQ(vf->settings.max_tx_rate, 4294967295u);
        ASSERT_EQ(vf->settings.min_tx_rate, 16);
        config_set_free(s);
        EXPECT_ERRORS(VF_WITH("max_tx_rate = 4294967296L;"),
                      F ":4: max_tx_rate must be between 0 and 4294967295, got 4294967296");
        EXPECT_ERRORS(VF_WITH("vlan9999999999 = 1;"), F ":4: unknown key 'vlan9999999999' in vfs entry");
}

TEST(nul_byte)
{
        _cleanup_(config_set_freep) ConfigSet *s = calloc(1, sizeof(ConfigSet));
        static const char text[] = "# a\n# b\0\n";

        ASSERT_OK(config_set_add_buffer(s, F, text, sizeof(text) - 1));
        ASSERT_EQ(strv_length(s->errors), 1);
        ASSERT_STREQ(s->errors[0], F ":2: file contains a NUL byte (not a text file?)");
}

TEST(file_too_large)
{
        _cleanup_(config_set_freep) ConfigSet *s = calloc(1, sizeof(ConfigSet));
        _cleanup_free_ char *big = malloc(CONFIG_FILE_SIZE_MAX + 1);

        ASSERT_TRUE(big);
        memset(big, '\n', CONFIG_FILE_SIZE_MAX + 1);
        ASSERT_OK(config_set_add_buffer(s, F, big, CONFIG_FILE_SIZE_MAX + 1));
        ASSERT_EQ(strv_length(s->errors), 1);
        ASSERT_STREQ(s->errors[0], F ":1: file is larger than 1048576 bytes");
}

TEST(too_many_lines)
{
        _cleanup_(config_set_freep) ConfigSet *s = calloc(1, sizeof(ConfigSet));
        _cleanup_free_ char *text = malloc(70000);

        ASSERT_TRUE(text);
        memset(text, '\n', 70000);
        ASSERT_OK(config_set_add_buffer(s, F, text, 70000));
        ASSERT_STREQ(s->errors[0], F ":65535: file has more than 65535 lines");
}

/* ---- top level and entry structure ---- */

TEST(unknown_top_level_key)
{
        EXPECT_ERRORS("physical_function = ();\n", F
                      ":1: unknown key 'physical_function' at the top level (expected physical_functions)");
}

TEST(physical_functions_type)
{
        EXPECT_ERRORS("physical_functions = { num_vfs = 1; };\n",
                      F ":1: physical_functions must be a list ( { ... }, ... ), got a group { ... }");
        EXPECT_ERRORS("physical_functions = ( 5 );\n",
                      F ":1: physical_functions entries must be groups { ... }, got an integer");
}

TEST(missing_match_and_num_vfs)
{
        EXPECT_ERRORS("physical_functions = (\n  { mtu = 1500; }\n);\n",
                      F ":2: physical_functions entry has no match = { ... }",
                      F ":2: physical_functions entry has no num_vfs (a number, or \"max\")");
}

TEST(unknown_pf_key)
{
        EXPECT_ERRORS(PF_WITH("  numvfs = 4;"), F ":3: unknown key 'numvfs' in physical_functions entry");
}

/* ---- match ---- */

TEST(match_empty)
{
        EXPECT_ERRORS("physical_functions = ( {\n  num_vfs = 1;\n  match = { };\n} );\n",
                      F ":3: match must contain at least one of interface, pci, vendor, device or mac");
        EXPECT_ERRORS("physical_functions = ( {\n  num_vfs = 1;\n  match = \"ens3f0\";\n} );\n",
                      F ":3: match must be a group { ... }, got a string");
}

TEST(match_unknown_key)
{
        EXPECT_ERRORS("physical_functions = ( {\n  num_vfs = 1;\n  match = { ifname = \"x\"; };\n} );\n",
                      F ":3: unknown key 'ifname' in match (expected interface, pci, vendor, device or mac)",
                      F ":3: match must contain at least one of interface, pci, vendor, device or mac");
}

TEST(match_ids)
{
        _cleanup_(config_set_freep) ConfigSet *s =
                parse_ok("physical_functions = ( { match = { vendor = \"0x8086\"; device = \"15B3\"; }; "
                         "num_vfs = 1; } );");

        ASSERT_EQ(s->pfs[0].match.vendor, 0x8086);
        ASSERT_EQ(s->pfs[0].match.device, 0x15b3);
        EXPECT_ERRORS("physical_functions = ( {\n  num_vfs = 1;\n  match = { vendor = \"15b\"; };\n} );\n",
                      F ":3: invalid vendor \"15b\": expected four hex digits like \"15b3\"");
        EXPECT_ERRORS("physical_functions = ( {\n  num_vfs = 1;\n  match = { device = \"10lb\"; };\n} );\n",
                      F ":3: invalid device \"10lb\": expected four hex digits like \"101b\"");
        EXPECT_ERRORS("physical_functions = ( {\n  num_vfs = 1;\n  match = { vendor = 0x15b3; };\n} );\n",
                      F ":3: vendor must be a string, got an integer");
}

TEST(match_mac_and_globs)
{
        _cleanup_(config_set_freep) ConfigSet *s = parse_ok("physical_functions = ( { match = { mac = "
                                                            "\"B8:59:9F:00:00:01\"; pci = \"0000:81:*\"; }; "
                                                            "num_vfs = 1; } );");
        char buf[ETHER_ADDR_STRLEN];

        ASSERT_TRUE(s->pfs[0].match.has_mac);
        ASSERT_STREQ(ether_addr_to_string(&s->pfs[0].match.mac, buf), "b8:59:9f:00:00:01");
        ASSERT_STREQ(s->pfs[0].match.pci, "0000:81:*");
        EXPECT_ERRORS("physical_functions = ( {\n  num_vfs = 1;\n  match = { mac = \"b8:59:9f\"; };\n} );\n",
                      F ":3: invalid match mac \"b8:59:9f\": expected an address like b8:59:9f:00:00:01");
        EXPECT_ERRORS("physical_functions = ( {\n  num_vfs = 1;\n  match = { interface = \"\"; };\n} );\n",
                      F ":3: match interface must not be empty");
}

/* ---- PF keys ---- */

TEST(num_vfs_values)
{
        EXPECT_ERRORS("physical_functions = ( {\n  match = { pci = \"x\"; };\n  num_vfs = \"all\";\n} );\n",
                      F ":3: num_vfs must be a number between 0 and 65535 or \"max\", got \"all\"");
        EXPECT_ERRORS("physical_functions = ( {\n  match = { pci = \"x\"; };\n  num_vfs = 65536;\n} );\n",
                      F ":3: num_vfs must be between 0 and 65535, got 65536");
        EXPECT_ERRORS("physical_functions = ( {\n  match = { pci = \"x\"; };\n  num_vfs = -1;\n} );\n",
                      F ":3: num_vfs must be between 0 and 65535, got -1");
        EXPECT_ERRORS("physical_functions = ( {\n  match = { pci = \"x\"; };\n  num_vfs = 8.0;\n} );\n",
                      F ":3: num_vfs must be a number or \"max\", got a floating-point number");
        _cleanup_(config_set_freep) ConfigSet *s = parse_ok(PF_FILE("x", 65535));
        ASSERT_EQ(s->pfs[0].num_vfs, 65535);
}

TEST(pf_mtu)
{
        _cleanup_(config_set_freep) ConfigSet *s = parse_ok(PF_WITH("  mtu = 68;"));

        ASSERT_EQ(s->pfs[0].mtu, 68);
        EXPECT_ERRORS(PF_WITH("  mtu = 67;"), F ":3: mtu must be between 68 and 65535, got 67");
        EXPECT_ERRORS(PF_WITH("  mtu = 65536;"), F ":3: mtu must be between 68 and 65535, got 65536");
        EXPECT_ERRORS(PF_WITH("  mtu = \"9000\";"), F ":3: mtu must be an integer, got a string");
}

TEST(drivers_autoprobe)
{
        _cleanup_(config_set_freep) ConfigSet *s = parse_ok(PF_WITH("  drivers_autoprobe = false;"));

        ASSERT_EQ(s->pfs[0].drivers_autoprobe, 0);
        EXPECT_ERRORS(PF_WITH("  drivers_autoprobe = \"yes\";"),
                      F ":3: drivers_autoprobe must be a boolean (true or false), got a string");
        EXPECT_ERRORS(PF_WITH("  drivers_autoprobe = 1;"),
                      F ":3: drivers_autoprobe must be a boolean (true or false), got an integer");
}

TEST(link_type)
{
        _cleanup_(config_set_freep) ConfigSet *s = parse_ok(PF_WITH("  link_type = \"eth\";"));

        ASSERT_EQ(s->pfs[0].link_type, PF_LINK_TYPE_ETHERNET);
        EXPECT_ERRORS(PF_WITH("  link_type = \"infiniband\";"),
                      F ":3: invalid link_type \"infiniband\": expected \"eth\" or \"ib\"");
}

TEST(vfs_type)
{
        EXPECT_ERRORS(PF_WITH("  vfs = { range = \"0\"; };"),
                      F ":3: vfs must be a list ( { ... }, ... ), got a group { ... }");
        EXPECT_ERRORS(PF_WITH("  vfs = ( \"0-3\" );"),
                      F ":3: vfs entries must be groups { range = \"...\"; ... }, got a string");
        _cleanup_(config_set_freep) ConfigSet *s = parse_ok(PF_WITH("  vfs = ();"));
        ASSERT_EQ(s->pfs[0].n_vfs, 0);
}

/* ---- vfs entries ---- */

TEST(range_syntax)
{
        ConfigSet *s;
        const VfLayout *vf = vf_ok(&s, VF_WITH(""));

        ASSERT_EQ(vf->first, 0);
        ASSERT_EQ(vf->last, 0);
        ASSERT_STREQ(vf->pool, "");
        config_set_free(s);

        EXPECT_ERRORS(VF_WITH("} , { range = \"5-2\";"),
                      F ":4: invalid range \"5-2\": expected \"N\" or \"N-M\" with N <= M");
        EXPECT_ERRORS(VF_WITH("} , { range = \"1-2-3\";"),
                      F ":4: invalid range \"1-2-3\": expected \"N\" or \"N-M\" with N <= M");
        EXPECT_ERRORS(VF_WITH("} , { range = \" 1\";"),
                      F ":4: invalid range \" 1\": expected \"N\" or \"N-M\" with N <= M");
        EXPECT_ERRORS(VF_WITH("} , { range = 3;"), F ":4: range must be a string, got an integer");
        EXPECT_ERRORS(VF_WITH("} , { pool = \"a\";"),
                      F ":4: vfs entry has no range (e.g. range = \"0-3\";)");
}

TEST(range_overlap)
{
        EXPECT_ERRORS("physical_functions = ( {\n"
                      "  match = { interface = \"ens3f0\"; }; num_vfs = 16;\n"
                      "  vfs = (\n"
                      "    { range = \"4-7\"; },\n"
                      "    { range = \"6-9\"; },\n"
                      "    { range = \"7\"; }\n"
                      "  );\n"
                      "} );\n",
                      F ":5: range 6-9 overlaps range 4-7", F ":6: range 7 overlaps range 4-7");
}

TEST(range_beyond_num_vfs)
{
        EXPECT_ERRORS("physical_functions = ( {\n"
                      "  match = { interface = \"ens3f0\"; }; num_vfs = 8;\n"
                      "  vfs = (\n"
                      "    { range = \"0-7\"; },\n"
                      "    { range = \"8-9\"; }\n"
                      "  );\n"
                      "} );\n",
                      F ":5: range 8-9 is beyond num_vfs = 8");
}

TEST(range_with_max)
{
        /* With "max" the count is the device's: ranges are checked against it later. */
        _cleanup_(config_set_freep) ConfigSet *s =
                parse_ok("physical_functions = ( { match = { pci = \"*\"; }; num_vfs = \"max\";\n"
                         "  vfs = ( { range = \"0-3\"; }, { range = \"100-200\"; } ); } );\n");
        const PfConfig *c = &s->pfs[0];

        /* Checked against the device by the planner: test-planner's layout_against_device. */
        ASSERT_EQ(pf_config_num_vfs(c, 64), 64);
        EXPECT_ERRORS(VF_WITH("} , { range = \"65535\";"),
                      F ":4: range \"65535\" is beyond the largest possible VF index 65534");
}

TEST(vlan)
{
        ConfigSet *s;
        const VfLayout *vf = vf_ok(&s, VF_WITH("vlan = 4095;"));

        ASSERT_EQ(vf->settings.mask, VF_ATTR_BIT(VF_ATTR_VLAN));
        ASSERT_EQ(vf->settings.vlan, 4095);
        ASSERT_TRUE(vf->settings.qos == 0 && vf->settings.vlan_proto == ETH_P_8021Q); /* defaults */
        config_set_free(s);
        vf = vf_ok(&s, VF_WITH("vlan = 0;"));
        ASSERT_TRUE((vf->settings.mask & VF_ATTR_BIT(VF_ATTR_VLAN)) && vf->settings.vlan == 0);
        config_set_free(s);
        EXPECT_ERRORS(VF_WITH("vlan = 5000;"), F ":4: vlan must be between 0 and 4095, got 5000");
        EXPECT_ERRORS(VF_WITH("vlan = -1;"), F ":4: vlan must be between 0 and 4095, got -1");
        EXPECT_ERRORS(VF_WITH("vlan = \"100\";"), F ":4: vlan must be an integer, got a string");
}

TEST(qos)
{
        ConfigSet *s;
        const VfLayout *vf = vf_ok(&s, VF_WITH("vlan = 10; qos = 7;"));

        ASSERT_EQ(vf->settings.qos, 7);
        config_set_free(s);
        EXPECT_ERRORS(VF_WITH("vlan = 10; qos = 8;"), F ":4: qos must be between 0 and 7, got 8");
        EXPECT_ERRORS(VF_WITH("qos = 3;"), F ":4: qos requires vlan");
}

TEST(vlan_proto)
{
        ConfigSet *s;
        const VfLayout *vf = vf_ok(&s, VF_WITH("vlan = 10; vlan_proto = \"802.1ad\";"));

        ASSERT_EQ(vf->settings.vlan_proto, ETH_P_8021AD);
        config_set_free(s);
        vf = vf_ok(&s, VF_WITH("vlan = 10; vlan_proto = \"802.1q\";"));
        ASSERT_EQ(vf->settings.vlan_proto, ETH_P_8021Q);
        config_set_free(s);
        EXPECT_ERRORS(VF_WITH("vlan = 10; vlan_proto = \"QinQ\";"),
                      F ":4: invalid vlan_proto \"QinQ\": expected \"802.1Q\" or \"802.1ad\"");
        EXPECT_ERRORS(VF_WITH("vlan_proto = \"802.1Q\";"), F ":4: vlan_proto requires vlan");
}

TEST(mac_modes)
{
        ConfigSet *s;
        char buf[ETHER_ADDR_STRLEN];
        const VfLayout *vf = vf_ok(&s, VF_WITH("mac = \"keep\";"));

        ASSERT_EQ(vf->mac_mode, VF_MAC_KEEP);
        config_set_free(s);
        vf = vf_ok(&s, VF_WITH("mac = \"02:00:00:AA:bb:01\";"));
        ASSERT_EQ(vf->mac_mode, VF_MAC_FIXED);
        ASSERT_STREQ(ether_addr_to_string(&vf->settings.mac, buf), "02:00:00:aa:bb:01");
        config_set_free(s);
}

TEST(mac_invalid)
{
        EXPECT_ERRORS(VF_WITH("mac = \"random\";"),
                      F ":4: invalid mac \"random\": expected \"stable\", \"keep\" or an address like "
                        "02:00:00:00:00:01");
        EXPECT_ERRORS(VF_WITH("mac = \"01:00:5e:00:00:01\";"),
                      F ":4: mac 01:00:5e:00:00:01 is a multicast address; a VF needs a unicast address");
        EXPECT_ERRORS(VF_WITH("mac = \"00:00:00:00:00:00\";"),
                      F ":4: mac 00:00:00:00:00:00 is the all-zero address");
        EXPECT_ERRORS(VF_WITH("mac = true;"), F ":4: mac must be a string, got a boolean");
}

TEST(mac_fixed_needs_single_vf)
{
        EXPECT_ERRORS(
                "physical_functions = ( {\n"
                "  match = { interface = \"ens3f0\"; }; num_vfs = 8;\n"
                "  vfs = ( { range = \"0-5\";\n"
                "            mac = \"02:00:00:00:00:01\"; } );\n"
                "} );\n",
                F ":4: a fixed mac needs a single-VF range, not range 0-5 (use \"stable\" for several VFs)");
        _cleanup_(config_set_freep) ConfigSet *s =
                parse_ok(VF_WITH("} , { range = \"3-3\"; mac = \"02:00:00:00:00:01\";"));
        ASSERT_EQ(s->pfs[0].vfs[1].mac_mode, VF_MAC_FIXED);
}

TEST(booleans)
{
        ConfigSet *s;
        const VfLayout *vf = vf_ok(&s, VF_WITH("trust = false; spoofchk = true; rdma = false;"));

        ASSERT_EQ(vf->settings.mask, VF_ATTR_BIT(VF_ATTR_TRUST) | VF_ATTR_BIT(VF_ATTR_SPOOFCHK));
        ASSERT_EQ(vf->settings.trust, 0);
        ASSERT_EQ(vf->settings.spoofchk, 1);
        ASSERT_EQ(vf->rdma, 0);
        config_set_free(s);
        EXPECT_ERRORS(VF_WITH("trust = \"on\"; spoofchk = 0; rdma = 1.0;"),
                      F ":4: trust must be a boolean (true or false), got a string",
                      F ":4: spoofchk must be a boolean (true or false), got an integer",
                      F ":4: rdma must be a boolean (true or false), got a floating-point number");
}

TEST(link_state)
{
        ConfigSet *s;
        const VfLayout *vf = vf_ok(&s, VF_WITH("link_state = \"disable\";"));

        ASSERT_EQ(vf->settings.link_state, VF_LINK_STATE_DISABLE);
        config_set_free(s);
        vf = vf_ok(&s, VF_WITH("link_state = \"enable\";"));
        ASSERT_EQ(vf->settings.link_state, VF_LINK_STATE_ENABLE);
        config_set_free(s);
        EXPECT_ERRORS(VF_WITH("link_state = \"up\";"),
                      F ":4: invalid link_state \"up\": expected \"auto\", \"enable\" or \"disable\"");
}

TEST(tx_rates)
{
        ConfigSet *s;
        const VfLayout *vf = vf_ok(&s, VF_WITH("min_tx_rate = 1000; max_tx_rate = 0;"));

        /* max 0 means unlimited, so any min goes with it. */
        ASSERT_EQ(vf->settings.mask, VF_ATTR_BIT(VF_ATTR_RATE));
        ASSERT_EQ(vf->settings.min_tx_rate, 1000);
        ASSERT_EQ(vf->settings.max_tx_rate, 0);
        config_set_free(s);
        EXPECT_ERRORS(VF_WITH("min_tx_rate = 500; max_tx_rate = 100;"),
                      F ":4: min_tx_rate 500 is greater than max_tx_rate 100");
        EXPECT_ERRORS(VF_WITH("max_tx_rate = -5;"),
                      F ":4: max_tx_rate must be between 0 and 4294967295, got -5");
}

TEST(vf_mtu)
{
        ConfigSet *s;
        const VfLayout *vf = vf_ok(&s, VF_WITH("mtu = 65535;"));

        ASSERT_EQ(vf->mtu, 65535);
        config_set_free(s);
        EXPECT_ERRORS(VF_WITH("mtu = 0;"), F ":4: mtu must be between 68 and 65535, got 0");
}

TEST(driver)
{
        ConfigSet *s;
        const VfLayout *vf = vf_ok(&s, VF_WITH("driver = \"\";"));

        ASSERT_TRUE(!vf->driver); /* "" = the kernel's choice */
        config_set_free(s);
        vf = vf_ok(&s, VF_WITH("driver = \"mlx5_core\";"));
        ASSERT_STREQ(vf->driver, "mlx5_core");
        config_set_free(s);
        EXPECT_ERRORS(VF_WITH("driver = \"vfoi-pci\";"), F ":4: unknown driver 'vfoi-pci'");
}

TEST(pool_names)
{
        ConfigSet *s;
        const VfLayout *vf = vf_ok(&s, VF_WITH("pool = \"rdma-train_1.a:b\";"));

        ASSERT_STREQ(vf->pool, "rdma-train_1.a:b");
        config_set_free(s);
        EXPECT_ERRORS(
                VF_WITH("pool = \"my pool\";"),
                F ":4: invalid pool name \"my pool\": use at most 64 letters, digits, '-', '_', '.' or ':'");
        EXPECT_ERRORS(VF_WITH("pool = 1;"), F ":4: pool must be a string, got an integer");
}

TEST(unknown_vf_key)
{
        EXPECT_ERRORS(VF_WITH("vlna = 100;"), F ":4: unknown key 'vlna' in vfs entry");
}

TEST(all_errors_reported_in_order)
{
        EXPECT_ERRORS("physical_functions = ( {\n"
                      "  match = { interface = \"ens3f0\"; };\n"
                      "  num_vfs = 8;\n"
                      "  mtu = 10;\n"
                      "  vfs = ( { range = \"0\"; vlan = 5000; },\n"
                      "          { range = \"1\"; driver = \"foo\"; } );\n"
                      "} );\n",
                      F ":4: mtu must be between 68 and 65535, got 10",
                      F ":5: vlan must be between 0 and 4095, got 5000", F ":6: unknown driver 'foo'");
}

TEST(too_many_errors)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_(config_set_freep) ConfigSet *s = NULL;
        char *p;

        text = malloc(64 * 16 + 64);
        ASSERT_TRUE(text);
        p = text;
        for (int i = 0; i < 40; i++)
                p += sprintf(p, "bad%d = 1;\n", i);
        s = parse(text);
        ASSERT_EQ(strv_length(s->errors), CONFIG_ERRORS_MAX + 1);
        ASSERT_STREQ(s->errors[0],
                     F ":1: unknown key 'bad0' at the top level (expected physical_functions)");
        ASSERT_STREQ(s->errors[CONFIG_ERRORS_MAX], F ":33: too many errors, not reporting more");
}

TEST(bad_entry_rejects_whole_file)
{
        /* The first entry is fine, the second is not: neither is used. */
        _cleanup_(config_set_freep) ConfigSet *s = calloc(1, sizeof(ConfigSet));
        const char *bad = "physical_functions = ( { match = { interface = \"a\"; }; num_vfs = 1; },\n"
                          "  { match = { interface = \"b\"; }; num_vfs = 1; mtu = 1; } );\n";
        const char *good = PF_FILE("c", 2);

        ASSERT_OK(config_set_add_buffer(s, "/t/10-bad.conf", bad, strlen(bad)));
        ASSERT_OK(config_set_add_buffer(s, "/t/20-good.conf", good, strlen(good)));
        ASSERT_EQ(s->n_pfs, 1);
        ASSERT_STREQ(s->pfs[0].match.interface, "c");
        ASSERT_STREQ(s->pfs[0].file, "/t/20-good.conf");
        ASSERT_EQ(strv_length(s->errors), 1);
        ASSERT_STREQ(s->errors[0], "/t/10-bad.conf:2: mtu must be between 68 and 65535, got 1");
        ASSERT_EQ(strv_length(s->files), 2);
}

/* ---- matching ---- */

TEST(match_semantics)
{
        _cleanup_(config_set_freep) ConfigSet *s =
                parse_ok("physical_functions = (\n"
                         "  { match = { interface = \"ens3f*\"; vendor = \"8086\"; }; num_vfs = 1; },\n"
                         "  { match = { pci = \"0000:81:00.[01]\"; }; num_vfs = 2; },\n"
                         "  { match = { mac = \"b8:59:9f:00:00:01\"; }; num_vfs = 3; }\n"
                         ");\n");
        PfIdentity id = {.interface = "ens3f1", .pci = "0000:03:00.1", .vendor = 0x8086, .device = 0x1572};
        const PfConfig *c;

        c = config_set_match(s, &id, false);
        ASSERT_TRUE(c && c->num_vfs == 1);
        id.vendor = 0x15b3; /* every given key must match */
        ASSERT_TRUE(!config_set_match(s, &id, false));
        id.pci = "0000:81:00.1";
        c = config_set_match(s, &id, false);
        ASSERT_TRUE(c && c->num_vfs == 2);
        id.pci = "0000:81:00.2";
        ASSERT_TRUE(!config_set_match(s, &id, false));
        ASSERT_OK(parse_ether_addr("b8:59:9f:00:00:01", &id.mac));
        ASSERT_TRUE(!config_set_match(s, &id, false)); /* has_mac unset: no permanent MAC known */
        id.has_mac = true;
        c = config_set_match(s, &id, false);
        ASSERT_TRUE(c && c->num_vfs == 3);
}

TEST(match_without_netdev)
{
        _cleanup_(config_set_freep) ConfigSet *s = parse_ok(PF_FILE("*", 1));
        PfIdentity id = {.interface = NULL, .pci = "0000:81:00.0"};

        /* Even "*" does not match a PF that has no netdev. */
        ASSERT_TRUE(!config_set_match(s, &id, true));
        ASSERT_TRUE(!pf_match_test(&s->pfs[0].match, &id));
        id.interface = "anything";
        ASSERT_TRUE(pf_match_test(&s->pfs[0].match, &id));
}

/* Heard from the kernel, before udevd named the netdev: decided only when no name or MAC
 * could change the owner. */
TEST(match_before_name)
{
        _cleanup_(config_set_freep) ConfigSet *s =
                parse_ok("physical_functions = (\n"
                         "  { match = { interface = \"ens3f*\"; vendor = \"8086\"; }; num_vfs = 1; },\n"
                         "  { match = { pci = \"0000:81:00.[01]\"; }; num_vfs = 2; },\n"
                         "  { match = { mac = \"b8:59:9f:00:00:01\"; }; num_vfs = 3; },\n"
                         "  { match = { vendor = \"15b3\"; }; num_vfs = 4; }\n"
                         ");\n");
        _cleanup_(config_set_freep) ConfigSet *by_pci =
                parse_ok("physical_functions = ( { match = { pci = \"0000:02:00.0\"; }; num_vfs = 5; },\n"
                         "  { match = { interface = \"eth*\"; device = \"10c9\"; }; num_vfs = 6; } );\n");
        _cleanup_(config_set_freep) ConfigSet *empty = calloc(1, sizeof(ConfigSet));
        PfIdentity id = {.interface = "eth0", .pci = "0000:81:00.1", .vendor = 0x15b3, .device = 0x1017};
        const PfConfig *c = NULL;

        /* Entry 1 cannot match (vendor), entry 2 does and names no interface: decided. */
        ASSERT_EQ(config_set_match_before_name(s, &id, &c), 1);
        ASSERT_TRUE(c && c->num_vfs == 2);
        /* The same owner as config_set_match() gives for any name. */
        ASSERT_TRUE(config_set_match(s, &id, false) == c);
        id.interface = "ens3f0";
        ASSERT_TRUE(config_set_match(s, &id, false) == c);
        /* Intel: entry 1 may match once the name is known: wait, whatever the kernel's name. */
        id.vendor = 0x8086;
        id.interface = "eth0";
        ASSERT_EQ(config_set_match_before_name(s, &id, &c), 0);
        /* Not entry 2's address: entry 3 matches on the MAC alone: wait for it. */
        id.vendor = 0x15b3;
        id.pci = "0000:82:00.0";
        ASSERT_EQ(config_set_match_before_name(s, &id, &c), 0);
        /* Decided: unmanaged, whatever the name. */
        ASSERT_EQ(config_set_match_before_name(by_pci, &id, &c), 1);
        ASSERT_TRUE(c == NULL);
        ASSERT_EQ(config_set_match_before_name(empty, &id, &c), 1);
        ASSERT_TRUE(c == NULL);
        /* By address first: later name entries do not matter. */
        id.pci = "0000:02:00.0";
        id.device = 0x10c9;
        ASSERT_EQ(config_set_match_before_name(by_pci, &id, &c), 1);
        ASSERT_TRUE(c && c->num_vfs == 5);
        /* Another address, and entry 2 may match by name: wait. */
        id.pci = "0000:03:00.0";
        ASSERT_EQ(config_set_match_before_name(by_pci, &id, &c), 0);
}

TEST(unmanaged)
{
        _cleanup_(config_set_freep) ConfigSet *s = parse_ok(PF_FILE("ens3f0", 1));
        _cleanup_(config_set_freep) ConfigSet *empty = calloc(1, sizeof(ConfigSet));
        PfIdentity id = {.interface = "eno1", .pci = "0000:00:1f.6", .vendor = 0x8086, .device = 0x15bc};

        ASSERT_TRUE(!config_set_match(s, &id, true));
        ASSERT_TRUE(!config_set_match(empty, &id, true));
}

static char *capture_stderr(int *saved)
{
        char *path = strdup("/tmp/test-config-log-XXXXXX");
        int fd;

        ASSERT_TRUE(path);
        fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        fflush(stderr);
        *saved = dup(STDERR_FILENO);
        ASSERT_TRUE(*saved >= 0);
        ASSERT_TRUE(dup2(fd, STDERR_FILENO) >= 0);
        close(fd);
        return path;
}

static char *restore_stderr(int saved, char *path)
{
        _cleanup_fclose_ FILE *f = NULL;
        char *buf = calloc(1, 65536);

        fflush(stderr);
        ASSERT_TRUE(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        f = fopen(path, "re");
        ASSERT_TRUE(f && buf);
        (void) !fread(buf, 1, 65535, f);
        unlink(path);
        free(path);
        return buf;
}

TEST(first_match_wins_with_notice)
{
        _cleanup_(config_set_freep) ConfigSet *s = calloc(1, sizeof(ConfigSet));
        const char *a =
                "\nphysical_functions = ( { match = { interface = \"ens3f0\"; }; num_vfs = 4; } );\n";
        const char *b = "physical_functions = (\n"
                        "  { match = { interface = \"eno1\"; }; num_vfs = 1; },\n"
                        "  { match = { pci = \"0000:03:00.*\"; }; num_vfs = 8; }\n"
                        ");\n";
        PfIdentity id = {.interface = "ens3f0", .pci = "0000:03:00.0"};
        _cleanup_free_ char *log = NULL;
        const PfConfig *c;
        char *path;
        int saved;

        ASSERT_OK(config_set_add_buffer(s, "/etc/sriov.d/10-a.conf", a, strlen(a)));
        ASSERT_OK(config_set_add_buffer(s, "/etc/sriov.d/20-b.conf", b, strlen(b)));
        path = capture_stderr(&saved);
        c = config_set_match(s, &id, true);
        log = restore_stderr(saved, path);
        ASSERT_TRUE(c);
        ASSERT_EQ(c->num_vfs, 4);
        ASSERT_STREQ(c->file, "/etc/sriov.d/10-a.conf");
        ASSERT_EQ(c->line, 2);
        ASSERT_TRUE(strstr(log,
                           "0000:03:00.0 (ens3f0): Entry /etc/sriov.d/20-b.conf:3 also matches, ignored: "
                           "the PF is configured by /etc/sriov.d/10-a.conf:2."));
        free(log);

        /* Without log_later: silent. */
        path = capture_stderr(&saved);
        c = config_set_match(s, &id, false);
        log = restore_stderr(saved, path);
        ASSERT_EQ(c->num_vfs, 4);
        ASSERT_TRUE(!strstr(log, "also matches"));
}

TEST(vf_layout_lookup)
{
        _cleanup_(config_set_freep) ConfigSet *s =
                parse_ok("physical_functions = ( { match = { pci = \"*\"; }; num_vfs = 10;\n"
                         "  vfs = ( { range = \"6-7\"; pool = \"b\"; }, { range = \"0-3\"; pool = \"a\"; } "
                         "); } );\n");
        const PfConfig *c = &s->pfs[0];

        ASSERT_STREQ(pf_config_vf_layout(c, 0)->pool, "a");
        ASSERT_STREQ(pf_config_vf_layout(c, 3)->pool, "a");
        ASSERT_TRUE(!pf_config_vf_layout(c, 4));
        ASSERT_STREQ(pf_config_vf_layout(c, 7)->pool, "b");
        ASSERT_TRUE(!pf_config_vf_layout(c, 9));
        ASSERT_EQ(pf_config_num_vfs(c, 64), 10);
        ASSERT_TRUE(!pf_config_vf_layout(NULL, 0));
}

/* ---- directories ---- */

TEST(load_masking_and_order)
{
        char *root = make_root();
        _cleanup_(config_set_freep) ConfigSet *s = NULL;
        _cleanup_free_ char *f10 = rooted(root, "/usr/lib/sriov.d/10-vendor.conf"),
                            *f20 = rooted(root, "/etc/sriov.d/20-site.conf"),
                            *f30 = rooted(root, "/run/sriov.d/30-runtime.conf"),
                            *f50 = rooted(root, "/etc/sriov.d/50-x.conf");

        /* Same basename in /usr/lib, /run and /etc: /etc wins. */
        write_file(root, "/usr/lib/sriov.d/50-x.conf", PF_FILE("usr", 1));
        write_file(root, "/run/sriov.d/50-x.conf", PF_FILE("run", 2));
        write_file(root, "/etc/sriov.d/50-x.conf", PF_FILE("etc", 3));
        /* Lexical order of basenames, whatever the directory. */
        write_file(root, "/run/sriov.d/30-runtime.conf", PF_FILE("runtime", 4));
        write_file(root, "/usr/lib/sriov.d/10-vendor.conf", PF_FILE("vendor", 5));
        write_file(root, "/etc/sriov.d/20-site.conf", PF_FILE("site", 6));
        /* /run masks /usr/lib even though /etc has nothing of that name. */
        write_file(root, "/usr/lib/sriov.d/60-old.conf", PF_FILE("old", 7));
        write_file(root, "/run/sriov.d/60-old.conf", "");

        ASSERT_OK(config_set_load(root, test_dirs, &s));
        ASSERT_TRUE(!s->errors);
        ASSERT_EQ(strv_length(s->files), 5);
        ASSERT_STREQ(s->files[0], f10);
        ASSERT_STREQ(s->files[1], f20);
        ASSERT_STREQ(s->files[2], f30);
        ASSERT_STREQ(s->files[3], f50);
        ASSERT_TRUE(strstr(s->files[4], "/run/sriov.d/60-old.conf"));
        ASSERT_EQ(s->n_pfs, 4);
        ASSERT_STREQ(s->pfs[0].match.interface, "vendor");
        ASSERT_STREQ(s->pfs[1].match.interface, "site");
        ASSERT_STREQ(s->pfs[2].match.interface, "runtime");
        ASSERT_STREQ(s->pfs[3].match.interface, "etc");
        ASSERT_TRUE(s->pfs[3].file == s->files[3]);
        remove_root(root);
}

/* The read buffer is sized by the file: a file at the bound loads, one byte more is refused
 * whole (and the next file still loads), and an empty one is nothing. */
TEST(load_file_size_bound)
{
        char *root = make_root();
        _cleanup_(config_set_freep) ConfigSet *s = NULL;
        _cleanup_free_ char *text = NULL;
        const char *pf = PF_FILE("big", 1);
        size_t n = strlen(pf);

        text = malloc(CONFIG_FILE_SIZE_MAX + 2);
        ASSERT_TRUE(text);
        /* The declaration, then comment lines up to exactly the bound. */
        memcpy(text, pf, n);
        for (size_t i = n; i < CONFIG_FILE_SIZE_MAX; i++)
                text[i] = (i - n) % 64 == 0 ? '\n' : (i - n) % 64 == 1 ? '#' : 'x';
        text[CONFIG_FILE_SIZE_MAX - 1] = '\n'; /* libconfig wants a comment's line ended */
        text[CONFIG_FILE_SIZE_MAX] = '\0';
        write_file(root, "/etc/sriov.d/50-at-bound.conf", text);
        text[CONFIG_FILE_SIZE_MAX] = 'x';
        text[CONFIG_FILE_SIZE_MAX + 1] = '\0';
        write_file(root, "/etc/sriov.d/60-over.conf", text);
        write_file(root, "/etc/sriov.d/70-empty.conf", "");

        ASSERT_OK(config_set_load(root, test_dirs, &s));
        ASSERT_EQ(strv_length(s->errors), 1);
        ASSERT_TRUE(strstr(s->errors[0], "/etc/sriov.d/60-over.conf:1: file is larger than 1048576 bytes"));
        ASSERT_EQ(s->n_pfs, 1);
        ASSERT_STREQ(s->pfs[0].match.interface, "big");
        ASSERT_TRUE(strstr(s->pfs[0].file, "50-at-bound.conf"));
        remove_root(root);
}

TEST(load_dev_null_masks)
{
        char *root = make_root();
        _cleanup_(config_set_freep) ConfigSet *s = NULL;

        write_file(root, "/usr/lib/sriov.d/50-x.conf", PF_FILE("usr", 1));
        write_file(root, "/usr/lib/sriov.d/60-y.conf", PF_FILE("keep", 1));
        write_file(root, "/etc/sriov.d/placeholder", "");
        make_symlink(root, "/dev/null", "/etc/sriov.d/50-x.conf");
        /* A link to /dev/null in a lower directory masks nothing above it, and reads as
         * nothing itself. */
        make_symlink(root, "/dev/null", "/usr/lib/sriov.d/70-z.conf");

        ASSERT_OK(config_set_load(root, test_dirs, &s));
        ASSERT_TRUE(!s->errors);
        ASSERT_EQ(strv_length(s->files), 1);
        ASSERT_TRUE(strstr(s->files[0], "/usr/lib/sriov.d/60-y.conf"));
        ASSERT_EQ(s->n_pfs, 1);
        ASSERT_STREQ(s->pfs[0].match.interface, "keep");
        remove_root(root);
}

TEST(load_ignores_non_conf)
{
        char *root = make_root();
        _cleanup_(config_set_freep) ConfigSet *s = NULL;
        _cleanup_free_ char *d = rooted(root, "/etc/sriov.d/40-dir.conf");

        write_file(root, "/etc/sriov.d/50-x.conf", PF_FILE("a", 1));
        write_file(root, "/etc/sriov.d/50-x.conf.rpmsave", "garbage");
        write_file(root, "/etc/sriov.d/50-x.conf~", "garbage");
        write_file(root, "/etc/sriov.d/README", "garbage");
        write_file(root, "/etc/sriov.d/.hidden.conf", "garbage");
        write_file(root, "/etc/sriov.d/.conf", "garbage");
        ASSERT_EQ(mkdir(d, 0755), 0);
        make_symlink(root, "nowhere.conf", "/etc/sriov.d/45-dangling.conf");

        ASSERT_OK(config_set_load(root, test_dirs, &s));
        ASSERT_TRUE(!s->errors);
        ASSERT_EQ(strv_length(s->files), 1);
        ASSERT_EQ(s->n_pfs, 1);
        remove_root(root);
}

TEST(load_bad_file_does_not_affect_good)
{
        char *root = make_root();
        _cleanup_(config_set_freep) ConfigSet *s = NULL;
        _cleanup_free_ char *bad = rooted(root, "/etc/sriov.d/50-x.conf"), *exp = NULL;

        write_file(root, "/etc/sriov.d/40-good.conf", PF_FILE("good", 2));
        write_file(root, "/etc/sriov.d/50-x.conf", VF_WITH("vlan = 5000;"));
        write_file(root, "/etc/sriov.d/60-good.conf", PF_FILE("good2", 3));

        ASSERT_OK(config_set_load(root, test_dirs, &s));
        ASSERT_EQ(strv_length(s->files), 3);
        ASSERT_STREQ(s->files[1], bad);
        ASSERT_EQ(strv_length(s->errors), 1);
        ASSERT_OK(asprintf_safe(&exp, "%s:4: vlan must be between 0 and 4095, got 5000", bad));
        ASSERT_STREQ(s->errors[0], exp);
        ASSERT_EQ(s->n_pfs, 2);
        ASSERT_STREQ(s->pfs[0].match.interface, "good");
        ASSERT_STREQ(s->pfs[1].match.interface, "good2");
        remove_root(root);
}

TEST(load_symlink_inside_root)
{
        char *root = make_root();
        _cleanup_(config_set_freep) ConfigSet *s = NULL;
        _cleanup_free_ char *link = rooted(root, "/etc/sriov.d/50-shared.conf");

        /* An absolute link in an image points into the image. */
        write_file(root, "/usr/share/sriovd/shared.conf", PF_FILE("shared", 2));
        write_file(root, "/etc/sriov.d/placeholder", "");
        make_symlink(root, "/usr/share/sriovd/shared.conf", "/etc/sriov.d/50-shared.conf");

        ASSERT_OK(config_set_load(root, test_dirs, &s));
        ASSERT_TRUE(!s->errors);
        ASSERT_EQ(strv_length(s->files), 1);
        ASSERT_STREQ(s->files[0], link); /* reported where it was found */
        ASSERT_STREQ(s->pfs[0].match.interface, "shared");
        remove_root(root);
}

TEST(load_default_dirs_with_root)
{
        char *root = make_root();
        _cleanup_(config_set_freep) ConfigSet *s = NULL;
        _cleanup_(config_set_freep) ConfigSet *none = NULL;
        _cleanup_free_ char *lib = NULL;
        char *f;
        int n = 0;

        for (const char *const *d = config_dirs_default; *d; d++)
                n++;
        ASSERT_TRUE(n >= 3);
        ASSERT_STREQ(config_dirs_default[0], "/usr/lib/sriov.d");
        ASSERT_STREQ(config_dirs_default[n - 1], "/etc/sriov.d");

        write_file(root, "/etc/sriov.d/50-x.conf", PF_FILE("etc", 1));
        lib = path_join(PKG_LIBDIR_SRIOVD, "40-pkg.conf");
        ASSERT_TRUE(lib);
        write_file(root, lib, PF_FILE("pkg", 1));

        ASSERT_OK(config_set_load(root, NULL, &s));
        ASSERT_TRUE(!s->errors);
        ASSERT_EQ(s->n_pfs, 2);
        ASSERT_STREQ(s->pfs[0].match.interface, "pkg");
        f = s->files[1];
        ASSERT_TRUE(strncmp(f, root, strlen(root)) == 0 &&
                    streq(f + strlen(root), "/etc/sriov.d/50-x.conf"));

        /* A root without any directory is simply empty. */
        remove_root(root);
        root = make_root();
        ASSERT_OK(config_set_load(root, NULL, &none));
        ASSERT_TRUE(!none->files && !none->errors && none->n_pfs == 0);
        remove_root(root);
}

TEST(load_repeated_dir_read_once)
{
        char *root = make_root();
        _cleanup_(config_set_freep) ConfigSet *s = NULL;
        static const char *const dirs[] = {"/usr/lib/sriov.d", "/etc/sriov.d", "/usr/lib/sriov.d", NULL};

        write_file(root, "/usr/lib/sriov.d/50-x.conf", PF_FILE("a", 1));
        ASSERT_OK(config_set_load(root, dirs, &s));
        ASSERT_EQ(strv_length(s->files), 1);
        ASSERT_EQ(s->n_pfs, 1);
        remove_root(root);
}

TEST(reload_builds_independent_sets)
{
        char *root = make_root();
        _cleanup_(config_set_freep) ConfigSet *a = NULL, *b = NULL;

        write_file(root, "/etc/sriov.d/50-x.conf", PF_FILE("a", 1));
        ASSERT_OK(config_set_load(root, test_dirs, &a));
        write_file(root, "/etc/sriov.d/50-x.conf", PF_FILE("b", 2));
        ASSERT_OK(config_set_load(root, test_dirs, &b));
        /* The old set is untouched until the caller swaps. */
        ASSERT_STREQ(a->pfs[0].match.interface, "a");
        ASSERT_STREQ(b->pfs[0].match.interface, "b");
        remove_root(root);
}

/* ---- tables ---- */

TEST(known_drivers)
{
        ASSERT_TRUE(config_driver_name_is_known("vfio-pci"));
        ASSERT_TRUE(config_driver_name_is_known("iavf"));
        ASSERT_TRUE(config_driver_name_is_known("mlx5_core"));
        ASSERT_TRUE(config_driver_name_is_known(""));
        ASSERT_TRUE(config_driver_name_is_known(NULL));
        ASSERT_TRUE(!config_driver_name_is_known("vfio_pci"));
        ASSERT_TRUE(!config_driver_name_is_known("VFIO-PCI"));
        /* Sorted, so the docs list can be compared by eye. */
        for (size_t i = 1; config_known_drivers[i]; i++)
                ASSERT_TRUE(strcmp(config_known_drivers[i - 1], config_known_drivers[i]) < 0);
}

TEST(string_tables)
{
        ASSERT_STREQ(vf_link_state_to_string(VF_LINK_STATE_ENABLE), "enable");
        ASSERT_EQ(vf_link_state_from_string("disable"), VF_LINK_STATE_DISABLE);
        ASSERT_EQ(vf_link_state_from_string("up"), _VF_LINK_STATE_INVALID);
        ASSERT_STREQ(pf_link_type_to_string(PF_LINK_TYPE_INFINIBAND), "ib");
        ASSERT_EQ(pf_link_type_from_string("eth"), PF_LINK_TYPE_ETHERNET);
        ASSERT_STREQ(vf_mac_mode_to_string(VF_MAC_STABLE), "stable");
        ASSERT_TRUE(!vf_mac_mode_to_string(_VF_MAC_MODE_MAX));
}

/* Every key the parser accepts has a heading in docs/sriov.d.md, and every driver is listed. */
TEST(docs_cover_every_key)
{
        const char *srcdir = getenv("TESTS_SRCDIR");
        _cleanup_free_ char *path = NULL, *doc = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        const ConfigKey *keys;
        size_t n, len = 0;
        bool missing = false;

        if (!srcdir) {
                fprintf(stderr, "TESTS_SRCDIR not set, skipping docs check\n");
                return;
        }
        ASSERT_OK(asprintf_safe(&path, "%s/../docs/sriov.d.md", srcdir));
        f = fopen(path, "re");
        ASSERT_TRUE(f);
        ASSERT_TRUE(getdelim(&doc, &len, '\0', f) > 0);

        keys = config_known_keys(&n);
        ASSERT_TRUE(n >= 17); /* and the VF attributes' keys: test-vf-attr */
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *heading = NULL;

                /* A level-3 heading naming the key: "### `vfs.vlan`" */
                ASSERT_OK(asprintf_safe(&heading, "\n### `%s`", keys[i].path));
                if (!strstr(doc, heading)) {
                        fprintf(stderr, "docs/sriov.d.md does not document key '%s'\n", keys[i].path);
                        missing = true;
                }
        }
        for (const char *const *d = config_known_drivers; *d; d++) {
                _cleanup_free_ char *item = NULL;

                ASSERT_OK(asprintf_safe(&item, "`%s`", *d));
                if (!strstr(doc, item)) {
                        fprintf(stderr, "docs/sriov.d.md does not list driver '%s'\n", *d);
                        missing = true;
                }
        }
        ASSERT_TRUE(!missing);
}

int main(void)
{
        /* The notice test reads our stderr. */
        log_set_target(LOG_TARGET_CONSOLE);
        log_setup();

        RUN(spec_example);
        RUN(minimal_entry_defaults);
        RUN(several_entries_in_file_order);
        RUN(empty_and_comment_only_files);
        RUN(syntax_error_line);
        RUN(duplicate_key);
        RUN(include_rejected);
        RUN(integer_wraparound_rejected);
        RUN(nul_byte);
        RUN(file_too_large);
        RUN(too_many_lines);
        RUN(unknown_top_level_key);
        RUN(physical_functions_type);
        RUN(missing_match_and_num_vfs);
        RUN(unknown_pf_key);
        RUN(match_empty);
        RUN(match_unknown_key);
        RUN(match_ids);
        RUN(match_mac_and_globs);
        RUN(num_vfs_values);
        RUN(pf_mtu);
        RUN(drivers_autoprobe);
        RUN(link_type);
        RUN(vfs_type);
        RUN(range_syntax);
        RUN(range_overlap);
        RUN(range_beyond_num_vfs);
        RUN(range_with_max);
        RUN(vlan);
        RUN(qos);
        RUN(vlan_proto);
        RUN(mac_modes);
        RUN(mac_invalid);
        RUN(mac_fixed_needs_single_vf);
        RUN(booleans);
        RUN(link_state);
        RUN(tx_rates);
        RUN(vf_mtu);
        RUN(driver);
        RUN(pool_names);
        RUN(unknown_vf_key);
        RUN(all_errors_reported_in_order);
        RUN(too_many_errors);
        RUN(bad_entry_rejects_whole_file);
        RUN(match_semantics);
        RUN(match_without_netdev);
        RUN(match_before_name);
        RUN(unmanaged);
        RUN(first_match_wins_with_notice);
        RUN(vf_layout_lookup);
        RUN(load_masking_and_order);
        RUN(load_file_size_bound);
        RUN(load_dev_null_masks);
        RUN(load_ignores_non_conf);
        RUN(load_bad_file_does_not_affect_good);
        RUN(load_symlink_inside_root);
        RUN(load_default_dirs_with_root);
        RUN(load_repeated_dir_read_once);
        RUN(reload_builds_independent_sets);
        RUN(known_drivers);
        RUN(string_tables);
        RUN(docs_cover_every_key);
        return 0;
}
