/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <net/ethernet.h>
#include <stdarg.h>
#include <stdint.h>

#include "macro.h"

/* NULL-terminated string vectors. */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
size_t strv_length(char *const *l);
int strv_push(char ***l, char *value); /* takes ownership of value, also on failure */
int strv_extend(char ***l, const char *value);
int strv_extendf(char ***l, const char *fmt, ...) _printf_(2, 3);
bool strv_contains(char *const *l, const char *s);
#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)

char *path_join(const char *a, const char *b);
/* Prefix an absolute path with an alternative root ("/" or NULL = none). */
char *path_prefix_root(const char *root, const char *path);
const char *path_basename(const char *p);

/* Reads the first line of a (sysfs) file, trailing newline stripped. */
int read_one_line_file(const char *path, char **ret);
/* The daemon's malloc policy for big hosts (util.c): call first thing in main(). */
void malloc_setup(void);
/* Opens with O_TRUNC (harmless on sysfs, needed on test trees) and writes the value. */
int write_string_file(const char *path, const char *value);
/* Writes `text` to dir_fd/name through a temporary file and rename (readers never see a part). */
int write_file_atomic_at(int dir_fd, const char *name, const char *text);
int read_u32_file(const char *path, uint32_t *ret);
int read_int_file(const char *path, int *ret);
/* Resolves a symlink and returns the last path component of its target. */
int readlink_basename(const char *path, char **ret);
int readlinkat_basename(int dfd, const char *path, char **ret);

int safe_atou32(const char *s, uint32_t *ret);
int safe_atoi(const char *s, int *ret);
int safe_atou16_hex(const char *s, uint16_t *ret);

#define ETHER_ADDR_STRLEN 18
int parse_ether_addr(const char *s, struct ether_addr *ret);
char *ether_addr_to_string(const struct ether_addr *a, char buf[static ETHER_ADDR_STRLEN]);
bool ether_addr_is_null(const struct ether_addr *a);
static inline bool ether_addr_equal(const struct ether_addr *a, const struct ether_addr *b)
{
        return memcmp(a, b, sizeof(*a)) == 0;
}

int asprintf_safe(char **ret, const char *fmt, ...) _printf_(2, 3);
static inline bool startswith(const char *s, const char *prefix)
{
        return s && strncmp(s, prefix, strlen(prefix)) == 0;
}
static inline bool endswith(const char *s, const char *suffix)
{
        size_t a = s ? strlen(s) : 0, b = strlen(suffix);
        return s && a >= b && memcmp(s + a - b, suffix, b) == 0;
}
int free_and_strdup(char **p, const char *s); /* 1 if changed, 0 if equal, <0 on error */
/* Like free_and_strdup() with a formatted value; fmt == NULL sets NULL. */
int free_and_vasprintf(char **p, const char *fmt, va_list ap) _printf_(2, 0);

/* Test hook of the VM fault matrix (tests/vm/scenarios/fault-*.sh): main() sets these from
 * $SRIOVD_TEST_CRASH_AT and $SRIOVD_TEST_STOP_AT; test_crash_point(P) then kills the daemon
 * with SIGKILL at point P, or stops it (SIGSTOP, once) for the test to act and SIGCONT it.
 * NULL, and so a no-op, everywhere else. */
extern const char *test_crash_at, *test_stop_at;
void test_crash_point(const char *point);

/* Parses "N" or "N-M" into an inclusive range. */
int parse_range(const char *s, unsigned *ret_first, unsigned *ret_last);

static inline uint64_t u64_min(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}
