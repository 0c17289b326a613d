/* SPDX-License-Identifier: LGPL-2.1-or-later */
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

int main(void)
{
        RUN(parse_range);
        RUN(ether_addr);
        RUN(strv);
        RUN(numbers);
        RUN(paths);
        return 0;
}
