/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The model's side of RDMA: which device (rdma.c reads them) sits on which PF and VF, and
 * a retry timer for soft devices whose netdev the kernel fills in later. */

#include <limits.h>

#include "log.h"
#include "manager.h"
#include "rdma-assign.h"
#include "udev.h"
#include "util.h"

static bool port_on_netdev(const RdmaPort *p, int ifindex, const char *ifname)
{
        for (size_t i = 0; ifindex > 0 && i < p->n_ndevs; i++)
                if (p->ndev_ifindexes[i] == ifindex)
                        return true;
        return ifname && strv_contains(p->ndev_names, ifname);
}

/* The port of d that serves the function, or NULL if d is not on it: by PCI parent (then the
 * port whose GID netdev is ours, else port 1), or by GID table netdev (soft RoCE). */
static const RdmaPort *rdma_device_port_on(const RdmaDevice *d, const char *pci, int ifindex,
                                           const char *ifname, bool *ret_match)
{
        bool by_pci = d->pci && streq(d->pci, pci);

        *ret_match = by_pci;
        for (size_t i = 0; i < d->n_ports; i++)
                if (port_on_netdev(&d->ports[i], ifindex, ifname)) {
                        *ret_match = true;
                        return &d->ports[i];
                }
        return by_pci && d->n_ports > 0 ? &d->ports[0] : NULL;
}

static bool vf_assign(VirtualFunction *vf, RdmaDevice *const *devs, size_t n)
{
        const RdmaDevice *dev = NULL;
        const RdmaPort *port = NULL;
        bool changed = false;

        for (size_t i = 0; i < n && !dev; i++) {
                bool match;
                const RdmaPort *p = rdma_device_port_on(devs[i], vf->pci, vf->ifindex, vf->ifname, &match);

                if (match) {
                        dev = devs[i];
                        port = p;
                }
        }
        changed |= free_and_strdup(&vf->rdma_device, dev ? dev->name : NULL) > 0;
#define ASSIGN(field, value)                        \
        do {                                        \
                __typeof__(vf->field) _v = (value); \
                changed |= vf->field != _v;         \
                vf->field = _v;                     \
        } while (0)
        ASSIGN(rdma_port, port ? port->num : 0);
        ASSIGN(rdma_port_state, port ? port->state : RDMA_PORT_NOP);
        ASSIGN(rdma_link_layer, port ? port->link_layer : RDMA_LINK_LAYER_UNKNOWN);
        ASSIGN(rdma_node_guid, dev ? dev->node_guid : 0);
        ASSIGN(rdma_port_guid, port ? port->port_guid : 0);
#undef ASSIGN
        return changed;
}

static bool strv_equal(char *const *a, char *const *b)
{
        for (; a && *a && b && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return (!a || !*a) && (!b || !*b);
}

void rdma_assign(Manager *m, RdmaDevice *const *devs, size_t n)
{
        PhysicalFunction *pf;
        VirtualFunction *vf;

        HASHMAP_FOREACH(pf, m->pfs) {
                _cleanup_(strv_freep) char **names = NULL;
                bool dirty = false;

                for (size_t i = 0; i < n; i++) {
                        bool match;

                        (void) rdma_device_port_on(devs[i], pf->pci, pf->ifindex, pf->ifname, &match);
                        if (match && strv_extend(&names, devs[i]->name) < 0) {
                                log_oom();
                                return;
                        }
                }
                if (!strv_equal(names, pf->rdma_devices)) {
                        strv_free(pf->rdma_devices);
                        pf->rdma_devices = TAKE_PTR(names);
                        manager_pf_changed(m, pf);
                }
                PF_FOREACH_VF(vf, pf) {
                        if (!vf_assign(vf, devs, n))
                                continue;
                        log_vf_full_errno(vf, LOG_DEBUG, 0, "VF %s: RDMA device %s, port %u %s", vf->pci,
                                          strna(vf->rdma_device), vf->rdma_port,
                                          rdma_port_state_to_string(vf->rdma_port_state));
                        manager_vf_changed(m, vf);
                        dirty = true;
                }
                /* Health of rdma = true VFs depends on this: re-evaluate. */
                if (dirty)
                        manager_pf_dirty(m, pf);
        }
}

static int on_rdma_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;

        m->rdma_retry_source = sd_event_source_disable_unref(m->rdma_retry_source);
        m->rdma_stale = true;
        (void) sd_event_source_set_enabled(m->reconcile_source, SD_EVENT_ONESHOT);
        return 0;
}

/* A soft device (rxe) with no PCI parent maps through its GID table's netdev, which the
 * kernel fills from a workqueue after the device's "add" uevent, and no event announces it.
 * So when such a device has no netdev yet, look again a few times (0.25 s, 0.5 s ... 4 s,
 * then wait for the next event): a timer only while something is actually pending. */
static void rdma_schedule_retry(Manager *m, RdmaDevice *const *devs, size_t n)
{
        bool unresolved = false;
        uint64_t now;

        for (size_t i = 0; i < n && !unresolved; i++) {
                if (devs[i]->pci)
                        continue;
                unresolved = true;
                for (size_t p = 0; p < devs[i]->n_ports; p++)
                        if (devs[i]->ports[p].n_ndevs > 0 || devs[i]->ports[p].ndev_names)
                                unresolved = false;
        }
        if (!unresolved) {
                m->rdma_retries = 0;
                return;
        }
        if (m->rdma_retry_source || m->rdma_retries >= 5 || !m->event)
                return;
        if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        (void) sd_event_add_time(m->event, &m->rdma_retry_source, CLOCK_MONOTONIC,
                                 now + (250000ULL << m->rdma_retries), 0, on_rdma_retry, m);
        m->rdma_retries++;
}

int manager_refresh_rdma(Manager *m)
{
        RdmaDevice **devs = NULL;
        size_t n = 0;
        int r;

        m->rdma_stale = false;
        r = rdma_enumerate(udev_watch_get_udev(m->udev), &devs, &n);
        if (r < 0) {
                m->rdma_n_devices = -1; /* unknown: every net event and new VF re-maps */
                return log_debug_errno(r, "Cannot enumerate RDMA devices: %m");
        }
        m->rdma_n_devices = (int) MIN(n, (size_t) INT_MAX);
        rdma_assign(m, devs, n);
        rdma_schedule_retry(m, devs, n);
        rdma_device_list_free(devs, n);
        return 0;
}
