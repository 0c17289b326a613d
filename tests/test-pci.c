/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/stat.h>

#include "pci.h"
#include "tests.h"
#include "util.h"

static void write_file(const char *path, const void *data, size_t len)
{
        FILE *f = fopen(path, "we");

        ASSERT_TRUE(f);
        ASSERT_EQ(fwrite(data, 1, len, f), len);
        ASSERT_EQ(fclose(f), 0);
}

static void put16(uint8_t *c, size_t off, uint16_t v)
{
        c[off] = (uint8_t) v;
        c[off + 1] = (uint8_t) (v >> 8);
}

static void put32(uint8_t *c, size_t off, uint32_t v)
{
        put16(c, off, (uint16_t) v);
        put16(c, off + 2, (uint16_t) (v >> 16));
}

/* A 4 KiB config space: an 82576 with a PCIe capability and an SR-IOV extended capability. */
static void make_device(const char *root, const char *addr, bool with_sriov)
{
        _cleanup_free_ char *dir = NULL, *p = NULL;
        uint8_t c[4096] = {};

        ASSERT_OK(asprintf_safe(&dir, "%s/devices/%s", root, addr));
        ASSERT_EQ(mkdir(dir, 0755), 0);
        put16(c, 0x00, 0x8086);
        put16(c, 0x02, 0x10c9);
        put16(c, 0x06, 0x0010); /* status: capability list */
        c[0x0b] = 0x02;         /* class: network */
        c[0x34] = 0x40;
        c[0x40] = 0x10; /* PCI Express capability, last */
        c[0x42] = 0x02;
        if (with_sriov) {
                put32(c, 0x100, 0x00010010); /* SR-IOV, version 1, last */
                put16(c, 0x10c, 8);          /* InitialVFs */
                put16(c, 0x10e, 8);          /* TotalVFs */
                put16(c, 0x114, 0x180);      /* First VF offset */
                put16(c, 0x116, 2);          /* VF stride */
                put16(c, 0x11a, 0x10ca);     /* VF device id */
        }
        p = path_join(dir, "config");
        write_file(p, c, sizeof(c));
        free(p);
        p = path_join(dir, "vendor");
        write_file(p, "0x8086\n", 7);
        free(p);
        p = path_join(dir, "device");
        write_file(p, "0x10c9\n", 7);
}

TEST(sriov_cap)
{
        _cleanup_(pci_names_freep) PciNames *p = NULL;
        char root[] = "/tmp/test-pci-XXXXXX", *devices;
        PciSriovCap cap = {};

        ASSERT_TRUE(mkdtemp(root));
        devices = path_join(root, "devices");
        ASSERT_EQ(mkdir(devices, 0755), 0);
        free(devices);
        make_device(root, "0000:01:00.0", true);
        make_device(root, "0000:02:00.0", false);

        ASSERT_OK(pci_names_new(true, &p));
        ASSERT_OK(pci_names_set_sysfs_path(p, root));
        ASSERT_OK(pci_read_sriov_cap(p, "0000:01:00.0", &cap));
        ASSERT_EQ(cap.total_vfs, 8);
        ASSERT_EQ(cap.initial_vfs, 8);
        ASSERT_EQ(cap.vf_offset, 0x180);
        ASSERT_EQ(cap.vf_stride, 2);
        ASSERT_EQ(cap.vf_device, 0x10ca);
        ASSERT_ERROR(pci_read_sriov_cap(p, "0000:02:00.0", &cap), ENOENT);
        /* A device that is not there, or garbage, is an error, not an exit(1) in libpci. */
        ASSERT_TRUE(pci_read_sriov_cap(p, "0000:09:00.0", &cap) < 0);
        ASSERT_ERROR(pci_read_sriov_cap(p, "garbage", &cap), EINVAL);
        {
                _cleanup_free_ char *cmd = NULL;

                ASSERT_OK(asprintf_safe(&cmd, "rm -rf '%s'", root));
                ASSERT_EQ(system(cmd), 0);
        }
}

TEST(names)
{
        _cleanup_(pci_names_freep) PciNames *p = NULL;
        _cleanup_free_ char *v = NULL, *d = NULL, *unknown = NULL;

        ASSERT_OK(pci_names_new(true, &p));
        v = pci_names_vendor(p, 0x8086);
        d = pci_names_device(p, 0x8086, 0x10c9);
        unknown = pci_names_device(p, 0xfffe, 0x1234);
        /* pci.ids is a dependency of the build (scripts/setup-deps.sh). */
        ASSERT_STREQ(v, "Intel Corporation");
        ASSERT_STREQ(d, "82576 Gigabit Network Connection");
        ASSERT_TRUE(unknown == NULL);
}

int main(void)
{
        RUN(sriov_cap);
        RUN(names);
        return 0;
}
