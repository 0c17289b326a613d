#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Lease liveness beyond a bus connection (issue 13 item 4), over D-Bus on a private bus.

Usage: test-liveness.py SRIOVD_TEST_DAEMON
Uses test-bus.py's harness (dbus-daemon with the shipped policy, the daemon on the fake
kernel). A lease bound to a process (Allocate hint bind_pid) ends when the process exits,
also when it exited while sriovd was down, and a pid that now names another process (other
start time, or another boot) is not taken for the holder. A lease bound to a systemd unit
(bind_unit) ends when that run of the unit ends: a fake systemd on the test bus
(org.freedesktop.systemd1: Subscribe, Unit properties, PropertiesChanged, JobRemoved)
plays the part, in a thread of its own. Output is TAP.
"""
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

from gi.repository import Gio, GLib

spec = importlib.util.spec_from_file_location(
    'testbus', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'test-bus.py'))
tb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tb)
# The fake systemd owns its name on the test bus.
tb.BUS_CONFIG = tb.BUS_CONFIG.replace('<allow own="org.freedesktop.PolicyKit1"/>',
                                      '<allow own="org.freedesktop.PolicyKit1"/>\n'
                                      '    <allow own="org.freedesktop.systemd1"/>')
Bus, VF, ERR = tb.Bus, tb.VF, tb.ERR

SD = 'org.freedesktop.systemd1'
SD_PATH = '/org/freedesktop/systemd1'
SD_MGR = SD + '.Manager'
SD_UNIT = SD + '.Unit'
XML = '''<node>
 <interface name="org.freedesktop.systemd1.Manager">
  <method name="Subscribe"/>
  <signal name="JobRemoved"><arg type="u"/><arg type="o"/><arg type="s"/><arg type="s"/></signal>
  <signal name="UnitRemoved"><arg type="s"/><arg type="o"/></signal>
 </interface>
 <interface name="org.freedesktop.systemd1.Unit">
  <property name="Id" type="s" access="read"/>
  <property name="ActiveState" type="s" access="read"/>
  <property name="SubState" type="s" access="read"/>
  <property name="InvocationID" type="ay" access="read"/>
 </interface>
</node>'''


def unit_path(name):
    return tb.path_encode(SD_PATH + '/unit', name)


class FakeSystemd(threading.Thread):
    """Units as {name: [ActiveState, InvocationID bytes]}; answers on its own main context."""

    def __init__(self, address, units):
        super().__init__(daemon=True)
        self.address = address
        self.units = {u: [state, uuid.uuid4().bytes] for u, state in units.items()}
        self.subscribed = 0
        self.getall = 0
        self.ready = threading.Event()
        self.start()
        assert self.ready.wait(20), 'fake systemd did not start'

    def run(self):
        ctx = GLib.MainContext.new()
        ctx.push_thread_default()
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        info = Gio.DBusNodeInfo.new_for_xml(XML)
        self.conn.register_object(SD_PATH, info.lookup_interface(SD_MGR), self.on_call, None, None)
        for u in self.units:
            self.conn.register_object(unit_path(u), info.lookup_interface(SD_UNIT), None,
                                      self.get_property, None)
        self.conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                            'RequestName', GLib.Variant('(su)', (SD, 4)), None, Gio.DBusCallFlags.NONE,
                            10000, None)
        self.loop = GLib.MainLoop.new(ctx, False)
        self.ready.set()
        self.loop.run()

    def on_call(self, conn, sender, path, iface, method, params, inv):
        if method == 'Subscribe':
            self.subscribed += 1
        inv.return_value(None)

    def get_property(self, conn, sender, path, iface, prop):
        name = next(u for u in self.units if unit_path(u) == path)
        state, inv = self.units[name]
        self.getall += prop == 'ActiveState'
        return {'Id': GLib.Variant('s', name), 'ActiveState': GLib.Variant('s', state),
                'SubState': GLib.Variant('s', 'running' if state == 'active' else 'dead'),
                'InvocationID': GLib.Variant('ay', inv)}[prop]

    def set(self, unit, state, new_run=False, signal=True):
        self.units[unit][0] = state
        if new_run:
            self.units[unit][1] = uuid.uuid4().bytes
        if signal:
            st, inv = self.units[unit]
            self.conn.emit_signal(None, unit_path(unit), 'org.freedesktop.DBus.Properties', 'PropertiesChanged',
                                  GLib.Variant('(sa{sv}as)', (SD_UNIT, {
                                      'ActiveState': GLib.Variant('s', st),
                                      'SubState': GLib.Variant('s', 'dead'),
                                      'InvocationID': GLib.Variant('ay', inv)}, [])))

    def job_removed(self, unit):
        self.conn.emit_signal(None, SD_PATH, SD_MGR, 'JobRemoved',
                              GLib.Variant('(uoss)', (7, SD_PATH + '/job/7', unit, 'done')))

    def close(self):
        self.loop.quit()
        self.join(10)
        self.conn.close_sync(None)


class Process:
    """A process to bind leases to, not a child of the daemon."""

    def __init__(self):
        self.p = subprocess.Popen(['sleep', '1000'])
        self.pid = self.p.pid

    def kill(self):
        self.p.kill()
        self.p.wait()


def allocated(bus, vf):
    return bus.prop(vf, VF, 'Allocated')


def lease_file(state, bus, vf):
    pf = bus.prop(bus.prop(vf, VF, 'PhysicalFunction'), tb.PF, 'PCIAddress')
    return os.path.join(state, 'leases', '%s-%d' % (pf, bus.prop(vf, VF, 'Index')))


def edit_lease(path, key, value):
    text = open(path).read()
    text, n = re.subn(r'^%s=.*$' % key, '%s=%s' % (key, value), text, flags=re.M)
    assert n == 1, (key, text)
    with open(path, 'w') as f:
        f.write(text)


def crash(bus):
    bus.daemon.p.send_signal(signal.SIGKILL)
    bus.daemon.p.wait()
    bus.daemon.cleanup()


def pid_hint(pid):
    return {'bind_pid': GLib.Variant('u', pid)}


# ------------------------------------------------------------------------------------------

def test_bind_pid_exit(bus):
    p = Process()
    try:
        vf = bus.allocate('vm', 'podman:web', pid_hint(p.pid))
        assert allocated(bus, vf) and bus.prop(vf, VF, 'Owner') == 'podman:web'
        other = bus.allocate('vm', 'unbound')
        p.kill()
        bus.wait(lambda: allocated(bus, vf) is False, 'the lease ending with its process')
        assert allocated(bus, other), 'a lease not bound to the process stays'
    finally:
        p.kill()
    # a process that is not there gets no lease
    gone = Process()
    gone.kill()
    assert bus.mgr_error('Allocate', 'ssa{sv}', 'vm', 'x', pid_hint(gone.pid)) == ERR + 'InvalidArgument'
    assert bus.mgr_error('Allocate', 'ssa{sv}', 'vm', 'x', pid_hint(1)) == ERR + 'InvalidArgument'
    assert bus.mgr_error('Allocate', 'ssa{sv}', 'vm', 'x',
                         {'bind_pid': GLib.Variant('i', os.getpid())}) == ERR + 'InvalidArgument'
    bus.alive()


def test_vf_held_elsewhere(bus):
    """The one VF asked for (hint pci) is another consumer's: refused, naming the holder."""
    held = bus.allocate('vm', 'libvirt:vm1')
    pci = bus.prop(held, VF, 'PCIAddress')
    try:
        bus.allocate('vm', 'podman:web', {'pci': GLib.Variant('s', pci)})
        raise AssertionError('a VF held by libvirt:vm1 was leased again')
    except GLib.Error as e:
        assert Gio.DBusError.get_remote_error(e) == ERR + 'PoolExhausted', e.message
        assert "leased to 'libvirt:vm1'" in e.message, e.message
    assert bus.prop(held, VF, 'Owner') == 'libvirt:vm1'


def test_bind_pid_across_restart():
    """Bound leases survive a crash; one whose process died meanwhile ends at start, one whose
    pid now names another process (start time, boot) ends too; the live one is watched again."""
    state = tempfile.mkdtemp(prefix='sriovd-test-leases-')
    bus = Bus(state_dir=state)
    procs = [Process() for _ in range(4)]
    try:
        live, dies, recycled, other_boot = procs
        a = bus.allocate('vm', 'a', pid_hint(live.pid))
        b = bus.allocate('vm', 'b', pid_hint(dies.pid))
        c = bus.allocate('vm', 'c', pid_hint(recycled.pid))
        d = bus.allocate('vm', 'd', pid_hint(other_boot.pid))
        files = {v: lease_file(state, bus, v) for v in (a, b, c, d)}
        assert 'BIND_PID=%d\n' % live.pid in open(files[a]).read()
        crash(bus)
        dies.kill()
        # c's pid belongs to another process now (same number, other start time); d's to
        # another boot. Both processes still run: only the identity tells them apart.
        start = int(re.search(r'^BIND_PID_START=(\d+)$', open(files[c]).read(), re.M).group(1))
        edit_lease(files[c], 'BIND_PID_START', start + 1)
        edit_lease(files[d], 'BIND_BOOT_ID', '0' * 32)
        bus.start(state_dir=state)
        for v, what in ((b, 'process that died during the crash'), (c, 'recycled pid'), (d, 'another boot')):
            bus.wait(lambda: allocated(bus, v) is False, 'lease of a ' + what)
            assert not os.path.exists(files[v]), what
        assert allocated(bus, a) and bus.prop(a, VF, 'Owner') == 'a'
        bus.signals.clear()
        live.kill()
        bus.wait(lambda: bus.changed(a, VF, 'Allocated', False), 'the lease ending with its process after a restart')
        bus.daemon.stop()
        bus.start(state_dir=state)
        assert not any(allocated(bus, v) for v in (a, b, c, d))
    finally:
        for p in procs:
            p.kill()
        bus.close()
        shutil.rmtree(state, ignore_errors=True)


def unit_hint(unit):
    return {'bind_unit': GLib.Variant('s', unit)}


def test_bind_unit(bus):
    sd = FakeSystemd(bus.address, {'web.service': 'active', 'job.service': 'active',
                                   'off.service': 'inactive'})
    try:
        vf = bus.allocate('vm', 'podman:web', unit_hint('web.service'))
        assert sd.subscribed >= 1, 'systemd was not asked to send unit signals'
        assert allocated(bus, vf) and bus.prop(vf, VF, 'Owner') == 'podman:web'
        sd.set('web.service', 'deactivating')
        assert allocated(bus, vf), 'a unit that is stopping still holds its lease'
        sd.set('web.service', 'inactive')
        bus.wait(lambda: allocated(bus, vf) is False, 'the lease ending with its unit (PropertiesChanged)')

        # a state change seen only through JobRemoved (the unit asked again)
        vf2 = bus.allocate('vm', 'job', unit_hint('job.service'))
        sd.set('job.service', 'failed', signal=False)
        n = sd.getall
        sd.job_removed('job.service')
        bus.wait(lambda: allocated(bus, vf2) is False, 'the lease ending with a failed unit (JobRemoved)')
        assert sd.getall > n

        # a unit that does not run, or that systemd does not know, gets no lease
        for unit, why in (('off.service', 'not running'), ('nope.service', 'Cannot ask systemd')):
            try:
                bus.allocate('vm', 'x', unit_hint(unit))
                raise AssertionError('lease bound to %s' % unit)
            except GLib.Error as e:
                assert Gio.DBusError.get_remote_error(e) == ERR + 'InvalidArgument', e.message
                assert why in e.message, e.message
        assert bus.mgr_error('Allocate', 'ssa{sv}', 'vm', 'x', unit_hint('no suffix')) == ERR + 'InvalidArgument'
        assert tb.pools(bus)['vm'][2] == tb.pools(bus)['vm'][1], 'nothing stays leased'
    finally:
        sd.close()


def test_bind_unit_across_restart():
    """A unit that was restarted (new InvocationID) or stopped while sriovd was down ends its
    leases at start; one that still runs as the same run keeps them and is watched again."""
    state = tempfile.mkdtemp(prefix='sriovd-test-leases-')
    bus = Bus(state_dir=state)
    sd = FakeSystemd(bus.address, {'a.service': 'active', 'b.service': 'active', 'c.service': 'active'})
    try:
        a = bus.allocate('vm', 'a', unit_hint('a.service'))
        b = bus.allocate('vm', 'b', unit_hint('b.service'))
        c = bus.allocate('vm', 'c', unit_hint('c.service'))
        crash(bus)
        sd.set('b.service', 'active', new_run=True, signal=False)  # restarted meanwhile
        sd.set('c.service', 'inactive', signal=False)
        n = sd.subscribed
        bus.start(state_dir=state)
        bus.wait(lambda: allocated(bus, b) is False, 'lease of a unit run that ended during the crash')
        bus.wait(lambda: allocated(bus, c) is False, 'lease of a unit stopped during the crash')
        assert allocated(bus, a) and sd.subscribed > n
        sd.set('a.service', 'active', new_run=True)  # restarted, seen live
        bus.wait(lambda: allocated(bus, a) is False, 'lease of a unit started anew')
    finally:
        sd.close()
        bus.close()
        shutil.rmtree(state, ignore_errors=True)


def main():
    tb.DAEMON = sys.argv[1] if len(sys.argv) > 1 else None
    if not tb.DAEMON:
        print('usage: test-liveness.py SRIOVD_TEST_DAEMON', file=sys.stderr)
        return 2
    if not shutil.which('dbus-daemon'):
        print('1..0 # SKIP dbus-daemon missing')
        return 0
    tests = [(k, v) for k, v in globals().items() if k.startswith('test_')]
    only = os.environ.get('TEST_ONLY')
    tests = [(k, v) for k, v in tests if not only or only in k]
    print('1..%d' % len(tests), flush=True)
    failed = 0
    for n, (name, fn) in enumerate(tests, 1):
        t = time.monotonic()
        bus = None
        try:
            if fn.__code__.co_argcount:
                bus = Bus()
                fn(bus)
            else:
                fn()
            status = 'ok %d %s # %.1fs' % (n, name, time.monotonic() - t)
        except Exception:
            failed += 1
            status = 'not ok %d %s' % (n, name)
            print(''.join('# ' + l + '\n' for l in traceback.format_exc().splitlines()), end='')
        finally:
            if bus:
                try:
                    bus.close()
                except Exception:
                    failed += 1
                    status = 'not ok %d %s (teardown)' % (n, name)
                    print(''.join('# ' + l + '\n' for l in traceback.format_exc().splitlines()), end='')
        print(status, flush=True)
    print('# %d failed, %d run' % (failed, len(tests)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
