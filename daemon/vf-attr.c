/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <assert.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <stdio.h>
#include <strings.h>

#include "config.h"
#include "util.h"
#include "vf-attr.h"

/* ---- fields, read and written at their own width ----------------------------------------- */

static uint64_t field_get(const VfSettings *s, const VfAttrField *f)
{
        const uint8_t *p = (const uint8_t *) s + f->offset;

        switch (f->size) {
        case 1:
                return *p; /* bool or uint8_t */
        case 2:
                return *(const uint16_t *) (const void *) p;
        case 4:
                return *(const uint32_t *) (const void *) p;
        default:
                return *(const uint64_t *) (const void *) p;
        }
}

static void field_set(VfSettings *s, const VfAttrField *f, uint64_t v, bool is_bool)
{
        uint8_t *p = (uint8_t *) s + f->offset;

        switch (f->size) {
        case 1:
                if (is_bool)
                        *(bool *) (void *) p = v != 0;
                else
                        *p = (uint8_t) v;
                break;
        case 2:
                *(uint16_t *) (void *) p = (uint16_t) v;
                break;
        case 4:
                *(uint32_t *) (void *) p = (uint32_t) v;
                break;
        default:
                *(uint64_t *) (void *) p = v;
        }
}

/* ---- generic hooks: attributes whose kernel struct is { __u32 vf; __u32 setting; } --------- */

typedef struct VfSetting {
        uint32_t vf;
        uint32_t setting;
} VfSetting;

static int put_setting(const VfAttrInfo *a, struct nl_msg *m, const VfSettings *s)
{
        VfSetting v = {.vf = s->index, .setting = (uint32_t) field_get(s, &a->fields[0])};

        return nla_put(m, a->ifla[0].type, sizeof(v), &v) < 0 ? -E2BIG : 0;
}

/* The kernel reports (u32) -1 for a flag the driver does not implement. */
static int parse_setting(const VfAttrInfo *a, struct nlattr *const *tb, VfSettings *s, uint32_t *ret_index)
{
        const VfSetting *v;

        if (!tb[a->ifla[0].type])
                return 0;
        v = nla_data(tb[a->ifla[0].type]);
        *ret_index = v->vf;
        if (a->fields[0].size == sizeof(bool) && v->setting == UINT32_MAX)
                return 1;
        field_set(s, &a->fields[0], v->setting, a->fields[0].size == sizeof(bool));
        s->mask |= VF_ATTR_BIT(a->attr);
        return 1;
}

static void format_bool(const VfAttrInfo *a, const VfSettings *s, char *buf, size_t size)
{
        snprintf(buf, size, "%s", field_get(s, &a->fields[0]) ? "on" : "off");
}

/* ---- MAC ---------------------------------------------------------------------------------- */

static int mac_config_set(VfLayout *l, const char *str, long long num, char **ret_message)
{
        struct ether_addr mac;

        if (streq(str, "stable")) {
                l->mac_mode = VF_MAC_STABLE; /* the value is derived per VF: vf_desired_settings() */
                return 0;
        }
        if (streq(str, "keep")) {
                l->mac_mode = VF_MAC_KEEP;
                l->settings.mask &= ~VF_ATTR_BIT(VF_ATTR_MAC);
                return 0;
        }
        l->settings.mask &= ~VF_ATTR_BIT(VF_ATTR_MAC);
        if (parse_ether_addr(str, &mac) < 0)
                return asprintf_safe(ret_message,
                                     "invalid mac \"%s\": expected \"stable\", \"keep\" or an address like "
                                     "02:00:00:00:00:01",
                                     str) < 0
                               ? -ENOMEM
                               : -EINVAL;
        if (ether_addr_is_null(&mac))
                return asprintf_safe(ret_message, "mac %s is the all-zero address", str) < 0 ? -ENOMEM
                                                                                             : -EINVAL;
        if (mac.ether_addr_octet[0] & 0x01)
                return asprintf_safe(ret_message,
                                     "mac %s is a multicast address; a VF needs a unicast address", str) < 0
                               ? -ENOMEM
                               : -EINVAL;
        l->mac_mode = VF_MAC_FIXED;
        l->settings.mac = mac;
        l->settings.mask |= VF_ATTR_BIT(VF_ATTR_MAC);
        return 0;
}

static void mac_get(const VfSettings *s, VfAttrValue *ret)
{
        ret->s = s ? ether_addr_to_string(&s->mac, ret->buf) : "";
}

static int mac_put(const VfAttrInfo *a, struct nl_msg *m, const VfSettings *s)
{
        struct ifla_vf_mac v = {.vf = s->index};

        memcpy(v.mac, &s->mac, ETH_ALEN);
        return nla_put(m, IFLA_VF_MAC, sizeof(v), &v) < 0 ? -E2BIG : 0;
}

static int mac_parse(const VfAttrInfo *a, struct nlattr *const *tb, VfSettings *s, uint32_t *ret_index)
{
        const struct ifla_vf_mac *v;

        if (!tb[IFLA_VF_MAC])
                return 0;
        v = nla_data(tb[IFLA_VF_MAC]);
        *ret_index = v->vf;
        memcpy(&s->mac, v->mac, ETH_ALEN);
        s->mask |= VF_ATTR_BIT(VF_ATTR_MAC);
        return 1;
}

static void mac_format(const VfAttrInfo *a, const VfSettings *s, char *buf, size_t size)
{
        char tmp[ETHER_ADDR_STRLEN];

        snprintf(buf, size, "%s", ether_addr_to_string(&s->mac, tmp));
}

/* ---- VLAN, QoS and protocol --------------------------------------------------------------- */

static int vlan_config_set(VfLayout *l, const char *str, long long num, char **ret_message)
{
        /* qos and vlan_proto alone are rejected by the loader; the protocol defaults to 802.1Q. */
        if (l->settings.vlan_proto == 0)
                l->settings.vlan_proto = ETH_P_8021Q;
        return 0;
}

static int vlan_proto_config_set(VfLayout *l, const char *str, long long num, char **ret_message)
{
        /* Spelled as "ip link set ... vlan-proto" does, which also ignores case. */
        if (strcasecmp(str, "802.1Q") == 0)
                l->settings.vlan_proto = ETH_P_8021Q;
        else if (strcasecmp(str, "802.1ad") == 0)
                l->settings.vlan_proto = ETH_P_8021AD;
        else
                return asprintf_safe(ret_message,
                                     "invalid vlan_proto \"%s\": expected \"802.1Q\" or \"802.1ad\"",
                                     str) < 0
                               ? -ENOMEM
                               : -EINVAL;
        return 0;
}

/* The kernel takes qos and protocol only together with a VLAN id. */
static int vlan_config_check(const VfLayout *l, unsigned present, unsigned key, char **ret_message)
{
        if (key == 0 || (present & 1u))
                return 0;
        return asprintf_safe(ret_message, "%s requires vlan", key == 1 ? "qos" : "vlan_proto") < 0 ? -ENOMEM
                                                                                                   : -EINVAL;
}

static bool vlan_converged(const VfSettings *want, const VfSettings *have)
{
        return want->vlan == have->vlan && want->qos == have->qos &&
               (want->vlan_proto == have->vlan_proto ||
                /* VLAN 0 has no protocol the kernel remembers */
                (want->vlan == 0 && want->qos == 0));
}

static void vlan_proto_get(const VfSettings *s, VfAttrValue *ret)
{
        ret->s = !s ? "" : s->vlan_proto == ETH_P_8021AD ? "802.1ad" : "802.1Q";
}

static bool vlan_needs_list(const VfSettings *v)
{
        return v->vlan_proto != 0 && v->vlan_proto != ETH_P_8021Q;
}

static size_t vlan_request_size(const VfAttrInfo *a, const VfSettings *v)
{
        return vlan_needs_list(v) ? NLA_HDRLEN + nla_total_size(sizeof(struct ifla_vf_vlan_info))
                                  : nla_total_size(sizeof(struct ifla_vf_vlan));
}

/* IFLA_VF_VLAN for 802.1Q: every kernel with VF support takes it (the list appeared only in
 * 4.9) and the kernel turns it into the same driver call with ETH_P_8021Q. The list only for
 * other protocols (802.1ad), which need it. */
static int vlan_put(const VfAttrInfo *a, struct nl_msg *m, const VfSettings *v)
{
        if (vlan_needs_list(v)) {
                struct ifla_vf_vlan_info i = {
                        .vf = v->index,
                        .vlan = v->vlan,
                        .qos = v->qos,
                        .vlan_proto = htons(v->vlan_proto),
                };
                struct nlattr *list = nla_nest_start(m, IFLA_VF_VLAN_LIST);

                if (!list || nla_put(m, IFLA_VF_VLAN_INFO, sizeof(i), &i) < 0)
                        return -E2BIG;
                return nla_nest_end(m, list) < 0 ? -E2BIG : 0;
        } else {
                struct ifla_vf_vlan i = {.vf = v->index, .vlan = v->vlan, .qos = v->qos};

                return nla_put(m, IFLA_VF_VLAN, sizeof(i), &i) < 0 ? -E2BIG : 0;
        }
}

/* The list carries the protocol; the old attribute implies 802.1Q. */
static int vlan_parse(const VfAttrInfo *a, struct nlattr *const *tb, VfSettings *s, uint32_t *ret_index)
{
        static const struct nla_policy policy[IFLA_VF_VLAN_INFO_MAX + 1] = {
                [IFLA_VF_VLAN_INFO] = {.minlen = sizeof(struct ifla_vf_vlan_info)},
        };

        if (tb[IFLA_VF_VLAN_LIST]) {
                struct nlattr *vl[IFLA_VF_VLAN_INFO_MAX + 1] = {};

                if (nla_parse_nested(vl, IFLA_VF_VLAN_INFO_MAX, tb[IFLA_VF_VLAN_LIST],
                                     (struct nla_policy *) policy) < 0)
                        return -EBADMSG;
                if (vl[IFLA_VF_VLAN_INFO]) {
                        const struct ifla_vf_vlan_info *v = nla_data(vl[IFLA_VF_VLAN_INFO]);

                        *ret_index = v->vf;
                        s->vlan = (uint16_t) v->vlan;
                        s->qos = (uint8_t) v->qos;
                        s->vlan_proto = ntohs(v->vlan_proto);
                        s->mask |= VF_ATTR_BIT(VF_ATTR_VLAN);
                        return 1;
                }
        }
        if (tb[IFLA_VF_VLAN]) {
                const struct ifla_vf_vlan *v = nla_data(tb[IFLA_VF_VLAN]);

                *ret_index = v->vf;
                s->vlan = (uint16_t) v->vlan;
                s->qos = (uint8_t) v->qos;
                s->vlan_proto = ETH_P_8021Q;
                s->mask |= VF_ATTR_BIT(VF_ATTR_VLAN);
                return 1;
        }
        return 0;
}

static void vlan_format(const VfAttrInfo *a, const VfSettings *s, char *buf, size_t size)
{
        snprintf(buf, size, "%u qos %u %s", s->vlan, s->qos,
                 s->vlan_proto == ETH_P_8021AD ? "802.1ad" : "802.1Q");
}

/* ---- link state --------------------------------------------------------------------------- */

static int link_state_config_set(VfLayout *l, const char *str, long long num, char **ret_message)
{
        VfLinkState s = vf_link_state_from_string(str); /* same values as IFLA_VF_LINK_STATE_* */

        if (s < 0) {
                l->settings.mask &= ~VF_ATTR_BIT(VF_ATTR_LINK_STATE);
                return asprintf_safe(
                               ret_message,
                               "invalid link_state \"%s\": expected \"auto\", \"enable\" or \"disable\"",
                               str) < 0
                               ? -ENOMEM
                               : -EINVAL;
        }
        l->settings.link_state = (uint32_t) s;
        return 0;
}

static const char *link_state_string(uint32_t v)
{
        return v == IFLA_VF_LINK_STATE_ENABLE    ? "enable"
               : v == IFLA_VF_LINK_STATE_DISABLE ? "disable"
                                                 : "auto";
}

static void link_state_get(const VfSettings *s, VfAttrValue *ret)
{
        ret->s = s ? link_state_string(s->link_state) : "";
}

static void link_state_format(const VfAttrInfo *a, const VfSettings *s, char *buf, size_t size)
{
        snprintf(buf, size, "%s", link_state_string(s->link_state));
}

/* ---- tx rates ----------------------------------------------------------------------------- */

/* A rate not given stays 0 (none): both are set when both are non-zero. */
static int rate_config_check(const VfLayout *l, unsigned present, unsigned key, char **ret_message)
{
        if (key != 0 || l->settings.min_tx_rate == 0 || l->settings.max_tx_rate == 0 ||
            l->settings.min_tx_rate <= l->settings.max_tx_rate)
                return 0;
        return asprintf_safe(ret_message, "min_tx_rate %" PRIu32 " is greater than max_tx_rate %" PRIu32,
                             l->settings.min_tx_rate, l->settings.max_tx_rate) < 0
                       ? -ENOMEM
                       : -EINVAL;
}

static int rate_put(const VfAttrInfo *a, struct nl_msg *m, const VfSettings *v)
{
        struct ifla_vf_rate r = {
                .vf = v->index, .min_tx_rate = v->min_tx_rate, .max_tx_rate = v->max_tx_rate};

        return nla_put(m, IFLA_VF_RATE, sizeof(r), &r) < 0 ? -E2BIG : 0;
}

static int rate_parse(const VfAttrInfo *a, struct nlattr *const *tb, VfSettings *s, uint32_t *ret_index)
{
        if (tb[IFLA_VF_RATE]) {
                const struct ifla_vf_rate *v = nla_data(tb[IFLA_VF_RATE]);

                *ret_index = v->vf;
                s->min_tx_rate = v->min_tx_rate;
                s->max_tx_rate = v->max_tx_rate;
        } else if (tb[IFLA_VF_TX_RATE]) {
                const struct ifla_vf_tx_rate *v = nla_data(tb[IFLA_VF_TX_RATE]);

                *ret_index = v->vf;
                s->max_tx_rate = v->rate;
        } else
                return 0;
        s->mask |= VF_ATTR_BIT(VF_ATTR_RATE);
        return 1;
}

static void rate_format(const VfAttrInfo *a, const VfSettings *s, char *buf, size_t size)
{
        snprintf(buf, size, "min %" PRIu32 " max %" PRIu32, s->min_tx_rate, s->max_tx_rate);
}

/* ---- InfiniBand GUIDs --------------------------------------------------------------------- */

static int guid_put(const VfAttrInfo *a, struct nl_msg *m, const VfSettings *s)
{
        struct ifla_vf_guid g = {.vf = s->index, .guid = field_get(s, &a->fields[0])};

        return nla_put(m, a->ifla[0].type, sizeof(g), &g) < 0 ? -E2BIG : 0;
}

static int guid_parse(const VfAttrInfo *a, struct nlattr *const *tb, VfSettings *s, uint32_t *ret_index)
{
        struct ifla_vf_guid g;

        if (!tb[a->ifla[0].type])
                return 0;
        /* Attributes are 4-byte aligned, the struct has a u64: copy it out. */
        memcpy(&g, nla_data(tb[a->ifla[0].type]), sizeof(g));
        *ret_index = g.vf;
        field_set(s, &a->fields[0], g.guid, false);
        s->mask |= VF_ATTR_BIT(a->attr);
        return 1;
}

static void guid_format(const VfAttrInfo *a, const VfSettings *s, char *buf, size_t size)
{
        snprintf(buf, size, "%016llx", (unsigned long long) field_get(s, &a->fields[0]));
}

/* ---- the table ---------------------------------------------------------------------------- */

static const VfAttrInfo vf_attrs[_VF_ATTR_MAX] = {
        [VF_ATTR_MAC] =
                {
                        .attr = VF_ATTR_MAC,
                        .name = "mac",
                        .fields = {VF_ATTR_FIELD(mac)},
                        .keys = {{"mac", VF_ATTR_CONFIG_STRING, .set = mac_config_set}},
                        .properties = {{"MACAddress", "s", .get = mac_get}},
                        .ifla = {{IFLA_VF_MAC, sizeof(struct ifla_vf_mac)}},
                        .consumer_owned = true,
                        .put = mac_put,
                        .parse = mac_parse,
                        .format = mac_format,
                },
        [VF_ATTR_VLAN] =
                {
                        .attr = VF_ATTR_VLAN,
                        .name = "vlan",
                        .fields = {VF_ATTR_FIELD(vlan), VF_ATTR_FIELD(qos), VF_ATTR_FIELD(vlan_proto)},
                        .keys = {{"vlan", VF_ATTR_CONFIG_INT, 0, 0, 4095, vlan_config_set},
                                 {"qos", VF_ATTR_CONFIG_INT, 1, 0, 7, vlan_config_set},
                                 {"vlan_proto", VF_ATTR_CONFIG_STRING, 2, .set = vlan_proto_config_set}},
                        .properties = {{"VLAN", "q", 0},
                                       {"QoS", "u", 1},
                                       {"VLANProtocol", "s", 2, vlan_proto_get}},
                        .ifla = {{IFLA_VF_VLAN, sizeof(struct ifla_vf_vlan)}, {IFLA_VF_VLAN_LIST, 0}},
                        .consumer_owned = true,
                        .config_check = vlan_config_check,
                        .converged = vlan_converged,
                        .request_size = vlan_request_size,
                        .put = vlan_put,
                        .parse = vlan_parse,
                        .format = vlan_format,
                },
        [VF_ATTR_SPOOFCHK] =
                {
                        .attr = VF_ATTR_SPOOFCHK,
                        .name = "spoofchk",
                        .fields = {VF_ATTR_FIELD(spoofchk)},
                        .keys = {{"spoofchk", VF_ATTR_CONFIG_BOOL}},
                        .properties = {{"SpoofCheck", "b"}},
                        .ifla = {{IFLA_VF_SPOOFCHK, sizeof(struct ifla_vf_spoofchk)}},
                        .put = put_setting,
                        .parse = parse_setting,
                        .format = format_bool,
                },
        [VF_ATTR_TRUST] =
                {
                        .attr = VF_ATTR_TRUST,
                        .name = "trust",
                        .fields = {VF_ATTR_FIELD(trust)},
                        .keys = {{"trust", VF_ATTR_CONFIG_BOOL}},
                        .properties = {{"Trust", "b"}},
                        .ifla = {{IFLA_VF_TRUST, sizeof(struct ifla_vf_trust)}},
                        .put = put_setting,
                        .parse = parse_setting,
                        .format = format_bool,
                },
        [VF_ATTR_LINK_STATE] =
                {
                        .attr = VF_ATTR_LINK_STATE,
                        .name = "link_state",
                        .fields = {VF_ATTR_FIELD(link_state)},
                        .keys = {{"link_state", VF_ATTR_CONFIG_STRING, .set = link_state_config_set}},
                        .properties = {{"LinkState", "s", .get = link_state_get}},
                        .ifla = {{IFLA_VF_LINK_STATE, sizeof(struct ifla_vf_link_state)}},
                        .put = put_setting,
                        .parse = parse_setting,
                        .format = link_state_format,
                },
        [VF_ATTR_RATE] =
                {
                        .attr = VF_ATTR_RATE,
                        .name = "tx_rate",
                        .fields = {VF_ATTR_FIELD(min_tx_rate), VF_ATTR_FIELD(max_tx_rate)},
                        .keys = {{"min_tx_rate", VF_ATTR_CONFIG_INT, 0, 0, UINT32_MAX},
                                 {"max_tx_rate", VF_ATTR_CONFIG_INT, 1, 0, UINT32_MAX}},
                        .properties = {{"MinTxRate", "u", 0}, {"MaxTxRate", "u", 1}},
                        .ifla = {{IFLA_VF_RATE, sizeof(struct ifla_vf_rate)},
                                 {IFLA_VF_TX_RATE, sizeof(struct ifla_vf_tx_rate)}},
                        .config_check = rate_config_check,
                        .put = rate_put,
                        .parse = rate_parse,
                        .format = rate_format,
                },
        /* Not declared in files: an InfiniBand PF's VFs get stable GUIDs (vf_desired_settings()). */
        [VF_ATTR_IB_NODE_GUID] =
                {
                        .attr = VF_ATTR_IB_NODE_GUID,
                        .name = "node_guid",
                        .fields = {VF_ATTR_FIELD(node_guid)},
                        .ifla = {{IFLA_VF_IB_NODE_GUID, sizeof(struct ifla_vf_guid)}},
                        .put = guid_put,
                        .parse = guid_parse,
                        .format = guid_format,
                },
        [VF_ATTR_IB_PORT_GUID] =
                {
                        .attr = VF_ATTR_IB_PORT_GUID,
                        .name = "port_guid",
                        .fields = {VF_ATTR_FIELD(port_guid)},
                        .ifla = {{IFLA_VF_IB_PORT_GUID, sizeof(struct ifla_vf_guid)}},
                        /* The kernel returns right after applying IFLA_VF_IB_NODE_GUID and never looks
                         * at a port GUID in the same IFLA_VF_INFO. */
                        .own_info = true,
                        .put = guid_put,
                        .parse = guid_parse,
                        .format = guid_format,
                },
        [VF_ATTR_QUERY_RSS] =
                {
                        .attr = VF_ATTR_QUERY_RSS,
                        .name = "query_rss",
                        .fields = {VF_ATTR_FIELD(query_rss)},
                        .keys = {{"query_rss", VF_ATTR_CONFIG_BOOL}},
                        .properties = {{"QueryRSS", "b"}},
                        .ifla = {{IFLA_VF_RSS_QUERY_EN, sizeof(struct ifla_vf_rss_query_en)}},
                        .put = put_setting,
                        .parse = parse_setting,
                        .format = format_bool,
                },
};

/* ---- lookups and generic operations ------------------------------------------------------- */

const VfAttrInfo *vf_attr_info(VfAttr a)
{
        if ((int) a < 0 || a >= _VF_ATTR_MAX)
                return NULL;
        return &vf_attrs[a];
}

const char *vf_attr_to_string(VfAttr a)
{
        const VfAttrInfo *i = vf_attr_info(a);

        return i ? i->name : NULL;
}

VfAttr vf_attr_from_string(const char *s)
{
        if (!s)
                return _VF_ATTR_INVALID;
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++)
                if (streq(vf_attrs[a].name, s))
                        return a;
        return _VF_ATTR_INVALID;
}

const VfAttrInfo *vf_attr_from_config_key(const char *name, const VfAttrConfigKey **ret_key)
{
        if (!name)
                return NULL;
        for (VfAttr a = 0; a < _VF_ATTR_MAX; a++)
                for (size_t k = 0; k < VF_ATTR_KEYS_MAX && vf_attrs[a].keys[k].name; k++)
                        /* The first byte rules out most rows without a call (the config
                         * parser asks this for every key of every vfs entry). */
                        if (vf_attrs[a].keys[k].name[0] == name[0] &&
                            streq(vf_attrs[a].keys[k].name, name)) {
                                if (ret_key)
                                        *ret_key = &vf_attrs[a].keys[k];
                                return &vf_attrs[a];
                        }
        return NULL;
}

int vf_attr_config_set(const VfAttrInfo *a, const VfAttrConfigKey *k, VfLayout *l, const char *str,
                       long long num, char **ret_message)
{
        if (k->type != VF_ATTR_CONFIG_STRING)
                field_set(&l->settings, &a->fields[k->field], (uint64_t) num,
                          k->type == VF_ATTR_CONFIG_BOOL);
        l->settings.mask |= VF_ATTR_BIT(a->attr);
        return k->set ? k->set(l, str, num, ret_message) : 0;
}

const VfAttrInfo *vf_attr_from_property(const char *name, const VfAttrProperty **ret_property)
{
        if (!name)
                return NULL;
        /* sd-bus hands a getter the vtable's own member string, which is this table's: a
         * pointer match first spares GetManagedObjects ~15 string compares per property. */
        for (int by_pointer = 1; by_pointer >= 0; by_pointer--)
                for (VfAttr a = 0; a < _VF_ATTR_MAX; a++)
                        for (size_t p = 0; p < VF_ATTR_PROPERTIES_MAX && vf_attrs[a].properties[p].name; p++)
                                if (by_pointer ? vf_attrs[a].properties[p].name == name
                                               : streq(vf_attrs[a].properties[p].name, name)) {
                                        if (ret_property)
                                                *ret_property = &vf_attrs[a].properties[p];
                                        return &vf_attrs[a];
                                }
        return NULL;
}

void vf_attr_property_value(const VfAttrInfo *a, const VfAttrProperty *p, const VfSettings *s,
                            VfAttrValue *ret)
{
        uint64_t v;

        *ret = (VfAttrValue){.s = ""};
        if (s && !(s->mask & VF_ATTR_BIT(a->attr)))
                s = NULL;
        if (p->get)
                return p->get(s, ret);
        v = s ? field_get(s, &a->fields[p->field]) : 0;
        ret->b = v != 0;
        ret->u = (uint32_t) v;
}

bool vf_attr_equal(const VfSettings *a, const VfSettings *b, VfAttr attr)
{
        const VfAttrInfo *i = vf_attr_info(attr);

        assert(i);
        for (size_t f = 0; f < VF_ATTR_FIELDS_MAX && i->fields[f].size > 0; f++)
                if (memcmp((const uint8_t *) a + i->fields[f].offset,
                           (const uint8_t *) b + i->fields[f].offset, i->fields[f].size) != 0)
                        return false;
        return true;
}

bool vf_attr_converged(const VfSettings *want, const VfSettings *have, VfAttr attr)
{
        const VfAttrInfo *i = vf_attr_info(attr);

        assert(i);
        return i->converged ? i->converged(want, have) : vf_attr_equal(want, have, attr);
}

bool vf_settings_equal(const VfSettings *a, const VfSettings *b)
{
        if (!a || !b)
                return a == b;
        if (a->mask != b->mask)
                return false;
        for (VfAttr i = 0; i < _VF_ATTR_MAX; i++)
                if ((a->mask & VF_ATTR_BIT(i)) && !vf_attr_equal(a, b, i))
                        return false;
        return true;
}

void vf_attr_copy(VfSettings *dst, const VfSettings *src, VfAttr attr)
{
        const VfAttrInfo *i = vf_attr_info(attr);

        assert(i);
        for (size_t f = 0; f < VF_ATTR_FIELDS_MAX && i->fields[f].size > 0; f++)
                memcpy((uint8_t *) dst + i->fields[f].offset, (const uint8_t *) src + i->fields[f].offset,
                       i->fields[f].size);
}

void vf_attr_format(const VfSettings *s, VfAttr attr, char *buf, size_t size)
{
        const VfAttrInfo *i = vf_attr_info(attr);

        if (!i || !s || !(s->mask & VF_ATTR_BIT(attr)))
                snprintf(buf, size, "-");
        else
                i->format(i, s, buf, size);
}
