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

/* Known answers: deployed MACs and GUIDs come from this derivation, so a change to it changes
 * every VF's MAC and GUID on upgrade. These vectors were computed once from daemon/stable.c
 * (machine-id file -> key -> MAC/GUID) and are pinned here: if this test fails, the
 * derivation changed, and that is a breaking change for every host, not a test to update. */
static const char *const kat_machine_ids[] = {
        "0123456789abcdef0123456789abcdef",
        "4c4c4544003510488036b7c04f4e3732",
};
static const struct {
        unsigned machine;
        const char *pf_id; /* the PF's permanent MAC, or its PCI address when it has none */
        unsigned vf_index;
        const char *mac;
        uint64_t node_guid, port_guid;
} kat[] = {
        {0, "b8:59:9f:00:00:01", 0, "ce:d8:68:e6:f6:0a", 0x8fdaad6bda378191ULL, 0xeca90400e6dc6a03ULL},
        {0, "b8:59:9f:00:00:01", 1, "ea:26:9b:30:23:c1", 0x6e2564add81e34baULL, 0x3d9b3596868c446bULL},
        {0, "b8:59:9f:00:00:01", 255, "a6:83:1d:a5:3f:fb", 0xd0fa8960e2954055ULL, 0xdb2b1b8c245825e9ULL},
        {0, "0000:81:00.0", 0, "82:9b:26:e1:5c:27", 0x781818877b132091ULL, 0x0c1580a26aeb8842ULL},
        {1, "b8:59:9f:00:00:01", 0, "92:cf:d8:1c:89:c5", 0x144f5dae26bf793aULL, 0xc177d9554534a56bULL},
        {1, "0c:42:a1:de:ad:01", 7, "a6:65:9e:e5:eb:de", 0x442d13c98106aa40ULL, 0x6123a5cc94c22726ULL},
        {1, "0000:3b:00.1", 127, "fa:dd:fe:d1:ce:d5", 0xa739981f0866d88aULL, 0xf3fcbc35691f2f17ULL},
};

TEST(known_answers)
{
        char dir[] = "/tmp/test-stable-kat-XXXXXX";
        _cleanup_free_ char *etc = NULL, *f = NULL;

        ASSERT_TRUE(mkdtemp(dir));
        etc = path_join(dir, "etc");
        f = path_join(dir, "etc/machine-id");
        ASSERT_OK(mkdir(etc, 0755) < 0 ? -errno : 0);
        for (size_t i = 0; i < ELEMENTSOF(kat); i++) {
                _cleanup_free_ char *line = NULL;
                struct ether_addr mac;
                char buf[ETHER_ADDR_STRLEN];
                uint8_t k[16];
                uint64_t node, port;

                ASSERT_TRUE(asprintf_safe(&line, "%s\n", kat_machine_ids[kat[i].machine]) >= 0);
                ASSERT_OK(write_file(f, line));
                ASSERT_OK(machine_key_load(dir, k));
                stable_vf_mac(k, kat[i].pf_id, kat[i].vf_index, &mac);
                node = stable_vf_guid(k, kat[i].pf_id, kat[i].vf_index, false);
                port = stable_vf_guid(k, kat[i].pf_id, kat[i].vf_index, true);
                ASSERT_STREQ(ether_addr_to_string(&mac, buf), kat[i].mac);
                ASSERT_EQ(node, kat[i].node_guid);
                ASSERT_EQ(port, kat[i].port_guid);
        }
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
        RUN(known_answers);
        return 0;
}
