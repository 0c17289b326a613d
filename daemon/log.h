/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <syslog.h>

#include "macro.h"

/* Logging goes to the journal with structured fields (PCI_ADDRESS=, INTERFACE=, ERRNO=)
 * when we run under systemd, and to stderr otherwise. Every function returns -abs(error)
 * so that "return log_error_errno(r, ...)" reads naturally. */

typedef enum LogTarget {
        LOG_TARGET_AUTO,
        LOG_TARGET_CONSOLE,
        LOG_TARGET_JOURNAL,
        _LOG_TARGET_MAX,
        _LOG_TARGET_INVALID = -EINVAL,
} LogTarget;

void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s);
void log_set_target(LogTarget t);
/* Messages logged so far at `level` or more severe (for tests: a read path logs nothing). */
unsigned log_get_count(int level);
/* Reads SRIOVD_LOG_LEVEL and picks the journal when JOURNAL_STREAM/INVOCATION_ID say so. */
void log_setup(void);

int log_object_internal(int level, int error, const char *pci, const char *ifname, const char *file,
                        int line, const char *func, const char *fmt, ...) _printf_(8, 9);

#define log_full_errno(level, error, ...)                                                               \
        ({                                                                                              \
                int _l = (level), _e = (error);                                                         \
                _l <= log_get_max_level() ? log_object_internal(_l, _e, NULL, NULL, __FILE__, __LINE__, \
                                                                __func__, __VA_ARGS__)                  \
                                          : -abs(_e);                                                   \
        })
#define log_full(level, ...)      (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...)            log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)             log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)           log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...)          log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)            log_full(LOG_ERR, __VA_ARGS__)
#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...)  log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, e, __VA_ARGS__)
#define log_oom()                 log_error_errno(ENOMEM, "Out of memory.")

/* With an object's identity as journal fields. */
#define log_object_full_errno(level, error, pci, ifname, ...)                                            \
        ({                                                                                               \
                int _l = (level), _e = (error);                                                          \
                _l <= log_get_max_level() ? log_object_internal(_l, _e, pci, ifname, __FILE__, __LINE__, \
                                                                __func__, __VA_ARGS__)                   \
                                          : -abs(_e);                                                    \
        })
