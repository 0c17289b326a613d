/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CDI specs for leased VFs (issue 13): a spec exists exactly while its VF is leased and its
 * device exists, names the device nodes a container needs, and follows the VF. */
#include <sys/stat.h>
#include <unistd.h>

#include "fake-substrate.h"
#include "macro.h"
#include "tests.h"

#include "allocation.h"
#include "cdi.h"
#include "pf.h"
#include "util.h"

#define SEC 1000000ULL

static const char *conf = "physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                          "  num_vfs = 3; vfs = (\n"
                          "    { range = \"0-1\"; pool = \"vm\"; driver = \"vfio-pci\"; },\n"
                          "    { range = \"2\"; pool = \"net\"; } ); } );\n";

static char *spec_path(FakeSubstrate *s, const VirtualFunction *vf)
{
        char name[64], *p = NULL;

        cdi_device_name(vf->pci, name, sizeof(name));
        ASSERT_OK(asprintf_safe(&p, "%s/" CDI_FILE_PREFIX "%s.json", s->manager->cdi_dir, name));
        return p;
}

static char *read_spec(FakeSubstrate *s, const VirtualFunction *vf)
{
        _cleanup_free_ char *p = spec_path(s, vf);
        char *text = NULL;

        return read_one_line_file(p, &text) >= 0 ? text : NULL;
}

static bool spec_exists(FakeSubstrate *s, const VirtualFunction *vf)
{
        _cleanup_free_ char *p = spec_path(s, vf);

        return access(p, F_OK) == 0;
}

TEST(spec_follows_the_lease)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s = NULL;
        _cleanup_free_ char *cdi = NULL, *stale = NULL, *text = NULL, *want = NULL, *group = NULL;
        AllocateHints h = {.numa_node = -1};
        VirtualFunction *vf = NULL, *net = NULL;
        PhysicalFunction *pf;
        char name[64], group_buf[VF_VFIO_PATH_MAX];

        ASSERT_OK(fake_substrate_new(&s));
        ASSERT_OK(fake_substrate_add_igb(s, 1, 7, NULL));
        ASSERT_OK(fake_substrate_write_config(s, "50-test.conf", conf));
        ASSERT_OK(fake_substrate_manager(s, NULL));
        cdi = path_join(s->root, "cdi");
        ASSERT_TRUE(cdi);
        s->manager->cdi_dir = strdup(cdi);
        /* A spec left by an earlier run for a VF that is not leased anymore. */
        ASSERT_OK(mkdir(cdi, 0755) < 0 ? -errno : 0);
        ASSERT_OK(asprintf_safe(&stale, "%s/" CDI_FILE_PREFIX "0000-01-10.4.json", cdi));
        {
                FILE *f = fopen(stale, "we");

                ASSERT_TRUE(f && fputs("{}", f) >= 0 && fclose(f) == 0);
        }
        ASSERT_OK(manager_start(s->manager));
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
        ASSERT_TRUE(access(stale, F_OK) < 0);
        pf = manager_get_pf(s->manager, "0000:01:00.0");

        /* Leased: the spec names the VFIO nodes and the VF. */
        ASSERT_OK(manager_allocate(s->manager, "vm", "pod-1", &h, NULL, &vf));
        text = read_spec(s, vf);
        ASSERT_TRUE(text);
        fprintf(stderr, "%s", text);
        ASSERT_TRUE(vf->iommu_group >= 0);
        ASSERT_OK(asprintf_safe(&group, "/dev/vfio/%d", vf->iommu_group));
        ASSERT_STREQ(vf_vfio_device(vf, group_buf), group);
        cdi_device_name(vf->pci, name, sizeof(name));
        ASSERT_OK(asprintf_safe(
                &want,
                "{\"cdiVersion\":\"0.5.0\",\"kind\":\"sriovd.io/vf\",\"devices\":[{\"name\":\"%s\","
                "\"containerEdits\":{\"env\":[\"SRIOVD_VF_PCI=%s\",\"SRIOVD_VF_POOL=vm\","
                "\"SRIOVD_VF_VFIO_GROUP=%s\"],\"deviceNodes\":[{\"path\":\"/dev/vfio/vfio\"},"
                "{\"path\":\"%s\"}]}}]}",
                name, vf->pci, group, group));
        ASSERT_STREQ(text, want);
        ASSERT_TRUE(strchr(name, ':') == NULL);

        /* A netdev VF: its interface in the env, no device nodes. */
        ASSERT_OK(manager_allocate(s->manager, "net", "pod-2", &h, NULL, &net));
        text = mfree(text);
        text = read_spec(s, net);
        ASSERT_TRUE(text && net->ifname);
        ASSERT_TRUE(strstr(text, "SRIOVD_VF_NETDEV=") && strstr(text, net->ifname));
        ASSERT_TRUE(strstr(text, "\"deviceNodes\":[]"));

        /* The PF goes away: so do the VFs and their specs; the leases stay and the specs come
         * back with the VFs. */
        ASSERT_OK(fake_kernel_remove_pf(s->kernel, "0000:01:00.0"));
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
        ASSERT_TRUE(manager_get_pf(s->manager, "0000:01:00.0") == NULL);
        {
                VirtualFunction gone = {.pci = (char *) "0000:01:10.0"};
                _cleanup_free_ char *p = NULL;

                cdi_device_name(gone.pci, name, sizeof(name));
                ASSERT_OK(asprintf_safe(&p, "%s/" CDI_FILE_PREFIX "%s.json", cdi, name));
                ASSERT_TRUE(access(p, F_OK) < 0);
        }
        ASSERT_OK(fake_substrate_add_igb(s, 1, 7, NULL));
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
        pf = manager_get_pf(s->manager, "0000:01:00.0");
        ASSERT_TRUE(pf && pf->vfs[0] && pf->vfs[0]->allocated);
        vf = pf->vfs[0];
        ASSERT_TRUE(spec_exists(s, vf));

        /* Released: the name is gone, a runtime refuses it. */
        ASSERT_OK(manager_release_owner(s->manager, "pod-1", NULL));
        ASSERT_TRUE(!spec_exists(s, vf));
        net = pf->vfs[2];
        ASSERT_TRUE(spec_exists(s, net));
        ASSERT_OK(manager_release_vf(s->manager, net));
        ASSERT_TRUE(!spec_exists(s, net));
}

int main(void)
{
        RUN(spec_follows_the_lease);
        return 0;
}
