/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One drop-in's text to PfConfig entries: libconfig's tree, every value validated, errors as
 * "FILE:LINE: message" lines meant for an admin. A file with any error is rejected whole. */

#include <ctype.h>
#include <libconfig.h>
#include <stdarg.h>

#include "config-internal.h"
#include "config.h"
#include "log.h"
#include "util.h"

/* ---- error collection ---- */

void parser_error(Parser *p, unsigned line, const char *fmt, ...)
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
static void parse_vf_attr_key(Parser *p, const config_setting_t *s, const VfAttrInfo *a,
                              const VfAttrConfigKey *k, VfLayout *vf)
{
        _cleanup_free_ char *msg = NULL;
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

/* What one key of a vfs entry is, looked up once: the unknown-key check, the value's parser and
 * the checks between an attribute's keys all use it (a steady apply reads 128 or more of
 * these entries on every reload). */
typedef struct VfKey {
        const config_setting_t *s;
        const char *name;
        const VfAttrInfo *attr; /* a key of vf-attr.c's table */
        const VfAttrConfigKey *key;
        bool known;
} VfKey;

static void classify_vf_key(const config_setting_t *s, VfKey *ret)
{
        const char *name = config_setting_name(s);

        *ret = (VfKey){.s = s, .name = name};
        if (!name)
                return;
        ret->attr = vf_attr_from_config_key(name, &ret->key);
        ret->known = ret->attr || streq(name, "range") || streq(name, "pool") || streq(name, "mtu") ||
                     streq(name, "rdma") || streq(name, "driver") || config_key_is_known("vfs", name);
}

static void parse_vf(Parser *p, const config_setting_t *g, VfLayout *vf, bool *ret_range_ok)
{
        const config_setting_t *range = NULL;
        _cleanup_free_ VfKey *heap = NULL;
        VfKey stack[16], *keys = stack;
        long long v;
        int n;

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
        n = config_setting_length(g);
        if ((size_t) n > ELEMENTSOF(stack)) {
                keys = heap = calloc(n, sizeof(VfKey));
                if (!keys) {
                        p->oom = true;
                        return;
                }
        }
        /* Unknown keys first, in file order, as check_unknown_keys() reports them. */
        for (int i = 0; i < n; i++) {
                classify_vf_key(config_setting_get_elem(g, i), &keys[i]);
                if (!keys[i].known)
                        parser_error(p, setting_line(keys[i].s), "unknown key '%s' in vfs entry",
                                     strna(keys[i].name));
        }

        for (int i = 0; i < n; i++) {
                const config_setting_t *s = keys[i].s;
                const char *name = keys[i].name, *str;

                if (!name)
                        continue;
                if (keys[i].attr)
                        parse_vf_attr_key(p, s, keys[i].attr, keys[i].key, vf);
                else if (streq(name, "range")) {
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
                const config_setting_t *attr_keys[VF_ATTR_KEYS_MAX] = {};
                unsigned present = 0;

                if (!i->config_check)
                        continue;
                /* A group's names are unique (libconfig refuses a duplicate). */
                for (int e = 0; e < n; e++)
                        if (keys[e].attr == i) {
                                unsigned k = (unsigned) (keys[e].key - i->keys);

                                attr_keys[k] = keys[e].s;
                                present |= 1u << k;
                        }
                for (unsigned k = 0; k < VF_ATTR_KEYS_MAX; k++) {
                        _cleanup_free_ char *msg = NULL;
                        int r;

                        if (!attr_keys[k])
                                continue;
                        r = i->config_check(vf, present, k, &msg);
                        if (r == -ENOMEM)
                                p->oom = true;
                        else if (r < 0)
                                parser_error(p, setting_line(attr_keys[k]), "%s", strna(msg));
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

const char *config_set_intern_file(ConfigSet *set, const char *path)
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

        config_prescan(&p, text, len);
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
