/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Output shared by the verbs: JSON (keys are the D-Bus property names) and aligned tables.
 * Everything goes to stdout. */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "objects.h"

void json_string(const char *s);
void json_prop_value(const Prop *p);
/* The object's properties under their D-Bus names, plus "ObjectPath". Leaves the brace open
 * when open_end is set, so callers can append members. */
void json_object(const Object *o, bool open_end);
/* A JSON array of the objects of one interface that pass filter (all if NULL). */
void json_objects(const ObjectSet *s, const char *iface, bool (*filter)(const Object *, const void *),
                  const void *userdata);

typedef struct Table {
        size_t n_columns;
        char **cells; /* row-major, header first */
        size_t n_cells;
} Table;

Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);
/* header: NULL-terminated column titles. Empty cells print as "-". */
int table_new(Table **ret, const char *const *header);
/* One const char * per column. */
int table_add_row(Table *t, ...);
size_t table_rows(const Table *t);
void table_print(const Table *t);

/* The short name of an object path (the PCI address or pool name), or the path itself. */
const char *path_label(const char *path, char **buf);

/* "            Name: value" lines of status. */
void print_field(const char *name, const char *value);
void print_field_strv(const char *name, char **l);
