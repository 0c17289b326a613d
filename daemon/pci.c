/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <malloc.h>
#include <pci/pci.h>
#include <setjmp.h>
#include <stdarg.h>
#include <systemd/sd-hwdb.h>

#include "log.h"
#include "pci.h"
#include "util.h"

struct PciNames {
        char *sysfs_path;
        struct pci_access *access;
        struct pci_access *config; /* a second instance with a device access method */
        sd_hwdb *hwdb;             /* open from a burst's first lookup to pci_names_release() */
        bool no_hwdb;
};

_printf_(1, 2) static void pci_warning_handler(char *msg, ...)
{
        char buf[512];
        va_list ap;

        va_start(ap, msg);
        vsnprintf(buf, sizeof(buf), msg, ap);
        va_end(ap);
        log_debug("libpci: %s", buf);
}

/* libpci declares its error handler noreturn and exit()s by default. We jump back to the
 * call that failed instead, and that call returns "unknown". */
static __thread jmp_buf *error_jump;

_printf_(1, 2) _noreturn_ static void pci_error_handler(char *msg, ...)
{
        char buf[512];
        va_list ap;

        va_start(ap, msg);
        vsnprintf(buf, sizeof(buf), msg, ap);
        va_end(ap);
        log_debug("libpci error: %s", buf);
        if (error_jump)
                longjmp(*error_jump, 1);
        abort(); /* unreachable: every libpci call is wrapped */
}

int pci_names_new(bool no_hwdb, PciNames **ret)
{
        PciNames *p;

        p = calloc(1, sizeof(PciNames));
        if (!p)
                return -ENOMEM;
        p->access = pci_alloc();
        if (!p->access) {
                free(p);
                return -ENOMEM;
        }
        p->access->error = pci_error_handler;
        p->access->warning = pci_warning_handler;
        p->access->debug = pci_warning_handler;
        p->no_hwdb = no_hwdb;
        if (no_hwdb)
                p->access->id_lookup_mode |= PCI_LOOKUP_NO_HWDB;
        /* We look up names only: no bus scan, so no pci_init(). */
        *ret = p;
        return 0;
}

PciNames *pci_names_free(PciNames *p)
{
        if (!p)
                return NULL;
        pci_cleanup(p->access);
        if (p->config)
                pci_cleanup(p->config);
        sd_hwdb_unref(p->hwdb);
        free(p->sysfs_path);
        return mfree(p);
}

/* The udev hwdb's answer: an mmap()ed trie, a few pages touched per lookup. The keys are
 * the ones udev's hwdb files and libpci use (20-pci-vendor-model.hwdb). */
static char *hwdb_lookup(PciNames *p, int flags, uint16_t vendor, uint16_t device)
{
        char modalias[32];
        const char *v;

        if (!p->hwdb && sd_hwdb_new(&p->hwdb) < 0)
                return NULL;
        if (flags == PCI_LOOKUP_VENDOR)
                snprintf(modalias, sizeof(modalias), "pci:v%08X", vendor);
        else
                snprintf(modalias, sizeof(modalias), "pci:v%08Xd%08X", vendor, device);
        if (sd_hwdb_get(p->hwdb, modalias,
                        flags == PCI_LOOKUP_VENDOR ? "ID_VENDOR_FROM_DATABASE" : "ID_MODEL_FROM_DATABASE",
                        &v) < 0 ||
            isempty(v))
                return NULL;
        return strdup(v);
}

static char *lookup(PciNames *p, int flags, uint16_t vendor, uint16_t device)
{
        char buf[256];
        char *volatile n = NULL;
        jmp_buf jb;

        /* No PCI vendor (netdevsim's PFs read 0; 0xffff is a function that is gone): nothing
         * to find, and the hwdb's "no" would send us to parse all of pci.ids, ~200 ms of a
         * cold start under TCG (docs/PERFORMANCE.md). */
        if (vendor == 0 || vendor == 0xffff)
                return NULL;
        /* The udev hwdb first, asked directly: libpci's own lookup parses all 1.3 MB of
         * pci.ids first (PCI_LOOKUP_SKIP_LOCAL skips the hwdb too, not only pci.ids), ~25 ms
         * natively and 65-300 ms under TCG per PF, on the path from a hot-plugged PF to its
         * count write (docs/PERFORMANCE.md). pci.ids only when the hwdb has no answer. */
        if (!p->no_hwdb) {
                n = hwdb_lookup(p, flags, vendor, device);
                if (n)
                        return n;
        }
        if (setjmp(jb) == 0) {
                error_jump = &jb;
                n = pci_lookup_name(p->access, buf, sizeof(buf), flags | PCI_LOOKUP_NO_NUMBERS, (int) vendor,
                                    (int) device);
        }
        error_jump = NULL;
        return n ? strdup(n) : NULL;
}

char *pci_names_vendor(PciNames *p, uint16_t vendor)
{
        return lookup(p, PCI_LOOKUP_VENDOR, vendor, 0);
}

char *pci_names_device(PciNames *p, uint16_t vendor, uint16_t device)
{
        return lookup(p, PCI_LOOKUP_DEVICE, vendor, device);
}

void pci_names_release(PciNames *p)
{
        /* Names are looked up once per PF: what the lookups loaded is dropped once the PFs of
         * one burst have theirs (64 at a cold start: one hwdb open and at most one pci.ids
         * parse, not 64). The hwdb's mapping is ~10 MiB of address space. */
        if (!p)
                return;
        p->hwdb = sd_hwdb_unref(p->hwdb);
        if (!p->access->id_hash && !p->access->id_load_failed)
                return;
        /* libpci keeps all of pci.ids parsed in memory once loaded (~2 MiB, half of the idle
         * daemon's heap)... */
        pci_free_name_list(p->access);
        /* ...and give those pages back: the list is freed in thousands of small chunks
         * that would otherwise stay resident in the middle of the heap. */
        (void) malloc_trim(0);
}

int pci_names_set_sysfs_path(PciNames *p, const char *path)
{
        return free_and_strdup(&p->sysfs_path, path) < 0 ? -ENOMEM : 0;
}

/* Offsets in the SR-IOV extended capability (PCIe spec 9.3.3). */
#define SRIOV_INITIAL_VF 0x0c
#define SRIOV_TOTAL_VF   0x0e
#define SRIOV_VF_OFFSET  0x14
#define SRIOV_VF_STRIDE  0x16
#define SRIOV_VF_DID     0x1a

int pci_read_sriov_cap(PciNames *p, const char *pci_address, PciSriovCap *ret)
{
        unsigned domain, bus, dev, func;
        struct pci_dev *volatile d = NULL;
        volatile int r = -EIO;
        PciSriovCap cap = {};
        jmp_buf jb;

        if (sscanf(pci_address, "%x:%x:%x.%x", &domain, &bus, &dev, &func) != 4)
                return -EINVAL;
        if (setjmp(jb) == 0) {
                struct pci_cap *c;

                error_jump = &jb;
                if (!p->config) {
                        p->config = pci_alloc();
                        if (!p->config) {
                                r = -ENOMEM;
                                goto out;
                        }
                        p->config->error = pci_error_handler;
                        p->config->warning = pci_warning_handler;
                        p->config->debug = pci_warning_handler;
                        /* sysfs only: the same files as everything else reads (and a test tree). */
                        p->config->method = PCI_ACCESS_SYS_BUS_PCI;
                        if (p->sysfs_path)
                                pci_set_param(p->config, (char *) "sysfs.path", p->sysfs_path);
                        pci_init(p->config);
                }
                d = pci_get_dev(p->config, (int) domain, (int) bus, (int) dev, (int) func);
                if (!d) {
                        r = -ENODEV;
                        goto out;
                }
                /* Extended capabilities live past the first 256 bytes of config space. */
                if (!(pci_fill_info(d, PCI_FILL_EXT_CAPS) & PCI_FILL_EXT_CAPS)) {
                        r = -EACCES;
                        goto out;
                }
                c = pci_find_cap(d, PCI_EXT_CAP_ID_SRIOV, PCI_CAP_EXTENDED);
                if (!c) {
                        r = -ENOENT;
                        goto out;
                }
                cap.initial_vfs = pci_read_word(d, c->addr + SRIOV_INITIAL_VF);
                cap.total_vfs = pci_read_word(d, c->addr + SRIOV_TOTAL_VF);
                cap.vf_offset = pci_read_word(d, c->addr + SRIOV_VF_OFFSET);
                cap.vf_stride = pci_read_word(d, c->addr + SRIOV_VF_STRIDE);
                cap.vf_device = pci_read_word(d, c->addr + SRIOV_VF_DID);
                r = 0;
        }
out:
        error_jump = NULL;
        if (d)
                pci_free_dev(d);
        if (r >= 0)
                *ret = cap;
        return r;
}
