/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>

#include "stable.h"
#include "util.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t load_le64(const uint8_t *p)
{
        uint64_t v = 0;

        for (int i = 7; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

#define SIPROUND                   \
        do {                       \
                v0 += v1;          \
                v1 = ROTL(v1, 13); \
                v1 ^= v0;          \
                v0 = ROTL(v0, 32); \
                v2 += v3;          \
                v3 = ROTL(v3, 16); \
                v3 ^= v2;          \
                v0 += v3;          \
                v3 = ROTL(v3, 21); \
                v3 ^= v0;          \
                v2 += v1;          \
                v1 = ROTL(v1, 17); \
                v1 ^= v2;          \
                v2 = ROTL(v2, 32); \
        } while (0)

uint64_t siphash24(const void *data, size_t len, const uint8_t key[static 16])
{
        const uint8_t *in = data, *end = in + len - (len % 8);
        uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
        uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
        uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
        uint64_t b = ((uint64_t) len) << 56, m;

        for (; in != end; in += 8) {
                m = load_le64(in);
                v3 ^= m;
                SIPROUND;
                SIPROUND;
                v0 ^= m;
        }
        for (size_t i = 0; i < len % 8; i++)
                b |= ((uint64_t) in[i]) << (8 * i);
        v3 ^= b;
        SIPROUND;
        SIPROUND;
        v0 ^= b;
        v2 ^= 0xff;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        return v0 ^ v1 ^ v2 ^ v3;
}

int machine_key_load(const char *root, uint8_t ret[static 16])
{
        _cleanup_free_ char *p = path_prefix_root(root, "/etc/machine-id"), *s = NULL;
        uint8_t k[16];
        int r;

        if (!p)
                return -ENOMEM;
        r = read_one_line_file(p, &s);
        if (r < 0)
                return r;
        if (strlen(s) != 32)
                return -EINVAL;
        for (size_t i = 0; i < 16; i++) {
                char h[3] = {s[2 * i], s[2 * i + 1], 0};

                if (!isxdigit((unsigned char) h[0]) || !isxdigit((unsigned char) h[1]))
                        return -EINVAL;
                k[i] = (uint8_t) strtoul(h, NULL, 16);
        }
        memcpy(ret, k, 16);
        return 0;
}

static uint64_t stable_hash(const uint8_t key[static 16], const char *what, const char *pf_id,
                            unsigned vf_index)
{
        char buf[256];
        int n;

        /* The purpose string separates MACs from GUIDs so they can't be correlated. */
        n = snprintf(buf, sizeof(buf), "sriovd:%s:%s:%u", what, pf_id, vf_index);
        return siphash24(buf, (size_t) MIN(n, (int) sizeof(buf) - 1), key);
}

void stable_vf_mac(const uint8_t key[static 16], const char *pf_id, unsigned vf_index,
                   struct ether_addr *ret)
{
        uint64_t h = stable_hash(key, "mac", pf_id, vf_index);

        for (size_t i = 0; i < 6; i++)
                ret->ether_addr_octet[i] = (uint8_t) (h >> (8 * i));
        ret->ether_addr_octet[0] &= 0xfe; /* unicast */
        ret->ether_addr_octet[0] |= 0x02; /* locally administered */
}

uint64_t stable_vf_guid(const uint8_t key[static 16], const char *pf_id, unsigned vf_index, bool port)
{
        uint64_t h = stable_hash(key, port ? "port-guid" : "node-guid", pf_id, vf_index);

        return h ?: 1; /* a zero GUID means "unset" to drivers */
}
