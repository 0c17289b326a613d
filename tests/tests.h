/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Minimal assertions for the fast tier. They never compile out (unlike assert()), print
 * where and what, and abort, so meson reports the test as failed with a useful log. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ASSERT_TRUE(expr)                                                                            \
        do {                                                                                         \
                if (!(expr)) {                                                                       \
                        fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                                     \
                }                                                                                    \
        } while (0)

#define ASSERT_OK(expr)                                                                      \
        do {                                                                                 \
                long _r = (long) (expr);                                                     \
                if (_r < 0) {                                                                \
                        fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, \
                                strerror((int) -_r));                                        \
                        abort();                                                             \
                }                                                                            \
        } while (0)

#define ASSERT_ERROR(expr, err)                                                                       \
        do {                                                                                          \
                long _r = (long) (expr);                                                              \
                if (_r != -(long) (err)) {                                                            \
                        fprintf(stderr, "%s:%d: %s returned %ld, expected -%s\n", __FILE__, __LINE__, \
                                #expr, _r, #err);                                                     \
                        abort();                                                                      \
                }                                                                                     \
        } while (0)

#define ASSERT_EQ(a, b)                                                                                   \
        do {                                                                                              \
                long long _a = (long long) (a), _b = (long long) (b);                                     \
                if (_a != _b) {                                                                           \
                        fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, \
                                #b, _a, _b);                                                              \
                        abort();                                                                          \
                }                                                                                         \
        } while (0)

#define ASSERT_STREQ(a, b)                                                                                \
        do {                                                                                              \
                const char *_a = (a), *_b = (b);                                                          \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                                  \
                        fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
                                #a, #b, _a ?: "(null)", _b ?: "(null)");                                  \
                        abort();                                                                          \
                }                                                                                         \
        } while (0)

#define TEST(name)                     \
        static void test_##name(void); \
        static void test_##name(void)

#define RUN(name)                                  \
        do {                                       \
                fprintf(stderr, "== %s\n", #name); \
                test_##name();                     \
        } while (0)
