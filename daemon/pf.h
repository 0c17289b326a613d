/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "netlink.h"
#include "vf.h"

typedef struct Manager Manager;

typedef enum PfState {
        PF_STATE_UNMANAGED,
        PF_STATE_PENDING,
        PF_STATE_CONFIGURING,
        PF_STATE_CONFIGURED,
        PF_STATE_BLOCKED,
        PF_STATE_FAILED,
        _PF_STATE_MAX,
        _PF_STATE_INVALID = -EINVAL,
} PfState;

struct PhysicalFunction {
        Manager *manager;

        char *syspath;
        char *pci; /* PCI address; for a non-PCI PF (netdevsim) its device name */
        /* VFs with no device of their own (netdevsim, software SR-IOV): they exist only in
         * the PF's VF table and are configured through it; no driver, no IOMMU group. */
        bool vfs_without_devices;
        char *ifname;
        int ifindex;
        char *driver;
        uint16_t vendor_id, device_id;
        char *vendor_name, *device_name;
        uint32_t total_vfs;
        uint32_t num_vfs; /* as the kernel reports it */
        int numa_node;
        int drivers_autoprobe; /* -1: unknown */
        uint64_t link_speed;   /* Mbit/s, 0 = unknown */
        bool has_sriov_cap;    /* read from config space through libpci */
        uint16_t vf_device_id, vf_offset, vf_stride;
        LinkInfo *link;      /* last RTM_GETLINK with VF info; NULL if no netdev */
        char **rdma_devices; /* RDMA devices on the PF itself (rdma.c) */

        const PfConfig *config; /* owning entry in manager->config; NULL = unmanaged */

        /* VFs by index; slots beyond what the kernel created are NULL. */
        VirtualFunction **vfs;
        unsigned n_vf_slots;

        PfState state;
        char *last_error;

        /* Reconcile bookkeeping (reconcile.c). */
        bool dirty;                 /* something changed: run the reconciler */
        bool link_stale;            /* re-read the VF settings before planning */
        bool needs_refresh;         /* re-read the device model (uevent seen) */
        bool refreshed;             /* pf_refresh() ran once: the count was read before */
        bool vfs_stale;             /* uevents of some VFs: re-read those and the empty slots only */
        uint64_t seqnum;            /* the kernel's uevent seqnum when the last refresh began (0: unknown) */
        bool job_running;           /* a blocking write runs in a worker (ours, or a removed namesake's) */
        unsigned nl_steps;          /* netlink steps queued and unanswered (reconcile.c): busy until 0 */
        bool nl_resume;             /* the next pass continues the one a netlink step interrupted */
        bool nl_failed;             /* a netlink reply failed the PF: its last step re-queues nothing */
        uint64_t pass_start;        /* n_reconcile_runs when the current chain of passes began */
        uint64_t generation;        /* unique per PF object: a job's result finds only its own PF */
        uint64_t config_generation; /* bumped by pf_set_config(): a late reply sees a reload */
        bool pools_known;           /* its declaration was looked up: VF pools are what they will be */
        unsigned n_failures;        /* consecutive, for backoff */
        bool retry_failed;          /* this pass may retry what failed (backoff expired, config changed) */
        sd_event_source *retry_source;
        sd_event_source *wait_source; /* deadline while waiting for VFs to appear */
        uint64_t changes;             /* count of applied changes, for tests/benches */

        char *bus_path; /* object path, encoded once by the bus layer (pf_object_path()) */
};

int pf_new(Manager *m, const char *syspath, PhysicalFunction **ret);
PhysicalFunction *pf_free(PhysicalFunction *pf);
DEFINE_TRIVIAL_CLEANUP_FUNC(PhysicalFunction *, pf_free);

/* Re-reads attributes, netdev, and the set of VFs from sysfs/udev: new VFs whole, known ones
 * only in the parts their events marked stale (VfRefresh; manager_resync() marks them all).
 * Returns > 0 when a property the PF shows (driver, counts, NUMA node, netdev, link speed,
 * names) moved: the caller announces it (manager_pf_changed()); VFs that moved are announced
 * here. */
int pf_refresh(PhysicalFunction *pf);
/* Cheaper: re-reads only VFs marked stale and slots still empty (falls back to pf_refresh()
 * if sriov_numvfs changed). VF creation sends several uevents per VF; this keeps each
 * reconcile pass proportional to what changed, not to the PF's size. */
int pf_refresh_vfs(PhysicalFunction *pf); /* > 0 as pf_refresh() */
/* Takes l (the PF's RTM_GETLINK, NULL: none) as the observed VF table and announces every VF
 * whose entry moved. The read itself is queued by the executor (reconcile_read_link()). */
void pf_set_link(PhysicalFunction *pf, LinkInfo *l);
int pf_add_vf(PhysicalFunction *pf, unsigned index, const char *syspath, VirtualFunction **ret);
void pf_remove_vf(PhysicalFunction *pf, unsigned index);
void pf_identity(const PhysicalFunction *pf, PfIdentity *ret);
void pf_set_config(PhysicalFunction *pf, const PfConfig *c);
void pf_set_state(PhysicalFunction *pf, PfState state, const char *error_fmt, ...) _printf_(3, 4);
unsigned pf_desired_num_vfs(const PhysicalFunction *pf);
unsigned pf_count_vfs(const PhysicalFunction *pf);
const char *pf_name(const PhysicalFunction *pf);

#define PF_FOREACH_VF(vf, pf)                              \
        for (unsigned _k = 0; _k < (pf)->n_vf_slots; _k++) \
                if (((vf) = (pf)->vfs[_k]))

#define log_pf_full_errno(pf, level, error, ...) \
        log_object_full_errno(level, error, (pf)->pci, (pf)->ifname, __VA_ARGS__)
#define log_vf_full_errno(vf, level, error, ...) \
        log_object_full_errno(level, error, (vf)->pci, (vf)->ifname, __VA_ARGS__)

DECLARE_STRING_TABLE(pf_state, PfState);
