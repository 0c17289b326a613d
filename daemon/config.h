/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <net/ethernet.h>
#include <stdint.h>

#include "macro.h"
#include "vf-attr.h"

/* The declared layout, as read from the /etc/sriov.d drop-ins (SPEC §2). A ConfigSet is
 * immutable once loaded: Reload builds a new one and swaps it in, so a PF's pointers into
 * the old set stay valid until the swap. */

typedef enum VfMacMode {
        VF_MAC_UNSET, /* not declared: kernel default */
        VF_MAC_STABLE,
        VF_MAC_KEEP, /* explicitly leave as is */
        VF_MAC_FIXED,
        _VF_MAC_MODE_MAX,
        _VF_MAC_MODE_INVALID = -EINVAL,
} VfMacMode;

typedef enum VfLinkState {
        VF_LINK_STATE_AUTO, /* same values as IFLA_VF_LINK_STATE_* */
        VF_LINK_STATE_ENABLE,
        VF_LINK_STATE_DISABLE,
        _VF_LINK_STATE_MAX,
        _VF_LINK_STATE_INVALID = -EINVAL,
} VfLinkState;

typedef enum PfLinkType {
        PF_LINK_TYPE_ETHERNET,
        PF_LINK_TYPE_INFINIBAND,
        _PF_LINK_TYPE_MAX,
        _PF_LINK_TYPE_INVALID = -EINVAL,
} PfLinkType;

/* One entry of "vfs = ( ... )". Optional settings carry has_* flags or -1 for "unset". */
typedef struct VfLayout {
        unsigned first, last; /* "range", inclusive */
        char *pool;           /* never NULL: "" when not given */
        unsigned line;

        /* The declared VF attributes (settings.mask), parsed through vf-attr.c's table: a
         * key of a row declares its attribute, the row's other fields keep their defaults. */
        VfSettings settings;
        VfMacMode mac_mode; /* with VF_MAC_FIXED, the address is settings.mac */
        uint32_t mtu;       /* 0 = unset */
        int rdma;           /* -1 unset, 0, 1 */
        char *driver;       /* NULL = leave the kernel's choice */
} VfLayout;

typedef struct PfMatch {
        char *interface; /* glob */
        char *pci;       /* glob */
        bool has_vendor, has_device, has_mac;
        uint16_t vendor, device;
        struct ether_addr mac; /* permanent MAC */
} PfMatch;

#define NUM_VFS_MAX (-1)

typedef struct PfConfig {
        const char *file; /* points into ConfigSet.files */
        unsigned line;    /* line of the entry's opening brace, as libconfig reports it */
        PfMatch match;
        int num_vfs;           /* >= 0, or NUM_VFS_MAX for "max" */
        uint32_t mtu;          /* 0 = unset */
        int drivers_autoprobe; /* -1 unset */
        PfLinkType link_type;
        VfLayout *vfs;
        size_t n_vfs;
} PfConfig;

/* What a PF looks like to the matcher. */
typedef struct PfIdentity {
        const char *interface; /* may be NULL */
        const char *pci;
        uint16_t vendor, device;
        bool has_mac;
        struct ether_addr mac;
} PfIdentity;

typedef struct ConfigSet {
        char **files;  /* surviving (unmasked, non-empty-name) files in load order, full paths */
        char **errors; /* "FILE:LINE: message", one per rejected file (or more, if it has more) */
        PfConfig *pfs; /* entries of accepted files, in file order, then entry order */
        size_t n_pfs;
} ConfigSet;

/* Directories, lowest priority first. With root != NULL all are prefixed by it. */
extern const char *const config_dirs_default[];

/* Loads every drop-in. Never fails for bad files (they land in ->errors); fails only on
 * -ENOMEM and similar. dirs == NULL means config_dirs_default. */
int config_set_load(const char *root, const char *const *dirs, ConfigSet **ret);
/* Changes whenever config_set_load() would read something else: the surviving drop-ins'
 * paths, masks and (device, inode, size, mtime). Stats only, no parsing. */
int config_set_fingerprint(const char *root, const char *const *dirs, uint64_t *ret);
/* Parses one file's text; used by config_set_load, by tests and by the fuzzer.
 * On success appends entries to set->pfs; on a bad file appends the error(s) to set->errors
 * and leaves set->pfs untouched (a rejected file affects nothing). Returns 0 or -ENOMEM. */
int config_set_add_buffer(ConfigSet *set, const char *path, const char *text, size_t len);
ConfigSet *config_set_free(ConfigSet *set);
DEFINE_TRIVIAL_CLEANUP_FUNC(ConfigSet *, config_set_free);

/* First entry that matches. Later matches are logged at notice level naming both places
 * (when log_later is true). NULL if unmanaged. */
const PfConfig *config_set_match(const ConfigSet *set, const PfIdentity *id, bool log_later);
bool pf_match_test(const PfMatch *m, const PfIdentity *id);
/* config_set_match() for a PF whose interface name and permanent MAC are not known yet (heard
 * from the kernel before udevd named its netdev; id->interface and id->has_mac are ignored).
 * Returns 1 with *ret the owner (NULL: unmanaged) when every name and MAC would give that same
 * answer, 0 when an entry that may own it matches on the name or MAC (wait for them). */
int config_set_match_before_name(const ConfigSet *set, const PfIdentity *id, const PfConfig **ret);

/* The layout entry covering a VF index, or NULL. */
const VfLayout *pf_config_vf_layout(const PfConfig *c, unsigned vf_index);
/* num_vfs resolved against the device's total. */
unsigned pf_config_num_vfs(const PfConfig *c, unsigned total_vfs);

/* Known VF driver names: the kernel's default ("" / unset) or one of these. */
bool config_driver_name_is_known(const char *name);
/* The table behind config_driver_name_is_known(), NULL-terminated, sorted. */
extern const char *const config_known_drivers[];

/* Every key the loader accepts but the VF attributes' (vf-attr.c's keys, under "vfs").
 * section: "" at the top level of a file, "physical_functions" inside an entry, "match" or
 * "vfs" inside those. path is the name docs/sriov.d.md documents
 * the key under ("num_vfs", "match.pci", "vfs.vlan"); a test keeps the two in sync. */
typedef struct ConfigKey {
        const char *section;
        const char *name;
        const char *path;
} ConfigKey;
const ConfigKey *config_known_keys(size_t *ret_n);

/* Limits of the loader (documented in docs/sriov.d.md). A file beyond them is rejected. */
#define CONFIG_FILE_SIZE_MAX  (1024U * 1024U)
#define CONFIG_FILE_LINES_MAX 65535U /* libconfig keeps line numbers in 16 bits */
#define CONFIG_PF_ENTRIES_MAX 1024U  /* per file */
#define CONFIG_VF_ENTRIES_MAX 1024U  /* "vfs" entries per PF entry */
#define CONFIG_ERRORS_MAX     32U    /* reported per file; the rest are summarised */
#define CONFIG_NUM_VFS_MAX    65535U /* PCI SR-IOV TotalVFs is 16 bits */
#define CONFIG_GLOB_MAX       255U
#define CONFIG_POOL_NAME_MAX  64U

DECLARE_STRING_TABLE(vf_link_state, VfLinkState);
DECLARE_STRING_TABLE(pf_link_type, PfLinkType);
DECLARE_STRING_TABLE(vf_mac_mode, VfMacMode);
