/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every doctor check made to pass, warn and fail by a crafted /sys + /proc tree. */
#include "doctor.h"
#include "fake-model.h"
#include "rdma.h"
#include "tests.h"
#include "util.h"

#define CONFIG                                                                         \
        "physical_functions = ( { match = { interface = \"ens1f0\"; }; num_vfs = 2;\n" \
        "  vfs = ( { range = \"0\"; pool = \"rdma\"; rdma = true; mtu = 1500; },\n"    \
        "          { range = \"1\"; pool = \"vm\"; driver = \"vfio-pci\"; } ); } );\n"

typedef struct Env {
        FakeModel *fm;
        PhysicalFunction *pf;
        VirtualFunction *vf0, *vf1;
} Env;

/* The healthy baseline: every check passes. */
static void env_setup(Env *e)
{
        ASSERT_OK(fake_model_new(CONFIG, &e->fm));
        e->pf = fake_model_add_pf(e->fm, "0000:81:00.0", "ens1f0", 10, 8, 2, "mlx5_core");
        e->vf0 = fake_model_add_vf(e->fm, e->pf, 0, "0000:81:00.2", "ens1f0v0", 20, "mlx5_core", 30);
        e->vf1 = fake_model_add_vf(e->fm, e->pf, 1, "0000:81:00.3", NULL, 0, "vfio-pci", 31);
        e->vf0->mtu = 1500;
        e->vf0->rdma_device = strdup("mlx5_2");
        e->vf0->rdma_port = 1;
        e->vf0->rdma_port_state = RDMA_PORT_ACTIVE;
        fake_model_write(e->fm, "sys/class/iommu/dmar0", NULL);
        fake_model_write(e->fm, "proc/cmdline", "BOOT_IMAGE=/vmlinuz intel_iommu=on iommu=pt quiet");
        fake_model_write(e->fm, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "512");
        fake_model_write(e->fm, "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "0");
        fake_model_write(e->fm, "sys/class/infiniband/mlx5_2", NULL);
        fake_model_write(e->fm, "sys/module/ib_uverbs", NULL);
        fake_model_write(e->fm, "sys/module/ib_core/parameters/netns_mode", "N");
        fake_model_write(e->fm, "sys/devices/pci0000:00/0000:81:00.2/net/ens1f0v0/flags", "0x1003");
        /* the VF bound to vfio-pci has a MAC set by the host */
        ASSERT_OK(fake_netlink_set_vf(e->fm->fk, 10,
                                      &(VfSettings){.index = 1,
                                                    .mask = VF_ATTR_BIT(VF_ATTR_MAC),
                                                    .mac = {{0x02, 1, 2, 3, 4, 5}}}));
        fake_model_read_link(e->fm, e->pf);
}

static void env_done(Env *e)
{
        fake_model_free(e->fm);
}

static DoctorStatus run(Env *e, const char *check, const char *object, const char *advice_part)
{
        _cleanup_(doctor_report_freep) DoctorReport *r = NULL;
        const DoctorItem *it;
        DoctorStatus s;

        ASSERT_OK(doctor_run(e->fm->m, e->fm->sys, e->fm->proc, &r));
        for (size_t i = 0; i < r->n_items; i++)
                fprintf(stderr, "  %-18s %-4s %-14s %s\n", r->items[i].check,
                        doctor_status_to_string(r->items[i].status), r->items[i].object, r->items[i].advice);
        s = doctor_report_status(r, check);
        it = doctor_report_find(r, check, s == DOCTOR_OK ? NULL : object);
        ASSERT_TRUE(it);
        if (advice_part && !strstr(it->advice, advice_part)) {
                fprintf(stderr, "advice of %s lacks \"%s\": %s\n", check, advice_part, it->advice);
                abort();
        }
        return s;
}

TEST(all_pass)
{
        _cleanup_(doctor_report_freep) DoctorReport *r = NULL;
        Env e;

        env_setup(&e);
        ASSERT_OK(doctor_run(e.fm->m, e.fm->sys, e.fm->proc, &r));
        for (size_t i = 0; i < r->n_items; i++) {
                if (r->items[i].status != DOCTOR_OK)
                        fprintf(stderr, "unexpected: %s %s %s\n", r->items[i].check, r->items[i].object,
                                r->items[i].advice);
                ASSERT_EQ(r->items[i].status, DOCTOR_OK);
        }
        ASSERT_EQ(r->n_items, 11); /* one "ok" per check */
        env_done(&e);
}

TEST(iommu)
{
        Env e;

        env_setup(&e);
        ASSERT_EQ(run(&e, "iommu", "", "dmar0"), DOCTOR_OK);
        /* the unit exists, the groups do not (IOMMU not enabled on the command line) */
        fake_model_remove(e.fm, "sys/kernel/iommu_groups");
        ASSERT_EQ(run(&e, "iommu", "", "intel_iommu=on"), DOCTOR_WARN);
        fake_model_remove(e.fm, "sys/class/iommu/dmar0");
        ASSERT_EQ(run(&e, "iommu", "", "BIOS"), DOCTOR_FAIL);
        env_done(&e);
}

TEST(iommu_passthrough)
{
        Env e;

        env_setup(&e);
        ASSERT_EQ(run(&e, "iommu-passthrough", "", NULL), DOCTOR_OK);
        fake_model_write(e.fm, "proc/cmdline", "intel_iommu=on quiet");
        ASSERT_EQ(run(&e, "iommu-passthrough", "", "iommu=pt"), DOCTOR_WARN);
        fake_model_write(e.fm, "proc/cmdline", "intel_iommu=off iommu=pt");
        ASSERT_EQ(run(&e, "iommu-passthrough", "", "intel_iommu=off"), DOCTOR_FAIL);
        env_done(&e);
}

TEST(acs)
{
        Env e;

        env_setup(&e);
        ASSERT_EQ(run(&e, "acs", "", "alone"), DOCTOR_OK);
        /* no IOMMU: no groups, nothing to assess (not "every VF is alone") */
        e.vf0->iommu_group = e.vf1->iommu_group = -1;
        ASSERT_EQ(run(&e, "acs", "", "not assessed"), DOCTOR_OK);
        e.vf0->iommu_group = 30;
        e.vf1->iommu_group = 31;
        /* VF0 (kernel driver) shares its group: warning */
        fake_model_symlink(e.fm, "sys/kernel/iommu_groups/30/devices/0000:80:01.0", "/nonexistent");
        ASSERT_EQ(run(&e, "acs", "0000:81:00.2", "0000:80:01.0"), DOCTOR_WARN);
        /* VF1 is for vfio-pci: a shared group cannot be assigned alone */
        fake_model_symlink(e.fm, "sys/kernel/iommu_groups/31/devices/0000:80:01.1", "/nonexistent");
        ASSERT_EQ(run(&e, "acs", "0000:81:00.3", "ACS"), DOCTOR_FAIL);
        env_done(&e);
}

TEST(hugepages)
{
        Env e;

        env_setup(&e);
        ASSERT_EQ(run(&e, "hugepages", "", "512 hugepages"), DOCTOR_OK);
        fake_model_write(e.fm, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "0");
        ASSERT_EQ(run(&e, "hugepages", "", "vm.nr_hugepages"), DOCTOR_WARN);
        fake_model_remove(e.fm, "sys/kernel/mm/hugepages");
        ASSERT_EQ(run(&e, "hugepages", "", "hugetlbfs"), DOCTOR_FAIL);
        env_done(&e);
}

TEST(num_vfs)
{
        Env e;

        env_setup(&e);
        ASSERT_EQ(run(&e, "num-vfs", "", NULL), DOCTOR_OK);
        e.pf->num_vfs = 1;
        ASSERT_EQ(run(&e, "num-vfs", "0000:81:00.0", "the kernel has 1 VFs, 2 declared"), DOCTOR_WARN);
        e.pf->total_vfs = 1; /* firmware allows fewer than declared */
        ASSERT_EQ(run(&e, "num-vfs", "0000:81:00.0", "raise it in firmware"), DOCTOR_FAIL);
        e.pf->total_vfs = 0;
        ASSERT_EQ(run(&e, "num-vfs", "0000:81:00.0", "SR-IOV is disabled"), DOCTOR_FAIL);
        env_done(&e);
}

TEST(vf_driver)
{
        Env e;

        env_setup(&e);
        ASSERT_EQ(run(&e, "vf-driver", "", NULL), DOCTOR_OK);
        e.vf1->driver = NULL; /* interned: not freed */
        ASSERT_EQ(run(&e, "vf-driver", "0000:81:00.3", "bound to no driver"), DOCTOR_WARN);
        fake_model_remove(e.fm, "sys/bus/pci/drivers/vfio-pci");
        ASSERT_EQ(run(&e, "vf-driver", "0000:81:00.3", "modprobe vfio-pci"), DOCTOR_FAIL);
        env_done(&e);
}

TEST(rdma_core)
{
        Env e;

        env_setup(&e);
        ASSERT_EQ(run(&e, "rdma-core", "", NULL), DOCTOR_OK);
        fake_model_remove(e.fm, "sys/module/ib_uverbs");
        ASSERT_EQ(run(&e, "rdma-core", "", "modprobe ib_uverbs"), DOCTOR_WARN);
        fake_model_remove(e.fm, "sys/class/infiniband");
        fake_model_remove(e.fm, "sys/module/ib_core");
        ASSERT_EQ(run(&e, "rdma-core", "", "rdma = true"), DOCTOR_FAIL);
        env_done(&e);
}

TEST(rdma_vf)
{
        Env e;

        env_setup(&e);
        ASSERT_EQ(run(&e, "rdma-vf", "", NULL), DOCTOR_OK);
        e.vf0->rdma_port_state = RDMA_PORT_DOWN;
        ASSERT_EQ(run(&e, "rdma-vf", "0000:81:00.2", "port 1 is down"), DOCTOR_WARN);
        e.vf0->rdma_device = mfree(e.vf0->rdma_device);
        ASSERT_EQ(run(&e, "rdma-vf", "0000:81:00.2", "modprobe mlx5_ib"), DOCTOR_FAIL);
        env_done(&e);
}

TEST(rdma_netns)
{
        Env e;

        env_setup(&e);
        ASSERT_EQ(run(&e, "rdma-netns", "", "exclusive"), DOCTOR_OK);
        fake_model_write(e.fm, "sys/module/ib_core/parameters/netns_mode", "Y");
        ASSERT_EQ(run(&e, "rdma-netns", "", "rdma system set netns exclusive"), DOCTOR_WARN);
        fake_model_remove(e.fm, "sys/module/ib_core");
        ASSERT_EQ(run(&e, "rdma-netns", "", "not loaded"), DOCTOR_FAIL);
        env_done(&e);
}

TEST(trust_spoofchk)
{
        Env e;

        env_setup(&e);
        ASSERT_EQ(run(&e, "trust-spoofchk", "", NULL), DOCTOR_OK);
        /* passed through, no host MAC, spoofchk on, trust off */
        ASSERT_OK(fake_netlink_set_vf(e.fm->fk, 10,
                                      &(VfSettings){.index = 1, .mask = VF_ATTR_BIT(VF_ATTR_MAC)}));
        fake_model_read_link(e.fm, e.pf);
        ASSERT_EQ(run(&e, "trust-spoofchk", "0000:81:00.3", "trust = true"), DOCTOR_WARN);
        /* the VF netdev went promiscuous (a bridge), trust off */
        fake_model_write(e.fm, "sys/devices/pci0000:00/0000:81:00.2/net/ens1f0v0/flags", "0x1103");
        ASSERT_EQ(run(&e, "trust-spoofchk", "0000:81:00.2", "promiscuous"), DOCTOR_FAIL);
        /* trusted: fine */
        ASSERT_OK(fake_netlink_set_vf(
                e.fm->fk, 10, &(VfSettings){.index = 0, .mask = VF_ATTR_BIT(VF_ATTR_TRUST), .trust = 1}));
        fake_model_read_link(e.fm, e.pf);
        {
                _cleanup_(doctor_report_freep) DoctorReport *r = NULL;

                ASSERT_OK(doctor_run(e.fm->m, e.fm->sys, e.fm->proc, &r));
                ASSERT_TRUE(!doctor_report_find(r, "trust-spoofchk", "0000:81:00.2"));
        }
        env_done(&e);
}

TEST(mtu)
{
        Env e;

        env_setup(&e);
        ASSERT_EQ(run(&e, "mtu", "", NULL), DOCTOR_OK);
        e.vf0->mtu = 1400; /* declared 1500, not applied */
        ASSERT_EQ(run(&e, "mtu", "0000:81:00.2", "mtu = 1500 declared"), DOCTOR_WARN);
        e.vf0->mtu = 9000; /* above the PF's 1500 */
        ASSERT_EQ(run(&e, "mtu", "0000:81:00.2", "raise the PF mtu"), DOCTOR_FAIL);
        env_done(&e);
}

int main(void)
{
        RUN(all_pass);
        RUN(iommu);
        RUN(iommu_passthrough);
        RUN(acs);
        RUN(hugepages);
        RUN(num_vfs);
        RUN(vf_driver);
        RUN(rdma_core);
        RUN(rdma_vf);
        RUN(rdma_netns);
        RUN(trust_spoofchk);
        RUN(mtu);
        return 0;
}
