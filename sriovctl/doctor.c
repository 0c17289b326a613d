/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-bus.h>

#include "doctor.h"
#include "log.h"
#include "output.h"
#include "sriovctl.h"
#include "util.h"

typedef struct Row {
        char *check, *status, *object, *advice;
} Row;

static void rows_free(Row *rows, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(rows[i].check);
                free(rows[i].status);
                free(rows[i].object);
                free(rows[i].advice);
        }
        free(rows);
}

static void print_json(const Row *rows, size_t n)
{
        putchar('[');
        for (size_t i = 0; i < n; i++) {
                fputs(i ? ",{\"Check\":" : "{\"Check\":", stdout);
                json_string(rows[i].check);
                fputs(",\"Status\":", stdout);
                json_string(rows[i].status);
                fputs(",\"Object\":", stdout);
                json_string(rows[i].object);
                fputs(",\"Advice\":", stdout);
                json_string(rows[i].advice);
                putchar('}');
        }
        puts("]");
}

static void print_table(const Row *rows, size_t n)
{
        int wc = (int) strlen("CHECK"), ws = (int) strlen("STATUS"), wo = (int) strlen("OBJECT");
        bool color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
        unsigned counts[3] = {};

        for (size_t i = 0; i < n; i++) {
                wc = MAX(wc, (int) strlen(rows[i].check));
                ws = MAX(ws, (int) strlen(rows[i].status));
                wo = MAX(wo, (int) strlen(rows[i].object));
        }
        printf("%-*s %-*s %-*s %s\n", wc, "CHECK", ws, "STATUS", wo, "OBJECT", "ADVICE");
        for (size_t i = 0; i < n; i++) {
                const char *on = "", *off = "";

                if (streq(rows[i].status, "fail"))
                        counts[2]++, on = color ? "\033[1;31m" : "";
                else if (streq(rows[i].status, "warn"))
                        counts[1]++, on = color ? "\033[1;33m" : "";
                else
                        counts[0]++, on = color ? "\033[32m" : "";
                off = color ? "\033[0m" : "";
                printf("%-*s %s%-*s%s %-*s %s\n", wc, rows[i].check, on, ws, rows[i].status, off, wo,
                       *rows[i].object ? rows[i].object : "-", rows[i].advice);
        }
        printf("\n%u ok, %u warning%s, %u failure%s.\n", counts[0], counts[1], counts[1] == 1 ? "" : "s",
               counts[2], counts[2] == 1 ? "" : "s");
}

int verb_doctor(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Row *rows = NULL;
        size_t n = 0;
        bool failed = false;
        int r;

        r = sd_bus_call_method(bus, "org.sriovd1", "/org/sriovd1", "org.sriovd1.Manager", "Diagnose", &error,
                               &reply, NULL);
        if (r < 0) {
                log_error("Failed to diagnose: %s", error.message ?: strerror(-r));
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(ssss)");
        if (r < 0)
                return log_error_errno(r, "Failed to parse Diagnose reply: %m");
        for (;;) {
                const char *c, *s, *o, *a;
                Row *p;

                r = sd_bus_message_read(reply, "(ssss)", &c, &s, &o, &a);
                if (r < 0) {
                        rows_free(rows, n);
                        return log_error_errno(r, "Failed to parse Diagnose reply: %m");
                }
                if (r == 0)
                        break;
                p = realloc(rows, sizeof(Row) * (n + 1));
                if (!p) {
                        rows_free(rows, n);
                        return log_oom();
                }
                rows = p;
                rows[n] = (Row){strdup(c), strdup(s), strdup(o), strdup(a)};
                if (!rows[n].check || !rows[n].status || !rows[n].object || !rows[n++].advice) {
                        rows_free(rows, n);
                        return log_oom();
                }
                failed |= streq(s, "fail");
        }
        if (arg_json)
                print_json(rows, n);
        else
                print_table(rows, n);
        rows_free(rows, n);
        /* Scripts: "doctor && deploy". Warnings do not fail. */
        return failed ? -EHOSTDOWN : 0;
}
