/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysfs.h"
#include "tests.h"
#include "util.h"

TEST(parse_range)
{
        unsigned a, b;

        ASSERT_OK(parse_range("0-5", &a, &b));
        ASSERT_EQ(a, 0);
        ASSERT_EQ(b, 5);
        ASSERT_OK(parse_range("7", &a, &b));
        ASSERT_EQ(a, 7);
        ASSERT_EQ(b, 7);
        ASSERT_ERROR(parse_range("5-2", &a, &b), ERANGE);
        ASSERT_ERROR(parse_range("x", &a, &b), EINVAL);
        ASSERT_ERROR(parse_range("-3", &a, &b), EINVAL);
        ASSERT_ERROR(parse_range("", &a, &b), EINVAL);
}

TEST(ether_addr)
{
        struct ether_addr e;
        char buf[ETHER_ADDR_STRLEN];

        ASSERT_OK(parse_ether_addr("b8:59:9F:00:00:01", &e));
        ASSERT_STREQ(ether_addr_to_string(&e, buf), "b8:59:9f:00:00:01");
        ASSERT_ERROR(parse_ether_addr("b8:59:9f:00:00", &e), EINVAL);
        ASSERT_ERROR(parse_ether_addr("b8-59-9f-00-00-01", &e), EINVAL);
        ASSERT_ERROR(parse_ether_addr("zz:59:9f:00:00:01", &e), EINVAL);
}

TEST(strv)
{
        _cleanup_(strv_freep) char **l = NULL;

        ASSERT_OK(strv_extend(&l, "a"));
        ASSERT_OK(strv_extendf(&l, "%s-%d", "b", 2));
        ASSERT_EQ(strv_length(l), 2);
        ASSERT_TRUE(strv_contains(l, "b-2"));
        ASSERT_TRUE(!strv_contains(l, "c"));
}

TEST(numbers)
{
        uint32_t u;
        uint16_t h;
        int i;

        ASSERT_OK(safe_atou32("4294967295", &u));
        ASSERT_EQ(u, 4294967295u);
        ASSERT_ERROR(safe_atou32("4294967296", &u), ERANGE);
        ASSERT_ERROR(safe_atou32("-1", &u), EINVAL);
        ASSERT_OK(safe_atou16_hex("0x15b3\n", &h));
        ASSERT_EQ(h, 0x15b3);
        ASSERT_OK(safe_atoi("-1\n", &i));
        ASSERT_EQ(i, -1);
}

TEST(paths)
{
        _cleanup_free_ char *a = path_join("/x/", "/y"), *b = path_prefix_root("/tmp/r", "/etc/sriov.d"),
                            *c = path_prefix_root(NULL, "/etc");
        ASSERT_STREQ(a, "/x/y");
        ASSERT_STREQ(b, "/tmp/r/etc/sriov.d");
        ASSERT_STREQ(c, "/etc");
        ASSERT_STREQ(path_basename("/a/b/c.conf"), "c.conf");
}

/* A VF's syspath from the PF's virtfnN link, without libudev: the kernel's relative link
 * resolved against the PF's syspath, "." and ".." included; an absolute link is refused
 * (the caller asks udev then). */
TEST(link_path)
{
        char dir[] = "/tmp/test-util-XXXXXX";
        _cleanup_free_ char *pf = NULL, *vf = NULL, *got = NULL, *l = NULL;

        ASSERT_TRUE(mkdtemp(dir));
        ASSERT_OK(asprintf_safe(&pf, "%s/pci0000:00/0000:03:00.0", dir));
        ASSERT_OK(asprintf_safe(&vf, "%s/pci0000:00/0000:03:10.2", dir));
        ASSERT_OK(asprintf_safe(&l, "%s/pci0000:00", dir));
        ASSERT_OK(mkdir(l, 0755) < 0 ? -errno : 0);
        l = mfree(l);
        ASSERT_OK(mkdir(pf, 0755) < 0 ? -errno : 0);
        ASSERT_OK(mkdir(vf, 0755) < 0 ? -errno : 0);
        ASSERT_OK(asprintf_safe(&l, "%s/virtfn1", pf));
        ASSERT_OK(symlink("../0000:03:10.2", l) < 0 ? -errno : 0);
        ASSERT_OK(sysfs_read_link_path(pf, "virtfn1", &got));
        ASSERT_STREQ(got, vf);
        ASSERT_EQ(access(got, F_OK), 0);
        got = mfree(got);
        l = mfree(l);
        ASSERT_OK(asprintf_safe(&l, "%s/virtfn2", pf));
        ASSERT_OK(symlink("./../../pci0000:00/0000:03:10.2", l) < 0 ? -errno : 0);
        ASSERT_OK(sysfs_read_link_path(pf, "virtfn2", &got));
        ASSERT_STREQ(got, vf);
        l = mfree(l);
        ASSERT_OK(asprintf_safe(&l, "%s/virtfn3", pf));
        ASSERT_OK(symlink(vf, l) < 0 ? -errno : 0);
        ASSERT_ERROR(sysfs_read_link_path(pf, "virtfn3", &got), EINVAL);
        ASSERT_ERROR(sysfs_read_link_path(pf, "virtfn9", &got), ENOENT);
        {
                _cleanup_free_ char *cmd = NULL;

                ASSERT_OK(asprintf_safe(&cmd, "rm -rf '%s'", dir));
                (void) system(cmd);
        }
}

int main(void)
{
        RUN(parse_range);
        RUN(ether_addr);
        RUN(strv);
        RUN(numbers);
        RUN(paths);
        RUN(link_path);
        return 0;
}
