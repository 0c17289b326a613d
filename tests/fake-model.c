/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ftw.h>
#include <sys/stat.h>

#include "config.h"
#include "fake-model.h"
#include "reconcile.h"
#include "tests.h"
#include "util.h"

char *fake_model_path(FakeModel *fm, const char *rel)
{
        char *p = path_join(fm->root, rel);

        ASSERT_TRUE(p);
        return p;
}

static void mkdir_parents(const char *path, bool self)
{
        _cleanup_free_ char *p = strdup(path);

        ASSERT_TRUE(p);
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        (void) mkdir(p, 0755);
                        *s = '/';
                }
        if (self)
                (void) mkdir(p, 0755);
}

void fake_model_write(FakeModel *fm, const char *rel, const char *content)
{
        _cleanup_free_ char *p = fake_model_path(fm, rel);

        _cleanup_fclose_ FILE *f = NULL;

        mkdir_parents(p, !content);
        if (!content)
                return;
        f = fopen(p, "we");
        ASSERT_TRUE(f);
        ASSERT_TRUE(fputs(content, f) >= 0 && fputc('\n', f) != EOF);
}

void fake_model_symlink(FakeModel *fm, const char *rel, const char *target)
{
        _cleanup_free_ char *p = fake_model_path(fm, rel);

        mkdir_parents(p, false);
        (void) unlink(p);
        ASSERT_TRUE(symlink(target, p) == 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path) < 0 ? -1 : 0;
}

void fake_model_remove(FakeModel *fm, const char *rel)
{
        _cleanup_free_ char *p = fake_model_path(fm, rel);

        (void) nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_attr(FakeModel *fm, const char *dir, const char *attr, const char *value)
{
        _cleanup_free_ char *rel = path_join(dir, attr);

        ASSERT_TRUE(rel);
        fake_model_write(fm, rel, value);
}

int fake_model_new(const char *config, FakeModel **ret)
{
        FakeModel *fm = calloc(1, sizeof(FakeModel));
        _cleanup_free_ char *state = NULL;
        Netlink *nl = NULL;
        ConfigSet *set;

        ASSERT_TRUE(fm);
        fm->root = strdup("/tmp/sriovd-model-XXXXXX");
        ASSERT_TRUE(fm->root && mkdtemp(fm->root));
        fm->sys = fake_model_path(fm, "sys");
        fm->proc = fake_model_path(fm, "proc");
        state = fake_model_path(fm, "state");
        fake_model_write(fm, "sys", NULL);
        fake_model_write(fm, "proc", NULL);
        fm->fk = fake_netlink_new();
        ASSERT_TRUE(fm->fk);
        ASSERT_OK(fake_netlink_new_netlink(fm->fk, &nl));
        ASSERT_OK(manager_new(&(ManagerOptions){.netlink = nl,
                                                .state_dir = state,
                                                .no_netlink_monitor = true,
                                                .no_udev_monitor = true,
                                                .no_notify = true,
                                                .pci_names_no_hwdb = true,
                                                .sys_root = fm->sys,
                                                .proc_root = fm->proc},
                              &fm->m));
        set = calloc(1, sizeof(ConfigSet));
        ASSERT_TRUE(set);
        if (config)
                ASSERT_OK(config_set_add_buffer(set, "/etc/sriov.d/50-test.conf", config, strlen(config)));
        ASSERT_EQ(strv_length(set->errors), 0);
        fm->m->config = set;
        *ret = fm;
        return 0;
}

FakeModel *fake_model_free(FakeModel *fm)
{
        if (!fm)
                return NULL;
        manager_free(fm->m);
        fake_netlink_free(fm->fk);
        (void) nftw(fm->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(fm->root);
        free(fm->sys);
        free(fm->proc);
        return mfree(fm);
}

PhysicalFunction *fake_model_add_pf(FakeModel *fm, const char *pci, const char *ifname, int ifindex,
                                    uint32_t total, uint32_t num, const char *driver)
{
        _cleanup_free_ char *rel = NULL, *syspath = NULL, *attr = NULL;
        struct ether_addr mac = {{0x02, 0, 0, 0, 0, (uint8_t) ifindex}};
        PhysicalFunction *pf;
        PfIdentity id;

        ASSERT_OK(asprintf_safe(&rel, "sys/devices/pci0000:00/%s", pci));
        syspath = fake_model_path(fm, rel);
        {
                char buf[16];

                snprintf(buf, sizeof(buf), "%d", ifindex);
                write_attr(fm, rel, "sriov_totalvfs", "64");
                ASSERT_OK(asprintf_safe(&attr, "net/%s/ifindex", ifname));
                write_attr(fm, rel, attr, buf);
                attr = mfree(attr);
                ASSERT_OK(asprintf_safe(&attr, "net/%s/mtu", ifname));
                write_attr(fm, rel, attr, "1500");
        }

        ASSERT_OK(pf_new(fm->m, syspath, &pf));
        ASSERT_OK(hashmap_put(fm->m->pfs, pf->pci, pf));
        pf->total_vfs = total;
        pf->num_vfs = num;
        pf->ifname = strdup(ifname);
        pf->ifindex = ifindex;
        pf->driver = driver ? strdup(driver) : NULL;
        pf->link_stale = true;
        ASSERT_OK(fake_netlink_add_link(fm->fk, ifindex, ifname, &mac));
        ASSERT_OK(fake_netlink_set_num_vfs(fm->fk, ifindex, num));
        pf_identity(pf, &id);
        pf_set_config(pf, config_set_match(fm->m->config, &id, false));
        pf->state = pf->config ? PF_STATE_PENDING : PF_STATE_UNMANAGED;
        return pf;
}

VirtualFunction *fake_model_add_vf(FakeModel *fm, PhysicalFunction *pf, unsigned index, const char *pci,
                                   const char *ifname, int ifindex, const char *driver, int iommu_group)
{
        _cleanup_free_ char *rel = NULL, *syspath = NULL, *attr = NULL, *target = NULL;
        VirtualFunction *vf;

        ASSERT_OK(asprintf_safe(&rel, "sys/devices/pci0000:00/%s", pci));
        syspath = fake_model_path(fm, rel);
        fake_model_write(fm, rel, NULL);
        if (ifname) {
                char buf[16];

                snprintf(buf, sizeof(buf), "%d", ifindex);
                ASSERT_OK(asprintf_safe(&attr, "%s/net/%s/ifindex", rel, ifname));
                fake_model_write(fm, attr, buf);
                attr = mfree(attr);
                ASSERT_OK(asprintf_safe(&attr, "%s/net/%s/mtu", rel, ifname));
                fake_model_write(fm, attr, "1500");
                attr = mfree(attr);
        }
        if (driver) {
                ASSERT_OK(asprintf_safe(&attr, "%s/driver", rel));
                ASSERT_OK(asprintf_safe(&target, "%s/sys/bus/pci/drivers/%s", fm->root, driver));
                fake_model_write(fm, target + strlen(fm->root) + 1, NULL);
                fake_model_symlink(fm, attr, target);
                attr = mfree(attr);
                target = mfree(target);
        }
        if (iommu_group >= 0) {
                _cleanup_free_ char *grp = NULL, *member = NULL;

                ASSERT_OK(asprintf_safe(&grp, "sys/kernel/iommu_groups/%d", iommu_group));
                ASSERT_OK(asprintf_safe(&member, "%s/devices/%s", grp, pci));
                fake_model_symlink(fm, member, syspath);
                ASSERT_OK(asprintf_safe(&attr, "%s/iommu_group", rel));
                ASSERT_OK(asprintf_safe(&target, "%s/%s", fm->root, grp));
                fake_model_symlink(fm, attr, target);
        }
        ASSERT_TRUE(pf_add_vf(pf, index, syspath, &vf) >= 0);
        return vf;
}

static bool pf_answered(Manager *m, void *userdata)
{
        PhysicalFunction *pf = userdata;

        return !pf->job_running && pf->nl_steps == 0;
}

/* The model here is built by hand (RDMA devices assigned by the test, no udev): the manager's
 * own reconcile source would refresh it from the loop. Only the replies run on the loop; the
 * passes they ask for are run here, as the tests called reconcile_pf() before. */
static void run_replies(FakeModel *fm, PhysicalFunction *pf)
{
        ASSERT_EQ(manager_run_until(fm->m, pf_answered, pf, 10 * 1000000ULL), 1);
        (void) sd_event_source_set_enabled(fm->m->reconcile_source, SD_EVENT_OFF);
}

void fake_model_run_idle(FakeModel *fm, PhysicalFunction *pf)
{
        run_replies(fm, pf);
        while (pf->dirty) {
                reconcile_pf(pf);
                run_replies(fm, pf);
        }
}

void fake_model_read_link(FakeModel *fm, PhysicalFunction *pf)
{
        ASSERT_OK(reconcile_read_link(pf, true));
        run_replies(fm, pf);
        pf->dirty = false;
}

void fake_model_reconcile(FakeModel *fm, PhysicalFunction *pf)
{
        reconcile_pf(pf);
        fake_model_run_idle(fm, pf);
}
