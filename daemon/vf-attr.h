/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <net/ethernet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* The VF attributes the daemon declares, sets and reports through rtnetlink, one row each in
 * vf-attr.c: its name, config key(s), D-Bus property(s), IFLA type(s) and the hooks that
 * compare, copy, put (netlink request), parse (netlink reply) and format it. The config
 * parser, the diff, the observed-equality check, the netlink request and parser, the bus
 * getters and Plan's wording all walk that table; tests/test-vf-attr.c checks the docs and
 * the D-Bus interface file against it. A new attribute is a new row plus its VfSettings
 * field. */

typedef enum VfAttr {
        VF_ATTR_MAC,        /* IFLA_VF_MAC */
        VF_ATTR_VLAN,       /* vlan, qos, proto together: IFLA_VF_VLAN for 802.1Q, else IFLA_VF_VLAN_LIST */
        VF_ATTR_SPOOFCHK,   /* IFLA_VF_SPOOFCHK */
        VF_ATTR_TRUST,      /* IFLA_VF_TRUST */
        VF_ATTR_LINK_STATE, /* IFLA_VF_LINK_STATE */
        VF_ATTR_RATE,       /* IFLA_VF_RATE (min and max together) */
        VF_ATTR_IB_NODE_GUID,
        VF_ATTR_IB_PORT_GUID,
        VF_ATTR_QUERY_RSS, /* IFLA_VF_RSS_QUERY_EN */
        _VF_ATTR_MAX,
        _VF_ATTR_INVALID = -EINVAL,
} VfAttr;

#define VF_ATTR_BIT(a) (1u << (a))
#define VF_ATTR_ALL    ((1u << _VF_ATTR_MAX) - 1)

/* One VF's settings as the PF driver holds them: observed (from a dump), wanted (to set) or
 * declared (a layout's). Only the attributes in `mask` are meaningful. */
typedef struct VfSettings {
        uint32_t index;
        uint32_t mask; /* VF_ATTR_BIT()s */
        struct ether_addr mac;
        uint16_t vlan;
        uint8_t qos;
        bool spoofchk;
        bool trust;
        bool query_rss;
        uint16_t vlan_proto; /* host order, ETH_P_8021Q / ETH_P_8021AD */
        uint32_t link_state; /* IFLA_VF_LINK_STATE_* */
        uint32_t min_tx_rate, max_tx_rate;
        uint64_t node_guid, port_guid;
} VfSettings; /* 56 bytes, twice per VF (its applied settings, its PF's VF table): no holes */

typedef struct VfLayout VfLayout;
struct nl_msg;
struct nlattr;
typedef struct VfAttrInfo VfAttrInfo;

/* A VfSettings field of an attribute: compared, copied and read by the generic hooks. */
typedef struct VfAttrField {
        uint16_t offset, size;
} VfAttrField;
#define VF_ATTR_FIELD(f)                                                  \
        {                                                                 \
                offsetof(VfSettings, f), sizeof(((VfSettings *) NULL)->f) \
        }
#define VF_ATTR_FIELDS_MAX 3

typedef enum VfAttrConfigType {
        VF_ATTR_CONFIG_BOOL,
        VF_ATTR_CONFIG_INT,
        VF_ATTR_CONFIG_STRING,
} VfAttrConfigType;

/* A key inside a "vfs" entry; the docs name it "vfs.<name>". BOOL and INT keys (within
 * [min, max]) store into fields[field] without a hook; `set` parses strings (and may refine
 * the others). Setting any key of a row declares the row's attribute; what a row's other
 * keys would hold stays at its default (zero, or what `set` chose). */
typedef struct VfAttrConfigKey {
        const char *name;
        VfAttrConfigType type;
        unsigned field;
        long long min, max;
        /* Stores v (str for strings, num for the others) in l->settings. Returns 0, or
         * -EINVAL with a message for the admin in *ret_message (no FILE:LINE), or -ENOMEM. */
        int (*set)(VfLayout *l, const char *str, long long num, char **ret_message);
} VfAttrConfigKey;
#define VF_ATTR_KEYS_MAX 3

/* A value for the bus layer, which turns it into a D-Bus value of the property's signature
 * (the table stays free of sd-bus). */
typedef struct VfAttrValue {
        bool b;
        uint32_t u; /* 'q' and 'u' */
        const char *s;
        char buf[32]; /* storage for s */
} VfAttrValue;

/* A property on org.sriovd1.VirtualFunction, read from the observed settings. Without `get`,
 * "b", "q" and "u" read fields[field] at its width. s == NULL: not reported, the default. */
typedef struct VfAttrProperty {
        const char *name;
        const char *signature; /* "b", "q", "u" or "s" */
        unsigned field;
        void (*get)(const VfSettings *s, VfAttrValue *ret);
} VfAttrProperty;
#define VF_ATTR_PROPERTIES_MAX 3

/* An IFLA_VF_* attribute the row reads or writes, with the smallest payload the parser
 * accepts (shorter is a malformed reply). */
typedef struct VfAttrIfla {
        uint16_t type;
        uint16_t minlen;
} VfAttrIfla;
#define VF_ATTR_IFLA_MAX 3

struct VfAttrInfo {
        VfAttr attr;
        /* In messages, Plan and logs: the config key, or what the row's keys share. */
        const char *name;
        VfAttrField fields[VF_ATTR_FIELDS_MAX];
        VfAttrConfigKey keys[VF_ATTR_KEYS_MAX]; /* none: not declared in config files */
        VfAttrProperty properties[VF_ATTR_PROPERTIES_MAX];
        VfAttrIfla ifla[VF_ATTR_IFLA_MAX];
        /* While a consumer holds the VF it owns this attribute (libvirt and CNI set MAC and VLAN). */
        bool consumer_owned;
        /* The kernel reads nothing after it in the same IFLA_VF_INFO: it travels in one of its own. */
        bool own_info;

        /* Once a "vfs" entry is read, for each of the row's keys given in it (present: bit k
         * for keys[k]): 0, or -EINVAL with a message blaming that key. NULL: nothing to check. */
        int (*config_check)(const VfLayout *l, unsigned present, unsigned key, char **ret_message);
        /* want already holds what have reports? NULL: the fields are equal. */
        bool (*converged)(const VfSettings *want, const VfSettings *have);
        /* Upper bound of the bytes put() adds to a request. */
        size_t (*request_size)(const VfAttrInfo *a, const VfSettings *s);
        /* Appends the attribute to the open IFLA_VF_INFO; -E2BIG when the message is full. */
        int (*put)(const VfAttrInfo *a, struct nl_msg *m, const VfSettings *s);
        /* Reads the attribute from one parsed IFLA_VF_INFO (tb, indexed by IFLA_VF_*, lengths
         * already checked against ifla[]): 0 if absent, 1 with the VF index in *ret_index if
         * present (the mask bit is set only if the driver implements it), -EBADMSG. */
        int (*parse)(const VfAttrInfo *a, struct nlattr *const *tb, VfSettings *s, uint32_t *ret_index);
        /* The value for people ("100 qos 3 802.1ad", "on"). */
        void (*format)(const VfAttrInfo *a, const VfSettings *s, char *buf, size_t size);
};

const VfAttrInfo *vf_attr_info(VfAttr a);
/* The row's name: "mac", "vlan", "tx_rate", ... */
DECLARE_STRING_TABLE(vf_attr, VfAttr);

/* The row and key declaring a config key of a "vfs" entry, or NULL. */
const VfAttrInfo *vf_attr_from_config_key(const char *name, const VfAttrConfigKey **ret_key);
/* Applies a key's value to l->settings (type already checked by the caller, ints in range). */
int vf_attr_config_set(const VfAttrInfo *a, const VfAttrConfigKey *k, VfLayout *l, const char *str,
                       long long num, char **ret_message);

/* The row and property behind a VirtualFunction property name, or NULL. */
const VfAttrInfo *vf_attr_from_property(const char *name, const VfAttrProperty **ret_property);
void vf_attr_property_value(const VfAttrInfo *a, const VfAttrProperty *p, const VfSettings *s,
                            VfAttrValue *ret);

/* Attributes whose fields are equal in both (a's mask decides which are looked at). */
bool vf_attr_equal(const VfSettings *a, const VfSettings *b, VfAttr attr);
/* want's value of attr already holds in have (both carry it). */
bool vf_attr_converged(const VfSettings *want, const VfSettings *have, VfAttr attr);
/* Same mask, and every attribute in it equal. NULL equals only NULL. */
bool vf_settings_equal(const VfSettings *a, const VfSettings *b);
/* Copies attr's fields from src to dst (not the mask). */
void vf_attr_copy(VfSettings *dst, const VfSettings *src, VfAttr attr);
/* "off", "100 qos 3", "-" when s does not carry it. */
void vf_attr_format(const VfSettings *s, VfAttr attr, char *buf, size_t size);
