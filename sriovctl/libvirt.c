/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "lease.h"
#include "libvirt.h"
#include "log.h"
#include "sriovctl.h"
#include "util.h"

static int pci_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void xml_escaped(const char *s)
{
        for (; *s; s++)
                switch (*s) {
                case '&':
                        fputs("&amp;", stdout);
                        break;
                case '<':
                        fputs("&lt;", stdout);
                        break;
                case '>':
                        fputs("&gt;", stdout);
                        break;
                case '\'':
                        fputs("&apos;", stdout);
                        break;
                case '"':
                        fputs("&quot;", stdout);
                        break;
                default:
                        putchar(*s);
                }
}

static int pool_exists(sd_bus *bus, const char *pool)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path, *name;
        uint32_t total, free_;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "ListPools", &error, &reply, NULL);
        if (r < 0)
                return log_bus_error(&error, r, "list pools");
        r = sd_bus_message_enter_container(reply, 'a', "(osuu)");
        while (r >= 0) {
                r = sd_bus_message_read(reply, "(osuu)", &path, &name, &total, &free_);
                if (r > 0 && streq(name, pool))
                        return 1;
                if (r == 0)
                        return 0;
        }
        return log_error_errno(r, "Failed to parse ListPools reply: %m");
}

/* Every VF of the pool, leased or not: the network names the pool once, and the hook
 * (libexec/sriovd-libvirt-hook) checks each lease when libvirt hands a VF out. Sorted by
 * PCI address, so the same pool always prints the same XML. */
int verb_libvirt_network(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(strv_freep) char **pcis = NULL;
        const char *pool = args[0];
        size_t n;
        int r;

        r = pool_exists(bus, pool);
        if (r < 0)
                return r;
        if (r == 0)
                return log_error_errno(ENOENT, "No such pool: %s", pool);

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "ListVirtualFunctions", &error,
                               &reply, "s", pool);
        if (r < 0)
                return log_bus_error(&error, r, "list virtual functions");
        r = sd_bus_message_enter_container(reply, 'a', "(osoussb)");
        while (r >= 0) {
                const char *path, *pci, *pf, *ifname, *vpool;
                uint32_t idx;
                int allocated;

                r = sd_bus_message_read(reply, "(osoussb)", &path, &pci, &pf, &idx, &ifname, &vpool,
                                        &allocated);
                if (r <= 0)
                        break;
                if (!pci_address_is_valid(pci))
                        return log_error_errno(EINVAL, "sriovd sent an invalid PCI address: %s", pci);
                if (strv_extend(&pcis, pci) < 0)
                        return log_oom();
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse ListVirtualFunctions reply: %m");
        n = strv_length(pcis);
        if (n == 0)
                return log_error_errno(ENOENT, "Pool %s has no VFs: a hostdev network needs at least one.",
                                       pool);
        qsort(pcis, n, sizeof(char *), pci_cmp);

        fputs("<network>\n  <name>sriovd-", stdout);
        xml_escaped(pool);
        fputs("</name>\n  <forward mode='hostdev' managed='yes'>\n", stdout);
        for (size_t i = 0; i < n; i++) {
                unsigned dom, bus_, slot, fn;

                if (sscanf(pcis[i], "%x:%x:%x.%x", &dom, &bus_, &slot, &fn) != 4)
                        return log_error_errno(EINVAL, "sriovd sent an invalid PCI address: %s", pcis[i]);
                printf("    <address type='pci' domain='0x%04x' bus='0x%02x' slot='0x%02x' "
                       "function='0x%x'/>\n",
                       dom, bus_, slot, fn);
        }
        fputs("  </forward>\n</network>\n", stdout);
        return 0;
}
