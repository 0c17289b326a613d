#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# profile-reconcile.py: splits bench-reconcile's "daemon CPU" by what does the work, with
# perf. The bench runs on the fake substrate under umockdev's preload, which wraps every path
# call of the process (open, readlinkat, lstat, recv, ...): its path translation, signal mask
# and lock are not the daemon's work, yet run on the daemon's thread and count in its CPU.
# This samples the daemon's thread with call graphs and sorts each sample of its first pass
# (fresh host to settled) into:
#   daemon    the daemon's: its code and libraries (user), the kernel serving its system
#             calls (kernel), the kernel putting it to sleep and waking it (wait)
#   preload   inside a umockdev wrapper but not in the wrapped call itself
#   excluded  what the bench subtracts too (settled? checks, the fake rtnetlink peer, its
#             clock reads) and the bench's own setup
# Usage: bench/profile-reconcile.py [--build=DIR] [--pfs=N] [--freq=HZ] [--data=FILE] [--by-call]
# (docs/PERFORMANCE.md, "Big hosts, where the daemon's CPU goes").
# Needs perf (linux-perf) and a build with bench-reconcile; takes the bench's time plus about
# half of it for perf. --data=FILE reuses a recording.
import argparse
import collections
import os
import re
import subprocess
import sys

# The system call a wrapped libc entry point ends in (named as libc_name() gives it):
# samples in it are the call itself.
OWN_SYSCALL = {
    'readlinkat': ('readlinkat',),
    'readlink': ('readlink',),
    'open': ('openat', 'open'), 'open64': ('openat', 'open'), 'openat': ('openat',),
    'openat64': ('openat',), 'open_2': ('openat',), 'openat_2': ('openat',),
    'lstat': ('newfstatat', 'newlstat'), 'lstat64': ('newfstatat', 'newlstat'),
    'stat': ('newfstatat', 'newstat'), 'stat64': ('newfstatat', 'newstat'),
    'fstatat': ('newfstatat',), 'fstatat64': ('newfstatat',),
    'access': ('access', 'faccessat', 'faccessat2'), 'faccessat': ('faccessat', 'faccessat2'),
    'read': ('read',), 'write': ('write',), 'close': ('close',),
    'recv': ('recvfrom',), 'recvmsg': ('recvmsg',), 'recvfrom': ('recvfrom',),
    'opendir': ('openat',), 'fdopendir': ('fstat', 'newfstat'), 'readdir': ('getdents64',),
    'readdir64': ('getdents64',), 'getdents64': ('getdents64',), 'statx': ('statx',),
}
# Where the daemon's event loop runs: samples outside these are the bench's set-up.
DAEMON_ROOTS = {'sd_event_run', 'sd_event_prepare', 'sd_event_wait', 'sd_event_dispatch', 'manager_start'}
# What bench-reconcile subtracts from the thread's CPU (its settled? checks, the fake
# rtnetlink peer answering in the daemon's thread, its reads of the CPU clock).
EXCLUDED = {'settled', 'fake_kernel_n_pending', 'cpu_now', 'now_ns', 'fake_send', 'timed_send',
            'transport_send', 'transport_recv', 'timed_recv_event', 'handle_getlink'}
# The first frame of the second pass: its resync.
SECOND_PASS = 'manager_resync'


def parse_args():
    p = argparse.ArgumentParser(description="splits bench-reconcile's daemon CPU with perf")
    p.add_argument('--build', default='build')
    p.add_argument('--pfs', type=int, default=64)
    p.add_argument('--freq', type=int, default=250)
    p.add_argument('--data', help='an existing perf.data of bench-reconcile')
    p.add_argument('--by-call', action='store_true', help='also split by the wrapped libc call')
    return p.parse_args()


def record(args, data):
    exe = os.path.join(args.build, 'bench', 'bench-reconcile')
    env = dict(os.environ, TMPDIR='/dev/shm' if os.access('/dev/shm', os.W_OK) else '/tmp',
               LD_PRELOAD='libumockdev-preload.so.0')
    cmd = ['perf', 'record', '-q', '-F', str(args.freq), '--call-graph', 'dwarf,16384', '-o', data,
           '--', exe, '--pfs=%d' % args.pfs, '--runs=1', '--no-memory']
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    for line in out.splitlines():
        if line.startswith('| daemon CPU') or line.startswith('| wall time'):
            print(line)


def daemon_tid(data):
    """The daemon runs in the main thread of the bench's child: the busiest tid == pid."""
    out = subprocess.run(['perf', 'script', '-i', data, '-F', 'pid,tid'], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    per_process, mains = collections.Counter(), set()
    for line in out.split():
        pid, tid = line.split('/')
        per_process[pid] += 1
        if pid == tid:
            mains.add(pid)
    return max(mains, key=lambda p: per_process[p])


def samples(data, tid):
    """Each sample's call chain, leaf first, as (symbol, dso) pairs."""
    proc = subprocess.Popen(['perf', 'script', '-i', data, '--tid', tid, '-F', 'time,ip,sym,dso'],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    frame = re.compile(r'\s*[0-9a-f]+ (.*?)(?: \((.*)\))?$')
    cur = None
    for line in proc.stdout:
        line = line.rstrip('\n')
        if not line.strip():
            if cur is not None:
                yield cur
            cur = None
        elif not line.startswith('\t'):
            cur = []  # the sample's header line (its time)
        elif cur is not None:
            m = frame.match(line)
            if m:
                cur.append((m.group(1), m.group(2) or ''))
    if cur is not None:
        yield cur
    proc.wait()


def classify(stack):
    """stack: leaf first. Returns (daemon, preload or excluded; the wrapped call or None)."""
    names = [s for s, _ in stack]
    if not DAEMON_ROOTS.intersection(names) or EXCLUDED.intersection(names):
        return 'excluded', None
    wrapped = [i for i, (_, dso) in enumerate(stack) if 'umockdev-preload' in dso]
    if not wrapped:
        return 'daemon', None
    op = libc_name(names[wrapped[-1]])  # the outermost wrapper the daemon called
    syscalls = OWN_SYSCALL.get(op)
    kernel = [s for s in names[:wrapped[-1]] if s.startswith('__x64_sys_')]
    if syscalls and kernel:
        # In the kernel: the wrapped call itself, or one the wrapper makes of its own.
        return ('daemon' if kernel[-1][len('__x64_sys_'):] in syscalls else 'preload'), op
    if syscalls and any(libc_name(s) == op for s, dso in stack[:wrapped[-1]] if 'libc.so' in dso or not dso):
        return 'daemon', op  # libc's own entry of the wrapped call, in user space
    return 'preload', op


def libc_name(sym):
    """__GI___libc_recv, __GI_readlinkat, __libc_openat64 -> recv, readlinkat, openat64"""
    sym = sym.split(' ')[0].lstrip('_')
    sym = sym[3:].lstrip('_') if sym.startswith('GI_') else sym
    return sym[5:] if sym.startswith('libc_') else sym


def daemon_part(stack):
    """A sample of the daemon's own: in its code and libraries, in the kernel waiting for or
    woken by an event (epoll_wait), or in the kernel serving one of its other calls."""
    if not stack or stack[0][1] != '[kernel.kallsyms]':
        return 'user'
    return 'wait' if any(s in ('epoll_wait', 'sd_event_wait') for s, _ in stack) else 'kernel'


def main():
    args = parse_args()
    data = args.data or '/tmp/profile-reconcile.%d.data' % os.getpid()
    if not args.data:
        record(args, data)
    try:
        tid = daemon_tid(data)
        first, parts, calls = collections.Counter(), collections.Counter(), collections.Counter()
        second = False
        for stack in samples(data, tid):
            if any(s == SECOND_PASS for s, _ in stack):
                second = True
            if second:
                continue
            kind, op = classify(stack)
            first[kind] += 1
            if kind == 'daemon':
                parts[daemon_part(stack)] += 1
            if op:
                calls[op, kind] += 1
    finally:
        if not args.data:
            os.unlink(data)
    counted = first['daemon'] + first['preload']
    if counted == 0:
        sys.exit('no samples of the daemon\'s loop in the first pass')
    ms = 1000.0 / args.freq
    print()
    print('| daemon thread, first pass (%d samples at %d Hz) | samples | ms | share of what the bench counts |'
          % (sum(first.values()), args.freq))
    print('|---|---:|---:|---:|')
    parts['preload'] = first['preload']
    for k, label in (('user', "the daemon's code and libraries"),
                     ('kernel', 'the kernel serving its system calls'),
                     ('wait', 'the kernel putting it to sleep and waking it (epoll_wait)'),
                     ('preload', "umockdev's wrappers around its calls (not the daemon's)")):
        print('| %s | %d | %.0f | %.1f %% |' % (label, parts[k], parts[k] * ms, 100.0 * parts[k] / counted))
    print('| the daemon, all three | %d | %.0f | %.1f %% |'
          % (first['daemon'], first['daemon'] * ms, 100.0 * first['daemon'] / counted))
    print('| excluded by the bench too | %d | %.0f | |' % (first['excluded'], first['excluded'] * ms))
    if args.by_call:
        print()
        print('| wrapped call | the call itself | the wrapper |')
        print('|---|---:|---:|')
        for op in sorted({o for o, _ in calls}, key=lambda o: -calls[o, 'preload'] - calls[o, 'daemon']):
            print('| %s | %d | %d |' % (op, calls[op, 'daemon'], calls[op, 'preload']))


if __name__ == '__main__':
    main()
