/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Keeping the host's network managers off pooled VFs. A VF in a pool belongs to whoever
 * leases it (a VM, a container, a job): NetworkManager must not run DHCP on it and
 * systemd-networkd must not configure it. sriovd keeps one file per pooled VF in
 * m->hint_dir (/run/sriovd/udev/<pci>, KEY=value lines), which the shipped udev rule
 * 70-sriovd-vf.rules imports into the VF netdev's udev properties:
 *   NM_UNMANAGED=1                  NetworkManager leaves the device unmanaged
 *   ID_NET_MANAGED_BY=org.sriovd1   systemd-networkd >= 255 leaves it alone
 * When a file appears or goes, the VF netdev gets a "change" uevent so that udev and the
 * managers see the new properties at once, not at the next hotplug. VFs without a pool stay
 * the host's. */

#define NETDEV_HINT_TEXT "NM_UNMANAGED=1\nID_NET_MANAGED_BY=org.sriovd1\n"

/* Makes the VF's hint file match its pool. No-op when m->hint_dir is NULL. */
int netdev_hint_sync_vf(Manager *m, VirtualFunction *vf);
/* After the initial reconcile: removes hint files of PCI functions that are not pooled VFs
 * of ours (a VF or PF that went away while we were down). */
int netdev_hint_prune(Manager *m);
