/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Configuration: reload applies the files on disk, plan shows what a reload would change. */

#include <systemd/sd-bus.h>

#include "client.h"
#include "log.h"
#include "output.h"
#include "reload.h"
#include "sriovctl.h"
#include "util.h"

int verb_reload(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "Reload", &error, NULL, NULL);
        if (r < 0)
                return log_bus_error(&error, r, "reload");
        return 0;
}

int verb_plan(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        bool first = true;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "Plan", &error, &reply, NULL);
        if (r < 0)
                return log_bus_error(&error, r, "compute plan");
        r = table_new(&t, (const char *const[]){"OBJECT", "ACTION", "REASON", NULL});
        if (r < 0)
                return log_oom();
        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        if (r < 0)
                return log_error_errno(r, "Failed to parse Plan reply: %m");
        if (arg_json)
                putchar('[');
        for (;;) {
                _cleanup_free_ char *label = NULL;
                const char *object, *action, *reason;

                r = sd_bus_message_read(reply, "(sss)", &object, &action, &reason);
                if (r < 0)
                        return log_error_errno(r, "Failed to parse Plan reply: %m");
                if (r == 0)
                        break;
                if (arg_json) {
                        printf("%s{\"Object\":", first ? "" : ",");
                        json_string(object);
                        fputs(",\"Action\":", stdout);
                        json_string(action);
                        fputs(",\"Reason\":", stdout);
                        json_string(reason);
                        putchar('}');
                        first = false;
                        continue;
                }
                r = table_add_row(t, path_label(object, &label), action, reason);
                if (r < 0)
                        return log_oom();
        }
        if (arg_json) {
                puts("]");
                return 0;
        }
        if (table_rows(t) == 0) {
                puts("No changes: the configuration on disk is applied.");
                return 0;
        }
        table_print(t);
        printf("\n%zu change%s planned; run 'sriovctl reload' to apply.\n", table_rows(t),
               table_rows(t) == 1 ? "" : "s");
        return 0;
}
