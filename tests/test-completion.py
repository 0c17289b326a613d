#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The bash completion of sriovctl against a service on a private bus.

Usage: test-completion.py SRIOVCTL COMPLETION-FILE [BUSCTL]
Drives _sriovctl the way bash does on Tab (COMP_WORDS/COMP_CWORD set, the file sourced, the
function called) and checks COMPREPLY. Live values (pools, PCI addresses, owners) must be
what the service reports: the expected sets come from `sriovctl --json`, not from this file.
The service is the one tests/test-sriovctl.py starts (SRIOVD_TEST_SERVICE works the same).
"""
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import traceback

SRCDIR = os.path.dirname(os.path.abspath(__file__))
SRIOVCTL = os.path.abspath(sys.argv[1])
COMPLETION = os.path.abspath(sys.argv[2])
# test-sriovctl.py reads argv[1] (sriovctl) and argv[2] (busctl) when imported.
sys.argv = [sys.argv[0], SRIOVCTL] + sys.argv[3:]
spec = importlib.util.spec_from_file_location('test_sriovctl', os.path.join(SRCDIR, 'test-sriovctl.py'))
ts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ts)


def complete(words, env, split_eq=True):
    """Completes the last word of WORDS. With split_eq, "--opt=val" is split into "--opt",
    "=", "val" as bash does when "=" is in COMP_WORDBREAKS (its default)."""
    if split_eq:
        split = []
        for w in words:
            m = re.match(r'^(--[a-z-]+)=(.*)$', w)
            split += [m.group(1), '=', m.group(2)] if m else [w]
        words = split
    script = ('source %s || exit 3\n' % shlex.quote(COMPLETION) +
              'COMP_WORDS=(%s)\n' % ' '.join(shlex.quote(w) for w in words) +
              'COMP_CWORD=%d\n' % (len(words) - 1) +
              'COMP_LINE=%s\nCOMP_POINT=${#COMP_LINE}\n' % shlex.quote(' '.join(words)) +
              '_sriovctl || exit 4\n'
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    env = dict(env, PATH=os.path.dirname(SRIOVCTL) + ':' + env.get('PATH', '/usr/bin:/bin'))
    p = subprocess.run(['bash', '--norc', '--noprofile', '-c', script], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, (words, p.returncode, p.stderr)
    return sorted(set(line for line in p.stdout.split('\n') if line))


def check(got, want, what):
    want = sorted(set(want))
    assert got == want, '%s: completion offered %s, expected %s' % (what, got, want)


def verbs_from_help():
    helptext = subprocess.run([SRIOVCTL, '--help'], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r'^  ([a-z][a-z-]+)', helptext.split('Commands:')[1].split('Options:')[0], re.M))


def test_verbs_and_options(bus):
    verbs = verbs_from_help()
    check(complete(['sriovctl', ''], bus.env), verbs, 'verbs')
    check(complete(['sriovctl', 'wa'], bus.env), ['wait-online'], 'verb prefix')
    check(complete(['sriovctl', '--json', 'po'], bus.env), ['pools'], 'verb after an option')
    got = complete(['sriovctl', 'allocate', 'vm', '--'], bus.env)
    for o in ('--owner=', '--numa=', '--pf=', '--pci=', '--json', '--address='):
        assert o in got, 'allocate options: %s missing from %s' % (o, got)
    assert '--pool=' not in got and '--all' not in got, got
    assert '--all' in complete(['sriovctl', 'release', '--a'], bus.env)
    check(complete(['sriovctl', 'wait-online', '--t'], bus.env), ['--timeout='], 'wait-online option')
    # Every option the completion offers is one sriovctl accepts.
    helptext = subprocess.run([SRIOVCTL, '--help'], capture_output=True, text=True, check=True).stdout
    for verb in verbs:
        for o in complete(['sriovctl', verb, '-'], bus.env):
            assert o.rstrip('=') in helptext, 'completion offers %s, unknown to sriovctl --help' % o


def test_live_values(bus):
    pools = [p['Name'] for p in bus.ctl_json('pools')]
    pfs = bus.ctl_json('list')
    vfs = bus.ctl_json('vfs')
    assert pools and pfs and vfs, 'the service has no objects to complete'
    pool = ts.pick_pool(bus)['Name']
    bus.ctl('allocate', pool, '--owner=job-7')
    bus.ctl('allocate', pool, '--owner=pod-a1')

    check(complete(['sriovctl', 'vfs', '--pool='], bus.env), pools, 'vfs --pool= (split at =)')
    check(complete(['sriovctl', 'vfs', '--pool=' + pool[:2]], bus.env, split_eq=False),
          ['--pool=' + p for p in pools if p.startswith(pool[:2])], 'vfs --pool=PREFIX (one word)')
    check(complete(['sriovctl', 'vfs', '--pool', ''], bus.env), pools, 'vfs --pool POOL')
    check(complete(['sriovctl', 'allocate', ''], bus.env), pools, 'allocate POOL')
    check(complete(['sriovctl', 'libvirt-network', ''], bus.env), pools, 'libvirt-network POOL')
    check(complete(['sriovctl', 'status', ''], bus.env),
          [p['PCIAddress'] for p in pfs] + [p['Interface'] for p in pfs if p['Interface']], 'status PF')
    check(complete(['sriovctl', 'status', '0000:8'], bus.env),
          [p['PCIAddress'] for p in pfs if p['PCIAddress'].startswith('0000:8')], 'status PCI prefix')
    check(complete(['sriovctl', 'release', ''], bus.env), [v['PCIAddress'] for v in vfs], 'release VF')
    check(complete(['sriovctl', 'allocate', pool, '--pci='], bus.env), [v['PCIAddress'] for v in vfs],
          'allocate --pci=')
    check(complete(['sriovctl', 'release', '--all', '--owner='], bus.env), ['job-7', 'pod-a1'],
          'release --owner= (owners of leases)')
    check(complete(['sriovctl', 'release', '--all', '--owner=j'], bus.env), ['job-7'], 'owner prefix')
    # A verb's positional argument is complete: nothing more is offered.
    check(complete(['sriovctl', 'allocate', pool, ''], bus.env), [], 'allocate after POOL')

    # The bus named on the command line is the one asked.
    env = dict(bus.env)
    del env['SRIOVD_BUS_ADDRESS']
    check(complete(['sriovctl', '--address=' + bus.address, 'allocate', ''], env), pools,
          'allocate POOL with --address= on the line')


def test_no_daemon():
    # Without a daemon: static candidates still work, live ones are empty, nothing hangs.
    env = dict(os.environ, SRIOVD_BUS_ADDRESS='unix:path=/nonexistent/sriovd-test-bus')
    check(complete(['sriovctl', 'vfs', '--pool='], env), [], 'pools without a daemon')
    check(complete(['sriovctl', 'rel'], env), ['release', 'reload'], 'verbs without a daemon')


def main():
    if subprocess.run(['sh', '-c', 'command -v bash'], capture_output=True).returncode != 0:
        print('skip: bash missing')
        return 77
    tests = [(k, v) for k, v in globals().items() if k.startswith('test_')]
    failed = 0
    for name, fn in tests:
        bus = None
        try:
            if fn.__code__.co_argcount:
                bus = ts.Bus()
                fn(bus)
            else:
                fn()
            print('ok   %s' % name, flush=True)
        except ts.Skip as e:
            print('skip %s: %s' % (name, e))
        except Exception:
            failed += 1
            print('FAIL %s' % name, flush=True)
            traceback.print_exc()
        finally:
            if bus:
                bus.close()
    print('%d failed, %d total' % (failed, len(tests)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
