#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The shipped docs cover the interface (STYLE 7: docs checked so they can't drift).
Every method (with signature), property (with type) and error of dbus/org.sriovd1.xml and
SPEC §4 is in docs/dbus-api.md; every command of `sriovctl --help` is in docs/sriovctl.md."""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
api = open(os.path.join(SRC, 'docs', 'dbus-api.md')).read()
ctl = open(os.path.join(SRC, 'docs', 'sriovctl.md')).read()
missing = []

for iface in ET.parse(os.path.join(SRC, 'dbus', 'org.sriovd1.xml')).getroot():
    name = iface.get('name')
    if '## %s' % name not in api:
        missing.append('interface section ' + name)
    for m in iface:
        if m.tag == 'method':
            ins = ', '.join('%s %s' % (a.get('type'), a.get('name')) for a in m if a.get('direction') == 'in')
            outs = [a for a in m if a.tag == 'arg' and a.get('direction') == 'out']
            sig = '`%s (%s)' % (m.get('name'), ins) + (' → %s %s`' % (outs[0].get('type'), outs[0].get('name'))
                                                      if outs else '`')
            if sig not in api:
                missing.append('method ' + sig)
        elif m.tag == 'property':
            if not re.search(r'^\| `%s` \| `%s` \|' % (m.get('name'), re.escape(m.get('type'))), api, re.M):
                missing.append('property %s.%s %s' % (name, m.get('name'), m.get('type')))

for e in ('NoSuchPool', 'PoolExhausted', 'NotAllocated', 'NotOwner', 'InUse', 'InvalidArgument'):
    if '`org.sriovd1.Error.%s`' % e not in api:
        missing.append('error ' + e)

helptext = subprocess.run([sys.argv[1], '--help'], capture_output=True, text=True, check=True).stdout
verbs = re.findall(r'^  ([a-z][a-z-]+)', helptext.split('Commands:')[1].split('Options:')[0], re.M)
assert len(verbs) >= 10, verbs
for v in set(verbs):
    if '\n`%s' % v not in ctl:
        missing.append('sriovctl command ' + v)
for o in re.findall(r'--[a-z-]+', helptext.split('Options:')[1]):
    if '`%s' % o not in ctl:
        missing.append('sriovctl option ' + o)

for m in missing:
    print('undocumented:', m)
sys.exit(1 if missing else 0)
