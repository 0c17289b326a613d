/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Container Device Interface specs for leased VFs. Container runtimes (podman reads
 * cdiVersion <= 0.5.0 from /etc/cdi and /run/cdi) inject a VF's device nodes and env when a
 * container asks for `--device sriovd.io/vf=NAME`. One spec file per leased VF, written
 * atomically when the lease is made, rewritten when what it names changes (IOMMU group,
 * netdev, RDMA device), removed when the lease ends: a runtime can only use a VF that is
 * leased now. */

#define CDI_KIND        "sriovd.io/vf"
#define CDI_FILE_PREFIX "sriovd-vf-"

/* The CDI device name of a VF: its PCI address with ':' as '-' ("0000-01-10.0"). */
void cdi_device_name(const char *pci, char *buf, size_t size);
/* The spec (JSON) for one VF. */
int cdi_spec_render(const VirtualFunction *vf, const char *sys_root, char **ret);
/* Makes the VF's spec file match its lease: written if leased (when its text changed),
 * removed if not. No-op when m->cdi_dir is NULL. */
int cdi_sync_vf(Manager *m, VirtualFunction *vf);
/* Removes the VF's spec file (the VF is going away), whatever its lease. */
int cdi_remove_vf(Manager *m, VirtualFunction *vf);
/* At start: removes our spec files of VFs that are no longer leased (a crash or a reboot
 * with /run kept); the leased ones are written as their VFs appear. */
int cdi_prune(Manager *m);
