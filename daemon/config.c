/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The /etc/sriov.d loader (SPEC §2): finds the drop-ins, parses them with libconfig, validates
 * every value and turns each accepted file into PfConfig entries. A file with any error is
 * rejected whole, with "FILE:LINE: message" lines meant for an admin. */

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <libconfig.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "config.h"
#include "log.h"
#include "util.h"

#ifndef PKG_LIBDIR_SRIOVD
#define PKG_LIBDIR_SRIOVD "/usr/local/lib/sriov.d"
#endif

const char *const config_dirs_default[] = {
        "/usr/lib/sriov.d", PKG_LIBDIR_SRIOVD, /* dropped at load time when it equals one of the others */
        "/run/sriov.d",     "/etc/sriov.d",    NULL,
};

static const char *const vf_link_state_table[_VF_LINK_STATE_MAX] = {
        [VF_LINK_STATE_AUTO] = "auto",
        [VF_LINK_STATE_ENABLE] = "enable",
        [VF_LINK_STATE_DISABLE] = "disable",
};
DEFINE_STRING_TABLE(vf_link_state, VfLinkState, _VF_LINK_STATE_MAX);

static const char *const pf_link_type_table[_PF_LINK_TYPE_MAX] = {
        [PF_LINK_TYPE_ETHERNET] = "eth",
        [PF_LINK_TYPE_INFINIBAND] = "ib",
};
DEFINE_STRING_TABLE(pf_link_type, PfLinkType, _PF_LINK_TYPE_MAX);

static const char *const vf_mac_mode_table[_VF_MAC_MODE_MAX] = {
        [VF_MAC_UNSET] = "unset",
        [VF_MAC_STABLE] = "stable",
        [VF_MAC_KEEP] = "keep",
        [VF_MAC_FIXED] = "fixed",
};
DEFINE_STRING_TABLE(vf_mac_mode, VfMacMode, _VF_MAC_MODE_MAX);

/* Drivers a VF may be bound to, as named under /sys/bus/pci/drivers/. The point is to catch
 * typos ("vfoi-pci") when the file is read rather than as a failed bind at runtime, so the
 * table errs on the side of accepting: VF netdev drivers, drivers that bind both PFs and
 * VFs, vfio variant drivers (live migration), and the userspace I/O stubs DPDK uses. */
const char *const config_known_drivers[] = {
        "be2net",
        "bnx2x",
        "bnxt_en",
        "cxgb4vf",
        "ena",
        "enic",
        "fm10k",
        "hclgevf",
        "hinic",
        "hisi_acc_vfio_pci",
        "i40evf",
        "iavf",
        "ice",
        "idpf",
        "igb_uio",
        "igbvf",
        "ionic",
        "ixgbevf",
        "liquidio_vf",
        "mana",
        "mlx4_core",
        "mlx5_core",
        "mlx5_vfio_pci",
        "nfp",
        "nfp_netvf",
        "nvme",
        "octeon_ep_vf",
        "pci-stub",
        "pds_vfio_pci",
        "qede",
        "qlcnic",
        "rvu_nicvf",
        "sfc",
        "thunder-nicvf",
        "uio_pci_generic",
        "vfio-pci",
        "virtio-pci",
        "virtio_vfio_pci",
        NULL,
};

bool config_driver_name_is_known(const char *name)
{
        if (isempty(name))
                return true; /* the kernel's choice */
        for (const char *const *d = config_known_drivers; *d; d++)
                if (streq(*d, name))
                        return true;
        return false;
}

/* One table for the parser's unknown-key check and for the documentation test; the VF
 * attributes' keys are vf-attr.c's. */
static const ConfigKey config_keys[] = {
        {"", "physical_functions", "physical_functions"},
        {"physical_functions", "match", "match"},
        {"physical_functions", "num_vfs", "num_vfs"},
        {"physical_functions", "mtu", "mtu"},
        {"physical_functions", "drivers_autoprobe", "drivers_autoprobe"},
        {"physical_functions", "link_type", "link_type"},
        {"physical_functions", "vfs", "vfs"},
        {"match", "interface", "match.interface"},
        {"match", "pci", "match.pci"},
        {"match", "vendor", "match.vendor"},
        {"match", "device", "match.device"},
        {"match", "mac", "match.mac"},
        {"vfs", "range", "vfs.range"},
        {"vfs", "pool", "vfs.pool"},
        {"vfs", "mtu", "vfs.mtu"},
        {"vfs", "rdma", "vfs.rdma"},
        {"vfs", "driver", "vfs.driver"},
};

const ConfigKey *config_known_keys(size_t *ret_n)
{
        if (ret_n)
                *ret_n = ELEMENTSOF(config_keys);
        return config_keys;
}

static bool config_key_is_known(const char *section, const char *name)
{
        if (streq(section, "vfs") && vf_attr_from_config_key(name, NULL))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (streq(config_keys[i].section, section) && streq(config_keys[i].name, name))
                        return true;
        return false;
}

/* ---- error collection ---- */

typedef struct Parser {
        const char *path;
        char **errors;
        unsigned n_errors;
        bool oom;
} Parser;

static void parser_error(Parser *p, unsigned line, const char *fmt, ...) _printf_(3, 4);
static void parser_error(Parser *p, unsigned line, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        p->n_errors++;
        if (p->oom || p->n_errors > CONFIG_ERRORS_MAX + 1)
                return;
        if (p->n_errors == CONFIG_ERRORS_MAX + 1) {
                /* A file that is wrong everywhere (e.g. written for another tool) should not
                 * flood the journal and the D-Bus property. */
                if (strv_extendf(&p->errors, "%s:%u: too many errors, not reporting more", p->path, line) <
                    0)
                        p->oom = true;
                return;
        }

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                msg = NULL;
                p->oom = true;
                return;
        }
        if (strv_extendf(&p->errors, "%s:%u: %s", p->path, line, msg) < 0)
                p->oom = true;
}

static unsigned setting_line(const config_setting_t *s)
{
        return config_setting_source_line(s);
}

static const char *setting_type_name(const config_setting_t *s)
{
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                return "an integer";
        case CONFIG_TYPE_FLOAT:
                return "a floating-point number";
        case CONFIG_TYPE_STRING:
                return "a string";
        case CONFIG_TYPE_BOOL:
                return "a boolean";
        case CONFIG_TYPE_ARRAY:
                return "an array [ ... ]";
        case CONFIG_TYPE_LIST:
                return "a list ( ... )";
        case CONFIG_TYPE_GROUP:
                return "a group { ... }";
        default:
                return "an unknown type";
        }
}

static bool is_int_type(int type)
{
        return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
}

/* ---- typed value accessors: each reports its own error and returns false on one ---- */

static bool get_int(Parser *p, const config_setting_t *s, long long min, long long max, long long *ret)
{
        long long v;

        if (!is_int_type(config_setting_type(s))) {
                parser_error(p, setting_line(s), "%s must be an integer, got %s", config_setting_name(s),
                             setting_type_name(s));
                return false;
        }
        v = config_setting_get_int64(s);
        if (v < min || v > max) {
                parser_error(p, setting_line(s), "%s must be between %lld and %lld, got %lld",
                             config_setting_name(s), min, max, v);
                return false;
        }
        *ret = v;
        return true;
}

static bool get_bool(Parser *p, const config_setting_t *s, int *ret)
{
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
                parser_error(p, setting_line(s), "%s must be a boolean (true or false), got %s",
                             config_setting_name(s), setting_type_name(s));
                return false;
        }
        *ret = config_setting_get_bool(s) ? 1 : 0;
        return true;
}

static const char *get_string(Parser *p, const config_setting_t *s)
{
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                parser_error(p, setting_line(s), "%s must be a string, got %s", config_setting_name(s),
                             setting_type_name(s));
                return NULL;
        }
        return config_setting_get_string(s);
}

static bool check_unknown_keys(Parser *p, const config_setting_t *group, const char *section,
                               const char *where)
{
        bool ok = true;

        for (int i = 0; i < config_setting_length(group); i++) {
                const config_setting_t *s = config_setting_get_elem(group, i);
                const char *name = config_setting_name(s);

                if (name && config_key_is_known(section, name))
                        continue;
                parser_error(p, setting_line(s), "unknown key '%s' %s", strna(name), where);
                ok = false;
        }
        return ok;
}

static void format_range(unsigned first, unsigned last, char buf[static 24])
{
        if (first == last)
                snprintf(buf, 24, "%u", first);
        else
                snprintf(buf, 24, "%u-%u", first, last);
}

/* ---- match = { ... } ---- */

static bool parse_hex_id(const char *s, uint16_t *ret)
{
        /* Exactly four hex digits, as lspci -n prints them; "0x" allowed for C habits. A short
         * id like "15b" is far more likely a typo than a real vendor. */
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                s += 2;
        if (strlen(s) != 4)
                return false;
        for (size_t i = 0; i < 4; i++)
                if (!isxdigit((unsigned char) s[i]))
                        return false;
        *ret = (uint16_t) strtoul(s, NULL, 16);
        return true;
}

static bool parse_glob(Parser *p, const config_setting_t *s, char **ret)
{
        const char *v = get_string(p, s);

        if (!v)
                return false;
        if (isempty(v)) {
                parser_error(p, setting_line(s), "match %s must not be empty", config_setting_name(s));
                return false;
        }
        if (strlen(v) > CONFIG_GLOB_MAX) {
                parser_error(p, setting_line(s), "match %s is longer than %u characters",
                             config_setting_name(s), CONFIG_GLOB_MAX);
                return false;
        }
        *ret = strdup(v);
        if (!*ret)
                p->oom = true;
        return *ret != NULL;
}

static void parse_match(Parser *p, const config_setting_t *g, PfMatch *m)
{
        const char *v;
        bool any = false;

        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                parser_error(p, setting_line(g), "match must be a group { ... }, got %s",
                             setting_type_name(g));
                return;
        }
        check_unknown_keys(p, g, "match", "in match (expected interface, pci, vendor, device or mac)");

        for (int i = 0; i < config_setting_length(g); i++) {
                const config_setting_t *s = config_setting_get_elem(g, i);
                const char *name = config_setting_name(s);

                if (!name)
                        continue;
                if (streq(name, "interface")) {
                        any = true;
                        (void) parse_glob(p, s, &m->interface);
                } else if (streq(name, "pci")) {
                        any = true;
                        (void) parse_glob(p, s, &m->pci);
                } else if (streq(name, "vendor") || streq(name, "device")) {
                        bool vendor = streq(name, "vendor");

                        any = true;
                        v = get_string(p, s);
                        if (!v)
                                continue;
                        if (!parse_hex_id(v, vendor ? &m->vendor : &m->device)) {
                                parser_error(p, setting_line(s),
                                             "invalid %s \"%s\": expected four hex digits like \"%s\"", name,
                                             v, vendor ? "15b3" : "101b");
                                continue;
                        }
                        if (vendor)
                                m->has_vendor = true;
                        else
                                m->has_device = true;
                } else if (streq(name, "mac")) {
                        any = true;
                        v = get_string(p, s);
                        if (!v)
                                continue;
                        if (parse_ether_addr(v, &m->mac) < 0) {
                                parser_error(p, setting_line(s),
                                             "invalid match mac \"%s\": expected an address like "
                                             "b8:59:9f:00:00:01",
                                             v);
                                continue;
                        }
                        m->has_mac = true;
                }
        }

        if (!any)
                parser_error(p, setting_line(g),
                             "match must contain at least one of interface, pci, vendor, device or mac");
}

/* ---- vfs = ( { ... } ) ---- */

static bool is_valid_pool_name(const char *s)
{
        /* Pool names appear in D-Bus object paths, sriovctl tables and allocation requests from
         * scripts; keep them to characters that need no quoting anywhere. */
        size_t n = strlen(s);

        if (n == 0 || n > CONFIG_POOL_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("-_.:", s[i]))
                        return false;
        return true;
}

static bool parse_range_string(const char *s, unsigned *ret_first, unsigned *ret_last)
{
        size_t dashes = 0;

        /* parse_range() tolerates trailing blanks (it reads sysfs); a config value should not. */
        for (const char *c = s; *c; c++) {
                if (*c == '-')
                        dashes++;
                else if (!isdigit((unsigned char) *c))
                        return false;
        }
        if (dashes > 1)
                return false;
        return parse_range(s, ret_first, ret_last) >= 0;
}

/* A key of vf-attr.c's table: the value's type and range are checked here, the rest by the
 * row's hook. */
static void parse_vf_attr_key(Parser *p, const config_setting_t *s, VfLayout *vf)
{
        _cleanup_free_ char *msg = NULL;
        const VfAttrConfigKey *k;
        const VfAttrInfo *a = vf_attr_from_config_key(config_setting_name(s), &k);
        const char *str = NULL;
        long long num = 0;
        int b, r;

        switch (k->type) {
        case VF_ATTR_CONFIG_BOOL:
                if (!get_bool(p, s, &b))
                        return;
                num = b;
                break;
        case VF_ATTR_CONFIG_INT:
                if (!get_int(p, s, k->min, k->max, &num))
                        return;
                break;
        case VF_ATTR_CONFIG_STRING:
                str = get_string(p, s);
                if (!str)
                        return;
                break;
        }
        r = vf_attr_config_set(a, k, vf, str, num, &msg);
        if (r == -ENOMEM)
                p->oom = true;
        else if (r < 0)
                parser_error(p, setting_line(s), "%s", strna(msg));
}

static void parse_vf(Parser *p, const config_setting_t *g, VfLayout *vf, bool *ret_range_ok)
{
        const config_setting_t *range = NULL;
        long long v;

        *ret_range_ok = false;
        vf->line = setting_line(g);
        vf->rdma = -1;
        vf->mac_mode = VF_MAC_UNSET;

        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                parser_error(p, setting_line(g),
                             "vfs entries must be groups { range = \"...\"; ... }, got %s",
                             setting_type_name(g));
                return;
        }
        check_unknown_keys(p, g, "vfs", "in vfs entry");

        for (int i = 0; i < config_setting_length(g); i++) {
                const config_setting_t *s = config_setting_get_elem(g, i);
                const char *name = config_setting_name(s), *str;

                if (!name)
                        continue;
                if (streq(name, "range")) {
                        range = s;
                        str = get_string(p, s);
                        if (!str)
                                continue;
                        if (!parse_range_string(str, &vf->first, &vf->last)) {
                                parser_error(p, setting_line(s),
                                             "invalid range \"%s\": expected \"N\" or \"N-M\" with N <= M",
                                             str);
                                continue;
                        }
                        if (vf->last >= CONFIG_NUM_VFS_MAX) {
                                parser_error(p, setting_line(s),
                                             "range \"%s\" is beyond the largest possible VF index %u", str,
                                             CONFIG_NUM_VFS_MAX - 1);
                                continue;
                        }
                        *ret_range_ok = true;
                } else if (streq(name, "pool")) {
                        str = get_string(p, s);
                        if (!str)
                                continue;
                        if (!isempty(str) && !is_valid_pool_name(str)) {
                                parser_error(p, setting_line(s),
                                             "invalid pool name \"%s\": use at most %u letters, digits, "
                                             "'-', '_', '.' or ':'",
                                             str, CONFIG_POOL_NAME_MAX);
                                continue;
                        }
                        if (free_and_strdup(&vf->pool, str) < 0)
                                p->oom = true;
                } else if (streq(name, "rdma"))
                        (void) get_bool(p, s, &vf->rdma);
                else if (vf_attr_from_config_key(name, NULL))
                        parse_vf_attr_key(p, s, vf);
                else if (streq(name, "mtu")) {
                        if (get_int(p, s, 68, 65535, &v))
                                vf->mtu = (uint32_t) v;
                } else if (streq(name, "driver")) {
                        str = get_string(p, s);
                        if (!str)
                                continue;
                        if (!config_driver_name_is_known(str)) {
                                parser_error(p, setting_line(s), "unknown driver '%s'", str);
                                continue;
                        }
                        if (!isempty(str) && free_and_strdup(&vf->driver, str) < 0)
                                p->oom = true;
                }
        }

        if (!vf->pool) {
                vf->pool = strdup("");
                if (!vf->pool)
                        p->oom = true;
        }

        /* Checks between keys of the entry. */
        if (!range)
                parser_error(p, setting_line(g), "vfs entry has no range (e.g. range = \"0-3\";)");
        /* Checks between the keys of one VF attribute, as its row says. */
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++) {
                const VfAttrInfo *i = vf_attr_info(a);
                const config_setting_t *keys[VF_ATTR_KEYS_MAX] = {};
                unsigned present = 0;

                if (!i->config_check)
                        continue;
                for (unsigned k = 0; k < VF_ATTR_KEYS_MAX && i->keys[k].name; k++) {
                        keys[k] = config_setting_get_member(g, i->keys[k].name);
                        if (keys[k])
                                present |= 1u << k;
                }
                for (unsigned k = 0; k < VF_ATTR_KEYS_MAX; k++) {
                        _cleanup_free_ char *msg = NULL;
                        int r;

                        if (!keys[k])
                                continue;
                        r = i->config_check(vf, present, k, &msg);
                        if (r == -ENOMEM)
                                p->oom = true;
                        else if (r < 0)
                                parser_error(p, setting_line(keys[k]), "%s", strna(msg));
                }
        }
        if (vf->mac_mode == VF_MAC_FIXED && *ret_range_ok && vf->first != vf->last) {
                char buf[24];

                format_range(vf->first, vf->last, buf);
                parser_error(p, setting_line(config_setting_get_member(g, "mac")),
                             "a fixed mac needs a single-VF range, not range %s (use \"stable\" for several "
                             "VFs)",
                             buf);
        }
}

/* ---- physical_functions = ( { ... } ) ---- */

static void vf_layout_done(VfLayout *vf)
{
        free(vf->pool);
        free(vf->driver);
}

static void pf_config_done(PfConfig *c)
{
        free(c->match.interface);
        free(c->match.pci);
        FOREACH_ARRAY(vf, c->vfs, c->n_vfs)
                vf_layout_done(vf);
        free(c->vfs);
}

static void parse_vfs(Parser *p, const config_setting_t *l, PfConfig *c, bool num_vfs_ok)
{
        _cleanup_free_ bool *range_ok = NULL;
        int n;

        if (config_setting_type(l) != CONFIG_TYPE_LIST) {
                /* An empty "[]" parses as an array; there is nothing wrong with it. */
                if (config_setting_type(l) == CONFIG_TYPE_ARRAY && config_setting_length(l) == 0)
                        return;
                parser_error(p, setting_line(l), "vfs must be a list ( { ... }, ... ), got %s",
                             setting_type_name(l));
                return;
        }
        n = config_setting_length(l);
        if (n <= 0)
                return;
        if ((unsigned) n > CONFIG_VF_ENTRIES_MAX) {
                parser_error(p, setting_line(l), "vfs has %d entries, at most %u are allowed", n,
                             CONFIG_VF_ENTRIES_MAX);
                return;
        }

        c->vfs = calloc(n, sizeof(VfLayout));
        range_ok = calloc(n, sizeof(bool));
        if (!c->vfs || !range_ok) {
                p->oom = true;
                return;
        }
        c->n_vfs = n;
        for (int i = 0; i < n; i++)
                parse_vf(p, config_setting_get_elem(l, i), &c->vfs[i], &range_ok[i]);

        /* Across entries: a VF index belongs to one entry, and must exist. Entry i is reported
         * against the earliest earlier entry it overlaps, at its own line. */
        for (int i = 0; i < n; i++) {
                const VfLayout *a = &c->vfs[i];
                char ba[24], bb[24];

                if (!range_ok[i])
                        continue;
                format_range(a->first, a->last, ba);
                for (int j = 0; j < i; j++) {
                        const VfLayout *b = &c->vfs[j];

                        if (!range_ok[j] || a->first > b->last || b->first > a->last)
                                continue;
                        format_range(b->first, b->last, bb);
                        parser_error(p, a->line, "range %s overlaps range %s", ba, bb);
                        break;
                }
                if (num_vfs_ok && c->num_vfs != NUM_VFS_MAX && a->last >= (unsigned) c->num_vfs)
                        parser_error(p, a->line, "range %s is beyond num_vfs = %d", ba, c->num_vfs);
        }
}

static void parse_pf(Parser *p, const config_setting_t *g, PfConfig *c)
{
        const config_setting_t *s, *vfs = NULL;
        bool num_vfs_ok = false;
        long long v;

        c->line = setting_line(g);
        c->drivers_autoprobe = -1;
        c->link_type = PF_LINK_TYPE_ETHERNET;

        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                parser_error(p, setting_line(g), "physical_functions entries must be groups { ... }, got %s",
                             setting_type_name(g));
                return;
        }
        check_unknown_keys(p, g, "physical_functions", "in physical_functions entry");

        s = config_setting_get_member(g, "match");
        if (s)
                parse_match(p, s, &c->match);
        else
                parser_error(p, c->line, "physical_functions entry has no match = { ... }");

        s = config_setting_get_member(g, "num_vfs");
        if (!s)
                parser_error(p, c->line, "physical_functions entry has no num_vfs (a number, or \"max\")");
        else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
                const char *str = config_setting_get_string(s);

                if (streq(str, "max")) {
                        c->num_vfs = NUM_VFS_MAX;
                        num_vfs_ok = true;
                } else
                        parser_error(p, setting_line(s),
                                     "num_vfs must be a number between 0 and %u or \"max\", got \"%s\"",
                                     CONFIG_NUM_VFS_MAX, str);
        } else if (is_int_type(config_setting_type(s))) {
                if (get_int(p, s, 0, CONFIG_NUM_VFS_MAX, &v)) {
                        c->num_vfs = (int) v;
                        num_vfs_ok = true;
                }
        } else
                parser_error(p, setting_line(s), "num_vfs must be a number or \"max\", got %s",
                             setting_type_name(s));

        s = config_setting_get_member(g, "mtu");
        if (s && get_int(p, s, 68, 65535, &v))
                c->mtu = (uint32_t) v;

        s = config_setting_get_member(g, "drivers_autoprobe");
        if (s)
                (void) get_bool(p, s, &c->drivers_autoprobe);

        s = config_setting_get_member(g, "link_type");
        if (s) {
                const char *str = get_string(p, s);

                if (str) {
                        PfLinkType t = pf_link_type_from_string(str);

                        if (t < 0)
                                parser_error(p, setting_line(s),
                                             "invalid link_type \"%s\": expected \"eth\" or \"ib\"", str);
                        else
                                c->link_type = t;
                }
        }

        vfs = config_setting_get_member(g, "vfs");
        if (vfs)
                parse_vfs(p, vfs, c, num_vfs_ok);
}

/* ---- the whole file ---- */

/* libconfig 1.5 reads integer literals with atoi()-like wrap-around ("vlan = 4294967396" is
 * silently 100) and follows @include to any file. Neither is acceptable for a root-owned
 * daemon config, and neither can be seen in the parsed tree, so we scan the text first with
 * just enough of libconfig's lexer to find literals and line starts outside strings and
 * comments. Also bounds what libconfig gets to see. */
static void prescan(Parser *p, const char *text, size_t len)
{
        enum {
                NORMAL,
                STRING,
                LINE_COMMENT,
                BLOCK_COMMENT
        } state = NORMAL;
        unsigned line = 1;
        bool line_start = true;

        if (len > CONFIG_FILE_SIZE_MAX) {
                parser_error(p, 1, "file is larger than %u bytes", CONFIG_FILE_SIZE_MAX);
                return;
        }

        for (size_t i = 0; i < len; i++) {
                char c = text[i];

                if (c == '\0') {
                        parser_error(p, line, "file contains a NUL byte (not a text file?)");
                        return;
                }
                if (c == '\n') {
                        if (line >= CONFIG_FILE_LINES_MAX && i + 1 < len) {
                                parser_error(p, line, "file has more than %u lines", CONFIG_FILE_LINES_MAX);
                                return;
                        }
                        line++;
                        line_start = true;
                        if (state == LINE_COMMENT)
                                state = NORMAL;
                        continue;
                }

                switch (state) {
                case STRING:
                        if (c == '\\' && i + 1 < len && text[i + 1] != '\n' && text[i + 1] != '\0')
                                i++;
                        else if (c == '"')
                                state = NORMAL;
                        continue;
                case LINE_COMMENT:
                        continue;
                case BLOCK_COMMENT:
                        if (c == '*' && i + 1 < len && text[i + 1] == '/') {
                                i++;
                                state = NORMAL;
                        }
                        continue;
                case NORMAL:
                        break;
                }

                if (c == ' ' || c == '\t' || c == '\r')
                        continue;
                if (line_start && c == '@' && len - i >= 8 && strncmp(text + i, "@include", 8) == 0) {
                        parser_error(p, line, "@include is not supported; use separate drop-in files");
                        i += 7;
                        line_start = false;
                        continue;
                }
                line_start = false;

                if (c == '"')
                        state = STRING;
                else if (c == '#')
                        state = LINE_COMMENT;
                else if (c == '/' && i + 1 < len && text[i + 1] == '/')
                        state = LINE_COMMENT;
                else if (c == '/' && i + 1 < len && text[i + 1] == '*') {
                        state = BLOCK_COMMENT;
                        i++;
                } else if (isalpha((unsigned char) c) || c == '*' || c == '_') {
                        /* A name or true/false: digits in it are not numbers. */
                        while (i + 1 < len &&
                               (isalnum((unsigned char) text[i + 1]) || strchr("-_*", text[i + 1])) &&
                               text[i + 1] != '\0')
                                i++;
                } else if (isdigit((unsigned char) c) ||
                           ((c == '-' || c == '+') && i + 1 < len && isdigit((unsigned char) text[i + 1]))) {
                        size_t start = i, end;
                        bool hex, neg = c == '-', is_long = false, is_float = false;
                        unsigned long long v = 0;
                        bool overflow = false;

                        if (c == '-' || c == '+')
                                i++;
                        hex = text[i] == '0' && i + 1 < len && (text[i + 1] == 'x' || text[i + 1] == 'X');
                        if (hex)
                                i += 2;
                        for (; i < len; i++) {
                                unsigned d;

                                if (isdigit((unsigned char) text[i]))
                                        d = text[i] - '0';
                                else if (hex && isxdigit((unsigned char) text[i]))
                                        d = tolower((unsigned char) text[i]) - 'a' + 10;
                                else
                                        break;
                                if (v > (ULLONG_MAX - d) / (hex ? 16 : 10))
                                        overflow = true;
                                else
                                        v = v * (hex ? 16 : 10) + d;
                        }
                        if (!hex && i < len && strchr(".eE", text[i]))
                                is_float = true;
                        if (i < len && text[i] == 'L') {
                                is_long = true;
                                if (i + 1 < len && text[i + 1] == 'L')
                                        i++;
                                i++;
                        }
                        end = i;
                        i--; /* the loop's i++ */
                        if (is_float) {
                                /* Skip the rest of the float; its value is never used. */
                                while (i + 1 < len &&
                                       (isdigit((unsigned char) text[i + 1]) ||
                                        strchr(".eE+-", text[i + 1])) &&
                                       text[i + 1] != '\0')
                                        i++;
                                continue;
                        }
                        if (overflow || (is_long ? v > (unsigned long long) INT64_MAX + neg
                                                 : v > (unsigned long long) INT32_MAX + (neg && !hex)))
                                parser_error(p, line, "number %.*s is out of range",
                                             (int) MIN(end - start, 40), text + start);
                }
        }
}

static void parse_root(Parser *p, const config_setting_t *root, PfConfig **ret_pfs, size_t *ret_n)
{
        const config_setting_t *l;
        PfConfig *pfs;
        int n;

        check_unknown_keys(p, root, "", "at the top level (expected physical_functions)");

        l = config_setting_get_member(root, "physical_functions");
        if (!l)
                return; /* comments only, or every entry commented out */
        if (config_setting_type(l) != CONFIG_TYPE_LIST) {
                if (config_setting_type(l) == CONFIG_TYPE_ARRAY && config_setting_length(l) == 0)
                        return;
                parser_error(p, setting_line(l),
                             "physical_functions must be a list ( { ... }, ... ), got %s",
                             setting_type_name(l));
                return;
        }
        n = config_setting_length(l);
        if (n <= 0)
                return;
        if ((unsigned) n > CONFIG_PF_ENTRIES_MAX) {
                parser_error(p, setting_line(l), "physical_functions has %d entries, at most %u are allowed",
                             n, CONFIG_PF_ENTRIES_MAX);
                return;
        }

        pfs = calloc(n, sizeof(PfConfig));
        if (!pfs) {
                p->oom = true;
                return;
        }
        for (int i = 0; i < n; i++) {
                pfs[i].file = p->path;
                parse_pf(p, config_setting_get_elem(l, i), &pfs[i]);
        }
        *ret_pfs = pfs;
        *ret_n = n;
}

static const char *config_set_intern_file(ConfigSet *set, const char *path)
{
        size_t n = strv_length(set->files);

        /* Tests and the fuzzer call config_set_add_buffer() directly; the loader passes each
         * path once. Either way PfConfig.file must point into set->files. */
        STRV_FOREACH(f, set->files)
                if (streq(*f, path))
                        return *f;
        if (strv_extend(&set->files, path) < 0)
                return NULL;
        return set->files[n];
}

int config_set_add_buffer(ConfigSet *set, const char *path, const char *text, size_t len)
{
        _cleanup_free_ char *copy = NULL;
        PfConfig *pfs = NULL;
        size_t n_pfs = 0;
        config_t cfg;
        Parser p = {};

        if (!set || !path || (!text && len > 0))
                return -EINVAL;

        p.path = config_set_intern_file(set, path);
        if (!p.path)
                return -ENOMEM;

        prescan(&p, text, len);
        if (p.n_errors == 0) {
                /* libconfig wants a NUL-terminated string. */
                copy = malloc(len + 1);
                if (!copy)
                        return -ENOMEM;
                if (len > 0)
                        memcpy(copy, text, len);
                copy[len] = '\0';

                config_init(&cfg);
                if (config_read_string(&cfg, copy) != CONFIG_TRUE)
                        parser_error(&p, (unsigned) MAX(config_error_line(&cfg), 0), "%s",
                                     strna(config_error_text(&cfg)));
                else
                        parse_root(&p, config_root_setting(&cfg), &pfs, &n_pfs);
                config_destroy(&cfg);
        }

        if (p.n_errors == 0 && !p.oom && n_pfs > 0) {
                PfConfig *a = reallocarray(set->pfs, set->n_pfs + n_pfs, sizeof(PfConfig));

                if (!a)
                        p.oom = true;
                else {
                        set->pfs = a;
                        memcpy(set->pfs + set->n_pfs, pfs, n_pfs * sizeof(PfConfig));
                        set->n_pfs += n_pfs;
                        n_pfs = 0;
                }
        }

        FOREACH_ARRAY(c, pfs, n_pfs)
                pf_config_done(c);
        free(pfs);

        if (p.oom) {
                strv_free(p.errors);
                return -ENOMEM;
        }
        /* Not logged here: the loader also serves read paths (Plan, --check-config); whoever
         * applies a set logs its errors, once. */
        STRV_FOREACH(e, p.errors) {
                if (strv_extend(&set->errors, *e) < 0) {
                        strv_free(p.errors);
                        return -ENOMEM;
                }
        }
        strv_free(p.errors);
        return 0;
}

ConfigSet *config_set_free(ConfigSet *set)
{
        if (!set)
                return NULL;
        FOREACH_ARRAY(c, set->pfs, set->n_pfs)
                pf_config_done(c);
        free(set->pfs);
        strv_free(set->files);
        strv_free(set->errors);
        return mfree(set);
}

/* ---- finding the files ---- */

typedef struct DropIn {
        char *name;   /* basename: the masking key and the sort key */
        char *path;   /* as found in the directory (root prefix included): what we report */
        char *target; /* what to open: path, or a symlink's target resolved inside root */
        bool masked;
} DropIn;

static void drop_in_done(DropIn *d)
{
        free(d->name);
        free(d->path);
        free(d->target);
}

static int drop_in_compare(const void *a, const void *b)
{
        return strcmp(((const DropIn *) a)->name, ((const DropIn *) b)->name);
}

static bool is_dev_null(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

/* Decides what a directory entry is: 1 = a file to read (or a mask, *ret_masked), 0 = skip. */
static int classify_drop_in(const char *root, const char *path, bool *ret_masked, char **ret_target)
{
        _cleanup_free_ char *target = NULL;
        struct stat st;

        if (lstat(path, &st) < 0)
                return log_debug_errno(errno, "Ignoring %s: %m", path), 0;

        if (S_ISLNK(st.st_mode)) {
                char buf[PATH_MAX];
                ssize_t n = readlink(path, buf, sizeof(buf) - 1);

                if (n < 0)
                        return log_debug_errno(errno, "Ignoring %s: %m", path), 0;
                buf[n] = '\0';
                if (streq(buf, "/dev/null")) {
                        *ret_masked = true;
                        *ret_target = NULL;
                        return 1;
                }
                /* In an image or test tree an absolute link points into that tree, not the
                 * host's. One level is enough for the "link to a shared file" use. */
                target = buf[0] == '/' ? path_prefix_root(root, buf) : strdup(path);
        } else
                target = strdup(path);
        if (!target)
                return -ENOMEM;

        if (stat(target, &st) < 0)
                return log_debug_errno(errno, "Ignoring %s: %m", path), 0;
        if (is_dev_null(&st)) {
                *ret_masked = true;
                *ret_target = NULL;
                return 1;
        }
        if (!S_ISREG(st.st_mode))
                return log_debug("Ignoring %s: not a regular file.", path), 0;

        *ret_masked = false;
        *ret_target = TAKE_PTR(target);
        return 1;
}

static bool drop_in_name_is_valid(const char *name)
{
        size_t n = strlen(name);

        /* Hidden files are editor and package-manager leftovers (".#50-x.conf" is an Emacs
         * lock symlink). */
        return name[0] != '.' && n > 5 && streq(name + n - 5, ".conf");
}

static int collect_dir(const char *root, const char *dir, DropIn **drop_ins, size_t *n_drop_ins)
{
        _cleanup_free_ char *d = NULL;
        DIR *dh;
        struct dirent *de;
        int r = 0;

        d = path_prefix_root(root, dir);
        if (!d)
                return -ENOMEM;
        dh = opendir(d);
        if (!dh) {
                if (errno != ENOENT)
                        log_debug_errno(errno, "Cannot read %s, ignoring: %m", d);
                return 0;
        }

        while ((errno = 0, de = readdir(dh))) {
                _cleanup_free_ char *path = NULL, *target = NULL;
                DropIn *found = NULL;
                bool masked = false;

                if (!drop_in_name_is_valid(de->d_name))
                        continue;
                path = path_join(d, de->d_name);
                if (!path) {
                        r = -ENOMEM;
                        break;
                }
                r = classify_drop_in(root, path, &masked, &target);
                if (r < 0)
                        break;
                if (r == 0)
                        continue;

                FOREACH_ARRAY(x, *drop_ins, *n_drop_ins)
                        if (streq(x->name, de->d_name)) {
                                found = x;
                                break;
                        }
                if (!found) {
                        DropIn *a = reallocarray(*drop_ins, *n_drop_ins + 1, sizeof(DropIn));

                        if (!a) {
                                r = -ENOMEM;
                                break;
                        }
                        *drop_ins = a;
                        found = &a[(*n_drop_ins)++];
                        *found = (DropIn){.name = strdup(de->d_name)};
                        if (!found->name) {
                                r = -ENOMEM;
                                break;
                        }
                } else
                        log_debug("%s overrides %s%s.", path, found->path, masked ? " (masked)" : "");

                /* Directories come lowest priority first: the later one wins. */
                free(found->path);
                free(found->target);
                found->path = TAKE_PTR(path);
                found->target = TAKE_PTR(target);
                found->masked = masked;
                r = 0;
        }
        if (r == 0 && errno > 0)
                log_debug_errno(errno, "Cannot read %s completely: %m", d);
        closedir(dh);
        return r;
}

static int read_drop_in(const char *path, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;

        /* One byte more than allowed, so that the parser can tell "too large". */
        buf = malloc(CONFIG_FILE_SIZE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        while (len < CONFIG_FILE_SIZE_MAX + 1) {
                ssize_t n = read(fd, buf + len, CONFIG_FILE_SIZE_MAX + 1 - len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += n;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static bool dir_is_repeated_later(const char *const *dirs, size_t i)
{
        for (size_t j = i + 1; dirs[j]; j++)
                if (streq(dirs[i], dirs[j]))
                        return true;
        return false;
}

static void drop_ins_free(DropIn *drop_ins, size_t n_drop_ins)
{
        FOREACH_ARRAY(d, drop_ins, n_drop_ins)
                drop_in_done(d);
        free(drop_ins);
}

/* The surviving drop-ins of all directories, by basename, in the order they are read. */
static int collect_drop_ins(const char *root, const char *const *dirs, DropIn **ret, size_t *ret_n)
{
        DropIn *drop_ins = NULL;
        size_t n_drop_ins = 0;
        int r;

        if (!dirs)
                dirs = config_dirs_default;
        for (size_t i = 0; dirs[i]; i++) {
                /* PKG_LIBDIR_SRIOVD may equal /usr/lib/sriov.d; keep only the occurrence with
                 * the highest priority so a directory is never read twice. */
                if (dir_is_repeated_later(dirs, i))
                        continue;
                r = collect_dir(root, dirs[i], &drop_ins, &n_drop_ins);
                if (r < 0) {
                        drop_ins_free(drop_ins, n_drop_ins);
                        return r;
                }
        }
        if (n_drop_ins > 0)
                qsort(drop_ins, n_drop_ins, sizeof(DropIn), drop_in_compare);
        *ret = drop_ins;
        *ret_n = n_drop_ins;
        return 0;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
        const unsigned char *c = p;

        for (size_t i = 0; i < n; i++) {
                h ^= c[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

int config_set_fingerprint(const char *root, const char *const *dirs, uint64_t *ret)
{
        DropIn *drop_ins = NULL;
        size_t n_drop_ins = 0;
        uint64_t h = 0xcbf29ce484222325ULL;
        int r;

        r = collect_drop_ins(root, dirs, &drop_ins, &n_drop_ins);
        if (r < 0)
                return r;
        FOREACH_ARRAY(d, drop_ins, n_drop_ins) {
                struct stat st = {};

                h = fnv1a(h, d->path, strlen(d->path) + 1);
                h = fnv1a(h, &d->masked, sizeof(d->masked));
                if (d->target && stat(d->target, &st) >= 0) {
                        uint64_t v[5] = {st.st_dev, st.st_ino, (uint64_t) st.st_size,
                                         (uint64_t) st.st_mtim.tv_sec, (uint64_t) st.st_mtim.tv_nsec};

                        h = fnv1a(h, v, sizeof(v));
                }
        }
        drop_ins_free(drop_ins, n_drop_ins);
        *ret = h;
        return 0;
}

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
