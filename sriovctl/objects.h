/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A generic copy of what the bus returned: enough to print tables and JSON without knowing
 * every property in advance, so a newer daemon's extra properties show up in --json. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "macro.h"

typedef enum ValueKind {
        VALUE_NULL, /* a type we do not render */
        VALUE_STRING,
        VALUE_BOOL,
        VALUE_INT,
        VALUE_UINT,
        VALUE_DOUBLE,
        VALUE_STRV,
        _VALUE_KIND_MAX,
        _VALUE_KIND_INVALID = -EINVAL,
} ValueKind;

typedef struct Prop {
        char *name;
        ValueKind kind;
        char *s;
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        char **strv;
} Prop;

typedef struct Object {
        char *path;
        char *iface;
        char *key; /* "iface path": the set's index key (a space is in neither) */
        Prop *props;
        size_t n_props;
} Object;

typedef struct Hashmap Hashmap;

/* Objects in an array (sortable, printable in order), found by (path, interface) through an
 * index of positions: a listing of 16,384 VFs is read and sorted in linear time. */
typedef struct ObjectSet {
        Object *objects;
        size_t n_objects;
        size_t n_allocated;
        Hashmap *index;
} ObjectSet;

void prop_done(Prop *p);
void object_done(Object *o);
ObjectSet *object_set_free(ObjectSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ObjectSet *, object_set_free);

const Prop *object_prop(const Object *o, const char *name);
/* Typed getters: "" / 0 / def / false when the property is missing or of another type. */
const char *object_str(const Object *o, const char *name);
uint64_t object_uint(const Object *o, const char *name);
int64_t object_int(const Object *o, const char *name, int64_t def);
bool object_bool(const Object *o, const char *name);

/* Reads an a{sv} into o's properties, replacing existing ones of the same name. */
int object_read_props(sd_bus_message *m, Object *o);
bool iface_is_ours(const char *iface);

/* iface NULL: the first object found at path with any interface (by a walk: tests only). */
Object *object_set_find(ObjectSet *s, const char *path, const char *iface);
int object_set_add(ObjectSet *s, const char *path, const char *iface, Object **ret);
void object_set_remove(ObjectSet *s, const char *path, const char *iface);
/* Reads an a{sa{sv}} (interfaces and their properties) of one object. */
int object_set_read_interfaces(ObjectSet *s, sd_bus_message *m, const char *path);
/* Reads a GetManagedObjects reply. */
int object_set_read_managed(ObjectSet *s, sd_bus_message *m);
/* Reads a ListPhysicalFunctions reply: each PF with its PCIAddress, Interface and State. */
int object_set_read_pf_list(ObjectSet *s, sd_bus_message *m);
/* Sets (or adds) a string property. */
int object_set_string(Object *o, const char *name, const char *value);
/* Reads the Manager's GetAll reply (the Manager is not a managed object). */
int object_set_read_manager(ObjectSet *s, sd_bus_message *m);

/* The PCI address of a VF's PF (its object path if the PF is not in s). */
const char *object_pf_pci(const ObjectSet *s, const Object *vf);
/* PFs by PCI address, VFs by (PF, index), pools by name. */
void object_set_sort(ObjectSet *s);
