/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hashmap.h"
#include "tests.h"
#include "util.h"

TEST(string_keys)
{
        _cleanup_(hashmap_freep) Hashmap *h = hashmap_new_string();
        char keys[5000][16];
        void *v;
        size_t n = 0;

        ASSERT_TRUE(h);
        for (int i = 0; i < 5000; i++) {
                snprintf(keys[i], sizeof(keys[i]), "0000:%02x:%02x.%d", i / 256, i % 256 / 8, i % 8);
                ASSERT_OK(hashmap_put(h, keys[i], UINT_TO_PTR(i + 1)));
        }
        ASSERT_EQ(hashmap_size(h), 5000);
        ASSERT_ERROR(hashmap_put(h, "0000:00:00.0", UINT_TO_PTR(1)), EEXIST);
        ASSERT_EQ(PTR_TO_UINT(hashmap_get(h, "0000:12:1f.7")), 0x12 * 256 + 0x1f * 8 + 7 + 1);
        ASSERT_TRUE(hashmap_get(h, "0000:ff:00.0") == NULL);
        /* Remove every other entry while iterating: the rest stays reachable. */
        HASHMAP_FOREACH(v, h) {
                if (PTR_TO_UINT(v) % 2 == 0)
                        ASSERT_TRUE(hashmap_remove(h, keys[PTR_TO_UINT(v) - 1]) == v);
        }
        ASSERT_EQ(hashmap_size(h), 2500);
        HASHMAP_FOREACH(v, h)
                n++;
        ASSERT_EQ(n, 2500);
        for (int i = 0; i < 5000; i++)
                ASSERT_EQ(PTR_TO_UINT(hashmap_get(h, keys[i])), (i + 1) % 2 ? (unsigned) i + 1 : 0);
        /* Tombstones are reused. */
        for (int i = 1; i < 5000; i += 2)
                ASSERT_OK(hashmap_put(h, keys[i], UINT_TO_PTR(7)));
        ASSERT_EQ(hashmap_size(h), 5000);
}

TEST(uint_keys)
{
        _cleanup_(hashmap_freep) Hashmap *h = hashmap_new_uint();

        ASSERT_OK(hashmap_put(h, UINT_TO_PTR(17), (void *) "a"));
        ASSERT_OK(hashmap_put(h, UINT_TO_PTR(1u << 20), (void *) "b"));
        ASSERT_STREQ(hashmap_get(h, UINT_TO_PTR(17)), "a");
        ASSERT_STREQ(hashmap_remove(h, UINT_TO_PTR(1u << 20)), "b");
        ASSERT_TRUE(hashmap_get(h, UINT_TO_PTR(1u << 20)) == NULL);
        ASSERT_TRUE(hashmap_get(NULL, UINT_TO_PTR(1)) == NULL);
}

/* Keys are never NULL (the empty slot), and an emptied map frees its slots and works on. */
TEST(empty_and_null)
{
        _cleanup_(hashmap_freep) Hashmap *h = hashmap_new_uint();
        void *v;
        size_t n = 0;

        ASSERT_ERROR(hashmap_put(h, NULL, (void *) "x"), EINVAL);
        ASSERT_TRUE(hashmap_get(h, NULL) == NULL);
        ASSERT_TRUE(hashmap_remove(h, NULL) == NULL);
        for (unsigned i = 1; i <= 3000; i++)
                ASSERT_OK(hashmap_put(h, UINT_TO_PTR(i), UINT_TO_PTR(i)));
        /* Emptied while iterating: the loop ends, nothing is left. */
        HASHMAP_FOREACH(v, h) {
                ASSERT_TRUE(hashmap_remove(h, UINT_TO_PTR(PTR_TO_UINT(v))) == v);
                n++;
        }
        ASSERT_EQ(n, 3000);
        ASSERT_EQ(hashmap_size(h), 0);
        HASHMAP_FOREACH(v, h)
                ASSERT_TRUE(false);
        ASSERT_TRUE(hashmap_get(h, UINT_TO_PTR(5)) == NULL);
        ASSERT_OK(hashmap_put(h, UINT_TO_PTR(5), (void *) "five"));
        ASSERT_STREQ(hashmap_get(h, UINT_TO_PTR(5)), "five");
        ASSERT_EQ(hashmap_size(h), 1);
}

int main(void)
{
        RUN(string_keys);
        RUN(uint_keys);
        RUN(empty_and_null);
        return 0;
}
