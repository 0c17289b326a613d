#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A test double of sriovd's bus side: exports the SPEC §4 objects with canned data.

Interfaces come from dbus/org.sriovd1.xml, so the double cannot drift from the documented
signatures. Connects to $SRIOVD_BUS_ADDRESS (a private dbus-daemon owned by the test), owns
org.sriovd1, and emits PropertiesChanged / InterfacesAdded / InterfacesRemoved like the real
daemon. Tests steer it through org.sriovd1.Test1 at /test (outside /org/sriovd1, so it never
shows up in GetManagedObjects):
  SetProperty(o path, s interface, s name, v value)
  RemoveObject(o path)      AddVF(s pf_pci, u index, s pool)
"""
import os
import sys

from gi.repository import Gio, GLib

NAME = 'org.sriovd1'
ROOT = '/org/sriovd1'
ERR = 'org.sriovd1.Error.'

TEST_XML = '''<node><interface name="org.sriovd1.Test1">
  <method name="SetProperty"><arg type="o" direction="in"/><arg type="s" direction="in"/>
    <arg type="s" direction="in"/><arg type="v" direction="in"/></method>
  <method name="RemoveObject"><arg type="o" direction="in"/></method>
  <method name="AddVF"><arg type="s" direction="in"/><arg type="u" direction="in"/>
    <arg type="s" direction="in"/><arg type="o" direction="out"/></method>
</interface></node>'''

OM_XML = '''<node><interface name="org.freedesktop.DBus.ObjectManager">
  <method name="GetManagedObjects"><arg type="a{oa{sa{sv}}}" direction="out"/></method>
  <signal name="InterfacesAdded"><arg type="o"/><arg type="a{sa{sv}}"/></signal>
  <signal name="InterfacesRemoved"><arg type="o"/><arg type="as"/></signal>
</interface></node>'''


def path_encode(prefix, external):
    """sd_bus_path_encode(): bus_label_escape() of the external id."""
    if not external:
        return prefix + '/_'
    out = []
    for i, ch in enumerate(external.encode()):
        c = chr(ch)
        if (c.isascii() and c.isalpha()) or (c.isdigit() and i > 0):
            out.append(c)
        else:
            out.append('_%02x' % ch)
    return prefix + '/' + ''.join(out)


class Fake:
    def __init__(self, conn, xml_path):
        self.conn = conn
        info = Gio.DBusNodeInfo.new_for_xml(open(xml_path).read())
        self.ifaces = {i.name: i for i in info.interfaces}
        self.objects = {}       # path -> (iface, {prop: GLib.Variant})
        self.reg = {}           # path -> registration id
        self.om = Gio.DBusNodeInfo.new_for_xml(OM_XML).interfaces[0]
        self.test = Gio.DBusNodeInfo.new_for_xml(TEST_XML).interfaces[0]
        self.manager = {
            'Version': GLib.Variant('s', '0.1.0-fake'),
            'State': GLib.Variant('s', os.environ.get('FAKE_SRIOVD_STATE', 'running')),
            'ConfigFiles': GLib.Variant('as', ['/etc/sriov.d/50-training.conf', '/etc/sriov.d/60-vm.conf']),
            'ConfigErrors': GLib.Variant('as', []),
        }
        conn.register_object(ROOT, self.ifaces['org.sriovd1.Manager'], self.on_manager, self.on_get, None)
        conn.register_object(ROOT, self.om, self.on_om, None, None)
        conn.register_object('/test', self.test, self.on_test, None, None)
        self.populate()

    # -- model ---------------------------------------------------------------------------
    def pf(self, pci, ifname, driver, ven, dev, vname, dname, total, num, numa, speed, cfg, state, err=''):
        p = path_encode(ROOT + '/pf', pci)
        self.add(p, 'org.sriovd1.PhysicalFunction', {
            'PCIAddress': ('s', pci), 'Interface': ('s', ifname), 'Driver': ('s', driver),
            'VendorId': ('q', ven), 'DeviceId': ('q', dev), 'VendorName': ('s', vname),
            'DeviceName': ('s', dname), 'VFDeviceId': ('q', {0x101b: 0x101c, 0x10c9: 0x10ca}.get(dev, 0)),
            'TotalVFs': ('u', total), 'NumVFs': ('u', num),
            'DesiredNumVFs': ('u', num), 'NUMANode': ('i', numa),
            'RDMADevices': ('as', ['mlx5_0'] if driver == 'mlx5_core' else []), 'LinkSpeed': ('u', speed),
            'ConfigFile': ('s', cfg), 'State': ('s', state), 'LastError': ('s', err)}, emit=False)
        return p

    def vf(self, pf_path, pci, index, pool, ifname='', driver='mlx5_core', numa=1, vfio='', group=-1,
           emit=False):
        p = path_encode(ROOT + '/vf', pci)
        self.add(p, 'org.sriovd1.VirtualFunction', {
            'PCIAddress': ('s', pci), 'Index': ('u', index), 'PhysicalFunction': ('o', pf_path),
            'Interface': ('s', ifname), 'Driver': ('s', driver),
            'MACAddress': ('s', '02:00:00:00:%02x:%02x' % (int(pci[5:7], 16), index)),
            'VLAN': ('q', 100 if pool == 'rdma-train' else 0), 'QoS': ('u', 0),
            'VLANProtocol': ('s', '802.1Q'), 'Trust': ('b', pool == 'rdma-train'),
            'SpoofCheck': ('b', pool != 'rdma-train'), 'LinkState': ('s', 'auto'),
            'MinTxRate': ('u', 0), 'MaxTxRate': ('u', 25000 if pool == 'rdma-train' else 0),
            'QueryRSS': ('b', False),
            'MTU': ('u', 9000 if pool == 'rdma-train' else 1500),
            'RDMADevice': ('s', 'mlx5_%d' % (index + 2) if pool == 'rdma-train' else ''),
            'RDMAPort': ('u', 1 if pool == 'rdma-train' else 0),
            'RDMAPortState': ('s', 'active' if pool == 'rdma-train' else ''),
            'RDMALinkLayer': ('s', 'Ethernet' if pool == 'rdma-train' else ''),
            'NodeGUID': ('s', '0202:00ff:fe00:%04x' % index if pool == 'rdma-train' else ''),
            'PortGUID': ('s', '0202:00ff:fe00:%04x' % index if pool == 'rdma-train' else ''),
            'IOMMUGroup': ('i', group), 'VFIODevice': ('s', vfio), 'NUMANode': ('i', numa),
            'Pool': ('s', pool), 'Allocated': ('b', False), 'Owner': ('s', ''),
            'State': ('s', 'ready'), 'LastError': ('s', '')}, emit=emit)
        return p

    def populate(self):
        a = self.pf('0000:81:00.0', 'ens3f0', 'mlx5_core', 0x15b3, 0x101b, 'Mellanox Technologies',
                    'MT28908 Family [ConnectX-6]', 8, 4, 1, 100000, '/etc/sriov.d/50-training.conf',
                    'configured')
        for i in range(3):
            self.vf(a, '0000:81:00.%d' % (i + 2), i, 'rdma-train', 'ens3f0v%d' % i)
        self.vf(a, '0000:81:00.5', 3, 'vm', '', 'vfio-pci', 1, '/dev/vfio/42', 42)
        b = self.pf('0000:03:00.0', 'enp3s0f0', 'igb', 0x8086, 0x10c9, 'Intel Corporation',
                    '82576 Gigabit Network Connection', 7, 2, 0, 1000, '/etc/sriov.d/60-vm.conf', 'configured')
        self.vf(b, '0000:03:10.0', 0, 'vm', 'enp3s0f0v0', 'igbvf', 0)
        self.vf(b, '0000:03:10.2', 1, 'vm', 'enp3s0f0v1', 'igbvf', 0)
        self.pf('0000:04:00.0', 'eno1', 'tg3', 0x14e4, 0x165f, 'Broadcom Inc. and subsidiaries',
                'NetXtreme BCM5720 Gigabit Ethernet PCIe', 0, 0, 0, 1000, '', 'unmanaged')
        for name in ('rdma-train', 'vm'):
            self.add(path_encode(ROOT + '/pool', name), 'org.sriovd1.Pool', {'Name': ('s', name)}, emit=False)
        self.refresh_pools(emit=False)

    def add(self, path, iface, props, emit=True):
        self.objects[path] = (iface, {k: GLib.Variant(t, v) for k, (t, v) in props.items()})
        self.reg[path] = self.conn.register_object(path, self.ifaces[iface], self.on_object, self.on_get, None)
        if emit:
            self.conn.emit_signal(None, ROOT, 'org.freedesktop.DBus.ObjectManager', 'InterfacesAdded',
                                  GLib.Variant('(oa{sa{sv}})', (path, {iface: self.objects[path][1]})))

    def remove(self, path):
        iface, _ = self.objects.pop(path)
        self.conn.unregister_object(self.reg.pop(path))
        self.conn.emit_signal(None, ROOT, 'org.freedesktop.DBus.ObjectManager', 'InterfacesRemoved',
                              GLib.Variant('(oas)', (path, [iface])))

    def set(self, path, name, value, emit=True):
        if path == ROOT:
            iface, props = 'org.sriovd1.Manager', self.manager
        else:
            iface, props = self.objects[path]
        if name in props and props[name].equal(value):
            return
        props[name] = value
        if emit:
            self.conn.emit_signal(None, path, 'org.freedesktop.DBus.Properties', 'PropertiesChanged',
                                  GLib.Variant('(sa{sv}as)', (iface, {name: value}, [])))

    def vfs(self, pool=''):
        return sorted((p, o[1]) for p, o in self.objects.items()
                      if o[0] == 'org.sriovd1.VirtualFunction' and (not pool or o[1]['Pool'].unpack() == pool))

    def refresh_pools(self, emit=True):
        for path, (iface, props) in list(self.objects.items()):
            if iface != 'org.sriovd1.Pool':
                continue
            members = self.vfs(props['Name'].unpack())
            self.set(path, 'Total', GLib.Variant('u', len(members)), emit)
            self.set(path, 'Free', GLib.Variant('u', sum(1 for _, v in members if not v['Allocated'].unpack()
                                                         and v['State'].unpack() == 'ready')), emit)
            self.set(path, 'VirtualFunctions', GLib.Variant('ao', [p for p, _ in members]), emit)

    # -- handlers ------------------------------------------------------------------------
    def on_get(self, conn, sender, path, iface, name):
        props = self.manager if path == ROOT else self.objects[path][1]
        return props[name]

    def on_object(self, conn, sender, path, iface, method, params, inv):
        if method == 'ListVirtualFunctions':  # PhysicalFunction
            inv.return_value(GLib.Variant('(ao)', ([p for p, v in self.vfs()
                                                    if v['PhysicalFunction'].unpack() == path],)))
        else:
            inv.return_dbus_error('org.freedesktop.DBus.Error.UnknownMethod', method)

    def on_om(self, conn, sender, path, iface, method, params, inv):
        out = {p: {i: props} for p, (i, props) in self.objects.items()}
        inv.return_value(GLib.Variant('(a{oa{sa{sv}}})', (out,)))

    def on_test(self, conn, sender, path, iface, method, params, inv):
        try:
            if method == 'SetProperty':
                p, _, name, value = params.unpack()
                self.set(p, name, params.get_child_value(3).get_variant())
                self.refresh_pools()
                inv.return_value(None)
            elif method == 'RemoveObject':
                self.remove(params.unpack()[0])
                self.refresh_pools()
                inv.return_value(None)
            elif method == 'AddVF':
                pf_pci, index, pool = params.unpack()
                pf = path_encode(ROOT + '/pf', pf_pci)
                pci = '%s:%02x.%d' % (pf_pci[:7], 0x10 + index // 8, index % 8)
                p = self.vf(pf, pci, index, pool, 'test%d' % index, emit=True)
                self.refresh_pools()
                inv.return_value(GLib.Variant('(o)', (p,)))
        except Exception as e:  # a bad test call must not kill the double
            inv.return_dbus_error('org.freedesktop.DBus.Error.Failed', str(e))

    def on_manager(self, conn, sender, path, iface, method, params, inv):
        def fail(name, msg):
            inv.return_dbus_error(ERR + name, msg)

        if method == 'ListPhysicalFunctions':
            out = [(p, o['PCIAddress'].unpack(), o['Interface'].unpack(), o['State'].unpack())
                   for p, (i, o) in sorted(self.objects.items()) if i == 'org.sriovd1.PhysicalFunction']
            inv.return_value(GLib.Variant('(a(osss))', (out,)))
        elif method == 'ListVirtualFunctions':
            pool = params.unpack()[0]
            out = [(p, v['PCIAddress'].unpack(), v['PhysicalFunction'].unpack(), v['Index'].unpack(),
                    v['Interface'].unpack(), v['Pool'].unpack(), v['Allocated'].unpack())
                   for p, v in self.vfs(pool)]
            inv.return_value(GLib.Variant('(a(osoussb))', (out,)))
        elif method == 'ListPools':
            out = [(p, o['Name'].unpack(), o['Total'].unpack(), o['Free'].unpack())
                   for p, (i, o) in sorted(self.objects.items()) if i == 'org.sriovd1.Pool']
            inv.return_value(GLib.Variant('(a(osuu))', (out,)))
        elif method == 'Allocate':
            pool, owner, hints = params.unpack()
            if not owner or len(owner.encode()) > 255 or any(ord(c) < 32 or ord(c) == 127 for c in owner):
                return fail('InvalidArgument', 'Invalid owner')
            for k in hints:
                if k not in ('numa_node', 'pf', 'pci', 'bind_to_caller', 'allow_degraded'):
                    return fail('InvalidArgument', 'Unknown hint "%s"' % k)
            if not any(i == 'org.sriovd1.Pool' and o['Name'].unpack() == pool for i, o in self.objects.values()):
                return fail('NoSuchPool', 'No pool "%s"' % pool)
            cands = [(p, v) for p, v in self.vfs(pool)
                     if not v['Allocated'].unpack() and v['State'].unpack() == 'ready']
            if 'pci' in hints:
                cands = [(p, v) for p, v in cands if v['PCIAddress'].unpack() == hints['pci']]
            if 'pf' in hints:
                pfp = path_encode(ROOT + '/pf', hints['pf'])
                cands = [(p, v) for p, v in cands if v['PhysicalFunction'].unpack() == pfp]
            if 'numa_node' in hints:  # NUMA-local first
                cands.sort(key=lambda pv: pv[1]['NUMANode'].unpack() != hints['numa_node'])
            if not cands:
                return fail('PoolExhausted', 'No free VF in pool "%s" matches' % pool)
            p = cands[0][0]
            self.set(p, 'Allocated', GLib.Variant('b', True))
            self.set(p, 'Owner', GLib.Variant('s', owner))
            self.refresh_pools()
            inv.return_value(GLib.Variant('(o)', (p,)))
        elif method == 'Release':
            p, owner = params.unpack()
            if p not in self.objects or self.objects[p][0] != 'org.sriovd1.VirtualFunction':
                return fail('InvalidArgument', 'No such VF %s' % p)
            v = self.objects[p][1]
            if not v['Allocated'].unpack():
                return fail('NotAllocated', 'VF %s is not allocated' % v['PCIAddress'].unpack())
            if v['Owner'].unpack() != owner:
                return fail('NotOwner', 'VF %s is allocated to "%s"' % (v['PCIAddress'].unpack(),
                                                                         v['Owner'].unpack()))
            self.set(p, 'Allocated', GLib.Variant('b', False))
            self.set(p, 'Owner', GLib.Variant('s', ''))
            self.refresh_pools()
            inv.return_value(None)
        elif method == 'ReleaseOwner':
            owner = params.unpack()[0]
            n = 0
            for p, v in self.vfs():
                if v['Allocated'].unpack() and v['Owner'].unpack() == owner:
                    self.set(p, 'Allocated', GLib.Variant('b', False))
                    self.set(p, 'Owner', GLib.Variant('s', ''))
                    n += 1
            self.refresh_pools()
            inv.return_value(GLib.Variant('(u)', (n,)))
        elif method == 'Reload':
            inv.return_value(None)
        elif method == 'Plan':
            pf = path_encode(ROOT + '/pf', '0000:81:00.0')
            out = [(pf, 'set-num-vfs', 'NumVFs 4 -> 8 (through 0: destroys VFs 0-3)')]
            out += [(p, 'blocked', 'VF %d is allocated to "%s"' % (v['Index'].unpack(), v['Owner'].unpack()))
                    for p, v in self.vfs() if v['Allocated'].unpack() and v['PhysicalFunction'].unpack() == pf]
            inv.return_value(GLib.Variant('(a(sss))', (out,)))
        elif method == 'Diagnose':
            inv.return_value(GLib.Variant('(a(ssss))', ([('iommu', 'ok', '', '')],)))
        else:
            inv.return_dbus_error('org.freedesktop.DBus.Error.UnknownMethod', method)


def main():
    xml = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'dbus', 'org.sriovd1.xml')
    address = os.environ['SRIOVD_BUS_ADDRESS']
    conn = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)
    conn.set_exit_on_close(True)  # the test's bus going away ends the double
    fake = Fake(conn, xml)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, 15, loop.quit)
    reply = conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                           'RequestName', GLib.Variant('(su)', (NAME, 4)), None, 0, -1, None)
    if reply.unpack()[0] != 1:
        sys.exit('fake-sriovd-bus: could not own ' + NAME)
    print('READY', flush=True)
    loop.run()
    del fake


if __name__ == '__main__':
    main()
