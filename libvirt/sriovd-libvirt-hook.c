/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sriovd's libvirt hook: a domain or network port that uses a VF of a sriovd pool takes a
 * lease on it (owner "libvirt:<uuid>") before libvirt hands it to a guest, and gives it back
 * when the domain or port goes. A VF leased to anyone else makes the hook fail, and libvirt
 * then fails the start or the port creation with the hook's message.
 *
 * Installed as libexecdir/sriovd-libvirt-hook and off until an admin links it into
 * libvirt's hook directories (docs/integrations.md):
 *   /etc/libvirt/hooks/qemu.d/50-sriovd     OBJECT prepare|release|reconnect|attach ...
 *   /etc/libvirt/hooks/network.d/50-sriovd  NETWORK port-created|port-deleted ...
 * libvirt passes the domain XML (qemu) or <hookData> with <network> and <networkport>
 * (network) on stdin. What the hook is run for is told by that XML's root element, not by
 * its own path, so one binary serves both directories.
 *
 * It is C with libxml2 (which every libvirt host has) because the XML is the input that
 * decides which device is taken: parsing it with a real parser is the only safe way. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <systemd/sd-bus.h>

#include "lease.h"
#include "macro.h"
#include "util.h"

#define BUS_NAME      "org.sriovd1"
#define ROOT_PATH     "/org/sriovd1"
#define IFACE_MANAGER "org.sriovd1.Manager"
#define IFACE_VF      "org.sriovd1.VirtualFunction"
#define INPUT_MAX     (16u * 1024u * 1024u)
#define PCI_MAX       16 /* "DDDD:BB:DD.F" */

typedef enum HookAction {
        ACTION_NONE,
        ACTION_TAKE,             /* fail if a VF is leased elsewhere */
        ACTION_TAKE_BEST_EFFORT, /* libvirt reconnecting to a running guest: never fail */
        ACTION_RELEASE,
} HookAction;

static void hook_error(const char *fmt, ...) _printf_(1, 2);
static void hook_error(const char *fmt, ...)
{
        va_list ap;

        fputs("sriovd: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static void xml_docp(xmlDoc **d)
{
        if (*d)
                xmlFreeDoc(*d);
}

static void xml_charp(xmlChar **s)
{
        if (*s)
                xmlFree(*s);
}

static bool node_is(const xmlNode *n, const char *name)
{
        return n && n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *) name);
}

static xmlNode *child(const xmlNode *n, const char *name)
{
        if (!n)
                return NULL;
        for (xmlNode *c = n->children; c; c = c->next)
                if (node_is(c, name))
                        return c;
        return NULL;
}

static bool prop_is(xmlNode *n, const char *name, const char *want)
{
        _cleanup_(xml_charp) xmlChar *v = xmlGetProp(n, (const xmlChar *) name);

        return v ? streq((const char *) v, want) : want == NULL;
}

static int read_all(FILE *f, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                size_t k;

                if (len == cap) {
                        char *t;

                        if (cap >= INPUT_MAX)
                                return -EFBIG;
                        cap = cap ? cap * 2 : 16384;
                        t = realloc(buf, cap + 1);
                        if (!t)
                                return -ENOMEM;
                        buf = t;
                }
                k = fread(buf + len, 1, cap - len, f);
                len += k;
                if (k == 0)
                        break;
        }
        if (ferror(f))
                return -EIO;
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* <address domain='0x0000' bus='0x01' slot='0x10' function='0x0'/> -> "0000:01:10.0". */
static int address_to_pci(xmlNode *a, char ret[static PCI_MAX])
{
        static const char *const names[] = {"domain", "bus", "slot", "function"};
        static const unsigned long limits[] = {0xffff, 0xff, 0x1f, 0x7};
        unsigned long v[4];

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_(xml_charp) xmlChar *s = xmlGetProp(a, (const xmlChar *) names[i]);
                char *end;

                if (!s || !*s)
                        return -EINVAL;
                errno = 0;
                v[i] = strtoul((const char *) s, &end, 0);
                if (errno || *end || v[i] > limits[i])
                        return -EINVAL;
        }
        snprintf(ret, PCI_MAX, "%04lx:%02lx:%02lx.%lx", v[0], v[1], v[2], v[3]);
        return 0;
}

static bool uuid_is_valid(const char *s)
{
        if (strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++)
                if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-'
                                                            : !strchr("0123456789abcdefABCDEF", s[i]))
                        return false;
        return true;
}

static int node_uuid(xmlNode *parent, char **ret)
{
        _cleanup_(xml_charp) xmlChar *u = NULL;
        xmlNode *n = child(parent, "uuid");

        if (n)
                u = xmlNodeGetContent(n);
        if (!u || !uuid_is_valid((const char *) u))
                return -EINVAL;
        *ret = strdup((const char *) u);
        return *ret ? 0 : -ENOMEM;
}

/* The PCI devices a domain passes through by address: <hostdev mode='subsystem' type='pci'>
 * and <interface type='hostdev'>. An <interface type='network'> gets its VF from a network
 * port, which the network hook leases under the port's own uuid. */
static int domain_pci_addresses(xmlNode *domain, char ***ret)
{
        _cleanup_(strv_freep) char **l = NULL;

        for (xmlNode *d = child(domain, "devices") ? child(domain, "devices")->children : NULL; d;
             d = d->next) {
                char pci[PCI_MAX];
                xmlNode *a;

                if (node_is(d, "hostdev") && prop_is(d, "mode", "subsystem") && prop_is(d, "type", "pci"))
                        a = child(child(d, "source"), "address");
                else if (node_is(d, "interface") && prop_is(d, "type", "hostdev")) {
                        a = child(child(d, "source"), "address");
                        if (a && !prop_is(a, "type", "pci"))
                                continue; /* USB or anything else: not a VF */
                } else
                        continue;
                if (!a || address_to_pci(a, pci) < 0) {
                        hook_error("a PCI host device of the domain has no valid <source><address>.");
                        return -EINVAL;
                }
                if (!strv_contains(l, pci) && strv_extend(&l, pci) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* sriovd */

static int bus_open(sd_bus **ret)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *address = getenv("SRIOVD_BUS_ADDRESS");
        int r;

        if (address) {
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, 1);
                if (r >= 0)
                        r = sd_bus_start(bus);
        } else
                r = sd_bus_open_system_with_description(&bus, "sriovd-libvirt-hook");
        if (r < 0) {
                hook_error("cannot connect to the system bus: %s", strerror(-r));
                return r;
        }
        *ret = TAKE_PTR(bus);
        return 0;
}

static const char *bus_message(const sd_bus_error *e, int r)
{
        return sd_bus_error_is_set(e) && e->message ? e->message : strerror(-r);
}

typedef struct VfInfo {
        char *path, *pool, *owner;
        bool allocated;
} VfInfo;

static void vf_info_done(VfInfo *v)
{
        free(v->path);
        free(v->pool);
        free(v->owner);
        *v = (VfInfo){};
}

/* 1 and *ret filled when sriovd manages the VF at pci, 0 when it does not. */
static int vf_lookup(sd_bus *bus, const char *pci, VfInfo *ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL, *owner = NULL;
        const char *path, *vpci, *pf, *ifname, *pool, *o;
        uint32_t idx;
        int allocated, r;

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "ListVirtualFunctions", &error,
                               &reply, "s", "");
        if (r < 0) {
                if (sd_bus_error_has_names(&error, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                           SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                        hook_error("sriovd is not running: cannot check %s against its leases.", pci);
                else
                        hook_error("cannot list sriovd's VFs: %s", bus_message(&error, r));
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(osoussb)");
        while (r >= 0) {
                r = sd_bus_message_read(reply, "(osoussb)", &path, &vpci, &pf, &idx, &ifname, &pool,
                                        &allocated);
                if (r <= 0)
                        break;
                if (streq(vpci, pci))
                        goto found;
        }
        if (r < 0) {
                hook_error("cannot parse sriovd's VF list: %s", strerror(-r));
                return r;
        }
        return 0;

found:
        r = sd_bus_get_property(bus, BUS_NAME, path, IFACE_VF, "Owner", &error, &owner, "s");
        if (r >= 0)
                r = sd_bus_message_read(owner, "s", &o);
        if (r < 0) {
                hook_error("cannot read the owner of VF %s: %s", pci, bus_message(&error, r));
                return r;
        }
        *ret = (VfInfo){
                .path = strdup(path), .pool = strdup(pool), .owner = strdup(o), .allocated = allocated};
        if (!ret->path || !ret->pool || !ret->owner) {
                vf_info_done(ret);
                return -ENOMEM;
        }
        return 1;
}

/* 1 when the lease is held by owner (taken now or before), 0 when sriovd does not arbitrate
 * this device (not one of its VFs, or a VF in no pool), <0 (with a message) when refused. */
static int take_vf(sd_bus *bus, const char *pci, const char *owner)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(vf_info_done) VfInfo vf = {};
        int r;

        r = vf_lookup(bus, pci, &vf);
        if (r <= 0)
                return r;
        if (isempty(vf.pool))
                return 0; /* sriovd leases only pooled VFs; this one is the host's */
        if (vf.allocated) {
                if (streq(vf.owner, owner))
                        return 1; /* ours already: libvirtd restarted, or a retry */
                hook_error("VF %s (pool '%s') is leased to '%s': refusing it to %s.", pci, vf.pool, vf.owner,
                           owner);
                return -EBUSY;
        }

        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "Allocate");
        if (r >= 0)
                r = sd_bus_message_append(m, "ssa{sv}", vf.pool, owner, 1, "pci", "s", pci);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, 0, &error, NULL);
        if (r >= 0)
                return 1;
        /* Lost a race with another consumer: name the winner. */
        vf_info_done(&vf);
        if (vf_lookup(bus, pci, &vf) > 0 && vf.allocated && !streq(vf.owner, owner))
                hook_error("VF %s (pool '%s') is leased to '%s': refusing it to %s.", pci, vf.pool, vf.owner,
                           owner);
        else
                hook_error("sriovd refused VF %s to %s: %s", pci, owner, bus_message(&error, r));
        return r;
}

static int release_owner(sd_bus *bus, const char *owner)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "ReleaseOwner", &error, NULL, "s",
                               owner);
        if (r < 0)
                hook_error("cannot release the VFs of %s: %s", owner, bus_message(&error, r));
        return r;
}

/* Takes every VF of the list for owner, or none: a refusal gives back what this call took. */
static int take_all(char **pcis, const char *owner, bool best_effort)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        unsigned taken = 0;
        int r;

        if (strv_length(pcis) == 0)
                return 0; /* no PCI device: never touch the bus */
        r = bus_open(&bus);
        if (r < 0)
                return best_effort ? 0 : r;
        for (char **p = pcis; *p; p++) {
                r = take_vf(bus, *p, owner);
                if (r < 0 && !best_effort) {
                        if (taken > 0)
                                (void) release_owner(bus, owner);
                        return r;
                }
                taken += r > 0;
        }
        return 0;
}

static int release_all(const char *owner)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = bus_open(&bus);
        if (r < 0)
                return r;
        return release_owner(bus, owner);
}

/* ---------------------------------------------------------------------------------------- */

static HookAction qemu_action(const char *op, const char *subop)
{
        if (streq(op, "prepare") && streq(subop, "begin"))
                return ACTION_TAKE;
        /* A failed reconnect hook makes libvirt kill a running guest: re-take, never refuse. */
        if ((streq(op, "reconnect") || streq(op, "attach")) && streq(subop, "begin"))
                return ACTION_TAKE_BEST_EFFORT;
        if (streq(op, "release") && streq(subop, "end"))
                return ACTION_RELEASE;
        return ACTION_NONE;
}

static int run_domain(xmlNode *domain, const char *op, const char *subop)
{
        _cleanup_(strv_freep) char **pcis = NULL;
        _cleanup_free_ char *uuid = NULL, *owner = NULL;
        HookAction a = qemu_action(op, subop);
        int r;

        if (a == ACTION_NONE)
                return 0;
        r = node_uuid(domain, &uuid);
        if (r < 0) {
                hook_error("the domain XML has no valid <uuid>.");
                return r;
        }
        if (asprintf_safe(&owner, "libvirt:%s", uuid) < 0)
                return -ENOMEM;
        if (a == ACTION_RELEASE)
                return release_all(owner);
        r = domain_pci_addresses(domain, &pcis);
        if (r < 0)
                return a == ACTION_TAKE_BEST_EFFORT ? 0 : r;
        return take_all(pcis, owner, a == ACTION_TAKE_BEST_EFFORT);
}

/* <hookData><network>...</network><networkport><uuid/>...<plug type='hostdev-pci'>
 * <address .../></plug></networkport></hookData>. libvirt has already picked the VF (the
 * first of the network's pool it counts as unused) when it runs port-created. */
/* A network that starts has no ports: libvirt drops the ports it had (after a reboot, or a
 * net-destroy with ports) without running port-deleted. Leases that libvirt still holds on
 * the network's VFs are those ports' and would block the VFs for good: give them back.
 * Best effort: a failure here must not stop the network. */
static int release_stale_port_leases(xmlNode *hook_data)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        xmlNode *fwd = child(child(hook_data, "network"), "forward");

        if (!fwd || !prop_is(fwd, "mode", "hostdev"))
                return 0;
        for (xmlNode *a = fwd->children; a; a = a->next) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(vf_info_done) VfInfo vf = {};
                char pci[PCI_MAX];
                int r;

                if (!node_is(a, "address") || address_to_pci(a, pci) < 0)
                        continue;
                if (!bus && bus_open(&bus) < 0)
                        return 0;
                if (vf_lookup(bus, pci, &vf) <= 0 || !vf.allocated || !startswith(vf.owner, "libvirt:"))
                        continue;
                r = sd_bus_call_method(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, "Release", &error, NULL,
                                       "os", vf.path, vf.owner);
                if (r < 0)
                        hook_error("cannot release the stale lease of %s on VF %s: %s", vf.owner, pci,
                                   bus_message(&error, r));
        }
        return 0;
}

static int run_network(xmlNode *hook_data, const char *op, const char *subop)
{
        _cleanup_free_ char *uuid = NULL, *owner = NULL;
        xmlNode *port = child(hook_data, "networkport"), *plug;
        char pci[PCI_MAX];
        int r;

        if (streq(op, "start") && streq(subop, "begin"))
                return release_stale_port_leases(hook_data);
        if (!streq(subop, "begin") || !(streq(op, "port-created") || streq(op, "port-deleted")))
                return 0;
        if (!port) {
                hook_error("%s without a <networkport> in the hook data.", op);
                return -EINVAL;
        }
        plug = child(port, "plug");
        if (!plug || !prop_is(plug, "type", "hostdev-pci"))
                return 0; /* bridge, direct, ...: no VF passed through */
        r = node_uuid(port, &uuid);
        if (r < 0) {
                hook_error("the network port has no valid <uuid>.");
                return r;
        }
        if (asprintf_safe(&owner, "libvirt:%s", uuid) < 0)
                return -ENOMEM;
        if (streq(op, "port-deleted"))
                return release_all(owner);
        if (address_to_pci(child(plug, "address"), pci) < 0) {
                hook_error("the network port's hostdev plug has no valid <address>.");
                return -EINVAL;
        }
        return take_all((char *[]){pci, NULL}, owner, false);
}

int main(int argc, char *argv[])
{
        _cleanup_(xml_docp) xmlDoc *doc = NULL;
        _cleanup_free_ char *input = NULL;
        xmlNode *root;
        size_t len;
        int r;

        if (argc < 4) {
                fprintf(stderr,
                        "Usage: %s OBJECT OPERATION SUB-OPERATION [EXTRA] <XML\n"
                        "libvirt's hook for sriovd leases; link it into /etc/libvirt/hooks/qemu.d/ and\n"
                        "/etc/libvirt/hooks/network.d/ (see sriovd's docs/integrations.md).\n",
                        program_invocation_short_name);
                return 2;
        }
        r = read_all(stdin, &input, &len);
        if (r < 0) {
                hook_error("cannot read the XML on stdin: %s", strerror(-r));
                return 1;
        }
        if (len == 0)
                return 0; /* the daemon hook (start/shutdown/reload) passes nothing */

        doc = xmlReadMemory(input, (int) len, "stdin.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (!root) {
                hook_error("the XML on stdin is not well-formed.");
                return 1;
        }
        /* libvirt never sends a DTD; one could only be there to play with entities. */
        if (doc->intSubset || doc->extSubset) {
                hook_error("the XML on stdin has a document type declaration; libvirt's never does.");
                return 1;
        }
        if (node_is(root, "domain"))
                r = run_domain(root, argv[2], argv[3]);
        else if (node_is(root, "hookData"))
                r = run_network(root, argv[2], argv[3]);
        else
                r = 0; /* another driver's hook: not ours */
        return r < 0 ? 1 : 0;
}
