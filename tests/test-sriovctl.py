#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""sriovctl against a service on a private bus.

Usage: test-sriovctl.py SRIOVCTL [BUSCTL]
The service defaults to tests/fake-sriovd-bus.py. To run the same tests against something
else (the real daemon on a fake substrate), set SRIOVD_TEST_SERVICE to a shell command; it
gets SRIOVD_BUS_ADDRESS and DBUS_SYSTEM_BUS_ADDRESS in its environment and must own
org.sriovd1 on that bus. Tests that steer the service through the double's
org.sriovd1.Test1 control object (/test) run against the double; against the real test
daemon (tests/sriovd-test-daemon.c, control object /sriovd_test) the same verbs are driven
through real state changes instead (a lease that blocks a shrink, a PF added and removed).
Every test gets its own dbus-daemon, started with --nofork and reaped here.
Output is TAP (meson protocol 'tap'): each test, and each skipped one, is counted. A
TEST_ONLY that selects no test fails.
"""
import json
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

SRCDIR = os.path.dirname(os.path.abspath(__file__))
SRIOVCTL = sys.argv[1]
BUSCTL = sys.argv[2] if len(sys.argv) > 2 else 'busctl'
SERVICE = os.environ.get('SRIOVD_TEST_SERVICE',
                         '/usr/bin/python3 ' + shlex.quote(os.path.join(SRCDIR, 'fake-sriovd-bus.py')))
ROOT = '/org/sriovd1'
PF81 = '0000:81:00.0'
PF81_PATH = '/org/sriovd1/pf/_30000_3a81_3a00_2e0'


class Skip(Exception):
    pass


class Bus:
    def __init__(self, with_service=True):
        r, w = os.pipe()
        self.daemon = subprocess.Popen(['dbus-daemon', '--session', '--nofork', '--nopidfile',
                                        '--print-address=%d' % w], pass_fds=[w],
                                       stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            self.address = f.readline().strip()
        self.env = dict(os.environ, SRIOVD_BUS_ADDRESS=self.address, DBUS_SYSTEM_BUS_ADDRESS=self.address,
                        SRIOVD_LOG_LEVEL='info')
        self.env.pop('NOTIFY_SOCKET', None)
        self.service = None
        self.kind = None  # 'double' (fake-sriovd-bus.py), 'daemon' (sriovd-test-daemon) or None
        self.root = None  # the real test daemon's config root
        if with_service:
            # The real test daemon says READY=1 with its config root on $NOTIFY_SOCKET.
            self.notify_dir = tempfile.mkdtemp(prefix='sriovctl-test-notify-')
            notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            notify.bind(os.path.join(self.notify_dir, 'notify'))
            env = dict(self.env, NOTIFY_SOCKET=os.path.join(self.notify_dir, 'notify'))
            try:
                # exec: the pid we reap is the service, not a shell around it
                self.service = subprocess.Popen('exec ' + SERVICE, shell=True, env=env,
                                                stdout=subprocess.DEVNULL)
                deadline = time.monotonic() + 60
                self.poll_until(lambda: self.busctl('status', 'org.sriovd1', check=False).returncode == 0,
                                deadline, 'service did not appear on the bus')
                if self.has_object('/test'):
                    self.kind = 'double'
                elif self.has_object('/sriovd_test'):
                    self.kind = 'daemon'
                    fields = {}
                    while fields.get('READY') != '1':
                        r, _, _ = select.select([notify], [], [], max(deadline - time.monotonic(), 0))
                        if not r:
                            raise RuntimeError('test daemon did not send READY=1')
                        fields = dict(kv.split('=', 1) for kv in notify.recv(4096).decode().split('\n') if '=' in kv)
                    self.root = fields['X_SRIOVD_TEST_ROOT']
                # A real daemon owns the name before its initial reconcile is done: wait for it to
                # leave "starting" as a client (sriovctl wait-online) would.
                self.poll_until(lambda: self.busctl('get-property', 'org.sriovd1', ROOT, 'org.sriovd1.Manager',
                                                    'State', check=False).stdout.strip() != 's "starting"',
                                deadline, 'service did not finish starting')
            finally:
                notify.close()
                shutil.rmtree(self.notify_dir, ignore_errors=True)

    def poll_until(self, pred, deadline, what):
        """Polls pred() every 50 ms until it holds; fails at the deadline or when the service died."""
        while not pred():
            if time.monotonic() > deadline:
                raise RuntimeError(what)
            if self.service and self.service.poll() is not None:
                raise RuntimeError('%s: service exited with %s' % (what, self.service.returncode))
            time.sleep(0.05)

    def has_object(self, path):
        return self.busctl('introspect', 'org.sriovd1', path, check=False).returncode == 0

    def close(self):
        for p in (self.service, self.daemon):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def busctl(self, *args, check=True):
        p = subprocess.run([BUSCTL, '--address=' + self.address] + list(args), env=self.env,
                           capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError('busctl %s failed: %s' % (args, p.stderr))
        return p

    def busctl_json(self, *args):
        return json.loads(self.busctl('--json=short', *args).stdout)

    def ctl(self, *args, rc=0):
        p = subprocess.run([SRIOVCTL] + list(args), env=self.env, capture_output=True, text=True, timeout=30)
        if rc is not None and p.returncode != rc:
            raise AssertionError('sriovctl %s: rc %d (want %d)\nstdout: %s\nstderr: %s' %
                                 (' '.join(args), p.returncode, rc, p.stdout, p.stderr))
        return p

    def ctl_json(self, *args):
        return json.loads(self.ctl('--json', *args).stdout)

    def managed(self):
        data = self.busctl_json('call', 'org.sriovd1', ROOT, 'org.freedesktop.DBus.ObjectManager',
                                'GetManagedObjects')['data'][0]
        out = {}
        for path, ifaces in data.items():
            for iface, props in ifaces.items():
                if iface.startswith('org.sriovd1.'):
                    out.setdefault(iface, {})[path] = {k: v['data'] for k, v in props.items()}
        return out

    def manager_props(self):
        d = self.busctl_json('call', 'org.sriovd1', ROOT, 'org.freedesktop.DBus.Properties', 'GetAll', 's',
                             'org.sriovd1.Manager')['data'][0]
        return {k: v['data'] for k, v in d.items()}

    def prop(self, path, iface, name):
        return self.busctl_json('get-property', 'org.sriovd1', path, iface, name)['data']

    def control(self, method, sig, *args):
        if self.kind != 'double':
            raise Skip('service has no org.sriovd1.Test1 control object')
        return self.busctl('call', 'org.sriovd1', '/test', 'org.sriovd1.Test1', method, sig, *args)

    def daemon_control(self, method, sig, *args):
        """The real test daemon's control object (hotplug of fake PFs)."""
        assert self.kind == 'daemon'
        out = self.busctl('--json=short', 'call', 'org.sriovd1', '/sriovd_test', 'org.sriovd1.TestDaemon', method,
                          sig, *args).stdout
        return json.loads(out)['data'] if out.strip() else None

    def write_config(self, name, text):
        """A drop-in in the real test daemon's config root, written atomically."""
        d = os.path.join(self.root, 'etc', 'sriov.d')
        with open(os.path.join(d, '.' + name), 'w') as f:
            f.write(text)
        os.rename(os.path.join(d, '.' + name), os.path.join(d, name))

    def wait_prop(self, path, iface, name, want, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            got = self.prop(path, iface, name)
            if got == want:
                return
            if time.monotonic() > deadline:
                raise AssertionError('%s %s.%s is %r, want %r' % (path, iface, name, got, want))
            time.sleep(0.05)

    def connection_of(self, p):
        """Process p's unique name on the bus, or None."""
        for name in self.busctl_json('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus',
                                     'org.freedesktop.DBus', 'ListNames')['data'][0]:
            if not name.startswith(':'):
                continue
            pid = self.busctl('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                              'GetConnectionUnixProcessID', 's', name, check=False).stdout.split()
            if pid[-1:] == [str(p.pid)]:
                return name
        return None

    def match_rules(self, p):
        """The match rules process p has on the bus (dbus-daemon's Debug.Stats)."""
        name = self.connection_of(p)
        assert name, 'process %d is not on the bus' % p.pid
        rules = self.busctl_json('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus',
                                 'org.freedesktop.DBus.Debug.Stats', 'GetAllMatchRules')['data'][0]
        return rules.get(name, [])

    def wait_subscribed(self, p, timeout=10):
        """Until process p is on the bus with at least one match rule (it listens for signals)."""
        deadline = time.monotonic() + timeout
        while True:
            assert p.poll() is None, 'process exited with %s' % p.returncode
            name = self.connection_of(p)
            if name:
                stats = self.busctl_json('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus',
                                         'org.freedesktop.DBus.Debug.Stats', 'GetConnectionStats', 's',
                                         name)['data'][0]
                if stats['MatchRules']['data'] > 0:
                    return
            assert time.monotonic() < deadline, 'process %d never subscribed on the bus' % p.pid
            time.sleep(0.05)


def still_running(p, what, grace=0.5):
    """p must not exit within grace seconds (the bounded wait for a negative: returns as soon as
    p exits, which is the failure)."""
    try:
        rc = p.wait(grace)
    except subprocess.TimeoutExpired:
        return
    raise AssertionError('%s (exit %d: %s)' % (what, rc, p.stderr.read() if p.stderr else ''))


def one_line_error(p, *needles):
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, 'want exactly one line on stderr, got %r' % p.stderr
    for n in needles:
        assert n.lower() in lines[0].lower(), '%r not in %r' % (n, lines[0])


def assert_same_objects(mine, theirs, what):
    """sriovctl --json objects == busctl's view of the same objects, property by property."""
    mine_by_path = {o['ObjectPath']: o for o in mine}
    assert set(mine_by_path) == set(theirs), '%s: paths differ: %s vs %s' % (what, sorted(mine_by_path),
                                                                              sorted(theirs))
    for path, props in theirs.items():
        o = dict(mine_by_path[path])
        del o['ObjectPath']
        assert o == props, '%s %s differs:\n sriovctl %s\n busctl   %s' % (what, path, o, props)


# ------------------------------------------------------------------------------------------

def test_json_matches_busctl(bus):
    m = bus.managed()
    assert_same_objects(bus.ctl_json('list'), m['org.sriovd1.PhysicalFunction'], 'list')
    assert_same_objects(bus.ctl_json('vfs'), m['org.sriovd1.VirtualFunction'], 'vfs')
    assert_same_objects(bus.ctl_json('pools'), m['org.sriovd1.Pool'], 'pools')
    st = bus.ctl_json('status')
    mgr = dict(st['Manager'])
    assert mgr.pop('ObjectPath') == ROOT
    assert mgr == bus.manager_props(), (mgr, bus.manager_props())
    assert_same_objects(st['PhysicalFunctions'], m['org.sriovd1.PhysicalFunction'], 'status')
    # --pool filters; the filter agrees with the Pool objects' VirtualFunctions
    for pool_path, pool in m['org.sriovd1.Pool'].items():
        vfs = bus.ctl_json('vfs', '--pool', pool['Name'])
        assert sorted(v['ObjectPath'] for v in vfs) == sorted(pool['VirtualFunctions']), pool['Name']
        assert all(v['Pool'] == pool['Name'] for v in vfs)


def test_status_pf(bus):
    m = bus.managed()
    for path, pf in m['org.sriovd1.PhysicalFunction'].items():
        for arg in filter(None, (path, pf['PCIAddress'], pf['Interface'])):
            st = bus.ctl_json('status', arg)
            assert st['ObjectPath'] == path
            assert st['PCIAddress'] == pf['PCIAddress']
            want = sorted(p for p, v in m['org.sriovd1.VirtualFunction'].items() if v['PhysicalFunction'] == path)
            assert sorted(v['ObjectPath'] for v in st['VirtualFunctions']) == want
        out = bus.ctl('status', pf['PCIAddress']).stdout
        assert out.startswith('● ' + pf['PCIAddress']), out
        assert 'State: ' + pf['State'] in out
    one_line_error(bus.ctl('status', 'nonexistent0', rc=1), 'no such physical function')


def test_tables(bus):
    m = bus.managed()
    out = bus.ctl('list').stdout.splitlines()
    assert out[0].split() == ['PCI', 'INTERFACE', 'DRIVER', 'VFS', 'NUMA', 'STATE', 'CONFIG'], out[0]
    n = len(m['org.sriovd1.PhysicalFunction'])
    assert out[-1] == '%d physical functions listed.' % n, out[-1]
    # aligned: every row starts its 2nd column where the header does
    col = out[0].index('INTERFACE')
    for row in out[1:1 + n]:
        assert row[col - 1] == ' ' and row[col] != ' ', row
    # default verb is list
    assert bus.ctl().stdout == bus.ctl('list').stdout
    out = bus.ctl('vfs').stdout.splitlines()
    assert out[0].split()[:3] == ['PCI', 'PF', 'IDX']
    assert out[-1].startswith('%d virtual functions listed' % len(m['org.sriovd1.VirtualFunction']))
    out = bus.ctl('pools').stdout.splitlines()
    assert out[0].split() == ['POOL', 'TOTAL', 'FREE', 'ALLOCATED']
    assert out[-1] == '%d pools listed.' % len(m['org.sriovd1.Pool'])


def test_gres(bus):
    """sriovctl gres: one gres.conf line per pool with VFs, Count = the pool's Total, and the
    slurm.conf Gres= list that goes with them; lines change when a pool changes."""
    pools = sorted((p for p in bus.ctl_json('pools') if ':' not in p['Name'] and p['Total'] > 0),
                   key=lambda p: p['Name'])
    if not pools:
        raise Skip('no pool with VFs')
    out = bus.ctl('gres', 'node7').stdout.splitlines()
    lines = [l for l in out if not l.startswith('#')]
    assert lines == ['NodeName=node7 Name=sriov Type=%s Count=%d' % (p['Name'], p['Total']) for p in pools], out
    gres = ','.join('sriov:%s:%d' % (p['Name'], p['Total']) for p in pools)
    assert out[-1] == '# slurm.conf: GresTypes=sriov and, on NodeName=node7, Gres=' + gres, out[-1]
    assert bus.ctl_json('gres', 'node7') == [{'NodeName': 'node7', 'Name': 'sriov', 'Type': p['Name'],
                                               'Count': p['Total']} for p in pools]
    # default node name: the short host name, as slurmd's default NodeName
    host = socket.gethostname().split('.')[0]
    assert 'NodeName=%s Name=sriov' % host in bus.ctl('gres').stdout
    # leases do not change what the node has (slurmctld counts its own jobs' use)
    vf = bus.ctl_json('allocate', pools[0]['Name'], '--owner', 'other')
    assert [l for l in bus.ctl('gres', 'node7').stdout.splitlines() if not l.startswith('#')] == lines
    bus.ctl('release', vf['ObjectPath'], '--owner', 'other')
    one_line_error(bus.ctl('gres', 'bad=name', rc=1), 'Invalid node name')
    one_line_error(bus.ctl('gres', 'a', 'b', rc=2), 'at most 1 argument')


def pick_pool(bus):
    pools = bus.ctl_json('pools')
    pools = [p for p in pools if p['Free'] > 0]
    if not pools:
        raise Skip('no pool with a free VF')
    return pools[0]


def test_allocate_release(bus):
    pool = pick_pool(bus)
    vf = bus.ctl_json('allocate', pool['Name'], '--owner', 'job 7 ✓')
    assert vf['Allocated'] is True and vf['Owner'] == 'job 7 ✓' and vf['Pool'] == pool['Name'], vf
    path = vf['ObjectPath']
    assert bus.prop(path, 'org.sriovd1.VirtualFunction', 'Allocated') is True
    assert bus.prop(pool['ObjectPath'], 'org.sriovd1.Pool', 'Free') == pool['Free'] - 1
    # wrong owner, then right owner by each accepted VF spelling
    one_line_error(bus.ctl('release', path, '--owner', 'someone else', rc=1), 'different owner')
    bus.ctl('release', vf['PCIAddress'], '--owner', 'job 7 ✓')
    assert bus.prop(path, 'org.sriovd1.VirtualFunction', 'Allocated') is False
    one_line_error(bus.ctl('release', path, '--owner', 'job 7 ✓', rc=1), 'not allocated')
    vf = bus.ctl_json('allocate', pool['Name'], '--owner', 'o', '--pci', vf['PCIAddress'])
    assert vf['ObjectPath'] == path
    bus.ctl('release', path, '--owner', 'o')
    if vf['Interface']:
        bus.ctl_json('allocate', pool['Name'], '--owner', 'o', '--pci', vf['PCIAddress'])
        bus.ctl('release', vf['Interface'], '--owner', 'o')
    assert bus.prop(pool['ObjectPath'], 'org.sriovd1.Pool', 'Free') == pool['Free']
    # human output names the VF
    out = bus.ctl('allocate', pool['Name'], '--owner', 'h').stdout
    assert out.startswith('Allocated ') and '/org/sriovd1/vf/' in out, out
    assert bus.ctl_json('release', '--all', '--owner', 'h') == {'Released': 1}
    assert bus.ctl_json('release', '--all', '--owner', 'h') == {'Released': 0}


def test_exhaust(bus):
    pool = pick_pool(bus)
    for i in range(pool['Free']):
        bus.ctl_json('allocate', pool['Name'], '--owner', 'bulk')
    p = bus.ctl('allocate', pool['Name'], '--owner', 'bulk', rc=1)
    one_line_error(p, 'no free', pool['Name'])
    assert bus.ctl('release', '--all', '--owner', 'bulk').stdout.startswith('Released %d VF' % pool['Free'])


def test_allocate_hints(bus):
    m = bus.managed()
    vfs = m['org.sriovd1.VirtualFunction']
    by_pool = {}
    for p, v in vfs.items():
        by_pool.setdefault(v['Pool'], []).append(v)
    for name, members in by_pool.items():
        numas = {v['NUMANode'] for v in members}
        pfs = {v['PhysicalFunction'] for v in members}
        if len(numas) > 1 and name:
            for numa in numas:
                vf = bus.ctl_json('allocate', name, '--owner', 'n', '--numa', str(numa))
                assert vf['NUMANode'] == numa, (numa, vf)
                bus.ctl('release', '--all', '--owner', 'n')
        if len(pfs) > 1 and name:
            for pf in pfs:
                pf_iface = m['org.sriovd1.PhysicalFunction'][pf]['Interface']
                vf = bus.ctl_json('allocate', name, '--owner', 'n', '--pf', pf_iface)
                assert vf['PhysicalFunction'] == pf
                bus.ctl('release', '--all', '--owner', 'n')


def test_errors(bus):
    one_line_error(bus.ctl('allocate', 'no-such-pool', '--owner', 'x', rc=1), 'no such pool')
    one_line_error(bus.ctl('allocate', 'vm', rc=1), '--owner')
    one_line_error(bus.ctl('allocate', 'vm', '--owner', 'a\tb', rc=1), 'invalid owner')
    one_line_error(bus.ctl('allocate', 'vm', '--owner', 'x' * 256, rc=1), 'invalid owner')
    one_line_error(bus.ctl('release', 'nosuchnetdev', '--owner', 'x', rc=1), 'no such virtual function')
    one_line_error(bus.ctl('frobnicate', rc=2), 'unknown command')
    one_line_error(bus.ctl('list', 'extra', rc=2), 'argument')
    one_line_error(bus.ctl('--pci', 'garbage', 'allocate', 'vm', '--owner', 'x', rc=2), 'pci address')
    one_line_error(bus.ctl('vfs', '--pool', 'no-such-pool', rc=1), 'no such pool')


def test_plan_reload(bus):
    bus.ctl('reload')
    plan = bus.ctl_json('plan')
    want = bus.busctl_json('call', 'org.sriovd1', ROOT, 'org.sriovd1.Manager', 'Plan')['data'][0]
    assert [[p['Object'], p['Action'], p['Reason']] for p in plan] == want
    out = bus.ctl('plan').stdout
    assert out.startswith('OBJECT') or out.startswith('No changes'), out


def test_not_running():
    bus = Bus(with_service=False)
    try:
        one_line_error(bus.ctl('list', rc=1), 'not running')
        one_line_error(bus.ctl('wait-online', '--timeout=1', rc=1), 'timed out', 'not running')
    finally:
        bus.close()


def test_wait_online(bus):
    if bus.kind == 'daemon':
        return wait_online_daemon(bus)
    bus.control('SetProperty', 'ossv', ROOT, 'org.sriovd1.Manager', 'State', 's', 'starting')
    bus.control('SetProperty', 'ossv', PF81_PATH, 'org.sriovd1.PhysicalFunction', 'State', 's', 'configuring')
    p = subprocess.Popen([SRIOVCTL, 'wait-online', '--timeout=20'], env=bus.env, stderr=subprocess.PIPE,
                         text=True)
    bus.wait_subscribed(p)
    still_running(p, 'wait-online returned while starting')
    bus.control('SetProperty', 'ossv', PF81_PATH, 'org.sriovd1.PhysicalFunction', 'State', 's', 'configured')
    still_running(p, 'wait-online returned while the manager is starting')
    t = time.monotonic()
    bus.control('SetProperty', 'ossv', ROOT, 'org.sriovd1.Manager', 'State', 's', 'running')
    assert p.wait(5) == 0, p.stderr.read()
    assert time.monotonic() - t < 2, 'wait-online is slow to notice: polling?'

    # blocked does not count as online; the reason names the PF and its state
    bus.control('SetProperty', 'ossv', PF81_PATH, 'org.sriovd1.PhysicalFunction', 'State', 's', 'blocked')
    p = bus.ctl('wait-online', '--timeout=1', rc=1)
    one_line_error(p, 'timed out', PF81, 'blocked')
    # already online: immediate
    bus.control('SetProperty', 'ossv', PF81_PATH, 'org.sriovd1.PhysicalFunction', 'State', 's', 'configured')
    t = time.monotonic()
    bus.ctl('wait-online', '--timeout=5')
    assert time.monotonic() - t < 2

    # It asks the bus for the Manager's and the PFs' signals only (a host with 16,384 VFs
    # sends a signal per VF), and still hears of a PF that comes and goes.
    bus.control('SetProperty', 'ossv', PF81_PATH, 'org.sriovd1.PhysicalFunction', 'State', 's', 'configuring')
    p = subprocess.Popen([SRIOVCTL, 'wait-online', '--timeout=20'], env=bus.env, stderr=subprocess.PIPE,
                         text=True)
    bus.wait_subscribed(p)
    bus.control('AddVF', 'sus', PF81, '9', 'vm')
    still_running(p, 'wait-online returned while a PF is configuring')
    rules = bus.match_rules(p)
    sriovd_rules = [m for m in rules if "sender='org.sriovd1'" in m]
    assert len(sriovd_rules) == 4, rules
    for m in sriovd_rules:
        assert "arg0='org.sriovd1.Manager'" in m or "arg0='org.sriovd1.PhysicalFunction'" in m or \
            "arg0path='/org/sriovd1/pf/'" in m, 'wait-online takes every VF signal: %s' % m
    bus.control('RemoveObject', 'o', PF81_PATH)
    assert p.wait(5) == 0, p.stderr.read()


SHRINK_CONF = (
    'physical_functions = ( { match = { interface = "enp*"; }; num_vfs = 2;\n'
    '  vfs = ( { range = "0"; pool = "rdma-train"; vlan = 100; trust = true; },\n'
    '          { range = "1"; pool = "vm"; } ); } );\n')


def leased_vf_to_block(bus):
    """Allocates VF 3 of the first PF and writes a drop-in that shrinks every PF to 2 VFs: that
    PF must block on the lease. Returns (vf, pf path, pf pci)."""
    vfs = sorted((v for v in bus.ctl_json('vfs') if v['Pool'] == 'vm' and v['Index'] == 3),
                 key=lambda v: v['PCIAddress'])
    assert vfs, 'no VF 3 in pool vm: %s' % bus.ctl_json('vfs')
    vf = bus.ctl_json('allocate', 'vm', '--owner', 'blocker', '--pci', vfs[0]['PCIAddress'])
    pf_path = vf['PhysicalFunction']
    pf_pci = bus.prop(pf_path, 'org.sriovd1.PhysicalFunction', 'PCIAddress')
    bus.write_config('50-test.conf', SHRINK_CONF)
    bus.ctl('reload')
    return vf, pf_path, pf_pci


def wait_online_daemon(bus):
    """The real daemon: online now; a PF blocked by a lease is not online; its release is."""
    t = time.monotonic()
    bus.ctl('wait-online', '--timeout=5')
    assert time.monotonic() - t < 2, 'wait-online slow on a running daemon'
    vf, pf_path, pf_pci = leased_vf_to_block(bus)
    bus.wait_prop(pf_path, 'org.sriovd1.PhysicalFunction', 'State', 'blocked')
    one_line_error(bus.ctl('wait-online', '--timeout=1', rc=1), 'timed out', pf_pci, 'blocked')
    p = subprocess.Popen([SRIOVCTL, 'wait-online', '--timeout=20'], env=bus.env, stderr=subprocess.PIPE,
                         text=True)
    bus.wait_subscribed(p)
    still_running(p, 'wait-online returned while a PF is blocked')
    t = time.monotonic()
    bus.ctl('release', vf['ObjectPath'], '--owner', 'blocker')
    assert p.wait(10) == 0, p.stderr.read()
    assert bus.prop(pf_path, 'org.sriovd1.PhysicalFunction', 'State') == 'configured'
    assert bus.prop(pf_path, 'org.sriovd1.PhysicalFunction', 'NumVFs') == 2
    assert time.monotonic() - t < 5, 'wait-online is slow to notice'


class Monitor:
    def __init__(self, bus, *args):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.dir = tempfile.mkdtemp()
        path = os.path.join(self.dir, 'notify')
        self.sock.bind(path)
        self.p = subprocess.Popen([SRIOVCTL, 'monitor'] + list(args), env=dict(bus.env, NOTIFY_SOCKET=path),
                                  stdout=subprocess.PIPE)
        self.buf = b''
        r, _, _ = select.select([self.sock], [], [], 10)
        assert r and b'READY=1' in self.sock.recv(4096), 'monitor did not get ready'

    def line(self, timeout=5):
        # raw reads: a buffered readline() could swallow the next line where select() can't see it
        deadline = time.monotonic() + timeout
        while b'\n' not in self.buf:
            r, _, _ = select.select([self.p.stdout], [], [], max(deadline - time.monotonic(), 0))
            assert r, 'no monitor output'
            chunk = os.read(self.p.stdout.fileno(), 4096)
            assert chunk, 'monitor exited'
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return line.decode()

    def until(self, pred, what, timeout=20):
        """Reads lines until one satisfies pred (returned); fails at the deadline."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.line(deadline - time.monotonic())
            except AssertionError:
                break
            if pred(line):
                return line
            seen.append(line)
        raise AssertionError('monitor never showed %s; it printed: %s' % (what, seen))

    def close(self):
        self.p.send_signal(signal.SIGTERM)
        assert self.p.wait(5) == 0
        self.sock.close()
        os.unlink(os.path.join(self.dir, 'notify'))
        os.rmdir(self.dir)


def test_monitor(bus):
    if bus.kind == 'daemon':
        return monitor_daemon(bus)
    mon = Monitor(bus)
    try:
        bus.control('SetProperty', 'ossv', PF81_PATH, 'org.sriovd1.PhysicalFunction', 'State', 's', 'configuring')
        assert mon.line() == 'pf %s: State=configuring' % PF81
        bus.control('SetProperty', 'ossv', ROOT, 'org.sriovd1.Manager', 'State', 's', 'degraded')
        assert mon.line() == 'manager: State=degraded'
        path = bus.control('AddVF', 'sus', PF81, '4', 'vm').stdout.split()[1].strip('"')
        assert mon.line() == 'vf 0000:81:10.4: added Pool=vm Interface=test4'
        bus.control('RemoveObject', 'o', path)
        seen = [mon.line() for _ in range(3)]  # the pool's Total, Free, VirtualFunctions follow
        assert seen[:2] == ['pool vm: Total=4', 'pool vm: Free=4'], seen
        assert seen[2].startswith('pool vm: VirtualFunctions=/org/sriovd1/vf/'), seen
        assert mon.line() == 'vf 0000:81:10.4: removed'
        assert mon.line() == 'pool vm: Total=3'
    finally:
        mon.close()
    mon = Monitor(bus, '--json')
    try:
        vf = bus.ctl_json('allocate', 'rdma-train', '--owner', 'mon')
        ev = json.loads(mon.line())
        assert ev == {'Event': 'PropertiesChanged', 'ObjectPath': vf['ObjectPath'],
                      'Interface': 'org.sriovd1.VirtualFunction', 'Changed': {'Allocated': True},
                      'Invalidated': []}, ev
    finally:
        mon.close()


def monitor_daemon(bus):
    """The real daemon: a lease, a PF hot-added and configured, then removed, each shows up."""
    free = {p['Name']: p['Free'] for p in bus.ctl_json('pools')}['vm']
    mon = Monitor(bus)
    try:
        vf = bus.ctl_json('allocate', 'vm', '--owner', 'mon')
        mon.until(lambda l: l.startswith('vf %s: ' % vf['PCIAddress']) and 'Allocated=' in l, 'the lease')
        mon.until(lambda l: l.startswith('pool vm: ') and 'Free=%d' % (free - 1) in l.split(),
                  'the pool\'s Free count')
        pci = bus.daemon_control('AddPF', 'uu', '200', '4')[0]
        mon.until(lambda l: l.startswith('pf %s: added' % pci), 'the new PF')
        mon.until(lambda l: l.startswith('pf %s: ' % pci) and 'State=configured' in l.split() and
                  'NumVFs=4' in l.split(), 'the new PF configured')
        bus.daemon_control('RemovePF', 's', pci)
        mon.until(lambda l: l.startswith('pf %s: removed' % pci), 'the PF removed')
    finally:
        mon.close()
    mon = Monitor(bus, '--json')
    try:
        bus.ctl('release', vf['ObjectPath'], '--owner', 'mon')
        ev = json.loads(mon.until(lambda l: json.loads(l).get('ObjectPath') == vf['ObjectPath'], 'release event'))
        assert ev['Event'] == 'PropertiesChanged' and ev['Interface'] == 'org.sriovd1.VirtualFunction', ev
        assert ev['Changed'].get('Allocated') is False, ev
    finally:
        mon.close()


def test_introspection_matches_xml(bus):
    """What the service exports == dbus/org.sriovd1.xml (methods, signatures, properties)."""
    import xml.etree.ElementTree as ET
    spec = {}
    for i in ET.parse(os.path.join(SRCDIR, '..', 'dbus', 'org.sriovd1.xml')).getroot():
        spec[i.get('name')] = {
            ('method', m.get('name'), ''.join(a.get('type') for a in m if a.tag == 'arg' and a.get('direction') == 'in'),
             ''.join(a.get('type') for a in m if a.tag == 'arg' and a.get('direction') == 'out'))
            for m in i if m.tag == 'method'} | {('property', p.get('name'), p.get('type'), '') for p in i
                                                 if p.tag == 'property'}
    m = bus.managed()
    samples = {'org.sriovd1.Manager': ROOT}
    for iface, objs in m.items():
        samples[iface] = sorted(objs)[0]
    assert set(samples) == set(spec), (set(samples), set(spec))
    for iface, path in samples.items():
        out = bus.busctl('introspect', '--xml-interface', 'org.sriovd1', path).stdout
        got = None
        for i in ET.fromstring(out):
            if i.tag == 'interface' and i.get('name') == iface:
                got = {('method', x.get('name'),
                        ''.join(a.get('type') for a in x if a.tag == 'arg' and a.get('direction', 'in') == 'in'),
                        ''.join(a.get('type') for a in x if a.tag == 'arg' and a.get('direction') == 'out'))
                       for x in i if x.tag == 'method'} | {('property', x.get('name'), x.get('type'), '')
                                                           for x in i if x.tag == 'property'}
        assert got == spec[iface], '%s at %s differs from the XML:\n extra %s\n missing %s' % (
            iface, path, got - spec[iface], spec[iface] - got)


def run_tap(tests, make_bus):
    """Runs tests as TAP (meson protocol 'tap'): 'ok N name', 'ok N name # SKIP why' or
    'not ok N name', diagnostics behind '#'. TEST_ONLY (a substring) selects tests; selecting
    none is a failure, not an empty pass."""
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
        t = time.monotonic()
        status = None
        try:
            if fn.__code__.co_argcount:
                bus = make_bus()
                fn(bus)
            else:
                fn()
        except Skip as e:
            skipped += 1
            status = 'ok %d %s # SKIP %s' % (n, name, e)
        except Exception:
            failed += 1
            status = 'not ok %d %s' % (n, name)
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


def main():
    if 'SRIOVD_TEST_SERVICE' not in os.environ:
        try:
            import gi  # noqa: F401  (the double needs it)
        except ImportError:
            print('1..0 # SKIP python3-gi missing')
            return 0
    if not shutil.which('dbus-daemon'):
        print('1..0 # SKIP dbus-daemon missing')
        return 0
    return run_tap([(k, v) for k, v in globals().items() if k.startswith('test_')], Bus)


if __name__ == '__main__':
    sys.exit(main())
