/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <systemd/sd-journal.h>

#include "log.h"
#include "util.h"

static int max_level = LOG_INFO;
static LogTarget target = LOG_TARGET_AUTO;

void log_set_max_level(int level)
{
        max_level = level;
}

int log_get_max_level(void)
{
        return max_level;
}

void log_set_target(LogTarget t)
{
        target = t;
}

int log_level_from_string(const char *s)
{
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",     [LOG_CRIT] = "crit",
                [LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
        };
        int v;

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(names[i], s))
                        return (int) i;
        if (safe_atoi(s, &v) >= 0 && v >= LOG_EMERG && v <= LOG_DEBUG)
                return v;
        return -EINVAL;
}

void log_setup(void)
{
        const char *e = getenv("SRIOVD_LOG_LEVEL");
        int l;

        if (e && (l = log_level_from_string(e)) >= 0)
                max_level = l;
        if (target == LOG_TARGET_AUTO)
                target = getenv("JOURNAL_STREAM") || getenv("INVOCATION_ID") ? LOG_TARGET_JOURNAL
                                                                             : LOG_TARGET_CONSOLE;
}

static unsigned log_counts[LOG_DEBUG + 1];

unsigned log_get_count(int level)
{
        unsigned n = 0;

        for (int l = 0; l <= level && l <= LOG_DEBUG; l++)
                n += log_counts[l];
        return n;
}

int log_object_internal(int level, int error, const char *pci, const char *ifname, const char *file,
                        int line, const char *func, const char *fmt, ...)
{
        char msg[2048];
        va_list ap;
        int saved = errno;

        if (level >= 0 && level <= LOG_DEBUG)
                __atomic_add_fetch(&log_counts[level], 1, __ATOMIC_RELAXED);

        error = abs(error);
        errno = error; /* so that %m works */
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        if (target == LOG_TARGET_JOURNAL) {
                char fbuf[256], lbuf[32];

                snprintf(fbuf, sizeof(fbuf), "CODE_FILE=%s", file);
                snprintf(lbuf, sizeof(lbuf), "CODE_LINE=%d", line);
                (void) sd_journal_send_with_location(
                        fbuf, lbuf, func, "MESSAGE=%s", msg, "PRIORITY=%i", level, "ERRNO=%i", error,
                        "PCI_ADDRESS=%s", strempty(pci), "INTERFACE=%s", strempty(ifname),
                        "SYSLOG_IDENTIFIER=%s", program_invocation_short_name, NULL);
        } else {
                if (pci && ifname)
                        fprintf(stderr, "%s (%s): %s\n", pci, ifname, msg);
                else if (pci || ifname)
                        fprintf(stderr, "%s: %s\n", pci ?: ifname, msg);
                else
                        fprintf(stderr, "%s\n", msg);
        }
        errno = saved;
        return -error;
}
