/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "macro.h"

/* A small open-addressing hash map from a string or an integer key to a pointer. Keys are
 * not copied: string keys must live as long as their entry (they are the object's own). */

typedef struct Hashmap Hashmap;

Hashmap *hashmap_new_string(void);
Hashmap *hashmap_new_uint(void);
Hashmap *hashmap_free(Hashmap *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Hashmap *, hashmap_free);

int hashmap_put(Hashmap *h, const void *key, void *value); /* -EEXIST if present */
void *hashmap_get(const Hashmap *h, const void *key);
void *hashmap_remove(Hashmap *h, const void *key);
size_t hashmap_size(const Hashmap *h);

/* Iteration order is unspecified. Removing the current entry while iterating is allowed. */
bool hashmap_iterate(const Hashmap *h, size_t *state, void **ret_value, const void **ret_key);
#define HASHMAP_FOREACH(v, h) for (size_t _i = 0; hashmap_iterate((h), &_i, (void **) &(v), NULL);)

#define UINT_TO_PTR(u)        ((void *) (uintptr_t) (u))
#define PTR_TO_UINT(p)        ((unsigned) (uintptr_t) (p))
