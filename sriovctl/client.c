/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Talking to sriovd: connecting, fetching the object tree, resolving the names users give, and
 * turning bus errors into one friendly line. */

#include <systemd/sd-bus.h>

#include "client.h"
#include "log.h"
#include "sriovctl.h"
#include "util.h"

static const struct {
        const char *name;
        const char *text;
} error_table[] = {
        {"org.sriovd1.Error.NoSuchPool", "no such pool"},
        {"org.sriovd1.Error.PoolExhausted", "no free, healthy VF left in the pool"},
        {"org.sriovd1.Error.NotAllocated", "the VF is not allocated"},
        {"org.sriovd1.Error.NotOwner", "the VF is allocated to a different owner"},
        {"org.sriovd1.Error.InUse", "in use"},
        {"org.sriovd1.Error.InvalidArgument", "invalid argument"},
        {SD_BUS_ERROR_ACCESS_DENIED,
         "access denied (needs root or polkit authorization for org.sriovd1.manage)"},
        {SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
         "authorization required (needs root or polkit authorization for org.sriovd1.manage)"},
        {SD_BUS_ERROR_SERVICE_UNKNOWN, "sriovd is not running"},
        {SD_BUS_ERROR_NAME_HAS_NO_OWNER, "sriovd is not running"},
        {SD_BUS_ERROR_NO_REPLY, "sriovd did not reply in time"},
        {SD_BUS_ERROR_TIMEOUT, "sriovd did not reply in time"},
        {SD_BUS_ERROR_UNKNOWN_METHOD, "sriovd does not know this call (version mismatch?)"},
        {SD_BUS_ERROR_UNKNOWN_OBJECT, "no such object"},
};

/* One line, always: "Failed to WHAT: friendly text (daemon's message)". */
int log_bus_error(const sd_bus_error *e, int r, const char *what)
{
        const char *friendly = NULL;
        char msg[512] = "";

        if (sd_bus_error_is_set(e)) {
                for (size_t i = 0; i < ELEMENTSOF(error_table); i++)
                        if (sd_bus_error_has_name(e, error_table[i].name))
                                friendly = error_table[i].text;
                snprintf(msg, sizeof(msg), "%s", strempty(e->message));
                for (char *c = msg; *c; c++)
                        if ((unsigned char) *c < 0x20)
                                *c = ' ';
        }
        if (friendly && *msg && !streq(msg, friendly))
                log_error("Failed to %s: %s (%s)", what, friendly, msg);
        else if (friendly || *msg)
                log_error("Failed to %s: %s", what, friendly ?: msg);
        else
                log_error_errno(r, "Failed to %s: %m", what);
        return -abs(r ?: EIO);
}

int bus_connect(sd_bus **ret)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *address = arg_address;
        int r;

        if (!address && !arg_system)
                address = getenv("SRIOVD_BUS_ADDRESS");

        if (address) {
                r = sd_bus_new(&bus);
                if (r < 0)
                        return log_error_errno(r, "Failed to allocate bus: %m");
                (void) sd_bus_set_description(bus, "sriovctl");
                r = sd_bus_set_address(bus, address);
                if (r < 0)
                        return log_error_errno(r, "Invalid bus address '%s': %m", address);
                (void) sd_bus_set_bus_client(bus, 1);
                r = sd_bus_start(bus);
                if (r < 0)
                        return log_error_errno(r, "Failed to connect to bus %s: %m", address);
        } else {
                r = sd_bus_open_system_with_description(&bus, "sriovctl");
                if (r < 0)
                        return log_error_errno(r, "Failed to connect to the system bus: %m");
        }
        (void) sd_bus_set_allow_interactive_authorization(bus, arg_ask_password);
        *ret = TAKE_PTR(bus);
        return 0;
}

int fetch_all(sd_bus *bus, ObjectSet **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL, *mgr = NULL;
        _cleanup_(object_set_freep) ObjectSet *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", &error, &reply, NULL);
        if (r < 0)
                return log_bus_error(&error, r, "list objects");
        r = object_set_read_managed(s, reply);
        if (r < 0)
                return log_error_errno(r, "Failed to parse GetManagedObjects reply: %m");

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, "org.freedesktop.DBus.Properties", "GetAll", &error,
                               &mgr, "s", IFACE_MANAGER);
        if (r < 0)
                return log_bus_error(&error, r, "get manager properties");
        r = object_set_read_manager(s, mgr);
        if (r < 0)
                return log_error_errno(r, "Failed to parse manager properties: %m");

        object_set_sort(s);
        *ret = TAKE_PTR(s);
        return 0;
}

int fetch_object(sd_bus *bus, const char *path, const char *iface, ObjectSet **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(object_set_freep) ObjectSet *s = NULL;
        Object *o;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        r = sd_bus_call_method(bus, BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll", &error,
                               &reply, "s", iface);
        if (r < 0)
                return log_bus_error(&error, r, "get properties");
        r = object_set_add(s, path, iface, &o);
        if (r < 0)
                return log_oom();
        r = object_read_props(reply, o);
        if (r < 0)
                return log_error_errno(r, "Failed to parse properties of %s: %m", path);
        *ret = TAKE_PTR(s);
        return 0;
}

const Object *find_pf(const ObjectSet *s, const char *arg)
{
        for (size_t i = 0; i < s->n_objects; i++) {
                const Object *o = &s->objects[i];
                if (!streq(o->iface, IFACE_PF))
                        continue;
                if (streq(o->path, arg) || streq(object_str(o, "PCIAddress"), arg) ||
                    (!isempty(object_str(o, "Interface")) && streq(object_str(o, "Interface"), arg)))
                        return o;
        }
        return NULL;
}

/* A VF given as object path, PCI address or netdev name -> object path. */
int resolve_vf(sd_bus *bus, const char *arg, char **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if (arg[0] == '/') {
                if (!sd_bus_object_path_is_valid(arg))
                        return log_error_errno(EINVAL, "Invalid object path: %s", arg);
                *ret = strdup(arg);
                return *ret ? 0 : log_oom();
        }

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "ListVirtualFunctions", &error,
                               &reply, "s", "");
        if (r < 0)
                return log_bus_error(&error, r, "list virtual functions");
        r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "(osoussb)");
        if (r < 0)
                return log_error_errno(r, "Failed to parse ListVirtualFunctions reply: %m");
        for (;;) {
                const char *path, *pci, *pf, *ifname, *pool;
                uint32_t idx;
                int allocated;

                r = sd_bus_message_read(reply, "(osoussb)", &path, &pci, &pf, &idx, &ifname, &pool,
                                        &allocated);
                if (r < 0)
                        return log_error_errno(r, "Failed to parse ListVirtualFunctions reply: %m");
                if (r == 0)
                        break;
                if (streq(pci, arg) || (!isempty(ifname) && streq(ifname, arg))) {
                        *ret = strdup(path);
                        return *ret ? 0 : log_oom();
                }
        }
        return log_error_errno(
                ENOENT,
                "No such virtual function: %s (expected an object path, PCI address or interface name)",
                arg);
}
