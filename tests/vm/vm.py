#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Boot the VM tier's guest under QEMU and run one scenario in it.

The guest is the systemd flavour built by build-images.sh: q35 (+ intel-iommu), N igb PFs
each behind its own pcie-root-port, spare empty root ports for hot-plug, the host's source
and build trees shared over virtio-9p at the same absolute paths, a virtio-serial control
port (org.sriovd.ctl) through which the guest asks this driver for QMP actions (device_add,
device_del, ...), and the serial console in OUT/console.log.

The guest harness writes OUT/rc, OUT/scenario.log and OUT/journal.txt into the share and
powers off. Exit status: the scenario's, or 1 if the VM did not finish (no rc, deadline,
crash) — never a skip.

  vm.py run --cache DIR --out DIR --scenario FILE [--share DIR]... [--pfs N]
            [--hotplug-ports N] [--no-iommu] [--timeout S] [--accel tcg|kvm|auto]
  vm.py run ... --shell          interactive: console on this terminal, root autologin,
                                 shares mounted; with --scenario it runs first and the
                                 guest stays up (Ctrl-A X quits QEMU)
"""

import argparse
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def log(msg):
    print(f'vm.py: {msg}', flush=True)


class Qmp:
    """Minimal synchronous QMP client on an accepted unix socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''
        self.events = []
        self._read_msg(time.monotonic() + 30)  # greeting
        self.execute('qmp_capabilities')

    def _read_msg(self, deadline):
        while b'\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('QMP: no answer before deadline')
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError('QMP: connection closed')
                self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

    def execute(self, cmd, args=None, timeout=60):
        req = {'execute': cmd}
        if args:
            req['arguments'] = args
        self.sock.sendall(json.dumps(req).encode() + b'\n')
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read_msg(deadline)
            if 'event' in msg:
                self.events.append(msg)
                continue
            if 'error' in msg:
                raise RuntimeError(f"{msg['error'].get('class')}: {msg['error'].get('desc')}")
            return msg.get('return')

    def wait_event(self, name, match, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev['event'] == name and match(ev.get('data', {})):
                    del self.events[i]
                    return ev
            self.events.append(self._read_msg(deadline))

    def drain(self):
        """Read whatever is pending without blocking (events only)."""
        while True:
            r, _, _ = select.select([self.sock], [], [], 0)
            if not r:
                return
            data = self.sock.recv(65536)
            if not data:
                return
            self.buf += data
            while b'\n' in self.buf:
                line, self.buf = self.buf.split(b'\n', 1)
                self.events.append(json.loads(line))


def parse_device_args(spec):
    """'igb,id=hp1,bus=hp0,netdev=hpnet0' -> {'driver': 'igb', 'id': 'hp1', ...}"""
    parts = spec.split(',')
    args = {'driver': parts[0]}
    for p in parts[1:]:
        k, _, v = p.partition('=')
        args[k] = v
    return args


def handle_ctl(qmp, line):
    """One command from the guest; returns the reply line."""
    cmd, _, rest = line.strip().partition(' ')
    rest = rest.strip()
    try:
        if cmd == 'ping':
            return 'ok pong'
        if cmd == 'device_add':
            qmp.execute('device_add', parse_device_args(rest))
            return 'ok'
        if cmd == 'device_del':
            qmp.events = [e for e in qmp.events
                          if not (e['event'] == 'DEVICE_DELETED' and e.get('data', {}).get('device') == rest)]
            qmp.execute('device_del', {'id': rest})
            # The guest's pciehp must agree (attention button, ~5 s): wait for QEMU to say
            # the device is really gone.
            qmp.wait_event('DEVICE_DELETED', lambda d: d.get('device') == rest, 120)
            return 'ok'
        if cmd == 'hmp':
            out = qmp.execute('human-monitor-command', {'command-line': rest})
            return 'ok ' + ' | '.join((out or '').strip().splitlines())
        return f'error unknown command {cmd!r}'
    except Exception as e:  # report to the guest, keep the VM running
        return f'error {e}'


def kvm_works(qemu):
    """KVM only where it is proven: a tiny guest must actually run under it."""
    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        return False
    try:
        r = subprocess.run([qemu, '-machine', 'q35,accel=kvm', '-cpu', 'host', '-display', 'none',
                            '-nodefaults', '-no-reboot', '-kernel', '/nonexistent'],
                           capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return False
    # Missing kernel file is the error we expect when KVM itself initialised fine.
    return b'nonexistent' in r.stderr and b'KVM' not in r.stderr


def collapse_shares(paths):
    """Absolute, existing, and no share nested inside another."""
    out = []
    for p in sorted({os.path.realpath(p) for p in paths}):
        if not any(p == o or p.startswith(o + '/') for o in out):
            out.append(p)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run')
    r.add_argument('--cache', required=True)
    r.add_argument('--out', required=True)
    r.add_argument('--scenario')
    r.add_argument('--share', action='append', default=[])
    r.add_argument('--pfs', type=int, default=2)
    r.add_argument('--hotplug-ports', type=int, default=2)
    r.add_argument('--no-iommu', action='store_true')
    r.add_argument('--timeout', type=float, default=300)
    r.add_argument('--mem', type=int, default=1024)
    # One vCPU: with two under TCG on a 2-core host a starved vCPU thread made the guest
    # lose timer interrupts (RCU stalls, hung jbd2) once in a few boots.
    r.add_argument('--smp', type=int, default=1)
    r.add_argument('--accel', default=os.environ.get('SRIOVD_VM_ACCEL', 'tcg'))
    r.add_argument('--shell', action='store_true')
    r.add_argument('--env', action='append', default=[], metavar='KEY=VALUE',
                   help='exported to the guest scenario')
    a = ap.parse_args()

    env = {}
    with open(os.path.join(a.cache, 'current.env')) as f:
        for line in f:
            k, _, v = line.strip().partition('=')
            env[k] = v

    qemu = shutil.which('qemu-system-x86_64')
    if not qemu:
        log('qemu-system-x86_64 not found: run scripts/setup-deps.sh --vm')
        return 1
    accel = a.accel
    if accel == 'auto':
        accel = 'kvm' if kvm_works(qemu) else 'tcg'

    out = os.path.realpath(a.out)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    here = os.path.dirname(os.path.realpath(__file__))
    shares = collapse_shares(a.share + [os.path.dirname(os.path.dirname(here)), out])
    tmp = tempfile.mkdtemp(prefix='sriovd-vm-')
    qmp_path = os.path.join(tmp, 'qmp.sock')
    ctl_path = os.path.join(tmp, 'ctl.sock')
    qmp_l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    qmp_l.bind(qmp_path)
    qmp_l.listen(1)
    ctl_l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ctl_l.bind(ctl_path)
    ctl_l.listen(1)

    cmdline = ['console=ttyS0,115200', 'root=/dev/vda', 'rw', 'panic=-1', 'loglevel=4',
               'mitigations=off',
               'sriovd_vm.mounts=' + ','.join(f'sh{i}:{p}' for i, p in enumerate(shares))]
    if not a.no_iommu:
        cmdline += ['intel_iommu=on', 'iommu=pt']
    if a.scenario:
        cmdline += ['sriovd_vm.run=' + os.path.join(here, 'guest', 'harness.sh'),
                    'sriovd_vm.scenario=' + os.path.realpath(a.scenario),
                    'sriovd_vm.out=' + out,
                    f'sriovd_vm.timeout={max(30, int(a.timeout) - 60)}']
        cmdline += ['sriovd_vm.env.' + e for e in a.env]
        if a.shell:
            cmdline.append('sriovd_vm.keep=1')
    for p in cmdline:
        if ' ' in p:
            log(f'path with a space cannot go on the kernel command line: {p}')
            return 1

    machine = f'q35,accel={accel}' + (',kernel-irqchip=split' if not a.no_iommu else '')
    argv = [qemu, '-machine', machine, '-m', str(a.mem), '-smp', str(a.smp),
            '-nodefaults', '-display', 'none', '-no-reboot',
            '-kernel', env['VMLINUZ'], '-initrd', env['INITRD'], '-append', ' '.join(cmdline)]
    if accel == 'kvm':
        argv += ['-cpu', 'host']
    if not a.no_iommu:
        argv += ['-device', 'intel-iommu,intremap=on,caching-mode=on']
    argv += ['-drive', f"file={env['ROOTFS']},if=none,id=root,format=raw,snapshot=on",
             '-device', 'virtio-blk-pci,drive=root']
    for i, p in enumerate(shares):
        argv += ['-virtfs', f'local,path={p},mount_tag=sh{i},security_model=none,id=sh{i}']
    argv += ['-device', 'virtio-serial-pci,id=vser',
             '-chardev', f'socket,id=ctl,path={ctl_path}',
             '-device', 'virtserialport,bus=vser.0,chardev=ctl,name=org.sriovd.ctl',
             '-chardev', f'socket,id=qmp,path={qmp_path}',
             '-mon', 'chardev=qmp,mode=control']
    # PFs first on buses 1..N (root ports at fixed slots keep guest PCI addresses stable:
    # PF i is 0000:0{i+1}:00.0), then empty hot-plug ports hp0.. (buses N+1..).
    for i in range(a.pfs):
        argv += ['-device', f'pcie-root-port,id=rp{i},bus=pcie.0,chassis={i + 1},slot={i + 1},addr={0x10 + i:#x}',
                 '-netdev', f'user,id=net{i},restrict=on',
                 '-device', f'igb,netdev=net{i},bus=rp{i},id=pf{i}']
    for j in range(a.hotplug_ports):
        argv += ['-device', f'pcie-root-port,id=hp{j},bus=pcie.0,chassis={0x20 + j},slot={0x20 + j},addr={0x18 + j:#x}',
                 '-netdev', f'user,id=hpnet{j},restrict=on']
    if a.shell:
        argv += ['-serial', 'mon:stdio']
    else:
        argv += ['-serial', f"file:{os.path.join(out, 'console.log')}"]
    with open(os.path.join(out, 'qemu-cmdline.txt'), 'w') as f:
        f.write(' '.join(argv) + '\n')

    log(f"booting {os.path.basename(env['ROOTFS'])} kernel {env['KABI']} accel={accel} "
        f"iommu={'off' if a.no_iommu else 'on'} pfs={a.pfs} hotplug-ports={a.hotplug_ports} "
        f"timeout={a.timeout:.0f}s")
    t0 = time.monotonic()
    qemu_err = open(os.path.join(out, 'qemu.log'), 'w')
    proc = subprocess.Popen(argv, stderr=qemu_err, stdin=None if a.shell else subprocess.DEVNULL)
    pidfd = os.pidfd_open(proc.pid)
    deadline = None if a.shell else t0 + a.timeout
    qmp = ctl = None
    ctl_buf = b''
    timed_out = False
    try:
        while True:
            rl = [pidfd, qmp_l, ctl_l] + ([ctl] if ctl else []) + ([qmp.sock] if qmp else [])
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                timed_out = True
                break
            r, _, _ = select.select(rl, [], [], left)
            if pidfd in r:
                break
            if qmp_l in r:
                s, _ = qmp_l.accept()
                qmp = Qmp(s)
            if ctl_l in r:
                ctl, _ = ctl_l.accept()
            if qmp and qmp.sock in r:
                try:
                    qmp.drain()
                except (ConnectionError, ValueError):
                    qmp = None
            if ctl and ctl in r:
                data = ctl.recv(4096)
                if not data:
                    ctl = None
                    continue
                ctl_buf += data
                while b'\n' in ctl_buf:
                    line, ctl_buf = ctl_buf.split(b'\n', 1)
                    text = line.decode(errors='replace').strip()
                    if not text:
                        continue
                    reply = handle_ctl(qmp, text) if qmp else 'error no QMP connection'
                    log(f'guest asked {text!r}: {reply}')
                    ctl.sendall(reply.encode() + b'\n')
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        qemu_err.close()
        shutil.rmtree(tmp, ignore_errors=True)
    wall = time.monotonic() - t0

    if a.shell:
        return proc.returncode or 0

    rc = None
    try:
        with open(os.path.join(out, 'rc')) as f:
            rc = int(f.read().strip())
    except (OSError, ValueError):
        pass
    timing = {}
    try:
        with open(os.path.join(out, 'timing')) as f:
            for line in f:
                k, _, v = line.strip().partition('=')
                timing[k] = v
    except OSError:
        pass

    summary = f"wall {wall:.1f}s"
    if 'boot' in timing:
        summary += f", guest boot {timing['boot']}s, scenario {timing.get('scenario', '?')}s"
    if timed_out:
        log(f'FAIL: VM did not finish within {a.timeout:.0f}s ({summary})')
    elif rc is None:
        log(f'FAIL: VM ended (qemu exit {proc.returncode}) without a scenario result ({summary})')
    else:
        log(f"scenario {'passed' if rc == 0 else f'FAILED (exit {rc})'}: {summary}")
    if timed_out or rc != 0:
        dump(out)
        log(f'logs in {out}')
        return rc if rc else 1
    return 0


def dump(out):
    for name, lines in (('qemu.log', 50), ('console.log', 120), ('journal.txt', 200), ('scenario.log', 400)):
        p = os.path.join(out, name)
        if not os.path.exists(p):
            continue
        with open(p, errors='replace') as f:
            content = f.read().splitlines()
        print(f'----- {name} (last {lines} lines) -----')
        print('\n'.join(content[-lines:]))
    sys.stdout.flush()


if __name__ == '__main__':
    sys.exit(main())
