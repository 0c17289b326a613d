/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the config-*.c files only; the rest of the daemon uses config.h. */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "macro.h"

/* Error collection of one file's parse (config-parse.c, config-lexer.c). */
typedef struct Parser {
        const char *path;
        char **errors;
        unsigned n_errors;
        bool oom;
} Parser;

/* Records "PATH:LINE: message"; at most CONFIG_ERRORS_MAX per file, then one summary line. */
void parser_error(Parser *p, unsigned line, const char *fmt, ...) _printf_(3, 4);

/* config-lexer.c: the text-level checks made before libconfig parses the file. */
void config_prescan(Parser *p, const char *text, size_t len);

/* config-keys.c: whether a key is accepted in a section ("" top level, "physical_functions",
 * "match", "vfs"), vf-attr.c's keys included. */
bool config_key_is_known(const char *section, const char *name);

/* config-parse.c: the set's copy of path (PfConfig.file points into set->files). */
const char *config_set_intern_file(ConfigSet *set, const char *path);

/* config-files.c: one surviving drop-in. */
typedef struct DropIn {
        char *name;   /* basename: the masking key and the sort key */
        char *path;   /* as found in the directory (root prefix included): what we report */
        char *target; /* what to open: path, or a symlink's target resolved inside root */
        bool masked;
} DropIn;

/* The surviving drop-ins of all directories, by basename, in the order they are read. */
int collect_drop_ins(const char *root, const char *const *dirs, DropIn **ret, size_t *ret_n);
void drop_ins_free(DropIn *drop_ins, size_t n_drop_ins);
/* At most CONFIG_FILE_SIZE_MAX + 1 bytes, so that the parser can tell "too large". */
int read_drop_in(const char *path, char **ret, size_t *ret_len);

/* "N" or "N-M", as the messages print a range. */
static inline void format_range(unsigned first, unsigned last, char buf[static 24])
{
        if (first == last)
                snprintf(buf, 24, "%u", first);
        else
                snprintf(buf, 24, "%u-%u", first, last);
}
