#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libvirt's side of sriovd on a private bus: `sriovctl libvirt-network` and the libvirt hook
(libvirt/sriovd-libvirt-hook.c) fed the XML libvirt passes on stdin, exactly as libvirt runs it
(OBJECT OPERATION SUB-OPERATION EXTRA). The leases it takes and gives back are read from
the bus.

Usage: test-libvirt.py SRIOVCTL BUSCTL HOOK
Same harness as test-sriovctl.py (its Bus and TAP runner; SRIOVD_TEST_SERVICE picks the
service, the double by default). The VM scenario consumer-libvirt runs the same hook under
libvirtd 9.0."""
import importlib.util
import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET

SRCDIR = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('test_sriovctl', os.path.join(SRCDIR, 'test-sriovctl.py'))
ts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ts)  # reads SRIOVCTL and BUSCTL from sys.argv[1:3], as here
HOOK = sys.argv[3]
VF_IFACE = 'org.sriovd1.VirtualFunction'


def pool_vfs(bus, min_vfs):
    """(pool name, [(path, pci)] sorted by PCI) of a pool with at least min_vfs free VFs."""
    for p in bus.ctl_json('pools'):
        vfs = [(v['ObjectPath'], v['PCIAddress']) for v in bus.ctl_json('vfs', '--pool', p['Name'])
               if not v['Allocated'] and v['State'] == 'ready']
        if len(vfs) >= min_vfs:
            return p['Name'], sorted(vfs, key=lambda pv: pv[1])
    raise ts.Skip('no pool with %d free VFs' % min_vfs)


def addr_xml(pci, extra=''):
    d, b, sf = pci.split(':')
    s, f = sf.split('.')
    return "<address %sdomain='0x%s' bus='0x%s' slot='0x%s' function='0x%s'/>" % (extra, d, b, s, f)


def port_xml(port_uuid, pci):
    """The hook data of libvirt 9.0's network driver for a port of a hostdev network."""
    return ("<hookData><network><name>sriovd-vm</name><forward mode='hostdev' managed='yes'>%s"
            "</forward></network><networkport><uuid>%s</uuid><owner><name>guest</name>"
            "<uuid>%s</uuid></owner><mac address='52:54:00:00:00:01'/>"
            "<plug type='hostdev-pci' managed='yes'><driver name='vfio'/>%s</plug></networkport></hookData>"
            % (addr_xml(pci, "type='pci' "), port_uuid, uuid.uuid4(), addr_xml(pci, "type='pci' ")))


def domain_xml(dom_uuid, hostdevs=(), hostdev_ifaces=(), network_iface=None):
    devs = ''.join("<hostdev mode='subsystem' type='pci' managed='yes'><source>%s</source></hostdev>"
                   % addr_xml(p) for p in hostdevs)
    devs += ''.join("<interface type='hostdev' managed='yes'><mac address='52:54:00:00:00:02'/>"
                    "<source>%s</source></interface>" % addr_xml(p, "type='pci' ") for p in hostdev_ifaces)
    if network_iface:  # a hostdev network's VF shows as <actual>: the port owns it, not the domain
        devs += ("<interface type='network'><source network='sriovd-vm'/><actual type='hostdev'>"
                 "<source>%s</source></actual></interface>" % addr_xml(network_iface, "type='pci' "))
    return ("<domain type='kvm'><name>guest</name><uuid>%s</uuid><memory>1024</memory>"
            "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>%s</devices></domain>" % (dom_uuid, devs))


def hook(bus, xml, *args, env=None):
    args = list(args) + ['-'] * (4 - len(args))
    return subprocess.run([HOOK] + args, input=xml, env=env or bus.env, capture_output=True, text=True, timeout=30)


def owner(bus, path):
    return bus.prop(path, VF_IFACE, 'Owner') if bus.prop(path, VF_IFACE, 'Allocated') else ''


def test_network_xml(bus):
    pool, vfs = pool_vfs(bus, 1)
    # A leased VF stays in the network: the hook refuses it when libvirt offers it.
    bus.ctl('allocate', pool, '--owner', 'other', '--pci', vfs[0][1])
    out = bus.ctl('libvirt-network', pool).stdout
    net = ET.fromstring(out)
    assert net.tag == 'network' and net.findtext('name') == 'sriovd-' + pool, out
    fwd = net.find('forward')
    assert fwd.get('mode') == 'hostdev' and fwd.get('managed') == 'yes', out
    got = ['%04x:%02x:%02x.%x' % tuple(int(a.get(k), 16) for k in ('domain', 'bus', 'slot', 'function'))
           for a in fwd.findall('address')]
    assert all(a.get('type') == 'pci' for a in fwd.findall('address')), out
    want = sorted(v['PCIAddress'] for v in bus.ctl_json('vfs', '--pool', pool))
    assert got == want, (got, want)
    assert bus.ctl('libvirt-network', pool).stdout == out, 'same pool, same XML'
    ts.one_line_error(bus.ctl('libvirt-network', 'no-such-pool', rc=1), 'no such pool', 'no-such-pool')
    bus.ctl('libvirt-network', rc=2)


def test_port_lease(bus):
    pool, vfs = pool_vfs(bus, 1)
    path, pci = vfs[0]
    port = str(uuid.uuid4())
    p = hook(bus, port_xml(port, pci), 'sriovd-vm', 'port-created', 'begin')
    assert p.returncode == 0, p.stderr
    assert owner(bus, path) == 'libvirt:' + port
    # libvirtd restarted with the port in place runs port-created again: still ours, rc 0.
    p = hook(bus, port_xml(port, pci), 'sriovd-vm', 'port-created', 'begin')
    assert p.returncode == 0 and owner(bus, path) == 'libvirt:' + port, p.stderr
    # Other network operations leave the lease alone.
    for op in ('started', 'updated', 'stopped'):
        assert hook(bus, port_xml(port, pci), 'sriovd-vm', op, 'begin').returncode == 0
    assert owner(bus, path) == 'libvirt:' + port
    p = hook(bus, port_xml(port, pci), 'sriovd-vm', 'port-deleted', 'begin')
    assert p.returncode == 0, p.stderr
    assert owner(bus, path) == ''


def test_network_start_drops_stale_port_leases(bus):
    """libvirt forgets a network's ports when the network starts (after a reboot or a
    net-destroy with ports) without port-deleted: the start hook gives their leases back,
    and only libvirt's."""
    pool, vfs = pool_vfs(bus, 2)
    (p0, pci0), (p1, pci1) = vfs[:2]
    port = str(uuid.uuid4())
    assert hook(bus, port_xml(port, pci0), 'sriovd-vm', 'port-created', 'begin').returncode == 0
    bus.ctl('allocate', pool, '--owner', 'slurm:42', '--pci', pci1)
    net = ET.fromstring(port_xml(port, pci0)).find('network')
    fwd = net.find('forward')
    fwd.append(ET.fromstring(addr_xml(pci1, "type='pci' ")))
    data = '<hookData>%s</hookData>' % ET.tostring(net, encoding='unicode')
    for op, sub in (('started', 'begin'), ('stopped', 'end')):
        assert hook(bus, data, 'sriovd-vm', op, sub).returncode == 0
    assert owner(bus, p0) == 'libvirt:' + port, 'only start drops port leases'
    p = hook(bus, data, 'sriovd-vm', 'start', 'begin')
    assert p.returncode == 0, p.stderr
    assert owner(bus, p0) == '' and owner(bus, p1) == 'slurm:42'
    # Best effort: sriovd gone does not stop the network.
    nobus = dict(bus.env, SRIOVD_BUS_ADDRESS='unix:path=/nonexistent/bus')
    assert hook(bus, data, 'sriovd-vm', 'start', 'begin', env=nobus).returncode == 0


def test_port_refused(bus):
    """A VF another consumer holds: the hook fails with one line naming the holder, the
    holder keeps it, and libvirt gets no lease (libvirt then fails the port creation)."""
    pool, vfs = pool_vfs(bus, 1)
    path, pci = vfs[0]
    bus.ctl('allocate', pool, '--owner', 'slurm:42', '--pci', pci)
    port = str(uuid.uuid4())
    p = hook(bus, port_xml(port, pci), 'sriovd-vm', 'port-created', 'begin')
    assert p.returncode == 1, p
    ts.one_line_error(p, pci, "leased to 'slurm:42'", 'libvirt:' + port)
    assert owner(bus, path) == 'slurm:42'
    assert bus.ctl_json('release', '--all', '--owner', 'libvirt:' + port) == {'Released': 0}
    # port-deleted of a port that never got its VF must not touch the holder's lease.
    assert hook(bus, port_xml(port, pci), 'sriovd-vm', 'port-deleted', 'begin').returncode == 0
    assert owner(bus, path) == 'slurm:42'


def test_domain_lease(bus):
    pool, vfs = pool_vfs(bus, 2)
    (p0, pci0), (p1, pci1) = vfs[:2]
    dom = str(uuid.uuid4())
    xml = domain_xml(dom, hostdevs=[pci0], hostdev_ifaces=[pci1])
    # Stages that are not prepare/release take nothing.
    for op, sub in (('start', 'begin'), ('started', 'begin'), ('stopped', 'end'), ('migrate', 'begin')):
        p = hook(bus, xml, 'guest', op, sub)
        assert p.returncode == 0 and p.stdout == '', (op, p)  # migrate: empty stdout keeps the XML
    assert owner(bus, p0) == '' and owner(bus, p1) == ''
    p = hook(bus, xml, 'guest', 'prepare', 'begin')
    assert p.returncode == 0, p.stderr
    assert owner(bus, p0) == owner(bus, p1) == 'libvirt:' + dom
    p = hook(bus, xml, 'guest', 'release', 'end')
    assert p.returncode == 0, p.stderr
    assert owner(bus, p0) == owner(bus, p1) == ''


def test_domain_refused_all_or_nothing(bus):
    pool, vfs = pool_vfs(bus, 2)
    (p0, pci0), (p1, pci1) = vfs[:2]
    bus.ctl('allocate', pool, '--owner', 'podman:web', '--pci', pci1)
    dom = str(uuid.uuid4())
    xml = domain_xml(dom, hostdevs=[pci0, pci1])
    p = hook(bus, xml, 'guest', 'prepare', 'begin')
    assert p.returncode == 1, p
    ts.one_line_error(p, pci1, "leased to 'podman:web'")
    # The VF it could take is given back: a refused domain holds nothing.
    assert owner(bus, p0) == '' and owner(bus, p1) == 'podman:web'
    # Reconnecting to a running guest never fails (libvirt would kill it): rc 0, the free VF
    # is taken, the other stays with its holder.
    p = hook(bus, xml, 'guest', 'reconnect', 'begin')
    assert p.returncode == 0, p.stderr
    assert owner(bus, p0) == 'libvirt:' + dom and owner(bus, p1) == 'podman:web'
    assert hook(bus, xml, 'guest', 'release', 'end').returncode == 0
    assert owner(bus, p0) == '' and owner(bus, p1) == 'podman:web'


def test_not_ours(bus):
    """Devices sriovd does not arbitrate pass untouched: a non-VF PCI device, a hostdev
    network's VF in a domain (its port has the lease), a bridge port, a domain without PCI
    devices (which never even needs the bus)."""
    pool, vfs = pool_vfs(bus, 1)
    path, pci = vfs[0]
    dom = str(uuid.uuid4())
    p = hook(bus, domain_xml(dom, hostdevs=['0000:00:02.0'], network_iface=pci), 'guest', 'prepare', 'begin')
    assert p.returncode == 0, p.stderr
    assert owner(bus, path) == ''
    bridge = ("<hookData><network><name>default</name></network><networkport><uuid>%s</uuid>"
              "<plug type='network' bridge='virbr0'/></networkport></hookData>" % uuid.uuid4())
    assert hook(bus, bridge, 'default', 'port-created', 'begin').returncode == 0
    nobus = dict(bus.env, SRIOVD_BUS_ADDRESS='unix:path=/nonexistent/bus')
    assert hook(bus, domain_xml(dom), 'guest', 'prepare', 'begin', env=nobus).returncode == 0
    assert hook(bus, '', 'daemon', 'start', '-', env=nobus).returncode == 0  # the daemon hook: no XML


def test_bad_input(bus):
    pool, vfs = pool_vfs(bus, 1)
    path, pci = vfs[0]
    for xml in ('<domain><uuid>', '<domain><uuid>not-a-uuid</uuid><devices/></domain>',
                domain_xml(str(uuid.uuid4()), hostdevs=['0000:00:02.0']).replace("bus='0x00'", "bus='0x1ff'")):
        p = hook(bus, xml, 'guest', 'prepare', 'begin')
        assert p.returncode == 1 and p.stderr.startswith('sriovd: '), (xml, p)
    # An entity must not pull in a file.
    evil = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            "<domain><uuid>%s&x;</uuid></domain>" % uuid.uuid4())
    p = hook(bus, evil, 'guest', 'prepare', 'begin')
    assert p.returncode == 1 and 'root:' not in p.stderr, p
    ts.one_line_error(p, 'document type declaration')
    assert owner(bus, path) == ''
    assert subprocess.run([HOOK], capture_output=True).returncode == 2  # run by hand: usage


def test_sriovd_not_running():
    """Opted in, the hook fails closed: with sriovd gone it cannot tell whether a PCI device
    is leased, so it refuses rather than let two consumers share a VF."""
    bus = ts.Bus(with_service=False)
    try:
        p = hook(bus, domain_xml(str(uuid.uuid4()), hostdevs=['0000:03:10.0']), 'guest', 'prepare', 'begin')
        assert p.returncode == 1, p
        ts.one_line_error(p, 'sriovd is not running', '0000:03:10.0')
    finally:
        bus.close()


if __name__ == '__main__':
    sys.exit(ts.run_tap([(k, v) for k, v in globals().items() if k.startswith('test_')], ts.Bus))
