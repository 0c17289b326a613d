/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdint.h>

#include "macro.h"

/* The durable lease store (SPEC §4 "Leases"). A lease ties one VF, named by its PF and VF
 * index (stable across VF re-creation, unlike the VF's PCI address), to an owner. Every
 * change is on disk before the call returns: temp file, fsync, rename, fsync of the
 * directory; release is unlink + fsync of the directory. One file per lease under
 * <dir>/leases/<pf-pci>-<vf-index>, key=value lines, so a torn or corrupt file costs one
 * lease, never the store.
 *
 * Leases are kept sorted by (PF, VF index); lookups are O(log n). */

#define LEASE_OWNER_MAX 255
#define LEASE_POOL_MAX  255

typedef struct Lease {
        char *pf_pci;          /* "0000:81:00.0" */
        unsigned vf_index;     /* VF index on the PF */
        char *vf_pci;          /* VF PCI address at grant time (informational) */
        char *pool;            /* pool the VF was allocated from */
        char *owner;           /* free-form, validated by lease_owner_is_valid() */
        bool bind_to_caller;   /* ends when the caller's bus connection goes away */
        char *caller;          /* unique bus name of the caller (":1.42"), "" if not bound */
        uint64_t created_usec; /* CLOCK_REALTIME; 0 on add = now */
        /* Liveness beyond a bus connection (allocation.c, liveness.c): the lease also ends
         * when this systemd unit's run ends (stops, fails, or is started anew: its
         * InvocationID changes) or when this process exits. A pid alone is not an identity
         * across a restart of sriovd (pids are recycled): its start time and the boot it
         * ran in are kept with it. */
        char *bind_unit;            /* "foo.service", "" if not bound */
        char *bind_unit_invocation; /* 32 hex digits, the unit's InvocationID at bind time */
        uint32_t bind_pid;          /* 0 if not bound */
        uint64_t bind_pid_start;    /* start time, clock ticks after boot (/proc/PID/stat) */
        char *bind_boot_id;         /* 32 hex digits, the boot the process ran in */
} Lease;

typedef struct LeaseStore LeaseStore;

/* Validation shared with the bus methods: owner 1..255 bytes of valid UTF-8 without control
 * characters; pool 1..255 of [A-Za-z0-9._:@+-]; PCI "DDDD:BB:DD.F" (hex, lowercase);
 * unique bus name ":N.M" style. */
bool lease_owner_is_valid(const char *owner);
bool lease_pool_is_valid(const char *pool);
bool pci_address_is_valid(const char *pci);
bool bus_unique_name_is_valid(const char *name);
/* A systemd unit name: 1..255 of [A-Za-z0-9:_.@\\-], with a type suffix ("x.service"). */
bool unit_name_is_valid(const char *name);
/* 32 lowercase hex digits (an sd-id128 as InvocationID or boot id). */
bool id128_string_is_valid(const char *s);

/* Opens (creating <dir>/leases if needed) and loads every lease. dir == NULL means
 * SRIOVD_STATE_DIR. Leftover temp files of an interrupted write are removed; a corrupt or
 * foreign file is logged, recorded in lease_store_load_errors() and skipped (left on disk
 * for inspection). Fails only if the directory cannot be opened/created or on -ENOMEM. */
int lease_store_open(const char *dir, LeaseStore **ret);
LeaseStore *lease_store_free(LeaseStore *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(LeaseStore *, lease_store_free);

/* Durably records a copy of *l. -EEXIST if (pf, index) is already leased, -EINVAL if a
 * field is invalid. On any error nothing is leased, on disk or in memory. On success *ret (optional) points
 * to the stored lease, valid until it is removed or the store is freed. */
int lease_store_add(LeaseStore *s, const Lease *l, const Lease **ret);
/* Durably removes a lease. -ENOENT if there is none. */
int lease_store_remove(LeaseStore *s, const char *pf_pci, unsigned vf_index);
/* Removes every lease of an owner / of a bus connection (bind_to_caller leases only).
 * *ret_n (optional) gets the number removed; on error the leases removed so far stay
 * removed and *ret_n is untouched. */
int lease_store_remove_owner(LeaseStore *s, const char *owner, unsigned *ret_n);
int lease_store_remove_caller(LeaseStore *s, const char *unique_name, unsigned *ret_n);

const Lease *lease_store_find(const LeaseStore *s, const char *pf_pci, unsigned vf_index);
size_t lease_store_size(const LeaseStore *s);
/* i-th lease in (PF, index) order; NULL past the end. Invalidated by add/remove. */
const Lease *lease_store_get(const LeaseStore *s, size_t i);
#define LEASE_STORE_FOREACH(l, s)                        \
        for (size_t _i_##l = 0; _i_##l == 0; _i_##l = 1) \
                for (const Lease *l; (l = lease_store_get((s), _i_##l)); _i_##l++)

/* Storage fault injection for tests: the next `count` operations of kind `io` fail with
 * `error` (-errno) without being performed. */
typedef enum LeaseIo {
        LEASE_IO_WRITE,
        LEASE_IO_FSYNC,
        LEASE_IO_RENAME,
        LEASE_IO_UNLINK,
        LEASE_IO_DIR_FSYNC,
        _LEASE_IO_MAX,
        _LEASE_IO_INVALID = -EINVAL,
} LeaseIo;
void lease_store_fail_next(LeaseStore *s, LeaseIo io, int error, unsigned count);

/* "FILE: what is wrong", one per file skipped at open. */
char *const *lease_store_load_errors(const LeaseStore *s);
const char *lease_store_dir(const LeaseStore *s);
