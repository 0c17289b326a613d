/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "manager.h"

/* Lease liveness beyond a bus connection: a lease bound to a process ends when the process
 * exits (a pidfd, readable then, on the event loop); one bound to a systemd unit ends when
 * that run of the unit ends (unit-watch-bus.c, from systemd's own signals). Both are kept
 * with the lease (lease.c) and armed again at start, when a process that died or a unit
 * that stopped while sriovd was down ends its leases at once. No polling anywhere. */

typedef struct Liveness Liveness;

#define ID128_STRING_MAX 33

/* Identifies a live process: opens a pidfd on it, then reads its start time (clock ticks
 * after boot) from <proc>/PID/stat and this boot's id, then checks through the pidfd that
 * it still runs, so the start time read is its own and not a successor's under a recycled
 * pid. -ESRCH: no such process (or it exited meanwhile); -EACCES: it runs but /proc hides
 * it (another user's, under ProtectProc=invisible). proc_root NULL: /proc. */
int process_identify(const char *proc_root, pid_t pid, int *ret_pidfd, uint64_t *ret_start,
                     char ret_boot_id[static ID128_STRING_MAX]);
/* This boot's id, 32 hex digits. */
int boot_id_get(const char *proc_root, char ret[static ID128_STRING_MAX]);

/* Watches the process (takes pidfd, also on error): its leases end when it exits. One watch
 * per process however many leases it holds. */
int manager_watch_pid(Manager *m, uint32_t pid, uint64_t start, int pidfd);

/* At start, after the lease store is loaded: every lease bound to a process from another
 * boot, to a pid now held by another process (start time differs) or to a process that is
 * gone ends now; the others are watched. Leases bound to a unit are the bus side's: its
 * leases_loaded hook hands them to manager_watch_unit(), which asks systemd how the unit is. */
int manager_rearm_bindings(Manager *m);

/* The bus side keeps its unit watches here (unit-watch-bus.c). */
void liveness_set_unit_data(Manager *m, void *data, void (*free_func)(void *data));
void *liveness_get_unit_data(Manager *m);
void liveness_free(Manager *m);
