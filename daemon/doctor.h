/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* `sriovctl doctor`: walks the chain an RDMA-on-VF setup depends on (firmware, IOMMU, kernel
 * command line, hugepages, sriov_numvfs, VF driver, RDMA core, RDMA devices on VFs, netns
 * mode, trust/spoofchk, MTU) and says where it breaks. Host-wide facts are read below
 * sys_root and proc_root (tests point them at a crafted tree); per-device facts come from
 * the model (syspaths from udev). Every check reports at least one item: problems one per
 * object, otherwise a single "ok". The checks and their rules: docs/doctor.md. */

typedef struct Manager Manager;

typedef enum DoctorStatus {
        DOCTOR_OK,
        DOCTOR_WARN,
        DOCTOR_FAIL,
        _DOCTOR_STATUS_MAX,
        _DOCTOR_STATUS_INVALID = -EINVAL,
} DoctorStatus;

typedef struct DoctorItem {
        char *check; /* "iommu", "acs", ... */
        DoctorStatus status;
        char *object; /* PCI address, interface, or "" for the host */
        char *advice; /* what is wrong and what to do; for ok, what was found */
} DoctorItem;

typedef struct DoctorReport {
        DoctorItem *items;
        size_t n_items;
} DoctorReport;

/* sys_root replaces "/sys", proc_root "/proc"; NULL for the real ones. */
int doctor_run(Manager *m, const char *sys_root, const char *proc_root, DoctorReport **ret);
DoctorReport *doctor_report_free(DoctorReport *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(DoctorReport *, doctor_report_free);
/* The worst status among the items of one check (or of all, check = NULL). */
DoctorStatus doctor_report_status(const DoctorReport *r, const char *check);
const DoctorItem *doctor_report_find(const DoctorReport *r, const char *check, const char *object);

DECLARE_STRING_TABLE(doctor_status, DoctorStatus);
