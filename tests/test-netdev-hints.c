/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pooled VFs carry udev hints that keep NetworkManager and networkd off them (issue 13): a
 * file per pooled VF, a change uevent to its netdev when the file comes or goes, none when a
 * restart finds it right, and stale files pruned. */
#include <sys/stat.h>
#include <unistd.h>

#include "fake-substrate.h"
#include "macro.h"
#include "tests.h"

#include "netdev-hints.h"
#include "pf.h"
#include "util.h"

#define SEC 1000000ULL

static const char *conf = "physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                          "  num_vfs = 3; vfs = ( { range = \"0-1\"; pool = \"vm\"; } ); } );\n";
static const char *conf_less = "physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                               "  num_vfs = 3; vfs = ( { range = \"0\"; pool = \"vm\"; } ); } );\n";

static char *hint_dir;

static bool has_hint(const char *pci)
{
        _cleanup_free_ char *p = path_join(hint_dir, pci), *text = NULL;

        if (read_one_line_file(p, &text) < 0)
                return false;
        ASSERT_STREQ(text, "NM_UNMANAGED=1");
        return true;
}

static void start(FakeSubstrate *s)
{
        ASSERT_OK(fake_substrate_manager(s, NULL));
        s->manager->hint_dir = strdup(hint_dir);
        ASSERT_OK(manager_start(s->manager));
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
}

TEST(pooled_vfs_are_hinted)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s = NULL;
        _cleanup_free_ char *stale = NULL;
        PhysicalFunction *pf;

        ASSERT_OK(fake_substrate_new(&s));
        hint_dir = path_join(s->root, "hints");
        ASSERT_OK(fake_substrate_add_igb(s, 1, 7, NULL));
        ASSERT_OK(fake_substrate_write_config(s, "50-test.conf", conf));
        start(s);
        pf = manager_get_pf(s->manager, "0000:01:00.0");
        ASSERT_TRUE(has_hint(pf->vfs[0]->pci) && has_hint(pf->vfs[1]->pci));
        ASSERT_TRUE(!has_hint(pf->vfs[2]->pci));
        /* Each pooled VF's netdev was told (a change uevent), the other one was not. */
        ASSERT_EQ(fake_kernel_count_writes(s->kernel, "/uevent"), 2);

        /* VF 1 leaves the pool: its file goes, its netdev is told, it is the host's again. */
        fake_kernel_reset_counts(s->kernel);
        ASSERT_OK(fake_substrate_write_config(s, "50-test.conf", conf_less));
        ASSERT_OK(manager_reload(s->manager));
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
        ASSERT_TRUE(has_hint(pf->vfs[0]->pci) && !has_hint(pf->vfs[1]->pci));
        ASSERT_EQ(fake_kernel_count_writes(s->kernel, "/uevent"), 1);

        /* A restart finds VF 0's file right (no uevent) and prunes one of a VF that is gone. */
        stale = path_join(hint_dir, "0000:01:10.c");
        ASSERT_TRUE(stale);
        {
                FILE *f = fopen(stale, "we");

                ASSERT_TRUE(f && fputs(NETDEV_HINT_TEXT, f) >= 0 && fclose(f) == 0);
        }
        s->manager = manager_free(s->manager);
        sd_event_source_disable_unref(s->uevents_idle);
        s->uevents_idle = NULL;
        fake_kernel_reset_counts(s->kernel);
        start(s);
        pf = manager_get_pf(s->manager, "0000:01:00.0");
        ASSERT_TRUE(has_hint(pf->vfs[0]->pci) && !has_hint(pf->vfs[1]->pci));
        ASSERT_EQ(fake_kernel_count_writes(s->kernel, "/uevent"), 0);
        ASSERT_TRUE(access(stale, F_OK) < 0);

        /* The pools went away while we were down: VF 0's file goes and its netdev is told. */
        s->manager = manager_free(s->manager);
        sd_event_source_disable_unref(s->uevents_idle);
        s->uevents_idle = NULL;
        ASSERT_OK(
                fake_substrate_write_config(s, "50-test.conf",
                                            "physical_functions = ( { match = { pci = \"0000:01:00.*\"; };\n"
                                            "  num_vfs = 3; } );\n"));
        fake_kernel_reset_counts(s->kernel);
        start(s);
        pf = manager_get_pf(s->manager, "0000:01:00.0");
        ASSERT_TRUE(!has_hint(pf->vfs[0]->pci));
        ASSERT_EQ(fake_kernel_count_writes(s->kernel, "/uevent"), 1);
        hint_dir = mfree(hint_dir);
}

int main(void)
{
        RUN(pooled_vfs_are_hinted);
        return 0;
}
