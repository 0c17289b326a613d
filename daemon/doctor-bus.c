/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-util.h"
#include "doctor.h"
#include "manager.h"
#include "util.h"

/* Diagnose walks every PF and VF and reads /sys and /proc: at thousands of VFs that is a
 * noticeable stretch of the loop, and it is open to every local user. A report is reused
 * while the model has not changed and it is younger than DIAGNOSE_CACHE_USEC, so a caller in
 * a loop costs one walk per change, not one per call. */
#define DIAGNOSE_CACHE_USEC (2 * 1000000ULL)

struct DiagnoseCache {
        DoctorReport *report;
        uint64_t generation;
        uint64_t at;
};

DiagnoseCache *diagnose_cache_free(DiagnoseCache *c)
{
        if (c)
                doctor_report_free(c->report);
        return mfree(c);
}

static int diagnose_report(Manager *m, const DoctorReport **ret)
{
        BusState *b = m->hooks_data;
        DiagnoseCache *c = b->diagnose_cache;
        uint64_t now = 0;
        int r;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (!c) {
                c = calloc(1, sizeof(DiagnoseCache));
                if (!c)
                        return -ENOMEM;
                b->diagnose_cache = c;
        }
        if (!c->report || c->generation != m->model_generation || now - c->at > DIAGNOSE_CACHE_USEC) {
                DoctorReport *report = NULL;

                r = doctor_run(m, m->sys_root, m->proc_root, &report);
                if (r < 0)
                        return r;
                doctor_report_free(c->report);
                c->report = report;
                c->generation = m->model_generation;
                c->at = now;
        }
        *ret = c->report;
        return 0;
}

/* Manager.Diagnose() → a(ssss): (check, status, object, advice). Read-only, open to all:
 * it reads what any local user can read in /sys and /proc. */
int bus_method_diagnose(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const DoctorReport *report;
        Manager *m = userdata;
        int r;

        r = diagnose_report(m, &report);
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
