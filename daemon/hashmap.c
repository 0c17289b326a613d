/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>

#include "hashmap.h"

/* 16 bytes: the key tells the slot's state. NULL is an empty slot, TOMBSTONE a deleted one
 * (probes go on past it); keys are never NULL (no string, no integer 0). At 16,384 VFs a map
 * has 32,768 slots: 512 KiB, not the 768 KiB a separate state byte padded to 24 cost. */
typedef struct Entry {
        const void *key;
        void *value;
} Entry;

static const char tombstone;
#define TOMBSTONE ((const void *) &tombstone)

static bool slot_used(const Entry *e)
{
        return e->key && e->key != TOMBSTONE;
}

struct Hashmap {
        bool string_keys;
        size_t n_buckets, n_used, n_deleted;
        Entry *buckets;
};

static uint64_t hash_key(const Hashmap *h, const void *key)
{
        uint64_t x;

        if (h->string_keys) {
                /* FNV-1a: keys are PCI addresses and names we made, not attacker input. */
                x = 0xcbf29ce484222325ULL;
                for (const unsigned char *p = key; *p; p++)
                        x = (x ^ *p) * 0x100000001b3ULL;
                return x;
        }
        x = (uint64_t) (uintptr_t) key;
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return x;
}

static bool key_equal(const Hashmap *h, const void *a, const void *b)
{
        return h->string_keys ? streq(a, b) : a == b;
}

static Hashmap *hashmap_new(bool string_keys)
{
        Hashmap *h = calloc(1, sizeof(Hashmap));

        if (!h)
                return NULL;
        h->string_keys = string_keys;
        return h;
}

Hashmap *hashmap_new_string(void)
{
        return hashmap_new(true);
}

Hashmap *hashmap_new_uint(void)
{
        return hashmap_new(false);
}

Hashmap *hashmap_free(Hashmap *h)
{
        if (!h)
                return NULL;
        free(h->buckets);
        return mfree(h);
}

static Entry *find(const Hashmap *h, const void *key)
{
        size_t mask, i;

        if (h->n_buckets == 0 || !key)
                return NULL;
        mask = h->n_buckets - 1;
        for (i = hash_key(h, key) & mask;; i = (i + 1) & mask) {
                Entry *e = &h->buckets[i];

                if (!e->key)
                        return NULL;
                if (e->key != TOMBSTONE && key_equal(h, e->key, key))
                        return e;
        }
}

static int resize(Hashmap *h, size_t n)
{
        Entry *old = h->buckets, *nb;
        size_t old_n = h->n_buckets;

        nb = calloc(n, sizeof(Entry));
        if (!nb)
                return -ENOMEM;
        h->buckets = nb;
        h->n_buckets = n;
        h->n_used = h->n_deleted = 0;
        for (size_t i = 0; i < old_n; i++)
                if (slot_used(&old[i])) {
                        size_t j = hash_key(h, old[i].key) & (n - 1);

                        while (nb[j].key)
                                j = (j + 1) & (n - 1);
                        nb[j] = old[i];
                        h->n_used++;
                }
        free(old);
        return 0;
}

int hashmap_put(Hashmap *h, const void *key, void *value)
{
        size_t i, mask;
        int r;

        if (!key)
                return -EINVAL;
        if (find(h, key))
                return -EEXIST;
        if ((h->n_used + h->n_deleted + 1) * 4 >= h->n_buckets * 3) {
                size_t n = h->n_buckets ?: 16;

                while ((h->n_used + 1) * 2 >= n)
                        n *= 2;
                r = resize(h, n);
                if (r < 0)
                        return r;
        }
        mask = h->n_buckets - 1;
        for (i = hash_key(h, key) & mask; slot_used(&h->buckets[i]); i = (i + 1) & mask)
                ;
        if (h->buckets[i].key == TOMBSTONE)
                h->n_deleted--;
        h->buckets[i] = (Entry){.key = key, .value = value};
        h->n_used++;
        return 0;
}

void *hashmap_get(const Hashmap *h, const void *key)
{
        Entry *e;

        if (!h)
                return NULL;
        e = find(h, key);
        return e ? e->value : NULL;
}

void *hashmap_remove(Hashmap *h, const void *key)
{
        Entry *e;
        void *v;

        if (!h)
                return NULL;
        e = find(h, key);
        if (!e)
                return NULL;
        v = e->value;
        *e = (Entry){.key = TOMBSTONE};
        h->n_used--;
        h->n_deleted++;
        /* An emptied map gives its slots back: the bus layer's maps of VFs to announce grow
         * to every VF in a creation burst (32,768 slots at 16,384 VFs) and are empty after. */
        if (h->n_used == 0) {
                h->buckets = mfree(h->buckets);
                h->n_buckets = h->n_deleted = 0;
        }
        return v;
}

size_t hashmap_size(const Hashmap *h)
{
        return h ? h->n_used : 0;
}

bool hashmap_iterate(const Hashmap *h, size_t *state, void **ret_value, const void **ret_key)
{
        if (!h)
                return false;
        for (; *state < h->n_buckets; (*state)++) {
                Entry *e = &h->buckets[*state];

                if (slot_used(e)) {
                        if (ret_value)
                                *ret_value = e->value;
                        if (ret_key)
                                *ret_key = e->key;
                        (*state)++;
                        return true;
                }
        }
        return false;
}
