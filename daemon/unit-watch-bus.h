/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "manager.h"

/* systemd units as the lifetime of leases, from systemd's own signals (the way systemctl and
 * logind follow units): Subscribe() once, then per unit a match on its PropertiesChanged,
 * plus JobRemoved and UnitRemoved for all; a signal that does not carry the state itself
 * leads to one GetAll of the unit. A run of a unit is its InvocationID: a unit started anew
 * is another run, whose leases are not the old run's. */

/* The state of a unit as systemd answered (error set if it did not). */
typedef int (*UnitStateHandler)(Manager *m, const char *unit, const char *active_state,
                                const char *invocation, const sd_bus_error *error, void *userdata);

/* Matches for the unit's signals (asynchronous AddMatch, so they are in place at the bus
 * before anything asked after this call is answered). Idempotent. */
int unit_watch_add(Manager *m, const char *unit);
/* Asks systemd for the unit's ActiveState and InvocationID; cb runs with the answer.
 * destroy(userdata) runs once the call is done or dropped. */
int unit_watch_query(Manager *m, const char *unit, UnitStateHandler cb, void *userdata,
                     void (*destroy)(void *userdata));
/* A unit in this state still runs ("active", "activating", "reloading", "deactivating",
 * ...): only "inactive" and "failed" end a run. */
bool unit_active_state_is_running(const char *active_state);

/* Watches the unit through systemd's signals (PropertiesChanged of the unit, UnitRemoved,
 * JobRemoved, after Subscribe()), and asks for its state now: leases of a run of it that
 * ended (inactive, failed, or another InvocationID) end. */
int manager_watch_unit(Manager *m, const char *unit);
