#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real daemon's D-Bus API (SPEC §4, issue 4) on a private bus.

Usage: test-bus.py SRIOVD_TEST_DAEMON
Each test owns a dbus-daemon (--nofork, reaped here) that loads the shipped bus policy
dbus/org.sriovd1.conf, and runs tests/sriovd-test-daemon (the daemon's code on the fake
kernel) under $SRIOVD_TEST_PRELOAD (the umockdev preload). Covers: ObjectManager and
signals (hotplug through the test daemon's /sriovd_test control object), lease flows
including bind_to_caller, every bad input with its error name, access control for an
unprivileged client, and lease durability across kill -9.
Output is TAP (meson protocol 'tap'). Tests marked @slow (seconds to minutes: kill -9 loops)
run only with TEST_SLOW=1 (meson suite "slow"); TEST_SLOW=0 runs the others (suite "fast").
"""
import json
import os
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

from gi.repository import Gio, GLib

SRCDIR = os.path.dirname(os.path.abspath(__file__))
DAEMON = sys.argv[1] if len(sys.argv) > 1 else None
PRELOAD = os.environ.get('SRIOVD_TEST_PRELOAD', 'libumockdev-preload.so.0')
NAME = 'org.sriovd1'
ROOT = '/org/sriovd1'
MGR = 'org.sriovd1.Manager'
VF = 'org.sriovd1.VirtualFunction'
PF = 'org.sriovd1.PhysicalFunction'
POOL = 'org.sriovd1.Pool'
ERR = 'org.sriovd1.Error.'
PROPS = 'org.freedesktop.DBus.Properties'
OM = 'org.freedesktop.DBus.ObjectManager'
ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'
INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs'

BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=%(dir)s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="org.freedesktop.PolicyKit1"/>
    <allow send_destination="*"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
  <include>%(policy)s</include>
</busconfig>
'''


def path_encode(prefix, s):
    return prefix + '/' + ''.join(c if c.isalnum() and c.isascii() else '_%02x' % ord(c) for c in s) \
        if not s[0].isdigit() else prefix + '/_3' + s[0] + ''.join(
            c if c.isalnum() and c.isascii() else '_%02x' % ord(c) for c in s[1:])


class Daemon:
    """sriovd-test-daemon: started, waited for (READY on a pipe), reaped, cleaned up."""

    def __init__(self, address, *args, state_dir=None):
        # Readiness as systemd gets it: a datagram on $NOTIFY_SOCKET, here READY=1 with the
        # fake kernel's directories (for cleanup). Other notifications are skipped.
        self.notify_dir = tempfile.mkdtemp(prefix='sriovd-test-notify-')
        path = os.path.join(self.notify_dir, 'notify')
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        argv = [DAEMON] + list(args)
        if state_dir:
            argv.append('--state-dir=' + state_dir)
        env = dict(os.environ, SRIOVD_BUS_ADDRESS=address, LD_PRELOAD=PRELOAD, SRIOVD_LOG_LEVEL='notice',
                   NOTIFY_SOCKET=path)
        self.p = subprocess.Popen(argv, env=env)
        self.dirs = []
        fields = {}
        received = []
        started = time.monotonic()
        deadline = started + 60
        try:
            while 'X_SRIOVD_TEST_ROOT' not in fields:
                left = deadline - time.monotonic()
                rl, _, _ = select.select([sock], [], [], max(left, 0))
                if not rl:
                    if self.p.poll() is not None:
                        raise AssertionError('test daemon exited before ready: rc %s' % self.p.returncode)
                    stacks = self.stacks()
                    # Did the announcement come after all, late? (gdb took a few seconds.)
                    late = []
                    while select.select([sock], [], [], 0)[0]:
                        late.append(sock.recv(4096).decode().replace('\n', ' '))
                    self.kill()
                    raise AssertionError('test daemon not ready in %.0f s (notifications received: %s; '
                                         'after the deadline: %s); its threads:\n%s' %
                                         (time.monotonic() - started, received, late, stacks))
                msg = sock.recv(4096).decode()
                received.append(msg.replace('\n', ' '))
                fields = dict(kv.split('=', 1) for kv in msg.split('\n') if '=' in kv)
        finally:
            sock.close()
            shutil.rmtree(self.notify_dir, ignore_errors=True)
        assert fields.get('READY') == '1', fields
        self.dirs = [fields['X_SRIOVD_TEST_ROOT'], fields['X_SRIOVD_TEST_TESTBED']]

    def cleanup(self):
        for d in self.dirs:
            if d.startswith('/tmp/'):
                shutil.rmtree(d, ignore_errors=True)

    def stacks(self):
        """Every thread's backtrace, for a daemon that hangs (gdb may be missing)."""
        try:
            return subprocess.run(['gdb', '-p', str(self.p.pid), '-batch', '-ex', 'thread apply all bt'],
                                  capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError) as e:
            return 'no backtrace: %s' % e

    def kill(self):
        self.p.kill()
        self.p.wait()
        self.cleanup()

    def stop(self):
        """SIGTERM must end it cleanly (exit 0; under ASan also no leaks)."""
        self.p.terminate()
        rc = self.p.wait(30)
        self.cleanup()
        assert rc == 0, 'test daemon exited with %d on SIGTERM' % rc


class Bus:
    def __init__(self, *daemon_args, state_dir=None):
        self.dir = tempfile.mkdtemp(prefix='sriovd-test-bus-')
        os.chmod(self.dir, 0o755)  # unprivileged clients connect too
        cfg = os.path.join(self.dir, 'bus.conf')
        with open(cfg, 'w') as f:
            f.write(BUS_CONFIG % {'dir': self.dir, 'policy': os.path.join(SRCDIR, '..', 'dbus', 'org.sriovd1.conf')})
        r, w = os.pipe()
        self.bus = subprocess.Popen(['dbus-daemon', '--config-file=' + cfg, '--nofork', '--nopidfile',
                                     '--print-address=%d' % w], pass_fds=[w], stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            self.address = f.readline().strip()
        assert self.address, 'dbus-daemon did not start'
        self.daemon = None
        self.conn = self.connect()
        self.signals = []
        self.conn.signal_subscribe(None, None, None, None, None, Gio.DBusSignalFlags.NONE, self.on_signal)
        self.start(*daemon_args, state_dir=state_dir)

    def connect(self):
        return Gio.DBusConnection.new_for_address_sync(
            self.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def start(self, *args, state_dir=None):
        self.daemon = Daemon(self.address, *args, state_dir=state_dir)

    def on_signal(self, conn, sender, path, iface, member, params):
        self.signals.append((path, iface, member, params.unpack()))

    def close(self):
        try:
            if self.daemon and self.daemon.p.poll() is None:
                self.daemon.stop()
        finally:
            self.conn.close_sync(None)
            self.bus.terminate()
            self.bus.wait()
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- calls --------------------------------------------------------------------------
    def call(self, path, iface, method, sig='', *args, conn=None):
        r = self.raw(path, iface, method, sig, *args, conn=conn)
        return r.unpack() if r is not None else ()

    def raw(self, path, iface, method, sig='', *args, conn=None):
        """The reply as a GLib.Variant: types kept (unpack() maps 'u', 'i' and 'q' to int)."""
        params = GLib.Variant('(%s)' % sig, args) if sig else None
        return (conn or self.conn).call_sync(NAME, path, iface, method, params, None, Gio.DBusCallFlags.NONE,
                                             30000, None)

    def error(self, path, iface, method, sig='', *args, conn=None):
        try:
            self.call(path, iface, method, sig, *args, conn=conn)
        except GLib.Error as e:
            return Gio.DBusError.get_remote_error(e)
        raise AssertionError('%s.%s%r succeeded' % (iface, method, tuple(a if len(str(a)) < 80 else '…'
                                                                           for a in args)))

    def mgr(self, method, sig='', *args, **kw):
        return self.call(ROOT, MGR, method, sig, *args, **kw)

    def mgr_error(self, method, sig='', *args, **kw):
        return self.error(ROOT, MGR, method, sig, *args, **kw)

    def prop(self, path, iface, name):
        return self.call(path, PROPS, 'Get', 'ss', iface, name)[0]

    def managed(self):
        return self.call(ROOT, OM, 'GetManagedObjects')[0]

    def alive(self):
        assert self.prop(ROOT, MGR, 'State') in ('running', 'degraded')

    def allocate(self, pool, owner, hints=None, conn=None):
        return self.mgr('Allocate', 'ssa{sv}', pool, owner, hints or {}, conn=conn)[0]

    def control(self, method, sig, *args):
        return self.call('/sriovd_test', 'org.sriovd1.TestDaemon', method, sig, *args)

    # -- signals ------------------------------------------------------------------------
    def wait(self, pred, what, timeout=20):
        """Runs the GLib loop until pred() holds; no sleeping."""
        ctx = GLib.MainContext.default()
        deadline = time.monotonic() + timeout
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('timed out waiting for ' + what)
            fired = []
            src = GLib.timeout_add(int(left * 1000) + 1, lambda: fired.append(1) and False)
            ctx.iteration(True)
            if not fired:
                GLib.source_remove(src)

    def changed(self, path, iface, prop, value=None):
        return any(p == path and m == 'PropertiesChanged' and a[0] == iface and prop in a[1] and
                   (value is None or a[1][prop] == value) for p, i, m, a in self.signals)

    def om_signal(self, member, path):
        return any(p == ROOT and i == OM and m == member and a[0] == path for p, i, m, a in self.signals)


def slow(fn):
    fn.slow = True
    return fn


def pools(bus):
    return {name: (path, total, free) for path, name, total, free in bus.mgr('ListPools')[0]}


# ------------------------------------------------------------------------------------------

def test_managed_objects(bus):
    objs = bus.managed()
    kinds = {}
    for path, ifaces in objs.items():
        for iface in ifaces:
            if iface.startswith('org.sriovd1.'):
                kinds.setdefault(iface, []).append(path)
    assert sorted(kinds) == [PF, POOL, VF], sorted(kinds)
    assert len(kinds[PF]) == 2 and len(kinds[VF]) == 8 and len(kinds[POOL]) == 2, kinds
    pf1 = path_encode(ROOT + '/pf', '0000:01:00.0')
    assert pf1 in kinds[PF], (pf1, kinds[PF])
    assert objs[pf1][PF]['State'] == 'configured' and objs[pf1][PF]['NumVFs'] == 4
    # the list methods agree with the objects
    assert sorted(p for p, *_ in bus.mgr('ListPhysicalFunctions')[0]) == sorted(kinds[PF])
    assert sorted(v[0] for v in bus.mgr('ListVirtualFunctions', 's', '')[0]) == sorted(kinds[VF])
    assert sorted(bus.call(pf1, PF, 'ListVirtualFunctions')[0]) == sorted(
        p for p in kinds[VF] if objs[p][VF]['PhysicalFunction'] == pf1)
    for path in kinds[POOL]:
        pool = objs[path][POOL]
        assert pool['Total'] == 4 and pool['Free'] == 4, pool
        assert sorted(pool['VirtualFunctions']) == sorted(
            v[0] for v in bus.mgr('ListVirtualFunctions', 's', pool['Name'])[0])
    # GetManagedObjects is built from the model (daemon/objects-bus.c), not by sd-bus: each
    # object exactly as GetAll and introspection show it, and no object missing or extra
    std = ['org.freedesktop.DBus.Peer', 'org.freedesktop.DBus.Introspectable', PROPS]
    for path, ifaces in objs.items():
        iface = [i for i in ifaces if i.startswith('org.sriovd1.')][0]
        assert sorted(ifaces) == sorted(std + [iface]) and all(ifaces[i] == {} for i in std), ifaces
        assert bus.call(path, PROPS, 'GetAll', 's', iface)[0] == ifaces[iface], path
    # and byte for byte: each object's a{sv} (names, order, variant types, values) equals its
    # GetAll reply, as serialized GVariants; the standard interfaces are there and empty
    raw = bus.raw(ROOT, OM, 'GetManagedObjects').get_child_value(0)
    assert raw.n_children() == len(objs)
    for i in range(raw.n_children()):
        path = raw.get_child_value(i).get_child_value(0).get_string()
        ifaces = raw.get_child_value(i).get_child_value(1)
        names = [ifaces.get_child_value(j).get_child_value(0).get_string() for j in range(ifaces.n_children())]
        assert names[:3] == std, (path, names)
        for j, name in enumerate(names):
            props = ifaces.get_child_value(j).get_child_value(1)
            want = (bus.raw(path, PROPS, 'GetAll', 's', name).get_child_value(0) if name.startswith('org.sriovd1.')
                    else GLib.Variant('a{sv}', {}))
            assert props.equal(want), (path, name, props.print_(True), want.print_(True))
    seen = set()
    for sub in ('pf', 'vf', 'pool'):
        xml = bus.call(ROOT + '/' + sub, 'org.freedesktop.DBus.Introspectable', 'Introspect')[0]
        seen |= {ROOT + '/' + sub + '/' + n for n in re.findall(r'<node name="([^"]+)"', xml)}
    assert seen == set(objs), seen ^ set(objs)
    vf = objs[kinds[VF][0]][VF]
    assert vf['State'] == 'ready' and vf['Driver'] == 'igbvf' and vf['Allocated'] is False


def test_hotplug_signals(bus):
    pf = path_encode(ROOT + '/pf', '0000:09:00.0')
    bus.signals.clear()
    assert bus.control('AddPF', 'uu', 9, 7) == ('0000:09:00.0',)
    bus.wait(lambda: bus.om_signal('InterfacesAdded', pf), 'InterfacesAdded of the PF')

    def new_vfs():
        return sorted({a[0] for p, i, m, a in bus.signals if m == 'InterfacesAdded' and VF in a[1] and
                       a[1][VF]['PhysicalFunction'] == pf})
    bus.wait(lambda: len(new_vfs()) == 4, 'InterfacesAdded of its 4 VFs')
    vfs = new_vfs()
    bus.wait(lambda: bus.changed(pf, PF, 'State', 'configured'), 'PF configured')
    assert sorted(bus.call(pf, PF, 'ListVirtualFunctions')[0]) == sorted(vfs)
    assert pools(bus)['vm'][1] == 6
    bus.wait(lambda: bus.changed(pools(bus)['vm'][0], POOL, 'Total', 6), 'pool Total change')

    bus.signals.clear()
    bus.control('RemovePF', 's', '0000:09:00.0')
    bus.wait(lambda: bus.om_signal('InterfacesRemoved', pf), 'InterfacesRemoved of the PF')
    bus.wait(lambda: all(bus.om_signal('InterfacesRemoved', v) for v in vfs), 'InterfacesRemoved of the VFs')
    assert pf not in bus.managed()
    assert pools(bus)['vm'][1] == 4
    bus.alive()


def test_allocate_release(bus):
    vm_path, total, free = pools(bus)['vm']
    bus.signals.clear()
    vf = bus.allocate('vm', 'job-1')
    assert bus.prop(vf, VF, 'Allocated') is True and bus.prop(vf, VF, 'Owner') == 'job-1'
    bus.wait(lambda: bus.changed(vf, VF, 'Allocated', True) and bus.changed(vf, VF, 'Owner', 'job-1'),
             'PropertiesChanged Allocated/Owner')
    bus.wait(lambda: bus.changed(vm_path, POOL, 'Free', free - 1), 'pool Free PropertiesChanged')
    assert pools(bus)['vm'][2] == free - 1
    # hints: pci picks exactly that VF, pf restricts, numa_node prefers
    others = [v for v in bus.mgr('ListVirtualFunctions', 's', 'vm')[0] if not v[6]]
    pick = others[0]
    assert bus.allocate('vm', 'job-2', {'pci': GLib.Variant('s', pick[1])}) == pick[0]
    pf_pci = bus.prop(pick[2], PF, 'PCIAddress')
    v2 = bus.allocate('vm', 'job-2', {'pf': GLib.Variant('s', pf_pci)})
    assert bus.prop(v2, VF, 'PhysicalFunction') == pick[2]
    for numa in (0, 1):
        v = bus.allocate('rdma-train', 'job-3', {'numa_node': GLib.Variant('i', numa)})
        assert bus.prop(v, VF, 'NUMANode') == numa
    assert bus.mgr('ReleaseOwner', 's', 'job-3') == (2,)
    assert bus.mgr('ReleaseOwner', 's', 'job-3') == (0,)
    assert bus.mgr('ReleaseOwner', 's', 'job-2') == (2,)

    bus.signals.clear()
    bus.mgr('Release', 'os', vf, 'job-1')
    bus.wait(lambda: bus.changed(vf, VF, 'Allocated', False) and bus.changed(vf, VF, 'Owner', ''),
             'PropertiesChanged on release')
    bus.wait(lambda: bus.changed(vm_path, POOL, 'Free', free), 'pool Free back')
    assert pools(bus)['vm'][2] == free


def test_bind_to_caller(bus):
    c2 = bus.connect()
    bound = bus.allocate('vm', 'vm-42', {'bind_to_caller': GLib.Variant('b', True)}, conn=c2)
    plain = bus.allocate('vm', 'vm-42', conn=c2)
    other = bus.allocate('vm', 'batch')
    assert bus.prop(bound, VF, 'Allocated') is True
    bus.signals.clear()
    c2.close_sync(None)
    bus.wait(lambda: bus.changed(bound, VF, 'Allocated', False), 'bound lease ending with its caller')
    # only the bound lease ended
    assert bus.prop(plain, VF, 'Allocated') is True and bus.prop(other, VF, 'Allocated') is True
    assert bus.mgr('ReleaseOwner', 's', 'vm-42') == (1,)
    assert bus.mgr('ReleaseOwner', 's', 'batch') == (1,)


def numvfs_in_kernel(bus, pci):
    """sriov_numvfs as the fake kernel holds it (its sysfs file in the umockdev testbed)."""
    testbed = bus.daemon.dirs[1]
    for d, _, files in os.walk(os.path.join(testbed, 'sys', 'devices')):
        if os.path.basename(d) == pci and 'sriov_numvfs' in files:
            with open(os.path.join(d, 'sriov_numvfs')) as f:
                return int(f.read())
    raise AssertionError('no sriov_numvfs for %s under %s' % (pci, testbed))


def test_lease_blocks_shrink(bus):
    """Safety through the API: a VF leased over D-Bus blocks a reload that would destroy it;
    the PF says so naming the lease, the kernel's sriov_numvfs is not written; after Release
    the change goes ahead."""
    vm = [v for v in bus.mgr('ListVirtualFunctions', 's', 'vm')[0]]
    pf_path = sorted({v[2] for v in vm})[0]
    pf_pci = bus.prop(pf_path, PF, 'PCIAddress')
    top = max((v for v in vm if v[2] == pf_path), key=lambda v: bus.prop(v[0], VF, 'Index'))
    vf = bus.allocate('vm', 'vm-guest-7', {'pci': GLib.Variant('s', top[1])})
    assert vf == top[0]
    before = bus.prop(pf_path, PF, 'NumVFs')
    assert before == 4 and numvfs_in_kernel(bus, pf_pci) == 4
    conf = os.path.join(bus.daemon.dirs[0], 'etc', 'sriov.d', '50-test.conf')
    with open(conf + '.new', 'w') as f:
        f.write('physical_functions = ( { match = { interface = "enp*"; }; num_vfs = 2;\n'
                '  vfs = ( { range = "0"; pool = "rdma-train"; }, { range = "1"; pool = "vm"; } ); } );\n')
    os.rename(conf + '.new', conf)
    bus.signals.clear()
    bus.mgr('Reload')
    bus.wait(lambda: bus.changed(pf_path, PF, 'State', 'blocked'), 'the PF blocked by the lease')
    why = bus.prop(pf_path, PF, 'LastError')
    assert 'vm-guest-7' in why and top[1] in why, 'the reason does not name the lease: %r' % why
    assert bus.prop(pf_path, PF, 'NumVFs') == 4 and numvfs_in_kernel(bus, pf_pci) == 4
    assert bus.prop(vf, VF, 'Allocated') is True
    assert bus.prop(ROOT, MGR, 'State') == 'degraded'
    # The other PF has no lease on VFs 2-3: it shrinks.
    others = [p for p in bus.mgr('ListPhysicalFunctions')[0] if p[0] != pf_path]
    assert others
    for o in others:
        bus.wait(lambda: bus.prop(o[0], PF, 'NumVFs') == 2, 'the unleased PF shrinking')

    bus.signals.clear()
    bus.mgr('Release', 'os', vf, 'vm-guest-7')
    bus.wait(lambda: bus.changed(pf_path, PF, 'State', 'configured'), 'the PF configured after Release')
    assert bus.prop(pf_path, PF, 'NumVFs') == 2 and numvfs_in_kernel(bus, pf_pci) == 2
    bus.wait(lambda: bus.om_signal('InterfacesRemoved', vf), 'the released VF leaving the bus')
    bus.alive()


def test_hint_list_bounded(bus):
    """A hint list longer than the five keys there are (here: 'pf' 10,000 times) is refused
    before any work, not scanned or pinned while polkit decides."""
    entry = GLib.Variant.new_dict_entry(GLib.Variant('s', 'pf'), GLib.Variant('v', GLib.Variant('s', 'x')))
    hints = GLib.Variant.new_array(GLib.VariantType('{sv}'), [entry] * 10000)
    params = GLib.Variant.new_tuple(GLib.Variant('s', 'vm'), GLib.Variant('s', 'x'), hints)
    try:
        bus.conn.call_sync(NAME, ROOT, MGR, 'Allocate', params, None, Gio.DBusCallFlags.NONE, 30000, None)
        raise AssertionError('Allocate with 10,000 hints succeeded')
    except GLib.Error as e:
        assert Gio.DBusError.get_remote_error(e) == ERR + 'InvalidArgument', e.message
        assert 'Too many hints' in e.message, e.message
    bus.alive()


def test_bad_input(bus):
    vm = bus.mgr('ListVirtualFunctions', 's', 'vm')[0]
    free_vf = vm[0][0]
    pf1 = vm[0][2]
    taken = bus.allocate('vm', 'alice')
    cases = [
        # wrong argument types: rejected by sd-bus against the vtable signature
        (INVALID_ARGS, 'Allocate', 'sis', 'vm', 1, 'x'),
        (INVALID_ARGS, 'Allocate', 'ss', 'vm', 'x'),
        (INVALID_ARGS, 'Release', 'ss', taken, 'alice'),
        (INVALID_ARGS, 'ReleaseOwner', 'u', 7),
        (INVALID_ARGS, 'ListVirtualFunctions', 'b', True),
        # unknown pool
        (ERR + 'NoSuchPool', 'Allocate', 'ssa{sv}', 'no-such-pool', 'x', {}),
        (ERR + 'NoSuchPool', 'ListVirtualFunctions', 's', 'no-such-pool'),
        # bad object paths, objects that are not VFs
        (ERR + 'InvalidArgument', 'Release', 'os', '/org/sriovd1/vf/nonexistent', 'alice'),
        (ERR + 'InvalidArgument', 'Release', 'os', '/', 'alice'),
        (ERR + 'InvalidArgument', 'Release', 'os', ROOT, 'alice'),
        (ERR + 'InvalidArgument', 'Release', 'os', pf1, 'alice'),
        (ERR + 'InvalidArgument', 'Release', 'os', pools(bus)['vm'][0], 'alice'),
        # hints
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'x', {'colour': GLib.Variant('s', 'red')}),
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'x', {'numa_node': GLib.Variant('s', '0')}),
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'x', {'numa_node': GLib.Variant('u', 0)}),
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'x', {'pci': GLib.Variant('i', 3)}),
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'x', {'bind_to_caller': GLib.Variant('i', 1)}),
        # hint strings are bounded (a PCI address is 12 bytes, an interface name 15)
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'x', {'pf': GLib.Variant('s', 'p' * 65)}),
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'x', {'pci': GLib.Variant('s', '0' * (1 << 20))}),
        # owners: empty, huge, control characters
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', '', {}),
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'x' * (1 << 20), {}),
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'x' * 256, {}),
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'a\x01b', {}),
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'a\nb', {}),
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'tab\there', {}),
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'vm', 'del\x7f', {}),
        (ERR + 'InvalidArgument', 'ReleaseOwner', 's', 'x' * (1 << 20)),
        (ERR + 'InvalidArgument', 'ReleaseOwner', 's', 'a\x1bb'),
        # huge pool name
        (ERR + 'InvalidArgument', 'Allocate', 'ssa{sv}', 'p' * (1 << 20), 'x', {}),
        # release by a non-owner, release of a free VF
        (ERR + 'NotOwner', 'Release', 'os', taken, 'mallory'),
        (ERR + 'NotOwner', 'Release', 'os', taken, 'x' * (1 << 20)),
        (ERR + 'NotAllocated', 'Release', 'os', free_vf if free_vf != taken else vm[1][0], 'alice'),
    ]
    for want, method, sig, *args in cases:
        got = bus.mgr_error(method, sig, *args)
        assert got == want, '%s(%s): got %s, want %s' % (method, ', '.join(repr(a)[:40] for a in args), got, want)
        bus.alive()
    assert bus.prop(taken, VF, 'Owner') == 'alice'
    # exhausted pool (and a hint nothing satisfies)
    n = pools(bus)['vm'][2]
    for _ in range(n):
        bus.allocate('vm', 'bulk')
    assert bus.mgr_error('Allocate', 'ssa{sv}', 'vm', 'bulk', {}) == ERR + 'PoolExhausted'
    bus.alive()
    assert bus.mgr('ReleaseOwner', 's', 'bulk') == (n,)
    assert bus.mgr_error('Allocate', 'ssa{sv}', 'vm', 'x', {'pci': GLib.Variant('s', '0000:ff:00.0')}) == \
        ERR + 'PoolExhausted'
    # a PF/pool object is not a Manager: unknown method on it
    assert bus.error(pf1, PF, 'Allocate') == 'org.freedesktop.DBus.Error.UnknownMethod'
    bus.mgr('Release', 'os', taken, 'alice')
    bus.alive()


CLIENT = r'''
import json, sys
from gi.repository import Gio, GLib
conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1], Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
    Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
out = []
for path, iface, method, sig, args in json.loads(sys.argv[2]):
    if sig == 'ssa{sv}':
        args[2] = {}
    if sig == 'ssv':
        args[2] = GLib.Variant('s', args[2])
    try:
        conn.call_sync('org.sriovd1', path, iface, method, GLib.Variant('(%s)' % sig, tuple(args)) if sig else None,
                       None, Gio.DBusCallFlags.NONE, 30000, None)
        out.append(['ok', ''])
    except GLib.Error as e:
        out.append([Gio.DBusError.get_remote_error(e), e.message])
print(json.dumps(out))
'''


def as_user(bus, user, calls):
    pw = pwd.getpwnam(user)
    p = subprocess.run(['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid, '--clear-groups',
                        '/usr/bin/python3', '-c', CLIENT, bus.address, json.dumps(calls)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_access_control(bus):
    if os.geteuid() != 0:
        raise Skip('needs root to run a client as nobody')
    vf = bus.mgr('ListVirtualFunctions', 's', 'vm')[0][0][0]
    pf = bus.mgr('ListPhysicalFunctions')[0][0][0]
    taken = bus.allocate('vm', 'root-job')
    reads = [
        [ROOT, PROPS, 'GetAll', 's', [MGR]],
        [ROOT, OM, 'GetManagedObjects', '', []],
        [ROOT, MGR, 'ListPhysicalFunctions', '', []],
        [ROOT, MGR, 'ListVirtualFunctions', 's', ['']],
        [ROOT, MGR, 'ListPools', '', []],
        [ROOT, MGR, 'Plan', '', []],
        [ROOT, MGR, 'Diagnose', '', []],
        [vf, PROPS, 'GetAll', 's', [VF]],
        [vf, PROPS, 'Get', 's' + 's', [VF, 'Owner']],
        [pf, PF, 'ListVirtualFunctions', '', []],
        [ROOT, 'org.freedesktop.DBus.Introspectable', 'Introspect', '', []],
    ]
    writes = [
        [ROOT, MGR, 'Allocate', 'ssa{sv}', ['vm', 'nobody-job', {}]],
        [ROOT, MGR, 'Release', 'os', [taken, 'root-job']],
        [ROOT, MGR, 'ReleaseOwner', 's', ['root-job']],
        [ROOT, MGR, 'Reload', '', []],
    ]
    got = as_user(bus, 'nobody', reads + writes)
    for call, (name, msg) in zip(reads, got[:len(reads)]):
        assert name == 'ok', 'nobody cannot %s: %s %s' % (call[2], name, msg)
    for call, (name, msg) in zip(writes, got[len(reads):]):
        assert name == ACCESS_DENIED, 'nobody %s: %s %s' % (call[2], name, msg)
        # the daemon denied it (polkit is not on this bus), not the bus policy
        assert 'org.sriovd1.manage' in msg, msg
    assert bus.prop(taken, VF, 'Owner') == 'root-job'
    assert bus.mgr('ReleaseOwner', 's', 'nobody-job') == (0,)
    # a method the policy does not list is refused by the bus for nobody
    got = as_user(bus, 'nobody', [[ROOT, PROPS, 'Set', 'ssv', [MGR, 'State', 'x']]])
    assert got[0][0] == ACCESS_DENIED, got
    # root: the same mutations work
    bus.mgr('Release', 'os', taken, 'root-job')
    bus.mgr('Reload')
    bus.alive()


GONE_CLIENT = r'''
import sys
from gi.repository import Gio, GLib
conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1], Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
    Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
conn.call('org.sriovd1', '/org/sriovd1', 'org.sriovd1.Manager', 'Allocate',
          GLib.Variant('(ssa{sv})', ('vm', 'gone-vm', {'bind_to_caller': GLib.Variant('b', True)})),
          None, Gio.DBusCallFlags.NONE, 30000, None, None)
conn.flush_sync(None)
print(conn.get_unique_name(), flush=True)
sys.stdin.read()  # stays on the bus until the test closes our stdin
'''


def fake_polkit(bus):
    """A polkit that takes every check and answers only when the test says so."""
    pk = bus.connect()
    node = Gio.DBusNodeInfo.new_for_xml(POLKIT_XML)
    held = []
    pk.register_object('/org/freedesktop/PolicyKit1/Authority', node.interfaces[0],
                       lambda *a: held.append(a[-1]), None, None)
    pk.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'RequestName',
                 GLib.Variant('(su)', ('org.freedesktop.PolicyKit1', 4)), None, Gio.DBusCallFlags.NONE, 5000, None)
    return pk, held


def test_bind_to_caller_gone_before_polkit_answers(bus):
    """A caller that leaves while polkit decides gets no lease that nothing would ever end."""
    if os.geteuid() != 0:
        raise Skip('needs root to run a client as nobody')
    free = pools(bus)['vm'][2]
    pk, held = fake_polkit(bus)
    pw = pwd.getpwnam('nobody')
    p = subprocess.Popen(['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid, '--clear-groups',
                          '/usr/bin/python3', '-c', GONE_CLIENT, bus.address],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        name = p.stdout.readline().strip()
        assert name.startswith(':'), name
        # The caller is still there while polkit gets the check; then it leaves.
        bus.wait(lambda: len(held) == 1, 'the check reaching polkit')
    finally:
        p.stdin.close()
        p.wait(60)
    bus.wait(lambda: any(m == 'NameOwnerChanged' and a[0] == name and not a[2] for p, i, m, a in bus.signals),
             'the bus announcing that the caller left')
    held[0].return_value(GLib.Variant('((bba{ss}))', ((True, False, {}),)))
    # pk's next call reaches the daemon after its answer: when it returns, the answer is handled.
    pk.call_sync(NAME, ROOT, PROPS, 'Get', GLib.Variant('(ss)', (MGR, 'State')), None,
                 Gio.DBusCallFlags.NONE, 30000, None)
    assert pools(bus)['vm'][2] == free, 'a lease bound to a caller that had left'
    assert bus.mgr('ReleaseOwner', 's', 'gone-vm') == (0,)
    pk.close_sync(None)
    bus.alive()


FLOOD_CLIENT = r'''
import json, sys, time
from gi.repository import Gio, GLib
conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1], Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
    Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
n = int(sys.argv[2])
errors = []
def done(c, res, _):
    try:
        c.call_finish(res)
        errors.append('ok')
    except GLib.Error as e:
        errors.append(Gio.DBusError.get_remote_error(e))
for i in range(n):
    conn.call('org.sriovd1', '/org/sriovd1', 'org.sriovd1.Manager', 'Allocate',
              GLib.Variant('(ssa{sv})', ('vm', 'flood-%d' % i, {})), None, Gio.DBusCallFlags.NONE, 60000, None,
              done, None)
ctx = GLib.MainContext.default()
deadline = time.monotonic() + 30
# Those over the limit are answered at once; the pending ones only when polkit answers (never).
while len(errors) < n - 16 and time.monotonic() < deadline:
    ctx.iteration(True)
print(json.dumps(errors))
'''


POLKIT_XML = '''<node><interface name="org.freedesktop.PolicyKit1.Authority">
<method name="CheckAuthorization"><arg type="(sa{sv})" direction="in"/><arg type="s" direction="in"/>
<arg type="a{ss}" direction="in"/><arg type="u" direction="in"/><arg type="s" direction="in"/>
<arg type="(bba{ss})" direction="out"/></method></interface></node>'''


def test_polkit_checks_are_bounded(bus):
    """Pending polkit checks pin their messages: at most 16 per caller, the rest refused at once,
    and the daemon keeps answering meanwhile."""
    if os.geteuid() != 0:
        raise Skip('needs root to run a client as nobody')
    pk, held = fake_polkit(bus)  # it never answers
    pw = pwd.getpwnam('nobody')
    p = subprocess.Popen(['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid, '--clear-groups',
                          '/usr/bin/python3', '-c', FLOOD_CLIENT, bus.address, '40'],
                         stdout=subprocess.PIPE, text=True)
    try:
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    got = json.loads(out)
    assert len(got) == 24 and all(e == 'org.freedesktop.DBus.Error.LimitsExceeded' for e in got), got
    # responsive while 16 checks are pending
    t = time.monotonic()
    bus.alive()
    assert time.monotonic() - t < 1.0
    assert pools(bus)['vm'][2] == pools(bus)['vm'][1], 'nothing was allocated'
    bus.wait(lambda: len(held) == 16, 'the 16 checks reaching polkit')
    pk.close_sync(None)



class DriverMonitor:
    """dbus-monitor on the test bus: the method calls clients make to the bus driver
    (org.freedesktop.DBus), as (sender, member, first argument)."""

    def __init__(self, bus):
        if not shutil.which('dbus-monitor'):
            raise Skip('dbus-monitor missing')
        self.bus = bus
        self.p = subprocess.Popen(['dbus-monitor', '--address', bus.address,
                                   "type='method_call',destination='org.freedesktop.DBus'"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.buf = b''
        self.calls = []
        self.n_markers = 0
        try:
            self.sync()  # the monitor is on once it sees our calls
        except Exception:
            self.close()
            raise

    def read(self, timeout):
        if select.select([self.p.stdout], [], [], max(timeout, 0))[0]:
            data = os.read(self.p.stdout.fileno(), 1 << 16)
            if not data:
                raise AssertionError('dbus-monitor exited')
            self.buf += data
        # An entry: its header line, then its arguments indented; complete once the next begins.
        entries = re.split(rb'\n(?=\S)', self.buf)
        self.buf = entries.pop()
        for e in entries:
            m = re.match(rb'method call .* sender=(\S+) -> .* member=(\w+)(?:\n\s+string "([^"]*)")?', e)
            if m:
                self.calls.append(tuple(x.decode() if x is not None else None for x in m.groups()))

    def sync(self, timeout=20):
        """Returns once every driver call made before it is in self.calls."""
        deadline = time.monotonic() + timeout
        me = self.bus.conn.get_unique_name()
        while True:
            self.n_markers += 1
            marker = 'sriovd.test.marker%d' % self.n_markers
            # GetId after it: dbus-monitor ends an entry when it prints the next one.
            for member, args in (('NameHasOwner', GLib.Variant('(s)', (marker,))), ('GetId', None)):
                self.bus.conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                                        member, args, None, Gio.DBusCallFlags.NONE, 5000, None)
            step = time.monotonic() + 1
            while (me, 'NameHasOwner', marker) not in self.calls:
                if time.monotonic() >= min(step, deadline):
                    break
                self.read(min(step, deadline) - time.monotonic())
            if (me, 'NameHasOwner', marker) in self.calls:
                return
            if time.monotonic() >= deadline:
                raise AssertionError('dbus-monitor saw none of our calls in %d s' % timeout)

    def of(self, sender):
        return [(member, arg) for s, member, arg in self.calls if s == sender]

    def close(self):
        self.p.kill()
        self.p.wait()


def daemon_name(bus):
    return bus.conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                              'GetNameOwner', GLib.Variant('(s)', (NAME,)), None, Gio.DBusCallFlags.NONE,
                              5000, None).unpack()[0]


def test_caller_uid_asked_once(bus):
    """The daemon asks the bus who a client is once (GetConnectionUnixUser, answered on its loop),
    not at each of its managing calls: root's next calls cost no round trip to the bus driver,
    and a non-root client still goes to polkit (none on this bus: denied)."""
    if os.geteuid() != 0:
        raise Skip('needs root to run a client as nobody')
    sriovd = daemon_name(bus)
    mon = DriverMonitor(bus)
    try:
        mon.calls.clear()
        root = bus.connect()
        vf = bus.allocate('vm', 'uid-once', conn=root)
        bus.mgr('Release', 'os', vf, 'uid-once', conn=root)
        assert bus.mgr('ReleaseOwner', 's', 'uid-once', conn=root) == (0,)
        root2 = bus.connect()
        assert bus.mgr('ReleaseOwner', 's', 'uid-once', conn=root2) == (0,)
        got = as_user(bus, 'nobody', [[ROOT, MGR, 'ReleaseOwner', 's', ['nobody-job']]] * 3)
        assert all(name == ACCESS_DENIED and 'org.sriovd1.manage' in msg for name, msg in got), got
        mon.sync()
        asked = mon.of(sriovd)
        lookups = [arg for member, arg in asked if member == 'GetConnectionUnixUser']
        # root, root2 and nobody's connection: one question each, and nothing else of the bus
        assert sorted(asked) == sorted(('GetConnectionUnixUser', a) for a in lookups), asked
        assert len(lookups) == 3 and len(set(lookups)) == 3, asked
        assert {root.get_unique_name(), root2.get_unique_name()} <= set(lookups), asked
        # a cached answer: root's next call asks nothing
        bus.allocate('vm', 'uid-once', conn=root)
        assert bus.mgr('ReleaseOwner', 's', 'uid-once', conn=root) == (1,)
        mon.sync()
        assert mon.of(sriovd) == asked, mon.of(sriovd)
        root.close_sync(None)
        root2.close_sync(None)
    finally:
        mon.close()
    bus.alive()


def test_bind_to_caller_asks_the_bus_nothing(bus):
    """A bound lease watches its caller through the NameOwnerChanged match the daemon has
    anyway: binding to a caller it has identified costs no call to the bus driver (no AddMatch,
    no GetNameOwner: nothing for the loop to wait on), and the lease still ends when the caller
    leaves."""
    sriovd = daemon_name(bus)
    mon = DriverMonitor(bus)
    try:
        c = bus.connect()
        bus.allocate('vm', 'bound-quiet', conn=c)  # the caller is identified here, once
        assert bus.mgr('ReleaseOwner', 's', 'bound-quiet', conn=c) == (1,)
        mon.sync()
        before = list(mon.of(sriovd))
        bound = bus.allocate('vm', 'bound-quiet', {'bind_to_caller': GLib.Variant('b', True)}, conn=c)
        mon.sync()
        assert mon.of(sriovd) == before, mon.of(sriovd)[len(before):]
        bus.signals.clear()
        c.close_sync(None)
        bus.wait(lambda: bus.changed(bound, VF, 'Allocated', False), 'bound lease ending with its caller')
    finally:
        mon.close()
    bus.alive()


GONE_SENDER = r"""
import sys
from gi.repository import Gio, GLib
conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1], Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
    Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
conn.call('org.sriovd1', '/org/sriovd1', 'org.sriovd1.Manager', 'Allocate',
          GLib.Variant('(ssa{sv})', ('vm', 'gone-lookup', {'bind_to_caller': GLib.Variant('b', True)})),
          None, Gio.DBusCallFlags.NONE, 30000, None, None)
conn.flush_sync(None)
print(conn.get_unique_name(), flush=True)
"""


def test_caller_gone_while_identified(bus):
    """A client that leaves while the daemon asks the bus who it is: its call is dropped (no
    lease), the answer that comes after is ignored, the daemon carries on."""
    sriovd = daemon_name(bus)
    free = pools(bus)['vm'][2]
    mon = DriverMonitor(bus)
    try:
        # The daemon reads the call, then (in the same read) that its sender left.
        os.kill(bus.daemon.p.pid, signal.SIGSTOP)
        try:
            p = subprocess.run(['/usr/bin/python3', '-c', GONE_SENDER, bus.address], capture_output=True, text=True,
                               timeout=60)
            name = p.stdout.strip()
            assert name.startswith(':'), p.stderr
            bus.wait(lambda: any(m == 'NameOwnerChanged' and a[0] == name and not a[2]
                                 for _, _, m, a in bus.signals), 'the bus announcing that the caller left')
        finally:
            os.kill(bus.daemon.p.pid, signal.SIGCONT)
        bus.alive()  # answered after the daemon has read the call and the signal
        bus.alive()  # and after the bus's answer to its question (sent before the first reply)
        mon.sync()
        assert ('GetConnectionUnixUser', name) in mon.of(sriovd), mon.of(sriovd)
    finally:
        mon.close()
    assert pools(bus)['vm'][2] == free, 'a lease for a caller that had left'
    assert bus.mgr('ReleaseOwner', 's', 'gone-lookup') == (0,)
    bus.alive()

def test_bind_to_caller_across_restart():
    """A bound lease outlives a daemon crash while its caller lives, and ends when the caller
    goes, also if the caller went while the daemon was down."""
    state = tempfile.mkdtemp(prefix='sriovd-test-leases-')
    bus = Bus(state_dir=state)
    try:
        stays, leaves = bus.connect(), bus.connect()
        bound = {GLib.Variant('b', True)}.pop()
        a = bus.allocate('vm', 'vm-a', {'bind_to_caller': bound}, conn=stays)
        b = bus.allocate('vm', 'vm-b', {'bind_to_caller': bound}, conn=leaves)
        bus.daemon.p.send_signal(signal.SIGKILL)
        bus.daemon.p.wait()
        bus.daemon.cleanup()
        leaves.close_sync(None)  # gone while the daemon is down
        bus.start(state_dir=state)
        bus.wait(lambda: bus.prop(b, VF, 'Allocated') is False, 'lease of a caller that left during the crash')
        assert bus.prop(a, VF, 'Allocated') is True and bus.prop(a, VF, 'Owner') == 'vm-a'
        bus.signals.clear()
        stays.close_sync(None)
        bus.wait(lambda: bus.changed(a, VF, 'Allocated', False), 'lease ending with its caller after a restart')
        # and the store agrees: nothing comes back on the next start
        bus.daemon.stop()
        bus.start(state_dir=state)
        assert bus.prop(a, VF, 'Allocated') is False and bus.prop(b, VF, 'Allocated') is False
    finally:
        bus.close()
        shutil.rmtree(state, ignore_errors=True)


@slow
def test_durability():
    """kill -9 right after Allocate returns, restart on the same state directory: every lease
    made so far is there (SRIOVD_TEST_CRASHES times, default 20)."""
    crashes = int(os.environ.get('SRIOVD_TEST_CRASHES', '20'))
    vfs = '--vfs=%d' % max(24, crashes + crashes % 2)  # pool "vm" = half of 2 PFs' VFs
    args = (vfs, '--total-vfs=%d' % max(24, crashes + crashes % 2))
    state = tempfile.mkdtemp(prefix='sriovd-test-leases-')
    bus = Bus(*args, state_dir=state)
    try:
        held = {}
        free = pools(bus)['vm'][2]
        for i in range(crashes):
            vf = bus.allocate('vm', 'crash-%d' % i)
            bus.daemon.p.send_signal(signal.SIGKILL)  # right after the reply
            bus.daemon.p.wait()
            bus.daemon.cleanup()
            held[vf] = 'crash-%d' % i
            bus.start(*args, state_dir=state)

            def leases_visible(objs):
                return all(path in objs and objs[path][VF]['Allocated'] is True and
                           objs[path][VF]['Owner'] == owner for path, owner in held.items())
            # Wait (deadline 10 s) for the condition rather than assuming READY means every
            # object is already exported; a lost lease still fails, after the deadline.
            deadline = time.monotonic() + 10
            objs = bus.managed()
            while not leases_visible(objs) and time.monotonic() < deadline:
                time.sleep(0.05)
                objs = bus.managed()
            missing = [(p, o) for p, o in held.items()
                       if not (p in objs and objs[p][VF]['Allocated'] is True and objs[p][VF]['Owner'] == o)]
            assert not missing, 'leases lost after kill -9 #%d: %s' % (i, missing)
            assert sum(1 for o in objs.values() if VF in o and o[VF]['Allocated']) == len(held)
        assert pools(bus)['vm'][2] == free - len(held)
    finally:
        bus.close()
        shutil.rmtree(state, ignore_errors=True)


SLOW_KERNEL_VFS = 256


def slow_kernel_conf(vlan):
    return ('physical_functions = ( { match = { interface = "enp*"; }; num_vfs = %d;\n'
            '  vfs = ( { range = "0-%d"; pool = "vm"; vlan = %d; trust = true; } ); } );\n'
            % (SLOW_KERNEL_VFS, SLOW_KERNEL_VFS - 1, vlan))


@slow
def test_bus_answers_while_the_kernel_is_slow():
    """Issue 12 item 3: with every rtnetlink reply held 200 ms by the fake kernel, a reload
    that re-configures 256 VFs (one batch, re-reads of the VF table) still completes with the
    right values, and every D-Bus read made meanwhile is answered within 10 ms: the loop never
    waits on the kernel."""
    conf = tempfile.NamedTemporaryFile('w', suffix='.conf', delete=False)
    conf.write(slow_kernel_conf(100))
    conf.close()
    bus = Bus('--pfs=1', '--total-vfs=%d' % SLOW_KERNEL_VFS, '--config=' + conf.name)
    try:
        os.unlink(conf.name)
        pf = path_encode(ROOT + '/pf', '0000:01:00.0')
        vfs = sorted(bus.call(pf, PF, 'ListVirtualFunctions')[0])
        assert len(vfs) == SLOW_KERNEL_VFS
        assert bus.prop(vfs[-1], VF, 'VLAN') == 100
        with open(os.path.join(bus.daemon.dirs[0], 'etc/sriov.d/50-test.conf'), 'w') as f:
            f.write(slow_kernel_conf(200))
        bus.control('SetReplyDelay', 't', 200000)
        bus.control('LoopStats', 'b', True)
        bus.signals.clear()
        bus.mgr('Reload')

        def applied():
            # Read (observed, from the kernel's VF table) on the bus, one VF of each end.
            return bus.prop(vfs[0], VF, 'VLAN') == 200 and bus.prop(vfs[-1], VF, 'VLAN') == 200

        # A connection of its own, subscribed to no signal: the 256 PropertiesChanged the apply
        # raises do not queue in front of its replies, so what is timed is the daemon.
        reader = bus.connect()
        reads = []
        start = time.monotonic()
        deadline = start + 60
        while not applied():
            assert time.monotonic() < deadline, 'the apply did not finish in 60 s'
            for path, iface, name in ((pf, PF, 'State'), (vfs[len(reads) % len(vfs)], VF, 'VLAN'),
                                      (ROOT, MGR, 'State')):
                t = time.monotonic()
                bus.call(path, PROPS, 'Get', 'ss', iface, name, conn=reader)
                reads.append(time.monotonic() - t)
        took = time.monotonic() - start
        bus.wait(lambda: bus.prop(pf, PF, 'State') == 'configured', 'PF configured after the apply')
        # The apply waited on several held replies (a batch, then the re-read that checks it),
        # and the reads ran all along.
        assert took >= 0.4, 'the apply took %.3f s: the delay did not hold the replies' % took
        assert len(reads) >= 30, 'only %d reads during the apply' % len(reads)
        # The daemon's side: no iteration of its loop (one dispatched source: a reply, a pass,
        # a bus call) took 10 ms of CPU, so no read waited on the kernel. The client's side,
        # which also counts this host's scheduling (2 shared cores): 99 % of the reads within
        # 10 ms and none near the kernel's 200 ms, which is what a loop that waits for its
        # replies shows (each read then waits for the reply in flight).
        max_usec, max_cpu_usec, _ = bus.control('LoopStats', 'b', False)
        reads.sort()
        p99, slowest = reads[len(reads) * 99 // 100], reads[-1]
        print('# %d reads during a %.2f s apply: median %.2f ms, 99%% %.2f ms, slowest %.2f ms; '
              'longest loop iteration %.2f ms (%.2f ms CPU)' %
              (len(reads), took, reads[len(reads) // 2] * 1000, p99 * 1000, slowest * 1000,
               max_usec / 1000, max_cpu_usec / 1000))
        # Under ASan/UBSan the daemon's code runs 3-5x slower: the bounds stretch by 5 (said
        # aloud), the 200 ms of a waiting loop stay far above them.
        scale = 5 if 'libasan' in PRELOAD else 1
        if scale > 1:
            print('# sanitizer build: time bounds x%d (10 ms -> %d ms)' % (scale, 10 * scale))
        assert max_cpu_usec < 10000 * scale, 'a loop iteration took %.1f ms of CPU' % (max_cpu_usec / 1000)
        assert p99 < 0.010 * scale, '1 %% of the D-Bus reads took %.1f ms or more' % (p99 * 1000)
        assert slowest < 0.050 * scale, 'a D-Bus read took %.1f ms during the apply' % (slowest * 1000)
        # Every VF ends with the new values, as observed in the kernel's table.
        objs = bus.managed()
        got = {objs[v][VF]['VLAN'] for v in vfs}
        assert got == {200}, 'VLANs after the apply: %s' % got
        assert all(objs[v][VF]['Trust'] is True for v in vfs)
        bus.control('SetReplyDelay', 't', 0)
        reader.close_sync(None)
    finally:
        bus.close()


class Skip(Exception):
    pass


def main():
    if not DAEMON:
        print('usage: test-bus.py SRIOVD_TEST_DAEMON', file=sys.stderr)
        return 2
    if not shutil.which('dbus-daemon'):
        print('1..0 # SKIP dbus-daemon missing')
        return 0
    want_slow = os.environ.get('TEST_SLOW', '') == '1'
    tests = [(k, v) for k, v in globals().items()
             if k.startswith('test_') and ('TEST_SLOW' not in os.environ or getattr(v, 'slow', False) == want_slow)]
    only = os.environ.get('TEST_ONLY')
    selected = [(k, v) for k, v in tests if not only or only in k]
    if not selected:
        print('1..1')
        print('not ok 1 TEST_ONLY=%r selects none of: %s' % (only, ' '.join(k for k, _ in tests)))
        return 1
    print('1..%d' % len(selected), flush=True)
    failed = skipped = 0
    for n, (name, fn) in enumerate(selected, 1):
        bus = None
        status = None
        t = time.monotonic()
        try:
            if fn.__code__.co_argcount:
                bus = Bus()
                fn(bus)
            else:
                fn()
        except Skip as e:
            skipped += 1
            status = 'ok %d %s # SKIP %s' % (n, name, e)
        except Exception:
            failed += 1
            status = 'not ok %d %s' % (n, name)
            # On stdout, behind '#': meson's JSON log keeps it, so a rare failure leaves evidence.
            print(''.join('# ' + l + '\n' for l in traceback.format_exc().splitlines()), end='')
        finally:
            if bus:
                try:
                    bus.close()
                except Exception:
                    if status is None or status.startswith('ok'):
                        failed += 1
                    status = 'not ok %d %s (teardown)' % (n, name)
                    print(''.join('# ' + l + '\n' for l in traceback.format_exc().splitlines()), end='')
        print(status or 'ok %d %s # %.1fs' % (n, name, time.monotonic() - t), flush=True)
    print('# %d failed, %d skipped, %d run' % (failed, skipped, len(selected)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
