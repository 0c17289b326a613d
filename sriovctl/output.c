/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Output shared by the verbs: JSON (keys are the D-Bus property names) and aligned tables. */

#include <inttypes.h>
#include <stdarg.h>
#include <systemd/sd-bus.h>

#include "output.h"
#include "sriovctl.h"
#include "util.h"

void json_string(const char *s)
{
        putchar('"');
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        printf("\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", stdout);
                else if (*p == '\t')
                        fputs("\\t", stdout);
                else if (*p < 0x20 || *p == 0x7f)
                        printf("\\u%04x", *p);
                else
                        putchar(*p);
        }
        putchar('"');
}

void json_prop_value(const Prop *p)
{
        switch (p->kind) {
        case VALUE_STRING:
                json_string(p->s);
                break;
        case VALUE_BOOL:
                fputs(p->b ? "true" : "false", stdout);
                break;
        case VALUE_INT:
                printf("%" PRIi64, p->i);
                break;
        case VALUE_UINT:
                printf("%" PRIu64, p->u);
                break;
        case VALUE_DOUBLE:
                printf("%.17g", p->d);
                break;
        case VALUE_STRV:
                putchar('[');
                STRV_FOREACH(s, p->strv) {
                        if (s != p->strv)
                                putchar(',');
                        json_string(*s);
                }
                putchar(']');
                break;
        default:
                fputs("null", stdout);
        }
}

/* The object's properties under their D-Bus names, plus "ObjectPath". Leaves the brace open
 * when open_end is set, so callers can append members. */
void json_object(const Object *o, bool open_end)
{
        fputs("{\"ObjectPath\":", stdout);
        json_string(o->path);
        for (size_t i = 0; i < o->n_props; i++) {
                putchar(',');
                json_string(o->props[i].name);
                putchar(':');
                json_prop_value(&o->props[i]);
        }
        if (!open_end)
                putchar('}');
}

void json_objects(const ObjectSet *s, const char *iface, bool (*filter)(const Object *, const void *),
                  const void *userdata)
{
        bool first = true;

        putchar('[');
        for (size_t i = 0; i < s->n_objects; i++) {
                const Object *o = &s->objects[i];
                if (!streq(o->iface, iface) || (filter && !filter(o, userdata)))
                        continue;
                if (!first)
                        putchar(',');
                first = false;
                json_object(o, false);
        }
        putchar(']');
}

static size_t utf8_width(const char *s)
{
        size_t n = 0;
        for (; *s; s++)
                if (((unsigned char) *s & 0xc0) != 0x80)
                        n++;
        return n;
}

Table *table_free(Table *t)
{
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        return mfree(t);
}

static int table_add(Table *t, const char *cell)
{
        char **a = reallocarray(t->cells, t->n_cells + 1, sizeof(char *));
        if (!a)
                return -ENOMEM;
        t->cells = a;
        t->cells[t->n_cells] = strdup(isempty(cell) ? "-" : cell);
        if (!t->cells[t->n_cells])
                return -ENOMEM;
        t->n_cells++;
        return 0;
}

int table_new(Table **ret, const char *const *header)
{
        _cleanup_(table_freep) Table *t = calloc(1, sizeof(Table));
        int r;

        if (!t)
                return -ENOMEM;
        for (const char *const *h = header; *h; h++) {
                r = table_add(t, *h);
                if (r < 0)
                        return r;
                t->n_columns++;
        }
        *ret = TAKE_PTR(t);
        return 0;
}

int table_add_row(Table *t, ...)
{
        va_list ap;
        int r = 0;

        va_start(ap, t);
        for (size_t i = 0; i < t->n_columns && r >= 0; i++)
                r = table_add(t, va_arg(ap, const char *));
        va_end(ap);
        return r;
}

size_t table_rows(const Table *t)
{
        return t->n_cells / t->n_columns - 1;
}

void table_print(const Table *t)
{
        size_t widths[16] = {};

        for (size_t i = 0; i < t->n_cells; i++)
                widths[i % t->n_columns] = MAX(widths[i % t->n_columns], utf8_width(t->cells[i]));
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t c = i % t->n_columns;
                if (c + 1 == t->n_columns)
                        printf("%s\n", t->cells[i]);
                else
                        printf("%s%*s", t->cells[i], (int) (widths[c] - utf8_width(t->cells[i]) + 1), "");
        }
}

const char *path_label(const char *path, char **buf)
{
        static const char *const prefixes[] = {PF_PREFIX, VF_PREFIX, POOL_PREFIX};

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (sd_bus_path_decode(path, prefixes[i], buf) > 0)
                        return *buf;
        return path;
}

void print_field(const char *name, const char *value)
{
        printf("%16s: %s\n", name, value);
}

void print_field_strv(const char *name, char **l)
{
        if (strv_length(l) == 0) {
                print_field(name, "none");
                return;
        }
        STRV_FOREACH(s, l) {
                if (s == l)
                        print_field(name, *s);
                else
                        printf("%16s  %s\n", "", *s);
        }
}
