/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "allocation.h"
#include "cdi.h"
#include "lease.h"
#include "liveness.h"
#include "log.h"
#include "manager.h"
#include "netdev-hints.h"
#include "pci.h"
#include "pool.h"
#include "rdma-assign.h"
#include "reconcile.h"
#include "stable.h"
#include "sysfs.h"
#include "udev.h"
#include "util.h"

static const char *const manager_state_table[_MANAGER_STATE_MAX] = {
        [MANAGER_STATE_STARTING] = "starting",
        [MANAGER_STATE_RUNNING] = "running",
        [MANAGER_STATE_DEGRADED] = "degraded",
};
DEFINE_STRING_TABLE(manager_state, ManagerState, _MANAGER_STATE_MAX);

/* Readiness never waits longer than this for the PFs present at start. */
#define STARTUP_DEADLINE_USEC (90ULL * 1000000ULL)

static int on_reconcile(sd_event_source *s, void *userdata);

/* Pools are derived (pool.c): recount once per loop iteration in which something changed,
 * and let the pool hooks tell what moved. */
static int on_pools(sd_event_source *s, void *userdata)
{
        pools_sync(userdata);
        return 0;
}

/* A burst of VF creation or removal (thousands of VFs on a big host) leaves the heap with
 * free memory scattered between the objects that stay: the uevents, sysfs reads, netlink
 * replies and bus messages of the burst were freed, the VFs were not, and glibc returns
 * only a free top of the heap to the kernel. Once the host is settled and the bus has sent
 * what it queued, give every free page back, once (~1 ms for a 20 MiB heap). The pass that
 * finds the host settled after such a burst arms a defer source that runs when nothing else
 * is pending (after the bus flush and the pool recount); if the bus still holds messages
 * then, a post source tries again after each later event (the bus draining its queue). No
 * timer: nothing runs while the daemon is idle.
 *
 * What follows the burst can touch the freed pages again (at 64 × 256 on the real kernel the
 * RSS went from 10.7 MiB right after the trim back to 15–21 MiB: docs/PERFORMANCE.md, round
 * two parts 3 and 4). So after a first trim, each pass that finds the host settled, and each
 * large listing on the bus, has the same source compare the RSS with what the last trim left
 * (one read of /proc/self/statm) and trim again if it grew back by
 * MANAGER_TRIM_REGROWTH_KIB. What stays after that trim is the new reference: memory really
 * in use does not set off trim after trim. */
static long proc_self_rss_kib(void)
{
        _cleanup_free_ char *line = NULL;
        unsigned long size, resident;

        if (read_one_line_file("/proc/self/statm", &line) < 0 ||
            sscanf(line, "%lu %lu", &size, &resident) != 2)
                return -1;
        return (long) (resident * (unsigned long) sysconf(_SC_PAGESIZE) / 1024);
}

static int on_trim(sd_event_source *s, void *userdata)
{
        Manager *m = userdata;
        bool burst = m->vf_churn >= m->trim_vf_churn;
        struct mallinfo2 mi;
        long rss, after;

        if ((!burst && m->rss_trimmed_kib <= 0) || !manager_is_settled(m))
                return 0; /* the pass that settles it arms it again */
        if (m->hooks && m->hooks->n_queued && m->hooks->n_queued(m) > 0) {
                (void) sd_event_source_set_enabled(m->trim_post_source, SD_EVENT_ONESHOT);
                return 0;
        }
        rss = proc_self_rss_kib();
        if (!burst && (rss < 0 || rss < m->rss_trimmed_kib + MANAGER_TRIM_REGROWTH_KIB))
                return 0;
        job_runner_reap(m->jobs);
        mi = mallinfo2();
        (void) malloc_trim(0);
        after = proc_self_rss_kib();
        /* One line per burst: what a big host's daemon holds (docs/PERFORMANCE.md). */
        if (burst)
                log_info(
                        "Settled after %u VFs came or went: heap %zu KiB in use, %zu KiB free; RSS %ld KiB, "
                        "%ld KiB after giving back the free pages.",
                        m->vf_churn, mi.uordblks / 1024, mi.fordblks / 1024, rss, after);
        else
                log_info("Heap grew back since the last trim (RSS %ld KiB, %ld KiB then): "
                         "heap %zu KiB in use, %zu KiB free; RSS %ld KiB after giving back the free pages.",
                         rss, m->rss_trimmed_kib, mi.uordblks / 1024, mi.fordblks / 1024, after);
        m->rss_trimmed_kib = after > 0 ? after : rss;
        m->vf_churn = 0;
        m->n_trims++;
        return 0;
}

static void manager_pools_dirty(Manager *m)
{
        (void) sd_event_source_set_enabled(m->pools_source, SD_EVENT_ONESHOT);
}

int manager_new(const ManagerOptions *o, Manager **ret)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        static const ManagerOptions defaults = {};
        int r;

        if (!o)
                o = &defaults;
        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        m->notify = !o->no_notify;
        m->rdma_n_devices = -1;
        m->no_udev_monitor = o->no_udev_monitor;
        m->no_netlink_monitor = o->no_netlink_monitor;
        m->kernel_uevents = o->kernel_uevents;
        m->netlink = o->netlink;
        if (o->root && !streq(o->root, "/")) {
                m->root = strdup(o->root);
                if (!m->root)
                        return -ENOMEM;
        }
        m->state_dir = strdup(o->state_dir ?: SRIOVD_STATE_DIR);
        if (o->cdi_dir && !isempty(o->cdi_dir)) {
                m->cdi_dir = strdup(o->cdi_dir);
                if (!m->cdi_dir)
                        return -ENOMEM;
        }
        if (o->hint_dir && !isempty(o->hint_dir)) {
                m->hint_dir = strdup(o->hint_dir);
                if (!m->hint_dir)
                        return -ENOMEM;
        }
        if ((o->sys_root && !(m->sys_root = strdup(o->sys_root))) ||
            (o->proc_root && !(m->proc_root = strdup(o->proc_root))))
                return -ENOMEM;
        m->pfs = hashmap_new_string();
        m->vfs = hashmap_new_string();
        m->busy_pcis = hashmap_new_string();
        m->ifindexes = hashmap_new_uint();
        m->vf_ifindexes = hashmap_new_uint();
        m->unclaimed_netdevs = hashmap_new_string();
        if (!m->state_dir || !m->pfs || !m->vfs || !m->ifindexes || !m->vf_ifindexes || !m->busy_pcis ||
            !m->unclaimed_netdevs)
                return -ENOMEM;

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        r = job_runner_new(m->event, &m->jobs);
        if (r < 0)
                return r;
        r = udev_watch_new(&m->udev);
        if (r < 0)
                return r;
        r = pci_names_new(o->pci_names_no_hwdb, &m->pci_names);
        if (r < 0)
                return r;
        if (!m->netlink) {
                r = netlink_new(&m->netlink);
                if (r < 0)
                        return log_error_errno(r, "Cannot open rtnetlink socket: %m");
        }
        /* Every request goes through the asynchronous queue: the loop never waits on a reply. */
        r = netlink_attach_event(m->netlink, m->event);
        if (r < 0)
                return log_error_errno(r, "Cannot attach rtnetlink requests to the event loop: %m");
        r = machine_key_load(m->root, m->machine_key);
        if (r < 0)
                /* Stable MACs then depend on the PF only: still stable, just not per machine. */
                log_warning_errno(r,
                                  "Cannot read /etc/machine-id, stable MACs are not machine-specific: %m");

        r = sd_event_add_defer(m->event, &m->reconcile_source, on_reconcile, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->reconcile_source, SD_EVENT_OFF);
        /* After everything else that is pending: a burst of uevents is drained first. */
        (void) sd_event_source_set_priority(m->reconcile_source, SD_EVENT_PRIORITY_IDLE);
        (void) sd_event_source_set_description(m->reconcile_source, "reconcile");
        r = sd_event_add_defer(m->event, &m->pools_source, on_pools, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->pools_source, SD_EVENT_OFF);
        /* Last: after the reconcile pass (IDLE) and the observers' coalesced announcements
         * (IDLE + 1), so the VFs a pool counts are announced before the pool's new counts. */
        (void) sd_event_source_set_priority(m->pools_source, SD_EVENT_PRIORITY_IDLE + 2);
        (void) sd_event_source_set_description(m->pools_source, "pools");
        r = sd_event_add_defer(m->event, &m->trim_source, on_trim, m);
        if (r >= 0)
                r = sd_event_add_post(m->event, &m->trim_post_source, on_trim, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->trim_source, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(m->trim_post_source, SD_EVENT_OFF);
        (void) sd_event_source_set_priority(m->trim_source, SD_EVENT_PRIORITY_IDLE + 3);
        (void) sd_event_source_set_priority(m->trim_post_source, SD_EVENT_PRIORITY_IDLE + 3);
        (void) sd_event_source_set_description(m->trim_source, "trim");
        (void) sd_event_source_set_description(m->trim_post_source, "trim-post");
        m->state = MANAGER_STATE_STARTING;
        m->vf_reads_left = MANAGER_VF_READS_PER_PASS;
        m->trim_vf_churn = MANAGER_TRIM_VF_CHURN;
        *ret = TAKE_PTR(m);
        return 0;
}

static void config_sets_free(ConfigSet **sets, size_t n)
{
        for (size_t i = 0; i < n; i++)
                config_set_free(sets[i]);
        free(sets);
}

static void forget_unclaimed_netdevs(Manager *m);

Manager *manager_free(Manager *m)
{
        PhysicalFunction *pf;

        if (!m)
                return NULL;
        if (m->hooks && m->hooks->manager_free)
                m->hooks->manager_free(m);
        liveness_free(m);
        HASHMAP_FOREACH(pf, m->pfs)
                pf_free(pf);
        hashmap_free(m->pfs);
        hashmap_free(m->vfs);
        hashmap_free(m->busy_pcis);
        hashmap_free(m->ifindexes);
        hashmap_free(m->vf_ifindexes);
        forget_unclaimed_netdevs(m);
        hashmap_free(m->unclaimed_netdevs);
        sd_event_source_disable_unref(m->reconcile_source);
        sd_event_source_disable_unref(m->pools_source);
        sd_event_source_disable_unref(m->trim_source);
        sd_event_source_disable_unref(m->trim_post_source);
        sd_event_source_disable_unref(m->startup_deadline);
        sd_event_source_disable_unref(m->rdma_retry_source);
        sd_event_source_disable_unref(m->sigterm_source);
        sd_event_source_disable_unref(m->sigint_source);
        sd_event_source_disable_unref(m->sighup_source);
        udev_watch_free(m->udev);
        netlink_free(m->netlink); /* drops the requests in flight, without calling back */
        reconcile_free_steps(m);
        pci_names_free(m->pci_names);
        job_runner_free(m->jobs);
        config_set_free(m->config);
        config_sets_free(m->retained, m->n_retained);
        pools_free(m);
        lease_store_free(m->leases);
        config_set_free(m->plan_config);
        sd_event_unref(m->event);
        free(m->root);
        free(m->state_dir);
        free(m->cdi_dir);
        free(m->hint_dir);
        free(m->sys_root);
        free(m->proc_root);
        return mfree(m);
}

PhysicalFunction *manager_get_pf(Manager *m, const char *pci)
{
        return hashmap_get(m->pfs, pci);
}

VirtualFunction *manager_get_vf(Manager *m, const char *pci)
{
        return hashmap_get(m->vfs, pci);
}

void manager_pf_dirty(Manager *m, PhysicalFunction *pf)
{
        pf->dirty = true;
        (void) sd_event_source_set_enabled(m->reconcile_source, SD_EVENT_ONESHOT);
}

void manager_pf_changed(Manager *m, PhysicalFunction *pf)
{
        m->model_generation++;
        manager_pools_dirty(m); /* a PF's state decides whether its VFs are free */
        if (m->hooks && m->hooks->pf_changed)
                m->hooks->pf_changed(m, pf);
}

void manager_vf_changed(Manager *m, VirtualFunction *vf)
{
        m->model_generation++;
        manager_pools_dirty(m);
        /* A leased VF's CDI spec names its group, netdev and RDMA device: keep it current. */
        if (vf->allocated || vf->cdi_spec)
                (void) cdi_sync_vf(m, vf);
        (void) netdev_hint_sync_vf(m, vf);
        if (m->hooks && m->hooks->vf_changed)
                m->hooks->vf_changed(m, vf);
}

void manager_vf_added(Manager *m, VirtualFunction *vf)
{
        m->model_generation++;
        m->vf_churn++;
        manager_pools_dirty(m);
        /* Its RDMA device may already exist (when there is any device at all). */
        if (m->rdma_n_devices != 0)
                m->rdma_stale = true;
        if (vf->allocated)
                (void) cdi_sync_vf(m, vf);
        (void) netdev_hint_sync_vf(m, vf);
        if (m->hooks && m->hooks->vf_added)
                m->hooks->vf_added(m, vf);
}

void manager_vf_removed(Manager *m, VirtualFunction *vf)
{
        m->model_generation++;
        m->vf_churn++;
        manager_pools_dirty(m);
        if (vf->cdi_spec)
                (void) cdi_remove_vf(m, vf);
        if (m->hooks && m->hooks->vf_removed)
                m->hooks->vf_removed(m, vf);
}

/* Owner lookup against the live config. A PF whose owning file is now rejected keeps the
 * entry from the set it was configured with (a bad edit changes nothing). */
static const PfConfig *manager_match(Manager *m, PhysicalFunction *pf, bool log_later)
{
        PfIdentity id;

        pf_identity(pf, &id);
        return m->config ? config_set_match(m->config, &id, log_later) : NULL;
}

static bool config_file_rejected(const ConfigSet *set, const char *file)
{
        size_t len = strlen(file);

        STRV_FOREACH(e, set->errors)
                if (strncmp(*e, file, len) == 0 && (*e)[len] == ':')
                        return true;
        return false;
}

/* Returns true if the PF's declaration changed (ConfigFile, DesiredNumVFs may show it). */
static bool manager_assign_config(Manager *m, PhysicalFunction *pf, bool log_later)
{
        const PfConfig *c = manager_match(m, pf, log_later);
        bool changed = c != pf->config;

        if (!c && pf->config && m->config && config_file_rejected(m->config, pf->config->file)) {
                log_pf_full_errno(pf, LOG_WARNING, 0, "%s was rejected, keeping its previous declaration.",
                                  pf->config->file);
                return false;
        }
        if (c != pf->config || !c)
                pf_set_config(pf, c);
        /* Pools are known from here on: the VFs' udev hints can follow them. */
        if (!pf->pools_known) {
                VirtualFunction *vf;

                pf->pools_known = true;
                PF_FOREACH_VF(vf, pf)
                        (void) netdev_hint_sync_vf(m, vf);
        }
        return changed;
}

int manager_add_pf(Manager *m, const char *syspath, PhysicalFunction **ret)
{
        _cleanup_(pf_freep) PhysicalFunction *pf = NULL;
        PhysicalFunction *existing;
        int r;

        existing = manager_get_pf(m, path_basename(syspath));
        if (existing) {
                existing->needs_refresh = true;
                manager_pf_dirty(m, existing);
                if (ret)
                        *ret = existing;
                return 0;
        }
        r = pf_new(m, syspath, &pf);
        if (r < 0)
                return r;
        r = hashmap_put(m->pfs, pf->pci, pf);
        if (r < 0)
                return r;
        pf->generation = ++m->pf_generation;
        /* A namesake removed while its job ran may still be writing this PF's sysfs: wait. */
        pf->job_running = hashmap_get(m->busy_pcis, pf->pci) != NULL;
        r = pf_refresh(pf);
        if (r < 0) {
                /* The refresh may have registered VFs and the ifindex already: unregister them
                 * before the PF goes, or the maps would point into freed memory. */
                for (unsigned i = 0; i < pf->n_vf_slots; i++)
                        pf_remove_vf(pf, i);
                if (pf->ifindex > 0 && hashmap_get(m->ifindexes, UINT_TO_PTR(pf->ifindex)) == pf)
                        hashmap_remove(m->ifindexes, UINT_TO_PTR(pf->ifindex));
                hashmap_remove(m->pfs, pf->pci);
                return log_pf_full_errno(pf, LOG_WARNING, r, "Cannot read PF %s, ignoring it: %m", pf->pci);
        }
        /* The VF table (and the permanent MAC a declaration may match on) is read on the
         * queue; its reply matches the declaration again (manager_pf_link_read()). */
        (void) reconcile_read_link(pf, false);
        (void) manager_assign_config(m, pf, true); /* announced with the PF, below */
        pf->state = pf->config ? PF_STATE_PENDING : PF_STATE_UNMANAGED;
        log_pf_full_errno(pf, LOG_INFO, 0, "Found SR-IOV PF %s (%s %s, %u/%u VFs), %s%s.", pf->pci,
                          strna(pf->vendor_name), strna(pf->device_name), pf->num_vfs, pf->total_vfs,
                          pf->config ? "managed by " : "unmanaged", pf->config ? pf->config->file : "");
        m->model_generation++;
        if (m->hooks && m->hooks->pf_added)
                m->hooks->pf_added(m, pf);
        manager_pf_dirty(m, pf);
        if (ret)
                *ret = pf;
        TAKE_PTR(pf);
        return 1;
}

void manager_remove_pf(Manager *m, PhysicalFunction *pf)
{
        log_pf_full_errno(pf, LOG_INFO, 0, "PF %s is gone, dropping its %u VFs.", pf->pci, pf_count_vfs(pf));
        for (unsigned i = 0; i < pf->n_vf_slots; i++)
                pf_remove_vf(pf, i);
        m->model_generation++;
        if (m->hooks && m->hooks->pf_removed)
                m->hooks->pf_removed(m, pf);
        if (pf->ifindex > 0 && hashmap_get(m->ifindexes, UINT_TO_PTR(pf->ifindex)) == pf)
                hashmap_remove(m->ifindexes, UINT_TO_PTR(pf->ifindex));
        hashmap_remove(m->pfs, pf->pci);
        pf_free(pf);
        manager_update_state(m);
}

/* ---- events ----------------------------------------------------------------------------- */

/* The PF of a PCI device (or netdevsim device) given by its syspath: itself, the PF of a
 * known VF, or the PF its physfn link names (a VF not in the model yet). */
static PhysicalFunction *pf_of_device(Manager *m, const char *syspath)
{
        const char *name = path_basename(syspath);
        PhysicalFunction *pf = manager_get_pf(m, name);
        VirtualFunction *vf;
        _cleanup_free_ char *physfn = NULL;

        if (pf)
                return pf;
        vf = manager_get_vf(m, name);
        if (vf)
                return vf->pf;
        /* At "add" the link may not be there yet (the kernel creates it right after); the
         * later "change" and "bind" carry it. */
        if (sysfs_read_link_attr(syspath, "physfn", &physfn) < 0)
                return NULL;
        return manager_get_pf(m, physfn);
}

/* The device a class device sits on: a netdev or RDMA device of a PF or VF is
 * <device>/<subsystem>/<name>, so its path names the device without a walk through udev
 * (which reads every ancestor). NULL if the path has another shape. */
static char *class_device_parent(struct udev_device *d, const char *subsystem)
{
        const char *sp = udev_device_get_syspath(d), *name, *class;
        size_t len = strlen(subsystem);

        name = sp ? strrchr(sp, '/') : NULL;
        class = name && name > sp ? memrchr(sp, '/', name - sp) : NULL;
        if (!class || (size_t) (name - class - 1) != len || strncmp(class + 1, subsystem, len) != 0)
                return NULL;
        return strndup(sp, class - sp);
}

/* A uevent the VF's last whole read has seen already (pf.c: the seqnum read before it): VF
 * creation's burst arrives after the new VFs were read, and would re-read each VF up to four
 * times for nothing. Events without a seqnum always count. */
static bool vf_seqnum_seen(const VirtualFunction *vf, uint64_t seqnum)
{
        return seqnum > 0 && seqnum <= vf->seqnum_read;
}

static bool vf_event_seen(const VirtualFunction *vf, struct udev_device *d)
{
        return vf_seqnum_seen(vf, udev_device_get_seqnum(d));
}

/* on_udev_event()'s early return for a known VF's event its last whole read has seen, told
 * from the message's head alone: udev.c then drops the message without building a
 * udev_device (VF creation: four per VF, 65,536 at 64 x 256). Everything else (a PF, an
 * unknown device, "remove", net events while RDMA devices are mapped, infiniband) goes the
 * whole way; the rules below must stay the same as on_udev_event()'s. */
static bool on_udev_event_skip(void *userdata, const UdevEventHead *h)
{
        Manager *m = userdata;
        const char *name, *end = h->devpath + strlen(h->devpath), *slash;
        char sysname[256];
        VirtualFunction *vf;
        size_t len;

        if (streq(h->action, "remove"))
                return false;
        slash = memrchr(h->devpath, '/', end - h->devpath);
        if (!slash)
                return false;
        if (streq(h->subsystem, "net") && m->rdma_n_devices == 0) {
                /* <device>/net/<name>: the device's name is the component before "net". */
                const char *class = slash > h->devpath ? memrchr(h->devpath, '/', slash - h->devpath) : NULL;

                if (!class || slash - class != 4 || strncmp(class + 1, "net", 3) != 0)
                        return false;
                end = class;
                slash = class > h->devpath ? memrchr(h->devpath, '/', class - h->devpath) : NULL;
                if (!slash)
                        return false;
        } else if (!streq(h->subsystem, "pci") && !streq(h->subsystem, "netdevsim"))
                return false;
        name = slash + 1;
        len = end - name;
        if (len == 0 || len >= sizeof(sysname))
                return false;
        memcpy(sysname, name, len);
        sysname[len] = 0;
        if (manager_get_pf(m, sysname))
                return false;
        vf = manager_get_vf(m, sysname);
        return vf && vf_seqnum_seen(vf, h->seqnum);
}

/* What a uevent on a VF's own PCI device can change (VfRefresh, vf.h). */
static unsigned vf_event_parts(const char *action)
{
        if (streq(action, "bind") || streq(action, "unbind"))
                return VF_REFRESH_DRIVER;
        if (streq(action, "add"))
                return VF_REFRESH_ALL;
        /* "change": the kernel's after creating the VF's links, AER recovery, or udevadm
         * trigger; whatever asked, the facts that can move are re-read (the NUMA node cannot). */
        return VF_REFRESH_DRIVER | VF_REFRESH_NETDEV;
}

static void pf_vfs_stale(Manager *m, PhysicalFunction *pf, const char *action, struct udev_device *d)
{
        log_debug("uevent %s %s %s -> VF of PF %s", action, strempty(udev_device_get_subsystem(d)),
                  udev_device_get_sysname(d), pf->pci);
        pf->vfs_stale = true;
        manager_pf_dirty(m, pf);
}

static void on_udev_event(void *userdata, const char *action, struct udev_device *d)
{
        Manager *m = userdata;
        const char *subsystem;
        PhysicalFunction *pf;

        if (!d) {
                manager_resync(m);
                return;
        }
        subsystem = strempty(udev_device_get_subsystem(d));
        /* RDMA devices come and go (mlx5_ib probe, "rdma link add/del" for rxe, port state
         * changes arrive as "change"), and a netdev appearing or moving changes which device
         * sits on it: re-map before the next reconcile. With no device at all (the last
         * mapping found none), a netdev's event maps nothing: VF creation's thousands of net
         * events do not walk every VF again (docs/PERFORMANCE.md). */
        if (streq(subsystem, "infiniband") || (streq(subsystem, "net") && m->rdma_n_devices != 0)) {
                m->rdma_stale = true;
                m->rdma_retries = 0; /* a new event earns a new round of looks (rdma.c) */
                (void) sd_event_source_set_enabled(m->reconcile_source, SD_EVENT_ONESHOT);
        }
        if (streq(subsystem, "pci") || streq(subsystem, "netdevsim")) {
                const char *pci = udev_device_get_sysname(d);

                pf = manager_get_pf(m, pci);
                if (pf && streq(action, "remove")) {
                        manager_remove_pf(m, pf);
                        return;
                }
                /* A known VF first: its every event would otherwise try to open an attribute
                 * only PFs have. */
                if (!pf && !streq(action, "remove") && !manager_get_vf(m, pci) &&
                    (udev_device_get_sysattr_value(d, "sriov_totalvfs") ||
                     (streq(subsystem, "netdevsim") && udev_device_get_sysattr_value(d, "sriov_numvfs")))) {
                        (void) manager_add_pf(m, udev_device_get_syspath(d), NULL);
                        return;
                }
                pf = udev_device_get_syspath(d) ? pf_of_device(m, udev_device_get_syspath(d)) : NULL;
                if (!pf)
                        return;
                if (!streq(pf->pci, pci)) {
                        VirtualFunction *vf = manager_get_vf(m, pci);

                        /* A VF's own event: re-read what it can change of that VF (or find
                         * the new one), not the whole PF; VF creation sends several events
                         * per VF, and those of one loop iteration cost one read. */
                        if (vf && streq(action, "remove"))
                                pf_remove_vf(pf, vf->index);
                        else if (vf && vf_event_seen(vf, d))
                                return;
                        else if (vf)
                                vf->stale |= vf_event_parts(action);
                        pf_vfs_stale(m, pf, action, d);
                        return;
                }
        } else {
                _cleanup_free_ char *parent = class_device_parent(d, subsystem);
                VirtualFunction *vf;

                pf = parent ? pf_of_device(m, parent) : NULL;
                if (!pf) {
                        /* Another shape of path (or a device that is none of ours): ask udev. */
                        struct udev_device *p = udev_device_sriov_parent(d);

                        if (!p)
                                return; /* soft devices (rxe on a VF netdev) are handled by RDMA mapping */
                        free(parent);
                        parent = strdup(strempty(udev_device_get_syspath(p)));
                        if (!parent)
                                return (void) log_oom();
                        pf = pf_of_device(m, parent);
                        if (!pf)
                                return;
                }
                if (!streq(pf->pci, path_basename(parent))) {
                        /* On a VF: its netdev (re-read it) or RDMA device (the RDMA mapping
                         * re-reads that); the PF's VF table is unchanged. */
                        vf = manager_get_vf(m, path_basename(parent));
                        if (vf && vf_event_seen(vf, d))
                                return;
                        if (vf && streq(subsystem, "net"))
                                vf->stale |= VF_REFRESH_NETDEV;
                        pf_vfs_stale(m, pf, action, d);
                        return;
                }
                pf->link_stale = true;
        }
        log_debug("uevent %s %s %s -> PF %s", action, subsystem, udev_device_get_sysname(d), pf->pci);
        pf->needs_refresh = true;
        manager_pf_dirty(m, pf);
}

/* The kernel's uevent for a PCI function, before udevd ran its rules (driver module, netdev
 * name; 200-300 ms on a hot-plug under TCG). Used for one thing only: a PF the model does
 * not know yet, once its driver is bound, whose declaration cannot depend on the name udevd
 * is about to give its netdev: added now, so its sriov_numvfs write starts now. Everything
 * else (removal, a known PF, a VF, a PF matched by name or MAC) waits for udevd's event, as
 * before; when that comes for a PF added here it is one more refresh of an unchanged PF.
 * The races are in docs/RELIABILITY.md, "Hearing of a PF". */
static void on_kernel_event(void *userdata, const char *action, struct udev_device *d)
{
        Manager *m = userdata;
        const char *pci = udev_device_get_sysname(d), *syspath = udev_device_get_syspath(d);
        _cleanup_free_ char *vendor = NULL, *device = NULL;
        PfIdentity id = {};
        const PfConfig *c;
        uint32_t total;
        int r;

        /* "bind": the driver's probe returned and its sriov_configure exists; an "add" is
         * before the probe, whose failure would turn our write into an error. */
        if (!streq(action, "bind") || !pci || !syspath || !m->config)
                return;
        /* Known: udevd's events keep it current. A namesake whose removal udevd has not
         * delivered yet is known too: this event must not overtake that removal. */
        if (manager_get_pf(m, pci) || manager_get_vf(m, pci))
                return;
        if (sysfs_read_attr_u32(syspath, "sriov_totalvfs", &total) < 0)
                return; /* not a PF (a VF being created, most often) */
        id.pci = pci;
        if (sysfs_read_attr(syspath, "vendor", &vendor) < 0 || safe_atou16_hex(vendor, &id.vendor) < 0 ||
            sysfs_read_attr(syspath, "device", &device) < 0 || safe_atou16_hex(device, &id.device) < 0)
                return;
        r = config_set_match_before_name(m->config, &id, &c);
        if (r == 0) {
                log_object_full_errno(LOG_INFO, 0, pci, NULL,
                                      "PF %s bound; a declaration may match on its interface name or MAC, "
                                      "waiting for udevd.",
                                      pci);
                return;
        }
        if (r < 0 || !c)
                return; /* unmanaged whatever its name: nothing to start, udevd's event adds it */
        log_object_full_errno(LOG_INFO, 0, pci, NULL, "PF %s bound, declared by %s: not waiting for udevd.",
                              pci, c->file);
        r = manager_add_pf(m, syspath, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot add PF %s: %m", syspath);
}

/* ---- VF netdevs from rtnetlink ---------------------------------------------------------- */

/* A netdev on a PCI function that is not a VF the model knows, as rtnetlink last told of it.
 * VF creation announces each VF's netdev on the link monitor, most often before the refresh
 * that finds the new VF: the VF then takes these facts (pf.c) instead of reading net/,
 * net/<name>/ifindex and net/<name>/mtu, three of a new VF's seven sysfs reads. Whatever
 * the netdev does later is on the monitor after this, and reaches the VF by on_link_event().
 * Events lost (ENOBUFS) empty the table: the resync reads sysfs. */
typedef struct UnclaimedNetdev {
        char parent[32]; /* LinkInfo.parent: the key */
        char ifname[IFNAMSIZ];
        int ifindex;
        uint32_t mtu;
} UnclaimedNetdev;

/* Beyond this, netdevs are not noted and VFs read sysfs: the non-VF functions with a netdev
 * and the VFs being created at one time are far fewer. */
#define UNCLAIMED_NETDEVS_MAX 65536u

static void forget_unclaimed_netdevs(Manager *m)
{
        UnclaimedNetdev *u;

        HASHMAP_FOREACH(u, m->unclaimed_netdevs) {
                hashmap_remove(m->unclaimed_netdevs, u->parent);
                free(u);
        }
}

static void note_unclaimed_netdev(Manager *m, const LinkInfo *link, bool removed)
{
        UnclaimedNetdev *u = hashmap_get(m->unclaimed_netdevs, link->parent);

        if (removed) {
                if (u && u->ifindex == link->ifindex) {
                        hashmap_remove(m->unclaimed_netdevs, u->parent);
                        free(u);
                }
                return;
        }
        if (!u) {
                if (hashmap_size(m->unclaimed_netdevs) >= UNCLAIMED_NETDEVS_MAX)
                        return;
                u = calloc(1, sizeof(UnclaimedNetdev));
                if (!u)
                        return (void) log_oom();
                strcpy(u->parent, link->parent);
                if (hashmap_put(m->unclaimed_netdevs, u->parent, u) < 0) {
                        free(u);
                        return (void) log_oom();
                }
        }
        strcpy(u->ifname, link->ifname);
        u->ifindex = link->ifindex;
        u->mtu = link->mtu;
}

bool manager_has_unclaimed_netdev(Manager *m, const char *pci)
{
        return hashmap_get(m->unclaimed_netdevs, pci);
}

void manager_claim_netdev(Manager *m, VirtualFunction *vf)
{
        UnclaimedNetdev *u = hashmap_remove(m->unclaimed_netdevs, vf->pci);

        if (!u)
                return;
        (void) vf_set_netdev(vf, u->ifname[0] ? u->ifname : NULL, u->ifindex, u->mtu);
        m->netdevs_claimed++;
        free(u);
}

/* A link event on something that is not a PF. With the parent device in the message (Linux
 * >= 5.15), a VF's netdev is told whole: name, ifindex and MTU are set from it, no sysfs
 * read. Without, the VF's netdev is re-read if the notification shows it moved. */
static PhysicalFunction *on_vf_link_event(Manager *m, const LinkInfo *link, bool removed)
{
        VirtualFunction *vf = hashmap_get(m->vf_ifindexes, UINT_TO_PTR(link->ifindex));

        if (!vf && !isempty(link->parent))
                vf = manager_get_vf(m, link->parent);
        if (!vf) {
                PhysicalFunction *pf = isempty(link->parent) ? NULL : manager_get_pf(m, link->parent);

                /* A netdev of a PF the model has not read (new after a driver reset, or one
                 * more port of a netdevsim device): read the PF again, as its uevent would. */
                if (pf) {
                        pf->needs_refresh = true;
                        return pf;
                }
                if (streq(link->parent_bus, "pci"))
                        note_unclaimed_netdev(m, link, removed);
                return NULL;
        }
        if (streq(link->parent, vf->pci)) {
                bool changed = false;

                if (!removed)
                        changed = vf_set_netdev(vf, link->ifname, link->ifindex, link->mtu);
                else if (vf->ifindex == link->ifindex)
                        changed = vf_set_netdev(vf, NULL, 0, 0);
                if (changed)
                        manager_vf_changed(m, vf);
        } else if (removed || !streq_ptr(vf->ifname, link->ifname) || vf->mtu != link->mtu) {
                vf->stale |= VF_REFRESH_NETDEV;
                vf->pf->vfs_stale = true;
        }
        return vf->pf;
}

static void on_link_event(Netlink *nl, const LinkInfo *link, bool removed, void *userdata)
{
        Manager *m = userdata;
        PhysicalFunction *pf;

        if (!link) {
                log_warning("rtnetlink dropped events, resynchronizing.");
                forget_unclaimed_netdevs(m);
                manager_resync(m);
                return;
        }
        if (!isempty(link->parent))
                m->links_name_parents = true;
        /* A VF driver can change its MAC or MTU through the PF's mailbox, which notifies only
         * the VF's netdev: the PF's table is re-read for a VF's event too. */
        pf = hashmap_get(m->ifindexes, UINT_TO_PTR(link->ifindex));
        if (pf && !removed && !streq_ptr(pf->ifname, link->ifname))
                pf->needs_refresh = true; /* renamed: declarations may match on the name */
        else if (!pf) {
                pf = on_vf_link_event(m, link, removed);
                if (!pf)
                        return;
                removed = false; /* a VF's netdev: the PF's own stays */
        }
        /* VF settings are not in the notification: re-read them before planning (this is
         * how drift made with "ip link set ... vf" is noticed and corrected). */
        pf->link_stale = true;
        if (removed)
                pf->needs_refresh = true;
        manager_pf_dirty(m, pf);
}

static int add_pf_cb(void *userdata, const char *syspath)
{
        Manager *m = userdata;
        int r;

        r = manager_add_pf(m, syspath, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot add PF %s: %m", syspath);
        return 0;
}

void manager_resync(Manager *m)
{
        PhysicalFunction *pf;

        m->rdma_stale = true;
        HASHMAP_FOREACH(pf, m->pfs) {
                VirtualFunction *vf;

                pf->needs_refresh = true;
                pf->link_stale = true;
                /* Events were lost: every VF is read whole again. */
                PF_FOREACH_VF(vf, pf)
                        vf->stale = VF_REFRESH_ALL;
                manager_pf_dirty(m, pf);
        }
        /* New PFs that appeared while we were deaf. */
        (void) udev_enumerate_pfs(m->udev, add_pf_cb, m);
}

/* ---- readiness and status --------------------------------------------------------------- */

bool manager_is_settled(Manager *m)
{
        PhysicalFunction *pf;

        HASHMAP_FOREACH(pf, m->pfs) {
                if (pf->dirty || pf->job_running || pf->nl_steps > 0 || pf->needs_refresh || pf->vfs_stale)
                        return false;
                if (pf->state == PF_STATE_PENDING || pf->state == PF_STATE_CONFIGURING)
                        return false;
        }
        return true;
}

static void manager_send_status(Manager *m)
{
        unsigned counts[_PF_STATE_MAX] = {}, n_vfs = 0, n_alloc = 0;
        PhysicalFunction *pf;
        VirtualFunction *vf;

        if (!m->notify)
                return;
        /* Every count below is of the model: unchanged since the last status, nothing to send
         * (this runs after every reconcile pass; the walk visits every VF). */
        if (m->status_sent && m->status_generation == m->model_generation)
                return;
        m->status_sent = true;
        m->status_generation = m->model_generation;
        HASHMAP_FOREACH(pf, m->pfs) {
                counts[pf->state]++;
                PF_FOREACH_VF(vf, pf) {
                        n_vfs++;
                        n_alloc += vf->allocated;
                }
        }
        (void) sd_notifyf(
                false,
                "STATUS=%u PFs (%u configured, %u blocked, %u failed, %u unmanaged), %u VFs, %u allocated",
                (unsigned) hashmap_size(m->pfs), counts[PF_STATE_CONFIGURED], counts[PF_STATE_BLOCKED],
                counts[PF_STATE_FAILED], counts[PF_STATE_UNMANAGED], n_vfs, n_alloc);
}

void manager_update_state(Manager *m)
{
        ManagerState s = MANAGER_STATE_RUNNING;
        PhysicalFunction *pf;

        if (!m->initial_done)
                s = MANAGER_STATE_STARTING;
        else
                HASHMAP_FOREACH(pf, m->pfs)
                        if (pf->state == PF_STATE_FAILED || pf->state == PF_STATE_BLOCKED)
                                s = MANAGER_STATE_DEGRADED;
        if (s != m->state) {
                m->state = s;
                if (m->hooks && m->hooks->manager_changed)
                        m->hooks->manager_changed(m);
        }
        manager_send_status(m);
}

static void manager_mark_ready(Manager *m, const char *why)
{
        if (m->initial_done)
                return;
        m->initial_done = true;
        m->startup_deadline = sd_event_source_disable_unref(m->startup_deadline);
        log_info("Initial reconcile %s (netdevs of new VFs from rtnetlink: %" PRIu64 ").", why,
                 m->netdevs_claimed);
        (void) netdev_hint_prune(m);
        /* Pools exist before anyone is told we are ready (Allocate checks them). */
        pools_sync(m);
        if (m->notify)
                (void) sd_notify(false, "READY=1");
        manager_update_state(m);
}

static int on_startup_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
        manager_mark_ready(userdata, "still running after 90s, reporting ready anyway");
        return 0;
}

/* Brings PF's view of the kernel up to date before planning. Returns false if PF cannot be
 * planned now (gone, or its state unreadable: reported). */
static bool manager_refresh_pf(Manager *m, PhysicalFunction *pf)
{
        bool changed;
        int r;

        if (pf->job_running || pf->nl_steps > 0)
                return true; /* refreshed when its step is done and the PF is dirty again */
        if (pf->needs_refresh) {
                pf->needs_refresh = false;
                r = pf_refresh(pf);
                if (r < 0) {
                        pf->dirty = false;
                        /* Gone: its remove uevent is on the way; until then, leave it alone.
                         * Anything else is reported, and retried if that may help. */
                        if (r != -ENOENT && r != -ENODEV)
                                reconcile_pf_fail(pf, r, "reading the device state");
                        return false;
                }
                changed = r > 0;
                /* The VF table is re-read on the queue; the pass waits for it. */
                if (pf->link_stale)
                        (void) reconcile_read_link(pf, false);
                /* The netdev may have been renamed or appeared: re-match. */
                changed |= manager_assign_config(m, pf, false);
                /* Whatever moved, the bus shows it: the model diffs, observers follow. */
                if (changed)
                        manager_pf_changed(m, pf);
        } else if (pf->vfs_stale) {
                r = pf_refresh_vfs(pf);
                if (r < 0) {
                        pf->dirty = false;
                        return false;
                }
                if (r > 0)
                        manager_pf_changed(m, pf);
        }
        return true;
}

/* udevd's "net" uevents (VF creation: one per VF, 16,384 on a big host) tell nothing that
 * rtnetlink does not once it names each netdev's parent device: on_link_event() follows
 * netdevs of PFs and VFs from there. RDMA mapping still needs them while any RDMA device
 * exists (or the last mapping failed): a netdev appearing or moving can move one. Turned
 * back on, the mapping runs again for what happened while they were off. */
static void manager_update_net_uevents(Manager *m)
{
        bool want = m->net_filter_failed || !m->links_name_parents || m->rdma_n_devices != 0;
        int r;

        if (m->no_udev_monitor || want == udev_watch_get_net(m->udev))
                return;
        r = udev_watch_set_net(m->udev, want);
        if (r < 0) {
                /* Not tried again: net uevents are heard from now on, as on an older kernel. */
                m->net_filter_failed = true;
                return (void) log_warning_errno(r, "Cannot change the udev monitor's filter, hearing every "
                                                   "subsystem: %m");
        }
        if (want) {
                log_info("Listening to net uevents: RDMA devices (%d) map through netdevs.",
                         m->rdma_n_devices);
                m->rdma_stale = true;
                (void) sd_event_source_set_enabled(m->reconcile_source, SD_EVENT_ONESHOT);
        } else
                log_info("Not listening to net uevents: rtnetlink names each netdev's device.");
}

static void manager_after_pass(Manager *m)
{
        manager_update_net_uevents(m);
        /* PF names were looked up: every PF of this burst (a cold start's enumeration, the
         * uevents of one iteration) had its turn, drop pci.ids until the next one. */
        if (m->pci_names_used) {
                m->pci_names_used = false;
                pci_names_release(m->pci_names);
        }
        if (!m->initial_done && manager_is_settled(m))
                manager_mark_ready(m, "finished");
        else
                manager_update_state(m);
        if ((m->vf_churn >= m->trim_vf_churn || m->rss_trimmed_kib > 0) && manager_is_settled(m))
                (void) sd_event_source_set_enabled(m->trim_source, SD_EVENT_ONESHOT);
}

void manager_heap_check(Manager *m)
{
        if (m->rss_trimmed_kib > 0)
                (void) sd_event_source_set_enabled(m->trim_source, SD_EVENT_ONESHOT);
}

static int on_reconcile(sd_event_source *s, void *userdata)
{
        Manager *m = userdata;
        PhysicalFunction *pf;

        m->n_reconcile_passes++;
        m->vf_reads_left = MANAGER_VF_READS_PER_PASS;
        HASHMAP_FOREACH(pf, m->pfs)
                (void) manager_refresh_pf(m, pf);
        /* After the refreshes (VFs and netdevs are current), before planning (VF health
         * depends on the RDMA device); marks the PFs whose VFs changed dirty. */
        if (m->rdma_stale)
                (void) manager_refresh_rdma(m);
        HASHMAP_FOREACH(pf, m->pfs) {
                /* VFs left unread (the pass's read budget ran out): planned once read. */
                if (pf->dirty && !pf->vfs_stale)
                        reconcile_pf(pf);
        }
        manager_after_pass(m);
        return 0;
}

void manager_pf_link_read(Manager *m, PhysicalFunction *pf)
{
        if (pf->link && !isempty(pf->link->parent))
                m->links_name_parents = true;
        if (manager_assign_config(m, pf, false))
                manager_pf_changed(m, pf);
}

void manager_reconcile_pf_now(Manager *m, PhysicalFunction *pf)
{
        unsigned reads_left = m->vf_reads_left;

        m->n_reconcile_passes++;
        /* Outside the pass budget: a PF whose numvfs job just ended reads all its new VFs and
         * sends their batch now, not after udev's burst of their uevents (hot-plug latency).
         * That is one PF's worth of work per iteration: job.c hands over one finished job
         * per dispatch. */
        m->vf_reads_left = UINT_MAX;
        if (manager_refresh_pf(m, pf)) {
                if (m->rdma_stale)
                        (void) manager_refresh_rdma(m);
                if (pf->dirty && !pf->vfs_stale)
                        reconcile_pf(pf);
        }
        m->vf_reads_left = reads_left;
        manager_after_pass(m);
}

/* ---- config ----------------------------------------------------------------------------- */

static void manager_log_config_errors(Manager *m)
{
        STRV_FOREACH(e, m->config->errors)
                log_error("%s", *e);
}

/* Frees retained sets that no PF uses anymore. */
static void manager_gc_configs(Manager *m)
{
        size_t k = 0;

        for (size_t i = 0; i < m->n_retained; i++) {
                ConfigSet *set = m->retained[i];
                PhysicalFunction *pf;
                bool used = false;

                HASHMAP_FOREACH(pf, m->pfs)
                        if (pf->config >= set->pfs && pf->config < set->pfs + set->n_pfs)
                                used = true;
                if (used)
                        m->retained[k++] = set;
                else
                        config_set_free(set);
        }
        m->n_retained = k;
}

int manager_reload(Manager *m)
{
        _cleanup_(config_set_freep) ConfigSet *set = NULL;
        ConfigSet **retained;
        PhysicalFunction *pf;
        int r;

        r = config_set_load(m->root, NULL, &set);
        if (r < 0)
                return log_error_errno(r, "Cannot load configuration: %m");
        if (m->config) {
                retained = realloc(m->retained, sizeof(ConfigSet *) * (m->n_retained + 1));
                if (!retained)
                        return log_oom();
                m->retained = retained;
                m->retained[m->n_retained++] = m->config;
        }
        m->config = TAKE_PTR(set);
        m->model_generation++;
        manager_pools_dirty(m); /* declarations name pools */
        manager_log_config_errors(m);
        log_info("Loaded %zu configuration file(s), %zu PF declaration(s), %zu rejected.",
                 strv_length(m->config->files), m->config->n_pfs, strv_length(m->config->errors));

        HASHMAP_FOREACH(pf, m->pfs) {
                if (manager_assign_config(m, pf, true))
                        manager_pf_changed(m, pf);
                manager_pf_dirty(m, pf);
        }
        manager_gc_configs(m);
        if (m->hooks && m->hooks->manager_changed)
                m->hooks->manager_changed(m);
        return 0;
}

/* ---- signals and start ------------------------------------------------------------------ */

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;

        /* Leave the VFs exactly as they are: consumers keep running across our restarts. */
        log_info("Received SIG%s, exiting without touching VFs.", sigabbrev_np((int) si->ssi_signo));
        if (m->notify)
                (void) sd_notify(false, "STOPPING=1");
        return sd_event_exit(m->event, 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;

        if (m->notify)
                (void) sd_notify(false, "RELOADING=1");
        (void) manager_reload(m);
        if (m->notify)
                (void) sd_notify(false, "READY=1");
        return 0;
}

int manager_start(Manager *m)
{
        uint64_t now;
        sigset_t ss;
        int r;

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return negative_errno();
        r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sighup_source, SIGHUP, on_sighup, m);
        if (r < 0)
                return r;

        r = lease_store_open(m->state_dir, &m->leases);
        if (r < 0)
                return log_error_errno(r, "Cannot open lease store in %s: %m", m->state_dir);
        r = cdi_prune(m);
        if (r < 0)
                log_warning_errno(r, "Cannot clean CDI directory %s: %m", m->cdi_dir);
        STRV_FOREACH(e, (char **) lease_store_load_errors(m->leases))
                log_warning("Skipped lease %s", *e);
        /* Observers that end leases on their own events pick up the stored ones. */
        if (m->hooks && m->hooks->leases_loaded)
                m->hooks->leases_loaded(m);

        /* Leases bound to a process or a unit: ended if it ended while we were down. */
        r = manager_rearm_bindings(m);
        if (r < 0)
                return r;

        r = manager_reload(m);
        if (r < 0)
                return r;
        /* Monitors before enumeration, so nothing that happens in between is lost. */
        if (!m->no_udev_monitor) {
                r = udev_watch_start_monitor(m->udev, m->event, on_udev_event, m);
                if (r < 0)
                        return log_error_errno(r, "Cannot start udev monitor: %m");
                udev_watch_set_skip(m->udev, on_udev_event_skip);
                /* A head start only: without it, udevd's events bring the same PFs later. */
                if (m->kernel_uevents) {
                        r = udev_watch_start_kernel_monitor(m->udev, m->event, on_kernel_event);
                        if (r < 0)
                                log_warning_errno(r, "Cannot listen to kernel uevents, hearing of PFs from "
                                                     "udevd only: %m");
                }
        }
        if (!m->no_netlink_monitor) {
                r = netlink_monitor_start(m->netlink, m->event, on_link_event, m);
                if (r < 0)
                        return log_error_errno(r, "Cannot start rtnetlink monitor: %m");
        }
        r = udev_enumerate_pfs(m->udev, add_pf_cb, m);
        if (r < 0)
                return log_error_errno(r, "Cannot enumerate PCI devices: %m");
        m->rdma_stale = true;

        r = sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (r >= 0)
                r = sd_event_add_time(m->event, &m->startup_deadline, CLOCK_MONOTONIC,
                                      now + STARTUP_DEADLINE_USEC, 0, on_startup_deadline, m);
        if (r < 0)
                return r;
        /* Nothing to do at all (no SR-IOV devices): ready right away. */
        (void) sd_event_source_set_enabled(m->reconcile_source, SD_EVENT_ONESHOT);
        return 0;
}

int manager_run_until(Manager *m, bool (*cond)(Manager *m, void *userdata), void *userdata, uint64_t usec)
{
        uint64_t start, now;
        int r;

        r = sd_event_now(m->event, CLOCK_MONOTONIC, &start);
        if (r < 0)
                return r;
        for (;;) {
                if (cond(m, userdata))
                        return 1;
                r = sd_event_now(m->event, CLOCK_MONOTONIC, &now);
                if (r < 0)
                        return r;
                if (now - start >= usec)
                        return 0;
                r = sd_event_run(m->event, usec - (now - start));
                if (r < 0)
                        return r;
        }
}
