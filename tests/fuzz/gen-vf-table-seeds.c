/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes the seed corpus of fuzz-vf-table: real RTM_NEWLINK messages of the fake kernel
 * (tests/fake-netlink.c), built the way tests/test-netlink.c builds its parser inputs.
 * Usage: gen-vf-table-seeds DIR   (regenerates tests/fuzz/corpus/vf-table/) */

#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "fake-netlink.h"
#include "util.h"

#define PF 7

static int failed;

static void write_seed(const char *dir, const char *name, FakeNetlink *fk, uint32_t ext_mask)
{
        _cleanup_free_ unsigned char *buf = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;

        if (fake_netlink_build_link_message(fk, PF, ext_mask, &buf, &size) < 0 ||
            asprintf(&path, "%s/%s", dir, name) < 0 || !(f = fopen(path, "we")) ||
            fwrite(buf, 1, size, f) != size) {
                fprintf(stderr, "%s: cannot write\n", name);
                failed = 1;
                return;
        }
        printf("%s: %zu bytes\n", name, size);
}

static FakeNetlink *pf(uint32_t num_vfs, unsigned quirks)
{
        static const struct ether_addr perm = {{0xb8, 0x59, 0x9f, 0x00, 0x00, 0x01}};
        FakeNetlink *fk = fake_netlink_new();

        if (!fk || fake_netlink_add_link(fk, PF, "pf0", &perm) < 0 ||
            fake_netlink_set_quirks(fk, PF, quirks) < 0 || fake_netlink_set_num_vfs(fk, PF, num_vfs) < 0)
                abort();
        return fk;
}

static void set(FakeNetlink *fk, const VfSettings *s)
{
        if (fake_netlink_set_vf(fk, PF, s) < 0)
                abort();
}

int main(int argc, char *argv[])
{
        const uint32_t vf_ext = RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS;
        FakeNetlink *fk;

        if (argc != 2) {
                fprintf(stderr, "usage: %s DIR\n", argv[0]);
                return 2;
        }

        /* What netlink_get_link() asks for: 4 VFs, every attribute set on each. */
        fk = pf(4, 0);
        for (uint32_t i = 0; i < 4; i++)
                set(fk, &(VfSettings){
                                .index = i,
                                .mask = VF_ATTR_BIT(VF_ATTR_MAC) | VF_ATTR_BIT(VF_ATTR_VLAN) |
                                        VF_ATTR_BIT(VF_ATTR_SPOOFCHK) | VF_ATTR_BIT(VF_ATTR_TRUST) |
                                        VF_ATTR_BIT(VF_ATTR_LINK_STATE) | VF_ATTR_BIT(VF_ATTR_RATE),
                                .mac = {{0x02, 0, 0, 0, 0, (uint8_t) i}},
                                .vlan = (uint16_t) (100 + i),
                                .qos = (uint8_t) i,
                                .vlan_proto = ETH_P_8021Q,
                                .trust = true,
                                .link_state = IFLA_VF_LINK_STATE_ENABLE,
                                .max_tx_rate = 1000 + i,
                        });
        write_seed(argv[1], "4-vfs-all-attributes", fk, vf_ext);
        /* The same with per-VF stats (IFLA_VF_STATS), as `ip -d link` asks. */
        write_seed(argv[1], "4-vfs-with-stats", fk, RTEXT_FILTER_VF);
        /* A notification: no VF list at all. */
        write_seed(argv[1], "4-vfs-no-list", fk, 0);
        fake_netlink_free(fk);

        /* 802.1ad VLAN: only IFLA_VF_VLAN_LIST carries the protocol. */
        fk = pf(2, 0);
        set(fk, &(VfSettings){.index = 1,
                              .mask = VF_ATTR_BIT(VF_ATTR_VLAN),
                              .vlan = 4094,
                              .qos = 7,
                              .vlan_proto = ETH_P_8021AD});
        write_seed(argv[1], "2-vfs-8021ad", fk, vf_ext);
        fake_netlink_free(fk);

        /* IPoIB PF reporting node and port GUIDs. */
        fk = pf(2, FAKE_QUIRK_IB);
        set(fk, &(VfSettings){.index = 0,
                              .mask = VF_ATTR_BIT(VF_ATTR_IB_NODE_GUID) | VF_ATTR_BIT(VF_ATTR_IB_PORT_GUID),
                              .node_guid = 0x0011223344556677ULL,
                              .port_guid = 0x8899aabbccddeeffULL});
        write_seed(argv[1], "2-vfs-ib-guids", fk, vf_ext);
        fake_netlink_free(fk);

        /* A driver without ndo_get_vf_config (IFLA_NUM_VF, no list), and a list cut short. */
        fk = pf(3, FAKE_QUIRK_NO_VF_CONFIG);
        write_seed(argv[1], "3-vfs-no-vf-config", fk, vf_ext);
        fake_netlink_free(fk);
        fk = pf(8, 0);
        if (fake_netlink_set_vf_list_limit(fk, PF, 5) < 0)
                abort();
        write_seed(argv[1], "8-vfs-5-listed", fk, vf_ext);
        fake_netlink_free(fk);

        /* No VFs. */
        fk = pf(0, 0);
        write_seed(argv[1], "0-vfs", fk, vf_ext);
        fake_netlink_free(fk);

        /* 40 VFs with stats: past 16 KiB but below the u16 wrap. */
        fk = pf(40, 0);
        write_seed(argv[1], "40-vfs-with-stats", fk, RTEXT_FILTER_VF);
        fake_netlink_free(fk);

        /* 256 VFs with stats: the IFLA_VFINFO_LIST length wraps past 64 KiB. */
        fk = pf(256, 0);
        write_seed(argv[1], "256-vfs-wrapped-list", fk, RTEXT_FILTER_VF);
        fake_netlink_free(fk);
        return failed;
}
