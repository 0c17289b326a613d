/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"
#include "rdma.h"

/* The model's side of RDMA (rdma-assign.c): which device sits on which PF/VF. rdma.c reads
 * the devices and knows nothing of the model. */

/* Assigns devs (sorted by name) to PFs and VFs: RDMADevice, port state, link layer and
 * GUIDs of each VF, RDMADevices of each PF. Objects that changed are announced and their PF
 * is queued for reconcile (VF health depends on the RDMA device). */
void rdma_assign(Manager *m, RdmaDevice *const *devs, size_t n);
/* Enumerates through udev and assigns; while a soft device has no netdev yet, looks again
 * on a short timer. Never fails for a host without RDMA. */
int manager_refresh_rdma(Manager *m);
