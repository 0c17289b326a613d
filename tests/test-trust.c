/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The promises of an arbiter at the edges (issue 11), on the fake kernel: a VF in use is never
 * destroyed, whatever cannot be told counts as in use; the model announces every observed
 * change; the lease store and the model agree after any storage fault; read paths log
 * nothing and parse only what changed. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake-substrate.h"
#include "macro.h"
#include "tests.h"

#include "allocation.h"
#include "lease.h"
#include "log.h"
#include "pf.h"
#include "plan.h"
#include "pool.h"
#include "reconcile.h"
#include "util.h"

#define SEC 1000000ULL

static FakeSubstrate *setup(const char *conf)
{
        FakeSubstrate *s = NULL;

        ASSERT_OK(fake_substrate_new(&s));
        ASSERT_OK(fake_substrate_add_igb(s, 1, 7, NULL));
        ASSERT_OK(fake_substrate_write_config(s, "50-test.conf", conf));
        ASSERT_OK(fake_substrate_manager(s, NULL));
        ASSERT_OK(manager_start(s->manager));
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
        return s;
}

static void reconfigure(FakeSubstrate *s, const char *conf)
{
        ASSERT_OK(fake_substrate_write_config(s, "50-test.conf", conf));
        ASSERT_OK(manager_reload(s->manager));
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
}

/* ---- in use means in use ---------------------------------------------------------------- */

static const char *vfio_conf = "physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                               "  num_vfs = 4; vfs = (\n"
                               "    { range = \"1\"; pool = \"vm\"; driver = \"vfio-pci\"; },\n"
                               "    { range = \"2\"; pool = \"vm\"; driver = \"mlx5_vfio_pci\"; } ); } );\n";
static const char *vfio_conf_shrunk =
        "physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
        "  num_vfs = 3; vfs = (\n"
        "    { range = \"1\"; pool = \"vm\"; driver = \"vfio-pci\"; },\n"
        "    { range = \"2\"; pool = \"vm\"; driver = \"mlx5_vfio_pci\"; } ); } );\n";

static void assert_blocked(FakeSubstrate *s, PhysicalFunction *pf, const char *why)
{
        fprintf(stderr, "blocked: %s\n", strna(pf->last_error));
        ASSERT_EQ(pf->state, PF_STATE_BLOCKED);
        ASSERT_TRUE(pf->last_error && strstr(pf->last_error, why));
        ASSERT_EQ(fake_substrate_numvfs_writes(s), 0);
        ASSERT_EQ(pf->num_vfs, 4);
        ASSERT_EQ(pf_count_vfs(pf), 4);
}

TEST(vfio_in_use_fails_closed)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s = NULL;
        _cleanup_free_ char *node = NULL;
        PhysicalFunction *pf;
        VirtualFunction *v1, *v2;
        char group1[VF_VFIO_PATH_MAX], group2[VF_VFIO_PATH_MAX];

        ASSERT_OK(fake_substrate_new(&s));
        ASSERT_OK(fake_kernel_load_driver(s->kernel, "mlx5_vfio_pci"));
        ASSERT_OK(fake_substrate_add_igb(s, 1, 7, NULL));
        ASSERT_OK(fake_substrate_write_config(s, "50-test.conf", vfio_conf));
        ASSERT_OK(fake_substrate_manager(s, NULL));
        ASSERT_OK(manager_start(s->manager));
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
        pf = manager_get_pf(s->manager, "0000:01:00.0");
        v1 = pf->vfs[1];
        v2 = pf->vfs[2];
        ASSERT_STREQ(v1->driver, "vfio-pci");
        ASSERT_STREQ(v2->driver, "mlx5_vfio_pci");
        ASSERT_TRUE(vf_vfio_device(v1, group1) && vf_vfio_device(v2, group2));

        /* 1. A VMM running as another user owns VF 1's group node (libvirt's qemu user,
         * KubeVirt, DPDK): we cannot open it to ask, so it counts as in use. */
        node = path_join(fake_kernel_root_dir(s->kernel), group1);
        ASSERT_TRUE(node);
        if (geteuid() != 0)
                fprintf(stderr, "SKIP part 1: chown needs root\n");
        else {
                ASSERT_OK(chown(node, 65534, 65534) < 0 ? -errno : 0);
                fake_substrate_reset_counts(s);
                reconfigure(s, vfio_conf_shrunk);
                assert_blocked(s, pf, "belongs to uid 65534");
                ASSERT_TRUE(strstr(pf->last_error, v1->pci) != NULL);
                ASSERT_OK(chown(node, 0, 0) < 0 ? -errno : 0);
        }

        /* 2. The variant driver's VF has its device open (enabled by its VFIO user). */
        ASSERT_OK(fake_kernel_set_attr(s->kernel, v2->syspath, "enable", "1\n", NULL));
        fake_substrate_reset_counts(s);
        reconfigure(s, vfio_conf);
        reconfigure(s, vfio_conf_shrunk);
        assert_blocked(s, pf, "its device is open");
        ASSERT_TRUE(strstr(pf->last_error, v2->pci) != NULL);

        /* 3. Its state cannot be read: in use, not free. */
        {
                _cleanup_free_ char *enable = path_join(v2->syspath, "enable");
                _cleanup_free_ char *real = path_join(fake_kernel_root_dir(s->kernel), enable);

                ASSERT_TRUE(real);
                ASSERT_OK(unlink(real) < 0 ? -errno : 0);
                fake_substrate_reset_counts(s);
                reconfigure(s, vfio_conf);
                reconfigure(s, vfio_conf_shrunk);
                assert_blocked(s, pf, "cannot be read");
                ASSERT_OK(fake_kernel_set_attr(s->kernel, v2->syspath, "enable", "0\n", NULL));
        }

        /* 4. Nobody holds either: the count change goes ahead. */
        manager_pf_dirty(s->manager, pf);
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
        ASSERT_EQ(pf->state, PF_STATE_CONFIGURED);
        ASSERT_EQ(pf->num_vfs, 3);
}

/* A lease blocks destruction even when its VF has no object right now (its device not seen
 * yet, or dropped by a failed read). */
TEST(lease_blocks_without_vf_object)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s =
                setup("physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                      "  num_vfs = 4; vfs = ( { range = \"0-3\"; pool = \"p\"; } ); } );\n");
        PhysicalFunction *pf = manager_get_pf(s->manager, "0000:01:00.0");
        AllocateHints h = {.numa_node = -1};
        VirtualFunction *vf = NULL;

        ASSERT_OK(manager_allocate(s->manager, "p", "job-7", &h, NULL, &vf));
        ASSERT_EQ(vf->index, 0);
        pf_remove_vf(pf, 0);
        fake_substrate_reset_counts(s);
        ASSERT_OK(fake_substrate_write_config(
                s, "50-test.conf",
                "physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                "  num_vfs = 2; vfs = ( { range = \"0-1\"; pool = \"p\"; } ); } );\n"));
        ASSERT_OK(manager_reload(s->manager));
        /* Settling re-reads the PF: the VF object comes back; block it before that by
         * planning on the model as it is now. */
        {
                _cleanup_(plan_actions_done) PlanActions p = {};
                PlannerInput in;
                bool set = false, blocked = false;

                ASSERT_TRUE(pf->vfs[0] == NULL);
                reconcile_planner_input(pf, pf->config, false, &in);
                ASSERT_OK(planner_plan_pf(&in, &p));
                for (size_t i = 0; i < p.n_actions; i++) {
                        set = set || p.actions[i].type == PLAN_SET_NUM_VFS;
                        if (p.actions[i].type == PLAN_BLOCKED && strstr(p.actions[i].reason, "job-7"))
                                blocked = true;
                }
                ASSERT_TRUE(blocked);
                ASSERT_TRUE(!set);
        }
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
        ASSERT_EQ(pf->state, PF_STATE_BLOCKED);
        ASSERT_EQ(fake_substrate_numvfs_writes(s), 0);
        ASSERT_EQ(pf->num_vfs, 4);
}

/* A PF whose first read fails after it registered some VFs (here: its virtfn1 names a VF
 * that belongs to another PF) must take them out of the maps before it is freed. */
TEST(failed_first_read_leaves_no_dangling_vf)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s =
                setup("physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                      "  num_vfs = 2; } );\n");
        _cleanup_free_ char *a_pf = NULL, *a_vf0 = NULL, *b_pf = NULL, *bridge = NULL, *l0 = NULL,
                            *l1 = NULL, *t0 = NULL, *t1 = NULL;
        const char *root = fake_kernel_root_dir(s->kernel);

        ASSERT_OK(fake_kernel_pf_syspath(s->kernel, "0000:01:00.0", &a_pf));
        ASSERT_OK(fake_kernel_vf_syspath(s->kernel, "0000:01:00.0", 0, &a_vf0));
        bridge = strdup(a_pf);
        ASSERT_TRUE(bridge);
        *strrchr(bridge, '/') = 0;

        /* PF B appears with sriov_numvfs = 2; virtfn0 names a PCI function nobody has claimed
         * (the bridge), virtfn1 names PF A's VF 0. */
        ASSERT_OK(fake_substrate_add_igb(s, 2, 7, NULL));
        ASSERT_OK(fake_kernel_pf_syspath(s->kernel, "0000:02:00.0", &b_pf));
        ASSERT_OK(fake_kernel_set_attr(s->kernel, b_pf, "sriov_numvfs", "2\n", NULL));
        ASSERT_OK(asprintf_safe(&l0, "%s%s/virtfn0", root, b_pf));
        ASSERT_OK(asprintf_safe(&l1, "%s%s/virtfn1", root, b_pf));
        ASSERT_OK(asprintf_safe(&t0, "%s%s", root, bridge));
        ASSERT_OK(asprintf_safe(&t1, "%s%s", root, a_vf0));
        (void) unlink(l0);
        (void) unlink(l1);
        ASSERT_OK(symlink(t0, l0) < 0 ? -errno : 0);
        ASSERT_OK(symlink(t1, l1) < 0 ? -errno : 0);
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);

        ASSERT_TRUE(manager_get_pf(s->manager, "0000:02:00.0") == NULL);
        /* Every VF in the map belongs to a PF that exists. */
        ASSERT_EQ(hashmap_size(s->manager->vfs), pf_count_vfs(manager_get_pf(s->manager, "0000:01:00.0")));
        /* Before the fix the bridge's "VF" stayed in the map, pointing into the freed PF. */
        ASSERT_TRUE(manager_get_vf(s->manager, path_basename(bridge)) == NULL);
        ASSERT_TRUE(manager_get_vf(s->manager, path_basename(a_vf0))->pf ==
                    manager_get_pf(s->manager, "0000:01:00.0"));
}

/* Under the unit, config space past 64 bytes (the SR-IOV capability) is unreadable without
 * CAP_SYS_ADMIN, as it is here (the fake has no config file): the VF device ID comes from
 * sysfs's sriov_vf_device instead of staying 0. */
TEST(vf_device_id_from_sysfs)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s =
                setup("physical_functions = ( { match = { pci = \"0000:01:00.*\"; }; num_vfs = 1; } );\n");
        PhysicalFunction *pf = manager_get_pf(s->manager, "0000:01:00.0");

        ASSERT_TRUE(!pf->has_sriov_cap);
        ASSERT_EQ(pf->vf_device_id, 0x10ca);
}

/* ---- the model announces what it observes ------------------------------------------------ */

static VirtualFunction *watched_vf;
static unsigned watched_changes;

static void count_vf_changed(Manager *m, VirtualFunction *vf)
{
        if (vf == watched_vf)
                watched_changes++;
}

static const ManagerHooks counting_hooks = {.vf_changed = count_vf_changed};

static PhysicalFunction *watched_pf;
static unsigned watched_pf_changes;

static void count_pf_changed(Manager *m, PhysicalFunction *pf)
{
        if (pf == watched_pf)
                watched_pf_changes++;
}

static const ManagerHooks counting_pf_hooks = {.pf_changed = count_pf_changed};

/* The PF's own properties as sysfs shows them (NUMANode, Driver, ...): a refresh that finds
 * one moved announces the PF, one that finds nothing moved announces nothing. */
TEST(pf_observed_changes_are_announced)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s =
                setup("physical_functions = ( { match = { pci = \"0000:01:00.*\"; }; num_vfs = 2; } );\n");
        PhysicalFunction *pf = manager_get_pf(s->manager, "0000:01:00.0");
        int numa = pf->numa_node == 1 ? 0 : 1;
        char buf[16];

        s->manager->hooks = &counting_pf_hooks;
        watched_pf = pf;

        /* Nothing moved: a uevent alone announces nothing. */
        watched_pf_changes = 0;
        ASSERT_OK(fake_kernel_uevent(s->kernel, pf->syspath, "change"));
        ASSERT_EQ(fake_substrate_settle(s, 10 * SEC), 1);
        ASSERT_EQ(watched_pf_changes, 0);

        /* The firmware moved the device to another NUMA node (or sysfs now reports one). */
        snprintf(buf, sizeof(buf), "%d\n", numa);
        ASSERT_OK(fake_kernel_set_attr(s->kernel, pf->syspath, "numa_node", buf, "change"));
        ASSERT_EQ(fake_substrate_settle(s, 10 * SEC), 1);
        fprintf(stderr, "PF announced %u time(s) for NUMANode %d\n", watched_pf_changes, pf->numa_node);
        ASSERT_EQ(pf->numa_node, numa);
        ASSERT_TRUE(watched_pf_changes >= 1);
        s->manager->hooks = NULL;
}

TEST(observed_changes_are_announced)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s =
                setup("physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                      "  num_vfs = 2; vfs = ( { range = \"0-1\"; vlan = 7; max_tx_rate = 100; } ); } );\n");
        PhysicalFunction *pf = manager_get_pf(s->manager, "0000:01:00.0");
        VfSettings v = {.index = 1, .mask = VF_ATTR_BIT(VF_ATTR_VLAN), .vlan = 99};

        s->manager->hooks = &counting_hooks;
        watched_vf = pf->vfs[1];
        watched_changes = 0;

        /* Drift ("ip link set enp1s0 vf 1 vlan 99"), then the daemon's correction: a client
         * that caches properties must hear of both. */
        ASSERT_OK(fake_netlink_set_vf(s->netlink, pf->ifindex, &v));
        ASSERT_OK(fake_netlink_emit_link_event(s->netlink, pf->ifindex, false));
        ASSERT_EQ(fake_substrate_settle(s, 10 * SEC), 1);
        ASSERT_EQ(link_info_find_vf(pf->link, 1)->vlan, 7);
        fprintf(stderr, "VF 1 announced %u time(s)\n", watched_changes);
        ASSERT_TRUE(watched_changes >= 1);

        /* A reload that changes the declared rate changes what is observed: announced. */
        watched_changes = 0;
        reconfigure(s, "physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                       "  num_vfs = 2; vfs = ( { range = \"0-1\"; vlan = 7; max_tx_rate = 200; } ); } );\n");
        ASSERT_EQ(link_info_find_vf(pf->link, 1)->max_tx_rate, 200);
        ASSERT_TRUE(watched_changes >= 1);

        /* Nothing moved: nothing announced. */
        watched_changes = 0;
        ASSERT_OK(fake_netlink_emit_link_event(s->netlink, pf->ifindex, false));
        ASSERT_EQ(fake_substrate_settle(s, 10 * SEC), 1);
        ASSERT_EQ(watched_changes, 0);
        s->manager->hooks = NULL;
}

/* ---- lease store and model agree --------------------------------------------------------- */

typedef enum Action {
        ACTION_ALLOCATE,
        ACTION_RELEASE,
        ACTION_RELEASE_OWNER,
        ACTION_CALLER_GONE,
        _ACTION_MAX,
} Action;

static const char *const action_names[] = {"Allocate", "Release", "ReleaseOwner", "caller-gone"};
static const char *const io_names[] = {"write", "fsync", "rename", "unlink", "dir-fsync"};

/* Model, store and disk (a fresh store opened on the same directory, as after a restart)
 * say the same about every VF of the PF. */
static void assert_agree(FakeSubstrate *s, PhysicalFunction *pf)
{
        _cleanup_(lease_store_freep) LeaseStore *disk = NULL;
        VirtualFunction *vf;

        ASSERT_OK(lease_store_open(s->state_dir, &disk));
        ASSERT_EQ(lease_store_size(disk), lease_store_size(s->manager->leases));
        PF_FOREACH_VF(vf, pf) {
                const Lease *mem = lease_store_find(s->manager->leases, pf->pci, vf->index);
                const Lease *d = lease_store_find(disk, pf->pci, vf->index);

                ASSERT_EQ(vf->allocated, mem != NULL);
                ASSERT_EQ(mem != NULL, d != NULL);
                if (mem) {
                        ASSERT_STREQ(vf->owner, mem->owner);
                        ASSERT_STREQ(d->owner, mem->owner);
                }
        }
}

TEST(storage_faults_keep_disk_and_bus_in_agreement)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s =
                setup("physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                      "  num_vfs = 4; vfs = ( { range = \"0-3\"; pool = \"p\"; } ); } );\n");
        PhysicalFunction *pf = manager_get_pf(s->manager, "0000:01:00.0");
        const int errors[] = {-ENOSPC, -EIO};
        AllocateHints h = {.numa_node = -1};
        unsigned injected = 0, failed_calls = 0;

        for (Action a = 0; a < _ACTION_MAX; a++)
                for (LeaseIo io = 0; io < _LEASE_IO_MAX; io++)
                        for (size_t e = 0; e < ELEMENTSOF(errors); e++) {
                                VirtualFunction *vf = NULL;
                                unsigned n = 0;
                                int r;

                                /* Start from one lease of "a" (bound to ":1.5") on a clean disk. */
                                ASSERT_OK(manager_release_owner(s->manager, "a", NULL));
                                ASSERT_OK(manager_release_owner(s->manager, "b", NULL));
                                ASSERT_OK(manager_allocate(s->manager, "p", "a", &h, ":1.5", &vf));
                                assert_agree(s, pf);

                                lease_store_fail_next(s->manager->leases, io, errors[e], 1);
                                injected++;
                                switch (a) {
                                case ACTION_ALLOCATE:
                                        r = manager_allocate(s->manager, "p", "b", &h, NULL, &vf);
                                        break;
                                case ACTION_RELEASE:
                                        r = manager_release_vf(s->manager, vf);
                                        break;
                                case ACTION_RELEASE_OWNER:
                                        r = manager_release_owner(s->manager, "a", &n);
                                        break;
                                default:
                                        r = manager_release_caller(s->manager, ":1.5", &n);
                                        break;
                                }
                                fprintf(stderr, "%s with %s failing (%s): %s\n", action_names[a],
                                        io_names[io], strerror(-errors[e]), r < 0 ? strerror(-r) : "ok");
                                failed_calls += r < 0;
                                lease_store_fail_next(s->manager->leases, io, errors[e], 0);
                                assert_agree(s, pf);

                                /* Nothing is wedged: a VF that looks free can be allocated. */
                                r = manager_allocate(s->manager, "p", "b", &h, NULL, &vf);
                                ASSERT_OK(r);
                                assert_agree(s, pf);
                        }
        fprintf(stderr,
                "%u storage faults injected, %u calls failed cleanly, disk and model agreed "
                "after each\n",
                injected, failed_calls);
        ASSERT_EQ(injected, 40);
        /* Every fault on a step the action takes makes it fail or roll forward; some did. */
        ASSERT_TRUE(failed_calls > 0);
}

/* ---- read paths --------------------------------------------------------------------------- */

TEST(plan_logs_nothing_and_parses_once_per_change)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s =
                setup("physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                      "  num_vfs = 2; vfs = ( { range = \"0-1\"; pool = \"p\"; } ); } );\n");
        unsigned logged;
        uint64_t loads;

        /* A broken drop-in beside the good one: Plan reports it, every time, and says it
         * nowhere else. */
        ASSERT_OK(fake_substrate_write_config(s, "60-broken.conf",
                                              "physical_functions = ( { num_vfs = ; } );\n"));
        logged = log_get_count(LOG_WARNING);
        loads = s->manager->plan_config_loads;
        for (unsigned i = 0; i < 200; i++) {
                _cleanup_(plan_freep) Plan *p = NULL;
                bool reported = false;

                ASSERT_OK(manager_plan(s->manager, &p));
                for (size_t k = 0; k < p->n_items; k++)
                        reported |= streq(p->items[k].action, "config-error") &&
                                    strstr(p->items[k].reason, "60-broken.conf") != NULL;
                ASSERT_TRUE(reported);
        }
        ASSERT_EQ(log_get_count(LOG_WARNING), logged);
        ASSERT_EQ(s->manager->plan_config_loads, loads + 1);

        /* The admin fixes the file: the next Plan sees it. */
        ASSERT_OK(fake_substrate_remove_config(s, "60-broken.conf"));
        {
                _cleanup_(plan_freep) Plan *p = NULL;

                ASSERT_OK(manager_plan(s->manager, &p));
                for (size_t k = 0; k < p->n_items; k++)
                        ASSERT_TRUE(!streq(p->items[k].action, "config-error"));
        }
        ASSERT_EQ(s->manager->plan_config_loads, loads + 2);
}

TEST(reload_logs_each_config_error_once)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s =
                setup("physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                      "  num_vfs = 2; } );\n");
        unsigned before;

        ASSERT_OK(fake_substrate_write_config(s, "60-broken.conf",
                                              "physical_functions = ( { num_vfs = ; } );\n"));
        before = log_get_count(LOG_ERR);
        ASSERT_OK(manager_reload(s->manager));
        ASSERT_EQ(log_get_count(LOG_ERR), before + 1);
}

int main(void)
{
        log_set_max_level(LOG_DEBUG);
        RUN(vfio_in_use_fails_closed);
        RUN(lease_blocks_without_vf_object);
        RUN(failed_first_read_leaves_no_dangling_vf);
        RUN(vf_device_id_from_sysfs);
        RUN(observed_changes_are_announced);
        RUN(pf_observed_changes_are_announced);
        RUN(storage_faults_keep_disk_and_bus_in_agreement);
        RUN(plan_logs_nothing_and_parses_once_per_change);
        RUN(reload_logs_each_config_error_once);
        return 0;
}
