/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A Manager with PFs and VFs built by hand on a temp-dir "sysfs" (plain files and symlinks)
 * and the fake rtnetlink kernel, for tests of model logic (RDMA mapping, health, doctor)
 * that need no udev: objects are created directly, the reconciler is called directly. The
 * temp dir also holds sys/ and proc/ roots for Diagnose. */

#include "fake-netlink.h"
#include "manager.h"

typedef struct FakeModel {
        char *root; /* temp dir; sys/ and proc/ below it */
        char *sys, *proc;
        Manager *m;
        FakeNetlink *fk;
} FakeModel;

/* config: libconfig text of one drop-in, or NULL. */
int fake_model_new(const char *config, FakeModel **ret);
FakeModel *fake_model_free(FakeModel *fm);
DEFINE_TRIVIAL_CLEANUP_FUNC(FakeModel *, fake_model_free);

/* A PF below sys/devices/pci0000:00 with a netdev (MTU 1500), a link in the fake netlink
 * kernel and num VFs there; owned by the first config entry that matches. */
PhysicalFunction *fake_model_add_pf(FakeModel *fm, const char *pci, const char *ifname, int ifindex,
                                    uint32_t total, uint32_t num, const char *driver);
/* A VF with a netdev (ifname may be NULL), a driver link (may be NULL) and an IOMMU group
 * (-1: none). */
VirtualFunction *fake_model_add_vf(FakeModel *fm, PhysicalFunction *pf, unsigned index, const char *pci,
                                   const char *ifname, int ifindex, const char *driver, int iommu_group);

/* Runs the loop until PF's netlink steps are answered and runs the passes they queue, until
 * none is pending (asserts each wait ends within 10 s). */
void fake_model_run_idle(FakeModel *fm, PhysicalFunction *pf);
/* Re-reads PF's VF table from the fake kernel, on the queue as the daemon does, and waits. */
void fake_model_read_link(FakeModel *fm, PhysicalFunction *pf);
/* One reconcile of PF and the passes it queues, until idle. */
void fake_model_reconcile(FakeModel *fm, PhysicalFunction *pf);

/* Writes root/rel (parents created), or makes a directory when content is NULL. */
void fake_model_write(FakeModel *fm, const char *rel, const char *content);
void fake_model_symlink(FakeModel *fm, const char *rel, const char *target);
void fake_model_remove(FakeModel *fm, const char *rel);
/* Full path of root/rel; the caller frees. */
char *fake_model_path(FakeModel *fm, const char *rel);
