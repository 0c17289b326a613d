/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "stable.h"
#include "tests.h"
#include "util.h"

#include <sys/stat.h>

static const uint8_t key_a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t key_b[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

TEST(siphash_reference)
{
        /* Reference vectors of SipHash-2-4 (Aumasson & Bernstein): key 00..0f, input 00..(n-1). */
        uint8_t key[16], in[64];

        for (int i = 0; i < 16; i++)
                key[i] = (uint8_t) i;
        for (int i = 0; i < 64; i++)
                in[i] = (uint8_t) i;
        ASSERT_EQ(siphash24(in, 0, key), 0x726fdb47dd0e0e31ULL);
        ASSERT_EQ(siphash24(in, 1, key), 0x74f839c593dc67fdULL);
        ASSERT_EQ(siphash24(in, 8, key), 0x93f5f5799a932462ULL);
        ASSERT_EQ(siphash24(in, 15, key), 0xa129ca6149be45e5ULL);
}

TEST(stable_mac)
{
        struct ether_addr a, b, c, d;
        char buf[ETHER_ADDR_STRLEN];

        stable_vf_mac(key_a, "b8:59:9f:00:00:01", 0, &a);
        stable_vf_mac(key_a, "b8:59:9f:00:00:01", 0, &b);
        stable_vf_mac(key_a, "b8:59:9f:00:00:01", 1, &c);
        stable_vf_mac(key_b, "b8:59:9f:00:00:01", 0, &d);
        /* Same inputs, same MAC (across reboots); another VF or another machine, another MAC. */
        ASSERT_TRUE(ether_addr_equal(&a, &b));
        ASSERT_TRUE(!ether_addr_equal(&a, &c));
        ASSERT_TRUE(!ether_addr_equal(&a, &d));
        /* Unicast, locally administered. */
        ASSERT_EQ(a.ether_addr_octet[0] & 0x01, 0);
        ASSERT_EQ(a.ether_addr_octet[0] & 0x02, 0x02);
        fprintf(stderr, "stable MAC: %s\n", ether_addr_to_string(&a, buf));
        /* 256 VFs of one PF: no collisions. */
        for (unsigned i = 0; i < 256; i++)
                for (unsigned j = i + 1; j < 256; j++) {
                        struct ether_addr x, y;

                        stable_vf_mac(key_a, "0000:81:00.0", i, &x);
                        stable_vf_mac(key_a, "0000:81:00.0", j, &y);
                        ASSERT_TRUE(!ether_addr_equal(&x, &y));
                }
}

TEST(stable_guid)
{
        uint64_t n = stable_vf_guid(key_a, "0000:81:00.0", 3, false),
                 p = stable_vf_guid(key_a, "0000:81:00.0", 3, true);

        ASSERT_TRUE(n != 0 && p != 0 && n != p);
        ASSERT_EQ(n, stable_vf_guid(key_a, "0000:81:00.0", 3, false));
}

static int write_file(const char *path, const char *s)
{
        FILE *f = fopen(path, "we");

        if (!f)
                return -errno;
        fputs(s, f);
        return fclose(f) < 0 ? -errno : 0;
}

TEST(machine_key)
{
        char dir[] = "/tmp/test-stable-XXXXXX";
        _cleanup_free_ char *etc = NULL, *f = NULL;
        uint8_t k[16];

        ASSERT_TRUE(mkdtemp(dir));
        etc = path_join(dir, "etc");
        f = path_join(dir, "etc/machine-id");
        ASSERT_OK(mkdir(etc, 0755) < 0 ? -errno : 0);
        ASSERT_ERROR(machine_key_load(dir, k), ENOENT);
        ASSERT_OK(write_file(f, "0123456789abcdef0123456789ABCDEF\n"));
        ASSERT_OK(machine_key_load(dir, k));
        ASSERT_EQ(k[0], 0x01);
        ASSERT_EQ(k[15], 0xef);
        ASSERT_OK(write_file(f, "not-a-machine-id\n"));
        ASSERT_ERROR(machine_key_load(dir, k), EINVAL);
        unlink(f);
        rmdir(etc);
        rmdir(dir);
}

int main(void)
{
        RUN(siphash_reference);
        RUN(stable_mac);
        RUN(stable_guid);
        RUN(machine_key);
        return 0;
}
