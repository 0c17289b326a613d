/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <endian.h>
#include <infiniband/verbs.h>

#include "dlopen-util.h"
#include "log.h"
#include "rdma.h"
#include "sysfs.h"
#include "udev.h"
#include "util.h"

static const char *const rdma_port_state_table[_RDMA_PORT_STATE_MAX] = {
        [RDMA_PORT_NOP] = "nop",       [RDMA_PORT_DOWN] = "down",
        [RDMA_PORT_INIT] = "init",     [RDMA_PORT_ARMED] = "armed",
        [RDMA_PORT_ACTIVE] = "active", [RDMA_PORT_ACTIVE_DEFER] = "active-defer",
};

static const char *const rdma_link_layer_table[_RDMA_LINK_LAYER_MAX] = {
        [RDMA_LINK_LAYER_UNKNOWN] = "",
        [RDMA_LINK_LAYER_INFINIBAND] = "InfiniBand",
        [RDMA_LINK_LAYER_ETHERNET] = "Ethernet",
};

const char *rdma_port_state_to_string(RdmaPortState s)
{
        return s >= 0 && s < _RDMA_PORT_STATE_MAX ? rdma_port_state_table[s] : "";
}

const char *rdma_link_layer_to_string(RdmaLinkLayer l)
{
        return l >= 0 && l < _RDMA_LINK_LAYER_MAX ? rdma_link_layer_table[l] : "";
}

char *rdma_guid_to_string(uint64_t guid, char buf[static RDMA_GUID_STRLEN])
{
        if (guid == 0)
                buf[0] = 0;
        else
                snprintf(buf, RDMA_GUID_STRLEN, "%04x:%04x:%04x:%04x", (unsigned) (guid >> 48) & 0xffff,
                         (unsigned) (guid >> 32) & 0xffff, (unsigned) (guid >> 16) & 0xffff,
                         (unsigned) guid & 0xffff);
        return buf;
}

int rdma_guid_from_string(const char *s, uint64_t *ret)
{
        uint64_t v = 0;
        unsigned digits = 0;

        for (; *s; s++) {
                int x;

                if (*s == ':')
                        continue;
                if (*s >= '0' && *s <= '9')
                        x = *s - '0';
                else if (*s >= 'a' && *s <= 'f')
                        x = *s - 'a' + 10;
                else if (*s >= 'A' && *s <= 'F')
                        x = *s - 'A' + 10;
                else
                        return -EINVAL;
                if (++digits > 16)
                        return -EINVAL;
                v = (v << 4) | (uint64_t) x;
        }
        if (digits != 16)
                return -EINVAL;
        *ret = v;
        return 0;
}

const char *rdma_driver_hint(const char *netdev_driver)
{
        static const struct {
                const char *net, *rdma;
        } map[] = {
                {"mlx5_core", "mlx5_ib"},   {"mlx4_core", "mlx4_ib"}, {"mlx4_en", "mlx4_ib"},
                {"bnxt_en", "bnxt_re"},     {"ice", "irdma"},         {"i40e", "irdma"},
                {"iavf", "irdma"},          {"qede", "qedr"},         {"cxgb4", "iw_cxgb4"},
                {"hns3", "hns_roce_hw_v2"},
        };

        for (size_t i = 0; netdev_driver && i < ELEMENTSOF(map); i++)
                if (streq(map[i].net, netdev_driver))
                        return map[i].rdma;
        return NULL;
}

/* ---- libibverbs ------------------------------------------------------------------------- */

/* Loaded at the first RDMA query (dlopen-util.h): most hosts have no RDMA device at all. */
static typeof(ibv_get_device_list) *sym_ibv_get_device_list;
static typeof(ibv_free_device_list) *sym_ibv_free_device_list;
static typeof(ibv_get_device_name) *sym_ibv_get_device_name;
static typeof(ibv_open_device) *sym_ibv_open_device;
static typeof(ibv_close_device) *sym_ibv_close_device;
static typeof(ibv_query_device) *sym_ibv_query_device;
static typeof(ibv_query_port) *sym_ibv_query_port;
static typeof(ibv_query_gid) *sym_ibv_query_gid;
static typeof(_ibv_query_gid_table) *sym__ibv_query_gid_table;

static int ibv_load(void)
{
        static DlLibrary lib = {.soname = "libibverbs.so.1"};
        static const DlSym syms[] = {
                DLSYM(ibv_get_device_list), DLSYM(ibv_free_device_list), DLSYM(ibv_get_device_name),
                DLSYM(ibv_open_device),     DLSYM(ibv_close_device),     DLSYM(ibv_query_device),
                DLSYM(ibv_query_port),      DLSYM(ibv_query_gid),        DLSYM(_ibv_query_gid_table),
        };

        return dlopen_symbols(&lib, syms, ELEMENTSOF(syms));
}

/* verbs.h's inline ibv_query_port(), through the loaded symbol. */
static int ibv_query_port_loaded(struct ibv_context *ctx, uint8_t port, struct ibv_port_attr *attr)
{
        struct verbs_context *vctx = verbs_get_ctx_op(ctx, query_port);

        if (vctx)
                return vctx->query_port(ctx, port, attr, sizeof(*attr));
        memset(attr, 0, sizeof(*attr));
        return sym_ibv_query_port(ctx, port, (struct _compat_ibv_port_attr *) attr);
}

/* ibv_get_device_list() fails with ENOSYS when the kernel has no uverbs (a host without
 * RDMA); that is "libibverbs cannot tell", not an error of ours. */
static int ibv_open_by_name(const char *name, struct ibv_context **ret)
{
        struct ibv_device **list;
        struct ibv_context *ctx = NULL;
        int n = 0, r = -ENODEV;

        if (ibv_load() < 0)
                return -EOPNOTSUPP; /* no libibverbs: cannot tell, as without uverbs */
        errno = 0;
        list = sym_ibv_get_device_list(&n);
        if (!list) {
                log_debug("ibv_get_device_list: %s", strerror(errno ?: ENOSYS));
                return -EOPNOTSUPP;
        }
        for (int i = 0; i < n; i++)
                if (streq(sym_ibv_get_device_name(list[i]), name)) {
                        ctx = sym_ibv_open_device(list[i]);
                        r = ctx ? 0 : -(errno ?: ENODEV);
                        break;
                }
        sym_ibv_free_device_list(list);
        if (r < 0)
                return r;
        *ret = ctx;
        return 0;
}

static int ibv_op_query_device(void *userdata, const char *name, uint64_t *ret_node_guid,
                               uint32_t *ret_n_ports)
{
        struct ibv_context *ctx;
        struct ibv_device_attr attr;
        int r;

        r = ibv_open_by_name(name, &ctx);
        if (r < 0)
                return r;
        r = sym_ibv_query_device(ctx, &attr); /* returns a positive errno */
        (void) sym_ibv_close_device(ctx);
        if (r != 0)
                return -abs(r);
        *ret_node_guid = be64toh(attr.node_guid);
        *ret_n_ports = attr.phys_port_cnt;
        return 0;
}

static int ibv_op_query_port(void *userdata, const char *name, uint32_t port, RdmaPortState *ret_state,
                             RdmaLinkLayer *ret_link_layer, uint64_t *ret_port_guid)
{
        struct ibv_context *ctx;
        struct ibv_port_attr attr;
        union ibv_gid gid;
        uint64_t guid = 0;
        int r;

        r = ibv_open_by_name(name, &ctx);
        if (r < 0)
                return r;
        r = ibv_query_port_loaded(ctx, (uint8_t) port, &attr);
        if (r == 0 && sym_ibv_query_gid(ctx, (uint8_t) port, 0, &gid) == 0)
                guid = be64toh(gid.global.interface_id);
        (void) sym_ibv_close_device(ctx);
        if (r != 0)
                return -abs(r);
        *ret_state =
                (int) attr.state < (int) _RDMA_PORT_STATE_MAX ? (RdmaPortState) attr.state : RDMA_PORT_NOP;
        *ret_link_layer = attr.link_layer == IBV_LINK_LAYER_ETHERNET     ? RDMA_LINK_LAYER_ETHERNET
                          : attr.link_layer == IBV_LINK_LAYER_INFINIBAND ? RDMA_LINK_LAYER_INFINIBAND
                                                                         : RDMA_LINK_LAYER_UNKNOWN;
        *ret_port_guid = guid;
        return 0;
}

static int push_ifindex(int **l, size_t *n, int ifindex)
{
        int *p;

        if (ifindex <= 0)
                return 0;
        for (size_t i = 0; i < *n; i++)
                if ((*l)[i] == ifindex)
                        return 0;
        p = realloc(*l, sizeof(int) * (*n + 1));
        if (!p)
                return -ENOMEM;
        p[(*n)++] = ifindex;
        *l = p;
        return 0;
}

static int ibv_op_query_gid_ndevs(void *userdata, const char *name, uint32_t port, int **ret_ifindexes,
                                  size_t *ret_n)
{
        _cleanup_free_ struct ibv_gid_entry *entries = NULL;
        _cleanup_free_ int *l = NULL;
        struct ibv_context *ctx;
        struct ibv_port_attr attr;
        size_t n = 0;
        ssize_t k;
        int r;

        r = ibv_open_by_name(name, &ctx);
        if (r < 0)
                return r;
        r = ibv_query_port_loaded(ctx, (uint8_t) port, &attr);
        if (r != 0 || attr.gid_tbl_len <= 0) {
                (void) sym_ibv_close_device(ctx);
                return r != 0 ? -abs(r) : -ENODATA;
        }
        entries = calloc((size_t) attr.gid_tbl_len, sizeof(struct ibv_gid_entry));
        if (!entries) {
                (void) sym_ibv_close_device(ctx);
                return -ENOMEM;
        }
        /* The whole table of the device (all ports), valid entries only. */
        k = sym__ibv_query_gid_table(ctx, entries, (size_t) attr.gid_tbl_len, 0, sizeof(*entries));
        (void) sym_ibv_close_device(ctx);
        if (k < 0)
                return (int) k; /* -errno */
        for (ssize_t i = 0; i < k; i++) {
                if (entries[i].port_num != port)
                        continue;
                r = push_ifindex(&l, &n, (int) entries[i].ndev_ifindex);
                if (r < 0)
                        return r;
        }
        *ret_ifindexes = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

static const RdmaOps ibv_ops = {
        .query_device = ibv_op_query_device,
        .query_port = ibv_op_query_port,
        .query_gid_ndevs = ibv_op_query_gid_ndevs,
};

static const RdmaOps *rdma_ops = &ibv_ops;
static void *rdma_ops_userdata = NULL;

void rdma_set_ops(const RdmaOps *ops, void *userdata)
{
        rdma_ops = ops ?: &ibv_ops;
        rdma_ops_userdata = ops ? userdata : NULL;
}

/* ---- sysfs fallback --------------------------------------------------------------------- */

static int sysfs_port_path(const char *syspath, uint32_t port, const char *attr, char **ret)
{
        return asprintf_safe(ret, "%s/ports/%u/%s", syspath, port, attr);
}

static uint32_t sysfs_count_ports(const char *syspath)
{
        _cleanup_free_ char *p = path_join(syspath, "ports");
        struct dirent *de;
        uint32_t n = 0;
        DIR *d;

        if (!p || !(d = opendir(p)))
                return 0;
        while ((de = readdir(d))) {
                uint32_t k;

                if (safe_atou32(de->d_name, &k) >= 0 && k > n)
                        n = k;
        }
        closedir(d);
        return n;
}

static void sysfs_load_port(const char *syspath, RdmaPort *p)
{
        _cleanup_free_ char *path = NULL, *v = NULL, *dir = NULL;
        struct dirent *de;
        DIR *d;

        /* "4: ACTIVE" */
        if (sysfs_port_path(syspath, p->num, "state", &path) >= 0 && read_one_line_file(path, &v) >= 0) {
                int s;

                if (sscanf(v, "%d", &s) == 1 && s >= 0 && s < _RDMA_PORT_STATE_MAX)
                        p->state = (RdmaPortState) s;
        }
        path = mfree(path);
        v = mfree(v);
        if (sysfs_port_path(syspath, p->num, "link_layer", &path) >= 0 && read_one_line_file(path, &v) >= 0)
                p->link_layer = streq(v, "Ethernet")     ? RDMA_LINK_LAYER_ETHERNET
                                : streq(v, "InfiniBand") ? RDMA_LINK_LAYER_INFINIBAND
                                                         : RDMA_LINK_LAYER_UNKNOWN;
        path = mfree(path);
        v = mfree(v);
        /* GID 0 "fe80:0000:0000:0000:xxxx:xxxx:xxxx:xxxx": the interface id is the port GUID. */
        if (sysfs_port_path(syspath, p->num, "gids/0", &path) >= 0 && read_one_line_file(path, &v) >= 0 &&
            strlen(v) == 39)
                (void) rdma_guid_from_string(v + 20, &p->port_guid);

        /* RoCE: gid_attrs/ndevs/N holds the netdev name of GID N (reading an unused entry
         * fails on real sysfs; the entries that read are the valid ones). */
        if (sysfs_port_path(syspath, p->num, "gid_attrs/ndevs", &dir) < 0 || !(d = opendir(dir)))
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *f = NULL, *name = NULL;

                if (de->d_name[0] == '.')
                        continue;
                f = path_join(dir, de->d_name);
                if (!f || read_one_line_file(f, &name) < 0 || isempty(name) ||
                    strv_contains(p->ndev_names, name))
                        continue;
                if (strv_extend(&p->ndev_names, name) < 0)
                        break;
        }
        closedir(d);
}

/* ---- devices ---------------------------------------------------------------------------- */

RdmaDevice *rdma_device_free(RdmaDevice *d)
{
        if (!d)
                return NULL;
        for (size_t i = 0; i < d->n_ports; i++) {
                free(d->ports[i].ndev_ifindexes);
                strv_free(d->ports[i].ndev_names);
        }
        free(d->ports);
        free(d->name);
        free(d->syspath);
        free(d->pci);
        return mfree(d);
}

void rdma_device_list_free(RdmaDevice **l, size_t n)
{
        for (size_t i = 0; i < n; i++)
                rdma_device_free(l[i]);
        free(l);
}

static bool looks_like_pci_address(const char *s)
{
        unsigned dom, bus, dev, fn;
        char tail;

        /* "0000:81:00.3" */
        return sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) == 4;
}

int rdma_device_load(const char *syspath, RdmaDevice **ret)
{
        _cleanup_(rdma_device_freep) RdmaDevice *d = NULL;
        _cleanup_free_ char *parent = NULL, *guid = NULL;
        uint32_t n_ports = 0;
        bool live;
        int r;

        d = calloc(1, sizeof(RdmaDevice));
        if (!d)
                return -ENOMEM;
        d->syspath = strdup(syspath);
        d->name = strdup(path_basename(syspath));
        if (!d->syspath || !d->name)
                return -ENOMEM;
        /* mlx5-style: the RDMA device is a child of the PCI function. rxe has no such link
         * (or one to a virtual device): it maps by netdev. */
        if (sysfs_read_link_attr(syspath, "device", &parent) >= 0 && looks_like_pci_address(parent))
                d->pci = TAKE_PTR(parent);

        r = rdma_ops->query_device(rdma_ops_userdata, d->name, &d->node_guid, &n_ports);
        live = r >= 0;
        if (live)
                log_debug("RDMA device %s: queried through libibverbs.", d->name);
        if (!live) {
                log_debug("RDMA device %s: libibverbs query failed (%s), reading sysfs.", d->name,
                          strerror(-r));
                if (sysfs_read_attr(syspath, "node_guid", &guid) >= 0)
                        (void) rdma_guid_from_string(guid, &d->node_guid);
                n_ports = sysfs_count_ports(syspath);
        }
        if (n_ports > 0) {
                d->ports = calloc(n_ports, sizeof(RdmaPort));
                if (!d->ports)
                        return -ENOMEM;
                d->n_ports = n_ports;
        }
        for (uint32_t i = 0; i < n_ports; i++) {
                RdmaPort *p = &d->ports[i];

                p->num = i + 1;
                if (live &&
                    rdma_ops->query_port(rdma_ops_userdata, d->name, p->num, &p->state, &p->link_layer,
                                         &p->port_guid) >= 0 &&
                    rdma_ops->query_gid_ndevs(rdma_ops_userdata, d->name, p->num, &p->ndev_ifindexes,
                                              &p->n_ndevs) >= 0)
                        continue;
                /* libibverbs could not tell (or the table query is unsupported): sysfs. */
                sysfs_load_port(syspath, p);
        }
        *ret = TAKE_PTR(d);
        return 0;
}

static int rdma_device_cmp(const void *a, const void *b)
{
        return strcmp((*(RdmaDevice *const *) a)->name, (*(RdmaDevice *const *) b)->name);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref);

int rdma_enumerate(struct udev *udev, RdmaDevice ***ret, size_t *ret_n)
{
        _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
        struct udev_list_entry *i;
        RdmaDevice **l = NULL;
        size_t n = 0;
        int r;

        e = udev_enumerate_new(udev);
        if (!e)
                return -ENOMEM;
        r = udev_enumerate_add_match_subsystem(e, "infiniband");
        if (r < 0)
                return r;
        r = udev_enumerate_scan_devices(e);
        if (r < 0)
                return r;
        udev_list_entry_foreach(i, udev_enumerate_get_list_entry(e))
        {
                RdmaDevice *d, **p;

                r = rdma_device_load(udev_list_entry_get_name(i), &d);
                if (r == -ENOMEM) {
                        rdma_device_list_free(l, n);
                        return r;
                }
                if (r < 0)
                        continue; /* gone meanwhile: its remove uevent follows */
                p = realloc(l, sizeof(RdmaDevice *) * (n + 1));
                if (!p) {
                        rdma_device_free(d);
                        rdma_device_list_free(l, n);
                        return -ENOMEM;
                }
                l = p;
                l[n++] = d;
        }
        if (n > 1)
                qsort(l, n, sizeof(RdmaDevice *), rdma_device_cmp);
        *ret = l;
        *ret_n = n;
        return 0;
}
