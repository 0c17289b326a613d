/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-util.h"
#include "doctor.h"
#include "manager.h"
#include "util.h"

/* Manager.Diagnose() → a(ssss): (check, status, object, advice). Read-only, open to all:
 * it reads what any local user can read in /sys and /proc. */
int bus_method_diagnose(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(doctor_report_freep) DoctorReport *report = NULL;
        Manager *m = userdata;
        int r;

        r = doctor_run(m, m->sys_root, m->proc_root, &report);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot diagnose: %s", strerror(-r));
        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < report->n_items; i++) {
                const DoctorItem *it = &report->items[i];

                r = sd_bus_message_append(reply, "(ssss)", it->check, doctor_status_to_string(it->status),
                                          it->object, it->advice);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}
