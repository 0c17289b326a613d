/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "macro.h"

/* The libpci adapter: human names from pci.ids (and hwdb). libpci's default error handler
 * exit()s; ours logs and carries on, so a broken ids file can never take the daemon down. */

typedef struct PciNames PciNames;

/* no_hwdb: names from pci.ids only, for deterministic tests. */
int pci_names_new(bool no_hwdb, PciNames **ret);
PciNames *pci_names_free(PciNames *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(PciNames *, pci_names_free);

/* The SR-IOV extended capability, read from config space (root reads all 4 KiB). */
typedef struct PciSriovCap {
        uint16_t initial_vfs, total_vfs;
        uint16_t vf_offset, vf_stride;
        uint16_t vf_device;
} PciSriovCap;

/* For tests: read config space below this directory instead of /sys/bus/pci. */
int pci_names_set_sysfs_path(PciNames *p, const char *path);
/* -ENOENT: no SR-IOV capability; -EACCES/-EIO: config space not readable. */
int pci_read_sriov_cap(PciNames *p, const char *pci_address, PciSriovCap *ret);

/* Returns malloc()ed names, or NULL when unknown. */
char *pci_names_vendor(PciNames *p, uint16_t vendor);
char *pci_names_device(PciNames *p, uint16_t vendor, uint16_t device);
/* Frees libpci's copy of pci.ids (~2 MiB once a lookup missed the hwdb): call it when a
 * burst of lookups is over (manager.c: after the reconcile pass that follows them). */
void pci_names_release(PciNames *p);
