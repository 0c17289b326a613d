/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The whole fake kernel a Manager runs on in tests and benches: the umockdev sysfs player
 * (fake-kernel.c) and the rtnetlink peer (fake-netlink.c), wired together so that a
 * sriov_numvfs write creates VF PCI devices, their netdevs and the PF's VF table at once,
 * as the kernel does. Runs under libumockdev-preload (tests/meson.build umockdev_tests). */

#include "fake-kernel.h"
#include "fake-netlink.h"
#include "manager.h"

typedef struct FakeSubstrate {
        FakeKernel *kernel;
        FakeNetlink *netlink;
        char *root;      /* config root (etc/sriov.d, etc/machine-id) */
        char *state_dir; /* leases */
        Manager *manager;
        sd_event_source *uevents_idle; /* wakes the loop when the fake kernel's queue empties */
        bool no_parent_names;          /* links without IFLA_PARENT_DEV_NAME, as before Linux 5.15 */
} FakeSubstrate;

int fake_substrate_new(FakeSubstrate **ret);
FakeSubstrate *fake_substrate_free(FakeSubstrate *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(FakeSubstrate *, fake_substrate_free);

/* An igb-like PF (8086:10c9, igbvf VFs) at 0000:<bus>:00.0 named enp<bus>s0 with ifindex
 * 100 + bus; spec fields left 0 take these defaults. */
int fake_substrate_add_igb(FakeSubstrate *s, unsigned bus, unsigned total_vfs, char **ret_pci);
int fake_substrate_add_pf(FakeSubstrate *s, const FakePfSpec *spec);
int fake_substrate_write_config(FakeSubstrate *s, const char *name, const char *text);
int fake_substrate_remove_config(FakeSubstrate *s, const char *name);

/* Creates the Manager on the fakes (not started). */
int fake_substrate_manager(FakeSubstrate *s, Manager **ret);
/* For a manager made by the caller (s->manager): the fake kernel's "uevent queue ran empty"
 * wakes its loop, which settled() needs (fake_substrate_manager() does this itself). */
int fake_substrate_watch_uevents(FakeSubstrate *s);
/* Runs the loop until every uevent is consumed and every PF settled, or the deadline. */
int fake_substrate_settle(FakeSubstrate *s, uint64_t usec);

/* Renames netdev ifindex in sysfs ("move") and on rtnetlink (RTM_NEWLINK), as the kernel
 * does. */
int fake_substrate_rename_netdev(FakeSubstrate *s, int ifindex, const char *name);

/* Counters of what the daemon wrote. */
unsigned fake_substrate_numvfs_writes(FakeSubstrate *s);
uint64_t fake_substrate_setlinks(FakeSubstrate *s);
void fake_substrate_reset_counts(FakeSubstrate *s);
