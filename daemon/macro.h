/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The small set of helpers every sriovd file uses. libsystemd does not export systemd's
 * internal macro.h, so we keep our own, deliberately tiny. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _pure_         __attribute__((pure))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x)    (__builtin_expect(!!(x), 1))
#define _unlikely_(x)  (__builtin_expect(!!(x), 0))
#define _noreturn_     __attribute__((noreturn))

#define ELEMENTSOF(x)  (sizeof(x) / sizeof((x)[0]))

#define MIN(a, b)      ((a) < (b) ? (a) : (b))
#define MAX(a, b)      ((a) > (b) ? (a) : (b))

/* Take ownership of a pointer: returns it and sets the variable to NULL, so that the
 * _cleanup_ handler of the variable does nothing. */
#define TAKE_PTR(p)                      \
        ({                               \
                __typeof__(p) _p_ = (p); \
                (p) = NULL;              \
                _p_;                     \
        })

#define TAKE_FD(fd)              \
        ({                       \
                int _fd_ = (fd); \
                (fd) = -EBADF;   \
                _fd_;            \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
        static inline void func##p(type *p)     \
        {                                       \
                if (*p)                         \
                        *p = func(*p);          \
        }

/* For free-like functions that return void. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC_VOID(type, func) \
        static inline void func##p(type *p)          \
        {                                            \
                if (*p) {                            \
                        func(*p);                    \
                        *p = NULL;                   \
                }                                    \
        }

static inline void *mfree(void *p)
{
        free(p);
        return NULL;
}

static inline void freep(void *p)
{
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd)
{
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
        if (*f) {
                (void) fclose(*f);
                *f = NULL;
        }
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline bool streq(const char *a, const char *b)
{
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline const char *strempty(const char *s)
{
        return s ?: "";
}

static inline const char *strna(const char *s)
{
        return s ?: "n/a";
}

static inline bool isempty(const char *s)
{
        return !s || !*s;
}

/* errno values are positive; we return them negated. Keep the sign handling in one place. */
static inline int negative_errno(void)
{
        return errno > 0 ? -errno : -EIO;
}

#define FOREACH_ARRAY(i, array, num) for (__typeof__(array) i = (array); i && i < (array) + (num); i++)

/* Enum <-> string tables: every enum has _MAX and _INVALID and one of these. */
#define DECLARE_STRING_TABLE(name, type)             \
        const char *name##_to_string(type i) _pure_; \
        type name##_from_string(const char *s) _pure_

#define DEFINE_STRING_TABLE(name, type, max)                              \
        const char *name##_to_string(type i)                              \
        {                                                                 \
                if ((int) i < 0 || (int) i >= (int) (max))                \
                        return NULL;                                      \
                return name##_table[i];                                   \
        }                                                                 \
        type name##_from_string(const char *s)                            \
        {                                                                 \
                if (!s)                                                   \
                        return (type) -EINVAL;                            \
                for (int i = 0; i < (int) (max); i++)                     \
                        if (name##_table[i] && streq(name##_table[i], s)) \
                                return (type) i;                          \
                return (type) -EINVAL;                                    \
        }
