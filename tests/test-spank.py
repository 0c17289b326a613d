#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Slurm SPANK plugin (slurm/sriovd-spank.c) against sriovd on a private bus.

Usage: test-spank.py SRIOVCTL BUSCTL SPANK_HOST
SPANK_HOST (tests/spank-host.c) runs the plugin's hooks as slurmstepd does; the service is the
one test-sriovctl.py starts (SRIOVD_TEST_SERVICE: the real daemon on the fake kernel), so
bind_to_caller is the daemon's own. Output is TAP.
"""
import importlib.util
import os
import signal
import subprocess
import sys
import time

SRCDIR = os.path.dirname(os.path.abspath(__file__))
SPANK_HOST = sys.argv[3]
_spec = importlib.util.spec_from_file_location('sriovctl_tests', os.path.join(SRCDIR, 'test-sriovctl.py'))
T = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(T)


class Step:
    """One plugin run: init, option, init_post_opt; exit when finish() is called."""

    def __init__(self, bus, job, optarg, *env, context='remote'):
        self.p = subprocess.Popen([SPANK_HOST, context, str(job), optarg] + list(env), env=bus.env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        self.env = {}
        self.rc = None
        for line in self.p.stdout:
            line = line.rstrip('\n')
            if line == 'READY':
                break
            if line.startswith('rc='):
                self.rc = int(line[3:].split()[0])
                continue
            k, _, v = line.partition('=')
            self.env[k] = v
        if self.rc is None or self.rc < 0:
            self.stderr = self.finish()[1]

    def finish(self):
        out, err = self.p.communicate('exit\n', timeout=30)
        self.stderr = err
        return out, err


def owners(bus):
    return {v['PCIAddress']: v['Owner'] for v in bus.ctl_json('vfs')}


def leased_to(bus, owner):
    return sorted(pci for pci, o in owners(bus).items() if o == owner)


def free_of(bus, pool):
    return [p for p in bus.ctl_json('pools') if p['Name'] == pool][0]['Free']


def wait_until(bus, pred, what, limit=10):
    bus.poll_until(pred, time.monotonic() + limit, what)


def test_lease_env_release(bus):
    s = Step(bus, 42, 'vm')
    assert s.rc == 0, s.stderr
    pcis = leased_to(bus, 'slurm:42')
    assert len(pcis) == 1 and s.env['SRIOVD_VF_PCI'] == pcis[0], (pcis, s.env)
    vf = [v for v in bus.ctl_json('vfs') if v['PCIAddress'] == pcis[0]][0]
    assert vf['Pool'] == 'vm' and s.env['SRIOVD_VF_POOL'] == 'vm', s.env
    assert s.env['SRIOVD_VF_OWNER'] == 'slurm:42', s.env
    assert s.env.get('SRIOVD_VF_NETDEV', '') == vf['Interface'], (s.env, vf['Interface'])
    assert 'UCX_NET_DEVICES' not in s.env or vf['RDMADevice'], s.env
    s.finish()
    assert s.p.returncode == 0, s.stderr
    assert leased_to(bus, 'slurm:42') == [], owners(bus)


def test_count_and_rollback(bus):
    free = free_of(bus, 'vm')
    s = Step(bus, 7, 'vm:%d' % free)
    assert s.rc == 0, s.stderr
    pcis = s.env['SRIOVD_VF_PCI'].split(',')
    assert sorted(pcis) == leased_to(bus, 'slurm:7') and len(pcis) == free, (pcis, owners(bus))
    if 'SRIOVD_VF_NETDEV' in s.env:
        assert len(s.env['SRIOVD_VF_NETDEV'].split(',')) == free, s.env
    # the pool is empty now: a second step of another job fails, naming the pool
    t = Step(bus, 8, 'vm')
    assert t.rc < 0 and t.p.returncode == 1, t.stderr
    assert "error: sriovd: pool 'vm' has no free VF" in t.stderr, t.stderr
    s.finish()
    # one more than the pool has: the step fails and what it leased on the way is released
    u = Step(bus, 9, 'vm:%d' % (free + 1))
    assert u.rc < 0 and "pool 'vm' has no free VF" in u.stderr, u.stderr
    assert '%d of %d leased' % (free, free + 1) in u.stderr, u.stderr
    assert leased_to(bus, 'slurm:9') == [] and free_of(bus, 'vm') == free, owners(bus)


def test_kill9_ends_lease(bus):
    assert bus.kind == 'daemon', 'bind_to_caller needs the real daemon, not %s' % bus.kind
    s = Step(bus, 11, 'vm')
    assert s.rc == 0, s.stderr
    assert leased_to(bus, 'slurm:11') == [s.env['SRIOVD_VF_PCI']]
    s.p.send_signal(signal.SIGKILL)
    s.p.wait()
    wait_until(bus, lambda: leased_to(bus, 'slurm:11') == [], 'lease still there after kill -9')


def test_refuses_vf_of_another_consumer(bus):
    # Another consumer (a VM) holds every VF of the pool.
    vm = [bus.ctl_json('allocate', 'vm', '--owner', 'libvirt:0d1e')['PCIAddress'] for _ in range(free_of(bus, 'vm'))]
    s = Step(bus, 12, 'vm')
    assert s.rc < 0 and "pool 'vm' has no free VF" in s.stderr, s.stderr
    # ... and the job asking for exactly one of them by pool gets nothing, the VM keeps all
    assert leased_to(bus, 'libvirt:0d1e') == sorted(vm) and leased_to(bus, 'slurm:12') == []
    bus.ctl('release', '--all', '--owner', 'libvirt:0d1e')


def test_errors(bus):
    s = Step(bus, 13, 'nosuchpool')
    assert s.rc < 0 and "no pool 'nosuchpool'" in s.stderr, s.stderr
    for bad, msg in (('a:0', 'COUNT must be 1-64'), ('a:65', 'COUNT must be 1-64'),
                     ('bad pool', 'want POOL[:COUNT]'), (':2', 'want POOL[:COUNT]')):
        for ctx in ('local', 'remote'):
            s = Step(bus, 14, bad, context=ctx)
            assert s.rc == -1 and msg in s.stderr, (bad, ctx, s.stderr)
    # a pool name may hold ':'; only a numeric last field is a count
    s = Step(bus, 15, 'rdma-train:x:y')
    assert s.rc < 0 and "no pool 'rdma-train:x:y'" in s.stderr, s.stderr
    s = Step(bus, 15, 'rdma-train:2')
    assert s.rc == 0 and len(leased_to(bus, 'slurm:15')) == 2, s.stderr
    s.finish()
    # srun (local context) never leases: slurmstepd does
    s = Step(bus, 16, 'vm', context='local')
    assert s.rc == 0 and leased_to(bus, 'slurm:16') == [] and 'SRIOVD_VF_PCI' not in s.env, s.stderr
    s.finish()


def test_batch_step_reuse(bus):
    # srun inside an sbatch job: the batch step's environment says the job has the VFs
    s = Step(bus, 17, 'vm', 'SRIOVD_VF_OWNER=slurm:17', 'SRIOVD_VF_POOL=vm', 'SRIOVD_VF_PCI=0000:00:00.1')
    assert s.rc == 0 and leased_to(bus, 'slurm:17') == [], (s.stderr, owners(bus))
    assert s.env['SRIOVD_VF_PCI'] == '0000:00:00.1'
    s.finish()
    # another job's stale environment does not count
    s = Step(bus, 18, 'vm', 'SRIOVD_VF_OWNER=slurm:17', 'SRIOVD_VF_POOL=vm', 'SRIOVD_VF_PCI=0000:00:00.1')
    assert s.rc == 0 and leased_to(bus, 'slurm:18') == [s.env['SRIOVD_VF_PCI']], (s.env, owners(bus))
    s.finish()


def test_rdma_env():
    """RDMA VFs: SRIOVD_VF_RDMA_DEVICE and UCX_NET_DEVICES (DEV:PORT), a user's UCX_NET_DEVICES
    wins. The fake kernel has no RDMA, so this runs against tests/fake-sriovd-bus.py, whose
    pool rdma-train has mlx5 VFs."""
    saved = T.SERVICE
    T.SERVICE = '/usr/bin/python3 ' + os.path.join(SRCDIR, 'fake-sriovd-bus.py')
    try:
        bus = T.Bus()
    finally:
        T.SERVICE = saved
    try:
        vfs = {v['PCIAddress']: v for v in bus.ctl_json('vfs')}
        s = Step(bus, 21, 'rdma-train:2')
        assert s.rc == 0, s.stderr
        pcis = s.env['SRIOVD_VF_PCI'].split(',')
        want = [vfs[p]['RDMADevice'] for p in pcis]
        assert all(want) and s.env['SRIOVD_VF_RDMA_DEVICE'] == ','.join(want), (s.env, want)
        assert s.env['UCX_NET_DEVICES'] == ','.join('%s:%d' % (vfs[p]['RDMADevice'], vfs[p]['RDMAPort'])
                                                    for p in pcis), s.env
        assert s.env['SRIOVD_VF_NETDEV'] == ','.join(vfs[p]['Interface'] for p in pcis), s.env
        s.finish()
        s = Step(bus, 22, 'rdma-train', 'UCX_NET_DEVICES=mine:1')
        assert s.rc == 0 and s.env['UCX_NET_DEVICES'] == 'mine:1', s.env
        s.finish()
    finally:
        bus.close()


def test_sriovd_not_running():
    bus = T.Bus(with_service=False)
    try:
        s = Step(bus, 19, 'vm')
        assert s.rc < 0 and 'sriovd is not running' in s.stderr, s.stderr
    finally:
        bus.close()


def main():
    if not os.environ.get('SRIOVD_TEST_SERVICE'):
        print('1..0 # SKIP needs SRIOVD_TEST_SERVICE (the real daemon: bind_to_caller)')
        return 0
    return T.run_tap([(k, v) for k, v in globals().items() if k.startswith('test_')], T.Bus)


if __name__ == '__main__':
    sys.exit(main())
