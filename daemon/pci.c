/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <malloc.h>
#include <pci/pci.h>
#include <setjmp.h>
#include <stdarg.h>

#include "log.h"
#include "pci.h"

struct PciNames {
        struct pci_access *access;
};

static void pci_warning_handler(char *msg, ...)
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

_noreturn_ static void pci_error_handler(char *msg, ...)
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
        return mfree(p);
}

static char *lookup(PciNames *p, int flags, uint16_t vendor, uint16_t device)
{
        char buf[256];
        char *volatile n = NULL;
        jmp_buf jb;

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
        char *n = lookup(p, PCI_LOOKUP_DEVICE, vendor, device);

        /* libpci keeps all of pci.ids parsed in memory once loaded: ~2 MiB, half of the idle
         * daemon's heap. Names are looked up once per PF (vendor, then device), so drop the
         * list after each pair and load it again on the next PF. */
        pci_free_name_list(p->access);
        /* ...and give those pages back: the list is freed in thousands of small chunks
         * that would otherwise stay resident in the middle of the heap. */
        (void) malloc_trim(0);
        return n;
}
