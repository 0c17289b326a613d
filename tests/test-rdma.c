/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RDMA mapping, VF health from it, Allocate's preference for healthy VFs, and IB GUIDs that
 * are applied once — on a hand-built model, with libibverbs replaced by a fake. */
#include "fake-model.h"
#include "pool.h"
#include "rdma-assign.h"
#include "rdma.h"
#include "reconcile.h"
#include "stable.h"
#include "tests.h"
#include "util.h"

/* ---- fake libibverbs -------------------------------------------------------------------- */

typedef struct FakeIbDev {
        const char *name;
        uint64_t node_guid;
        RdmaPortState state;
        RdmaLinkLayer link_layer;
        int ndev; /* GID table netdev ifindex, 0: none */
} FakeIbDev;

static FakeIbDev fake_devs[4];
static size_t n_fake_devs;
static unsigned fake_queries;

static const FakeIbDev *fake_find(const char *name)
{
        for (size_t i = 0; i < n_fake_devs; i++)
                if (streq(fake_devs[i].name, name))
                        return &fake_devs[i];
        return NULL;
}

static int fake_query_device(void *u, const char *name, uint64_t *ret_guid, uint32_t *ret_n)
{
        const FakeIbDev *d = fake_find(name);

        fake_queries++;
        if (!d)
                return -ENODEV;
        *ret_guid = d->node_guid;
        *ret_n = 1;
        return 0;
}

static int fake_query_port(void *u, const char *name, uint32_t port, RdmaPortState *ret_state,
                           RdmaLinkLayer *ret_ll, uint64_t *ret_guid)
{
        const FakeIbDev *d = fake_find(name);

        if (!d || port != 1)
                return -ENODEV;
        *ret_state = d->state;
        *ret_ll = d->link_layer;
        *ret_guid = d->node_guid + 1;
        return 0;
}

static int fake_query_gid_ndevs(void *u, const char *name, uint32_t port, int **ret, size_t *ret_n)
{
        const FakeIbDev *d = fake_find(name);
        int *l;

        if (!d)
                return -ENODEV;
        l = calloc(1, sizeof(int));
        ASSERT_TRUE(l);
        l[0] = d->ndev;
        *ret = l;
        *ret_n = d->ndev > 0;
        return 0;
}

static const RdmaOps fake_ops = {
        .query_device = fake_query_device,
        .query_port = fake_query_port,
        .query_gid_ndevs = fake_query_gid_ndevs,
};

/* libibverbs on a host without RDMA: ibv_get_device_list() fails with ENOSYS. */
static int nordma_query_device(void *u, const char *name, uint64_t *g, uint32_t *n)
{
        return -EOPNOTSUPP;
}
static const RdmaOps nordma_ops = {.query_device = nordma_query_device};

static void fake_reset(void)
{
        n_fake_devs = 0;
        fake_queries = 0;
        rdma_set_ops(&fake_ops, NULL);
}

static void fake_add(const char *name, uint64_t guid, RdmaPortState st, RdmaLinkLayer ll, int ndev)
{
        fake_devs[n_fake_devs++] = (FakeIbDev){name, guid, st, ll, ndev};
}

/* An RDMA device in the fake sysfs: below a PCI function (pci != NULL, mlx5-style), or a
 * virtual one (rxe) whose GID 0 netdev is `ndev`. */
static char *fake_ib_device(FakeModel *fm, const char *name, const char *pci, const char *ndev,
                            const char *state)
{
        _cleanup_free_ char *dir = NULL, *f = NULL, *fn = NULL;
        char *syspath;

        if (pci) {
                ASSERT_OK(asprintf_safe(&dir, "sys/devices/pci0000:00/%s/infiniband/%s", pci, name));
                _cleanup_free_ char *target = NULL;

                ASSERT_OK(asprintf_safe(&fn, "%s/device", dir));
                ASSERT_OK(asprintf_safe(&target, "../../../%s", pci)); /* as the kernel links it */
                fake_model_symlink(fm, fn, target);
        } else
                ASSERT_OK(asprintf_safe(&dir, "sys/devices/virtual/infiniband/%s", name));
        ASSERT_OK(asprintf_safe(&f, "%s/node_guid", dir));
        fake_model_write(fm, f, "0011:2233:4455:6677");
        f = mfree(f);
        ASSERT_OK(asprintf_safe(&f, "%s/ports/1/state", dir));
        fake_model_write(fm, f, state);
        f = mfree(f);
        ASSERT_OK(asprintf_safe(&f, "%s/ports/1/link_layer", dir));
        fake_model_write(fm, f, "Ethernet");
        f = mfree(f);
        ASSERT_OK(asprintf_safe(&f, "%s/ports/1/gids/0", dir));
        fake_model_write(fm, f, "fe80:0000:0000:0000:0211:22ff:fe33:4455");
        if (ndev) {
                f = mfree(f);
                ASSERT_OK(asprintf_safe(&f, "%s/ports/1/gid_attrs/ndevs/0", dir));
                fake_model_write(fm, f, ndev);
                f = mfree(f);
                ASSERT_OK(asprintf_safe(&f, "%s/ports/1/gid_attrs/ndevs/1", dir));
                fake_model_write(fm, f, ndev);
        }
        syspath = fake_model_path(fm, dir);
        return syspath;
}

static void load(const char *syspath, RdmaDevice ***l, size_t *n)
{
        RdmaDevice *d;

        ASSERT_OK(rdma_device_load(syspath, &d));
        *l = realloc(*l, sizeof(RdmaDevice *) * (*n + 1));
        ASSERT_TRUE(*l);
        (*l)[(*n)++] = d;
}

/* ---- tests ------------------------------------------------------------------------------ */

TEST(guid_strings)
{
        char buf[RDMA_GUID_STRLEN];
        uint64_t g;

        ASSERT_STREQ(rdma_guid_to_string(0x0011223344556677ULL, buf), "0011:2233:4455:6677");
        ASSERT_STREQ(rdma_guid_to_string(0, buf), "");
        ASSERT_OK(rdma_guid_from_string("0011:2233:4455:6677", &g));
        ASSERT_EQ(g, 0x0011223344556677ULL);
        ASSERT_ERROR(rdma_guid_from_string("0011:2233", &g), EINVAL);
        ASSERT_STREQ(rdma_driver_hint("mlx5_core"), "mlx5_ib");
        ASSERT_TRUE(!rdma_driver_hint("igbvf"));
}

#define CONFIG_RDMA                                                                    \
        "physical_functions = ( { match = { interface = \"ens1f0\"; }; num_vfs = 3;\n" \
        "  vfs = ( { range = \"0-2\"; pool = \"train\"; rdma = true; } ); } );\n"

TEST(load_mlx5_by_pci_parent)
{
        _cleanup_(fake_model_freep) FakeModel *fm = NULL;
        _cleanup_free_ char *sp = NULL;
        _cleanup_(rdma_device_freep) RdmaDevice *d = NULL;

        fake_reset();
        ASSERT_OK(fake_model_new(NULL, &fm));
        fake_model_write(fm, "sys/devices/pci0000:00/0000:81:00.2", NULL);
        sp = fake_ib_device(fm, "mlx5_2", "0000:81:00.2", NULL, "1: DOWN");
        fake_add("mlx5_2", 0xaabbULL, RDMA_PORT_ACTIVE, RDMA_LINK_LAYER_ETHERNET, 42);
        ASSERT_OK(rdma_device_load(sp, &d));
        ASSERT_STREQ(d->name, "mlx5_2");
        ASSERT_STREQ(d->pci, "0000:81:00.2");
        /* Live values from libibverbs win over sysfs ("1: DOWN" above). */
        ASSERT_EQ(d->node_guid, 0xaabbULL);
        ASSERT_EQ(d->n_ports, 1);
        ASSERT_EQ(d->ports[0].state, RDMA_PORT_ACTIVE);
        ASSERT_EQ(d->ports[0].link_layer, RDMA_LINK_LAYER_ETHERNET);
        ASSERT_EQ(d->ports[0].n_ndevs, 1);
        ASSERT_EQ(d->ports[0].ndev_ifindexes[0], 42);
}

TEST(load_rxe_without_libibverbs_falls_back_to_sysfs)
{
        _cleanup_(fake_model_freep) FakeModel *fm = NULL;
        _cleanup_free_ char *sp = NULL;
        _cleanup_(rdma_device_freep) RdmaDevice *d = NULL, *d2 = NULL;

        ASSERT_OK(fake_model_new(NULL, &fm));
        sp = fake_ib_device(fm, "rxe_test0", NULL, "enp1s0v1", "4: ACTIVE");
        /* ENOSYS host: "no RDMA userspace" is not an error, sysfs answers. */
        rdma_set_ops(&nordma_ops, NULL);
        ASSERT_OK(rdma_device_load(sp, &d));
        ASSERT_TRUE(!d->pci);
        ASSERT_EQ(d->node_guid, 0x0011223344556677ULL);
        ASSERT_EQ(d->n_ports, 1);
        ASSERT_EQ(d->ports[0].state, RDMA_PORT_ACTIVE);
        ASSERT_EQ(d->ports[0].link_layer, RDMA_LINK_LAYER_ETHERNET);
        ASSERT_EQ(d->ports[0].port_guid, 0x021122fffe334455ULL);
        ASSERT_EQ(strv_length(d->ports[0].ndev_names), 1); /* deduplicated */
        ASSERT_STREQ(d->ports[0].ndev_names[0], "enp1s0v1");

        /* The real libibverbs on this host does not know the fake device either way (no RDMA:
         * ENOSYS; RDMA: another device list): same answer, no error. */
        rdma_set_ops(NULL, NULL);
        ASSERT_OK(rdma_device_load(sp, &d2));
        ASSERT_EQ(d2->ports[0].state, RDMA_PORT_ACTIVE);
        ASSERT_STREQ(d2->ports[0].ndev_names[0], "enp1s0v1");
}

/* PF ens1f0 (mlx5_core) with 3 VFs: VF0 has mlx5_3 as PCI child, VF1 has rxe0 on its netdev
 * (found through the GID table), VF2 has nothing. */
static PhysicalFunction *setup_rdma_model(FakeModel *fm, RdmaDevice ***devs, size_t *n, char **rxe_syspath)
{
        PhysicalFunction *pf = fake_model_add_pf(fm, "0000:81:00.0", "ens1f0", 10, 8, 3, "mlx5_core");
        _cleanup_free_ char *s1 = NULL, *s2 = NULL;

        fake_model_add_vf(fm, pf, 0, "0000:81:00.2", "ens1f0v0", 20, "mlx5_core", -1);
        fake_model_add_vf(fm, pf, 1, "0000:81:00.3", "ens1f0v1", 21, "mlx5_core", -1);
        fake_model_add_vf(fm, pf, 2, "0000:81:00.4", "ens1f0v2", 22, "mlx5_core", -1);
        s1 = fake_ib_device(fm, "mlx5_0", "0000:81:00.0", NULL, "4: ACTIVE");
        s2 = fake_ib_device(fm, "mlx5_3", "0000:81:00.2", NULL, "4: ACTIVE");
        *rxe_syspath = fake_ib_device(fm, "rxe0", NULL, NULL, "4: ACTIVE");
        fake_add("mlx5_0", 0x100, RDMA_PORT_ACTIVE, RDMA_LINK_LAYER_ETHERNET, 10);
        fake_add("mlx5_3", 0x300, RDMA_PORT_ACTIVE, RDMA_LINK_LAYER_ETHERNET, 20);
        fake_add("rxe0", 0x500, RDMA_PORT_ACTIVE, RDMA_LINK_LAYER_ETHERNET, 21);
        load(s1, devs, n);
        load(s2, devs, n);
        load(*rxe_syspath, devs, n);
        return pf;
}

TEST(assign_by_pci_parent_and_gid_netdev)
{
        _cleanup_(fake_model_freep) FakeModel *fm = NULL;
        _cleanup_free_ char *rxe = NULL;
        RdmaDevice **devs = NULL;
        size_t n = 0;
        PhysicalFunction *pf;
        char buf[RDMA_GUID_STRLEN];

        fake_reset();
        ASSERT_OK(fake_model_new(CONFIG_RDMA, &fm));
        pf = setup_rdma_model(fm, &devs, &n, &rxe);
        rdma_assign(fm->m, devs, n);

        ASSERT_EQ(strv_length(pf->rdma_devices), 1);
        ASSERT_STREQ(pf->rdma_devices[0], "mlx5_0");
        ASSERT_STREQ(pf->vfs[0]->rdma_device, "mlx5_3");
        ASSERT_EQ(pf->vfs[0]->rdma_port, 1);
        ASSERT_EQ(pf->vfs[0]->rdma_port_state, RDMA_PORT_ACTIVE);
        ASSERT_STREQ(rdma_guid_to_string(pf->vfs[0]->rdma_node_guid, buf), "0000:0000:0000:0300");
        ASSERT_STREQ(pf->vfs[1]->rdma_device, "rxe0"); /* soft-RoCE on the VF netdev */
        ASSERT_EQ(pf->vfs[1]->rdma_link_layer, RDMA_LINK_LAYER_ETHERNET);
        ASSERT_TRUE(!pf->vfs[2]->rdma_device);
        ASSERT_EQ(pf->vfs[2]->rdma_port, 0);
        rdma_device_list_free(devs, n);
}

/* The pass and the ones its netlink steps queue, until the PF is idle. */
static void reconcile(FakeModel *fm, PhysicalFunction *pf)
{
        pf->job_running = false;
        fake_model_reconcile(fm, pf);
        ASSERT_EQ(pf->state, PF_STATE_CONFIGURED);
}

TEST(health_follows_rdma_device_and_port)
{
        _cleanup_(fake_model_freep) FakeModel *fm = NULL;
        _cleanup_free_ char *rxe = NULL;
        RdmaDevice **devs = NULL;
        size_t n = 0;
        PhysicalFunction *pf;

        fake_reset();
        ASSERT_OK(fake_model_new(CONFIG_RDMA, &fm));
        pf = setup_rdma_model(fm, &devs, &n, &rxe);
        rdma_assign(fm->m, devs, n);
        reconcile(fm, pf);
        ASSERT_EQ(pf->vfs[0]->state, VF_STATE_READY);
        ASSERT_EQ(pf->vfs[1]->state, VF_STATE_READY);
        ASSERT_EQ(pf->vfs[2]->state, VF_STATE_DEGRADED);
        /* The reason names the VF and the module that would create the device. */
        ASSERT_STREQ(pf->vfs[2]->last_error, "no RDMA device on VF 0000:81:00.4: is mlx5_ib loaded?");

        /* rxe0's port goes down (a "change" uevent re-maps): degraded, naming the port. */
        fake_devs[2].state = RDMA_PORT_DOWN;
        rdma_device_free(devs[2]);
        ASSERT_OK(rdma_device_load(rxe, &devs[2]));
        rdma_assign(fm->m, devs, n);
        ASSERT_TRUE(pf->dirty);
        reconcile(fm, pf);
        ASSERT_EQ(pf->vfs[1]->state, VF_STATE_DEGRADED);
        ASSERT_STREQ(pf->vfs[1]->last_error, "RDMA port 1 of rxe0 on VF 0000:81:00.3 is down");

        /* "rdma link del rxe0": the device is gone. */
        rdma_assign(fm->m, devs, 2);
        reconcile(fm, pf);
        ASSERT_EQ(pf->vfs[1]->state, VF_STATE_DEGRADED);
        ASSERT_STREQ(pf->vfs[1]->last_error, "no RDMA device on VF 0000:81:00.3: is mlx5_ib loaded?");

        /* Re-added and up: healthy again. */
        fake_devs[2].state = RDMA_PORT_ACTIVE;
        rdma_device_free(devs[2]);
        ASSERT_OK(rdma_device_load(rxe, &devs[2]));
        rdma_assign(fm->m, devs, n);
        reconcile(fm, pf);
        ASSERT_EQ(pf->vfs[1]->state, VF_STATE_READY);
        ASSERT_TRUE(!pf->vfs[1]->last_error);
        rdma_device_list_free(devs, n);
}

TEST(allocate_prefers_healthy_and_refuses_degraded)
{
        _cleanup_(fake_model_freep) FakeModel *fm = NULL;
        _cleanup_free_ char *rxe = NULL;
        RdmaDevice **devs = NULL;
        size_t n = 0;
        PhysicalFunction *pf;
        VirtualFunction *vf;
        AllocateHints h = {.numa_node = -1};

        fake_reset();
        ASSERT_OK(fake_model_new(CONFIG_RDMA, &fm));
        pf = setup_rdma_model(fm, &devs, &n, &rxe);
        /* VF0 (lowest address) loses its device: the healthy VF1 must be picked. */
        rdma_assign(fm->m, devs + 2, 1);
        reconcile(fm, pf);
        ASSERT_EQ(pf->vfs[0]->state, VF_STATE_DEGRADED);
        pools_sync(fm->m);
        ASSERT_OK(pool_pick_vf(fm->m, "train", &h, &vf));
        ASSERT_STREQ(vf->pci, "0000:81:00.3");

        /* Only degraded VFs free: refused, unless the caller allows it. */
        pf->vfs[1]->allocated = true;
        ASSERT_ERROR(pool_pick_vf(fm->m, "train", &h, &vf), EBUSY);
        h.allow_degraded = true;
        ASSERT_OK(pool_pick_vf(fm->m, "train", &h, &vf));
        ASSERT_EQ(vf->state, VF_STATE_DEGRADED);
        rdma_device_list_free(devs, n);
}

#define CONFIG_IB                                                                                       \
        "physical_functions = ( { match = { interface = \"ib0\"; }; num_vfs = 2; link_type = \"ib\";\n" \
        "  vfs = ( { range = \"0-1\"; pool = \"ib\"; } ); } );\n"

static void ib_guids_applied_once(unsigned quirks)
{
        _cleanup_(fake_model_freep) FakeModel *fm = NULL;
        PhysicalFunction *pf;
        FakeNetlinkStats st;
        VfSettings s;

        ASSERT_OK(fake_model_new(CONFIG_IB, &fm));
        pf = fake_model_add_pf(fm, "0000:82:00.0", "ib0", 30, 4, 2, "mlx5_core");
        ASSERT_OK(fake_netlink_set_quirks(fm->fk, 30, quirks));
        fake_model_add_vf(fm, pf, 0, "0000:82:00.1", NULL, 0, "mlx5_core", -1);
        fake_model_add_vf(fm, pf, 1, "0000:82:00.2", NULL, 0, "mlx5_core", -1);

        reconcile(fm, pf);
        ASSERT_EQ(pf->vfs[0]->state, VF_STATE_READY);
        for (unsigned i = 0; i < 2; i++) {
                ASSERT_OK(fake_netlink_get_vf(fm->fk, 30, i, &s));
                ASSERT_EQ(s.node_guid, stable_vf_guid(fm->m->machine_key, "0000:82:00.0", i, false));
                ASSERT_EQ(s.port_guid, stable_vf_guid(fm->m->machine_key, "0000:82:00.0", i, true));
                ASSERT_EQ(fake_netlink_get_vf_writes(fm->fk, 30, i), 2);
        }
        /* Later passes (a link event, a reload) change nothing, whether or not the driver
         * reports the GUIDs back. */
        fake_netlink_reset_stats(fm->fk);
        for (int k = 0; k < 3; k++) {
                pf->link_stale = true;
                reconcile(fm, pf);
        }
        st = fake_netlink_get_stats(fm->fk);
        ASSERT_EQ(st.setlinks, 0);
        ASSERT_EQ(fake_netlink_get_vf_writes(fm->fk, 30, 0), 0);

        /* A new VF object (the PF was reset, VFs re-created) gets them again. */
        fake_netlink_set_num_vfs(fm->fk, 30, 2);
        pf_remove_vf(pf, 0);
        fake_model_add_vf(fm, pf, 0, "0000:82:00.1", NULL, 0, "mlx5_core", -1);
        pf->link_stale = true;
        reconcile(fm, pf);
        ASSERT_EQ(fake_netlink_get_vf_writes(fm->fk, 30, 0), 2);
}

TEST(ib_guids_idempotent)
{
        fake_reset();
        ib_guids_applied_once(FAKE_QUIRK_IB);
        ib_guids_applied_once(FAKE_QUIRK_IB | FAKE_QUIRK_IB_NO_REPORT);
}

int main(void)
{
        RUN(guid_strings);
        RUN(load_mlx5_by_pci_parent);
        RUN(load_rxe_without_libibverbs_falls_back_to_sysfs);
        RUN(assign_by_pci_parent_and_gid_netdev);
        RUN(health_follows_rdma_device_and_port);
        RUN(allocate_prefers_healthy_and_refuses_degraded);
        RUN(ib_guids_idempotent);
        rdma_set_ops(NULL, NULL);
        return 0;
}
