/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Leases: allocate and release. */

#include <inttypes.h>
#include <systemd/sd-bus.h>

#include "allocate.h"
#include "bind.h"
#include "client.h"
#include "lease.h"
#include "log.h"
#include "objects.h"
#include "output.h"
#include "sriovctl.h"
#include "util.h"

int verb_allocate(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(object_set_freep) ObjectSet *all = NULL, *vf = NULL;
        _cleanup_free_ char *what = NULL;
        const char *pool = args[0], *path, *pf = arg_pf;
        const Object *o;
        int r;

        if (!arg_owner)
                return log_error_errno(EINVAL, "allocate needs --owner=OWNER.");
        if (!lease_owner_is_valid(arg_owner))
                return log_error_errno(EINVAL,
                                       "Invalid owner: 1-%d bytes of UTF-8 without control characters.",
                                       LEASE_OWNER_MAX);
        /* The hint carries a PF PCI address; let users name the PF as they see it. */
        if (pf && !pci_address_is_valid(pf)) {
                const Object *p;
                r = fetch_all(bus, &all);
                if (r < 0)
                        return r;
                p = find_pf(all, pf);
                if (!p)
                        return log_error_errno(ENOENT, "No such physical function: %s", pf);
                pf = object_str(p, "PCIAddress");
        }

        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "Allocate");
        if (r < 0)
                return log_oom();
        r = sd_bus_message_append(m, "ss", pool, arg_owner);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && arg_have_numa)
                r = sd_bus_message_append(m, "{sv}", "numa_node", "i", (int32_t) arg_numa);
        if (r >= 0 && pf)
                r = sd_bus_message_append(m, "{sv}", "pf", "s", pf);
        if (r >= 0 && arg_pci)
                r = sd_bus_message_append(m, "{sv}", "pci", "s", arg_pci);
        if (r >= 0)
                r = bind_append_hints(m); /* bind.c */
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return log_error_errno(r, "Failed to build Allocate call: %m");

        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                (void) asprintf_safe(&what, "allocate from pool '%s'", pool);
                return log_bus_error(&error, r, what ?: "allocate");
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return log_error_errno(r, "Failed to parse Allocate reply: %m");

        r = fetch_object(bus, path, IFACE_VF, &vf);
        if (r < 0)
                return r;
        o = &vf->objects[0];
        if (bind_print_cdi(object_str(o, "PCIAddress")))
                return 0;
        if (arg_json) {
                json_object(o, false);
                putchar('\n');
                return 0;
        }
        printf("Allocated %s", object_str(o, "PCIAddress"));
        if (!isempty(object_str(o, "Interface")))
                printf(" (%s)", object_str(o, "Interface"));
        else if (!isempty(object_str(o, "VFIODevice")))
                printf(" (%s)", object_str(o, "VFIODevice"));
        printf(" from pool %s to %s: %s\n", pool, arg_owner, path);
        return 0;
}

int verb_release(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL, *what = NULL;
        int r;

        if (!arg_owner)
                return log_error_errno(EINVAL, "release needs --owner=OWNER.");
        if (!lease_owner_is_valid(arg_owner))
                return log_error_errno(EINVAL,
                                       "Invalid owner: 1-%d bytes of UTF-8 without control characters.",
                                       LEASE_OWNER_MAX);

        if (arg_all) {
                uint32_t n;

                if (args[0])
                        return log_error_errno(EINVAL, "release --all takes no VF argument.");
                r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "ReleaseOwner", &error,
                                       &reply, "s", arg_owner);
                if (r < 0)
                        return log_bus_error(&error, r, "release VFs of owner");
                r = sd_bus_message_read(reply, "u", &n);
                if (r < 0)
                        return log_error_errno(r, "Failed to parse ReleaseOwner reply: %m");
                if (arg_json)
                        printf("{\"Released\":%" PRIu32 "}\n", n);
                else
                        printf("Released %" PRIu32 " VF%s of %s.\n", n, n == 1 ? "" : "s", arg_owner);
                return 0;
        }
        if (!args[0])
                return log_error_errno(
                        EINVAL, "release needs a VF (object path, PCI address or interface) or --all.");

        r = resolve_vf(bus, args[0], &path);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "Release", &error, NULL, "os", path,
                               arg_owner);
        if (r < 0) {
                (void) asprintf_safe(&what, "release %s", args[0]);
                return log_bus_error(&error, r, what ?: "release");
        }
        return 0;
}
