#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The layering of daemon/ (docs/ARCHITECTURE.md) holds, so that it stays true:

- sd-bus is the bus layer's: only *-bus.[ch], bus-util.[ch] and main.c name it;
- nothing outside the bus layer includes a bus header, so the model cannot call the bus
  (it tells it through ManagerHooks) and no include circle runs between the two;
- the adapters (one per library or kernel interface) do not include the model;
- the headers of daemon/ include each other without a circle.

Reads the source only; prints every violation, exits 1 if there is one."""
import glob
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'daemon')
# The adapters: they turn a library or a kernel interface into calls and data, and know
# nothing of PFs, VFs, pools or the manager.
ADAPTERS = {'netlink', 'udev', 'sysfs', 'pci', 'rdma', 'job', 'lease', 'stable'}
# The model's headers (and what is built on it): an adapter reaching any of them is a cycle
# in the making.
MODEL = {'manager.h', 'pf.h', 'vf.h', 'pool.h', 'allocation.h', 'reconcile.h', 'plan.h',
         'cdi.h', 'netdev-hints.h', 'rdma-assign.h', 'doctor.h'}


def is_bus(name):
    base = re.sub(r'\.[ch]$', '', name)
    return base.endswith('-bus') or base == 'bus-util' or name == 'main.c'


def includes(path):
    text = open(path).read()
    return (re.findall(r'^#include "([^"]+)"', text, re.M),
            re.findall(r'^#include <([^>]+)>', text, re.M), text)


files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SRC, '*.[ch]')))
assert len(files) > 40, files
graph = {}
errors = []
for name in files:
    local, system, text = includes(os.path.join(SRC, name))
    graph[name] = [h for h in local if h in files]
    if is_bus(name):
        continue
    if re.search(r'\bsd_bus', text):
        errors.append('%s names sd_bus: only the bus layer (*-bus.[ch], bus-util.[ch], main.c) may'
                      % name)
    for h in local:
        if is_bus(h):
            errors.append('%s includes the bus header %s: the model tells the bus through '
                          'ManagerHooks, it does not call it' % (name, h))
    if 'systemd/sd-bus.h' in system:
        errors.append('%s includes <systemd/sd-bus.h>' % name)


def closure(name, seen=None):
    seen = set() if seen is None else seen
    for h in graph.get(name, []):
        if h not in seen:
            seen.add(h)
            closure(h, seen)
    return seen


for name in files:
    if re.sub(r'\.[ch]$', '', name) in ADAPTERS:
        reached = closure(name) & MODEL
        if reached:
            errors.append('adapter %s includes the model (%s): pass it data, or move the code to '
                          'the model side' % (name, ', '.join(sorted(reached))))

for name in files:
    if name.endswith('.h') and name in closure(name):
        errors.append('header %s includes itself through others' % name)

for e in errors:
    print(e)
print('%d file(s) checked, %d violation(s)' % (len(files), len(errors)))
sys.exit(1 if errors else 0)
