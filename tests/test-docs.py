#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The shipped docs cover the interface (STYLE 7: docs checked so they can't drift).
Every method (with signature), property (with type) and error of dbus/org.sriovd1.xml and
SPEC §4 is in docs/dbus-api.md; every command of `sriovctl --help` is in docs/sriovctl.md.
The man pages (man/*.scd) are checked both ways: every config key of daemon/config-keys.c's and
daemon/vf-attr.c's key tables is in sriov.d(5), every interface, method (with signature) and
property (with type) of the introspection XML in org.sriovd1(5), every sriovctl verb and
option in sriovctl(1), every sriovd option in sriovd(8); and no page documents a key,
member, verb or option that the code does not have."""
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

# ---- man pages -------------------------------------------------------------------------------
wrong = []  # documented but not in the code


def man(name):
    return open(os.path.join(SRC, 'man', name + '.scd')).read()


def section(text, title):
    """The body of '# TITLE' up to the next '# ' heading."""
    m = re.search(r'^# %s\n(.*?)(?=^# |\Z)' % re.escape(title), text, re.M | re.S)
    assert m, 'no section %s' % title
    return m.group(1)


def compare(code, doc, what):
    for x in sorted(set(code) - set(doc)):
        missing.append('%s %s' % (what, x))
    for x in sorted(set(doc) - set(code)):
        wrong.append('%s %s' % (what, x))


# sriov.d(5): the parser's key tables (the ones its unknown-key check uses).
config_c = open(os.path.join(SRC, 'daemon', 'config-keys.c')).read()
table = config_c.split('config_keys[] = {')[1].split('};')[0]
code_keys = [k for _, _, k in re.findall(r'\{"([^"]*)", "([^"]*)", "([^"]*)"\}', table)]
# ... and the VF attribute table's keys (daemon/vf-attr.c: one row per attribute, under "vfs").
vf_attr_c = open(os.path.join(SRC, 'daemon', 'vf-attr.c')).read()
code_keys += ['vfs.' + k for k in re.findall(r'\{"([a-z_]+)", VF_ATTR_CONFIG_', vf_attr_c)]
assert len(code_keys) >= 20, code_keys
keys_text = section(man('sriov.d.5'), 'KEYS')
doc_keys = re.findall(r'^\*([a-z_.]+)\*$', keys_text, re.M)
compare(code_keys, doc_keys, 'sriov.d(5) key')
for k in doc_keys:
    entry = re.split(r'^\*%s\*\n' % re.escape(k), keys_text, 1, flags=re.M)[1].split('\n\n', 1)[0]
    for field in ('Type:', 'Example:'):
        if field not in entry:
            missing.append('sriov.d(5) key %s: %s' % (k, field))
    if 'Default:' not in entry and 'Required' not in entry:
        missing.append('sriov.d(5) key %s: Default: or Required' % k)
sriovd_d_text = man('sriov.d.5')
# Keys used in the page's examples (literal blocks and "Example:" lines) exist too.
names = {k.split('.')[-1] for k in code_keys}
examples = '\n'.join(re.findall(r'^\t?```\n(.*?)^\t?```', sriovd_d_text, re.M | re.S) +
                     re.findall(r'^Example: (.*)$', sriovd_d_text, re.M))
for used in sorted(set(re.findall(r'\b([a-z_]+) = ', examples))):
    if used not in names:
        wrong.append('sriov.d(5) example key ' + used)
for d in ('/etc/sriov.d/', '/run/sriov.d/', '/usr/lib/sriov.d/', '/dev/null', 'masks'):
    if d not in sriovd_d_text:
        missing.append('sriov.d(5) drop-in directories and masking: ' + d)

# org.sriovd1(5): every interface of the XML in its own section, members with their types.
api_man = man('org.sriovd1.5')
xml_ifaces = ET.parse(os.path.join(SRC, 'dbus', 'org.sriovd1.xml')).getroot()
man_ifaces = re.findall(r'^# INTERFACE (\S+)$', api_man, re.M)
compare([i.get('name') for i in xml_ifaces], man_ifaces, 'org.sriovd1(5) interface')
for iface in xml_ifaces:
    name = iface.get('name')
    if name not in man_ifaces:
        continue
    body = section(api_man, 'INTERFACE ' + name)
    code_members, doc_members = [], []
    for m in iface:
        if m.tag == 'method':
            ins = ', '.join('*%s* _%s_' % (a.get('type'), a.get('name')) for a in m if a.get('direction') == 'in')
            outs = [a for a in m if a.tag == 'arg' and a.get('direction') == 'out']
            code_members.append('method %s(%s)%s' % (m.get('name'), ins, ' → *%s* _%s_' % (
                outs[0].get('type'), outs[0].get('name')) if outs else ''))
        elif m.tag == 'property':
            code_members.append('property %s %s' % (m.get('name'), m.get('type')))
        elif m.tag == 'signal':
            code_members.append('signal %s' % m.get('name'))
    for mname, args in re.findall(r'^\*(\w+)\*(\(.*)$', body, re.M):
        doc_members.append('method %s%s' % (mname, args))
    for pname, ptype in re.findall(r'^\*(\w+)\* \(_([^_]+)_(?:, const)?\)$', body, re.M):
        doc_members.append('property %s %s' % (pname, ptype))
    compare(code_members, doc_members, 'org.sriovd1(5) %s' % name)
for e in ('NoSuchPool', 'PoolExhausted', 'NotAllocated', 'NotOwner', 'InUse', 'InvalidArgument'):
    if '*org.sriovd1.Error.%s*' % e not in section(api_man, 'ERRORS'):
        missing.append('org.sriovd1(5) error ' + e)
for e in re.findall(r'org\.sriovd1\.Error\.(\w+)', api_man):
    if e not in ('NoSuchPool', 'PoolExhausted', 'NotAllocated', 'NotOwner', 'InUse', 'InvalidArgument'):
        wrong.append('org.sriovd1(5) error ' + e)

# sriovctl(1): verbs of --help and of the dispatch table agree, and each has a term and an
# example in COMMANDS; options of --help in OPTIONS.
ctl_c = open(os.path.join(SRC, 'sriovctl', 'sriovctl.c')).read()
table_verbs = re.findall(r'^\s*\{"([a-z-]+)", \d+, \d+, verb_', ctl_c, re.M)
compare(table_verbs, verbs, 'sriovctl --help vs. verbs[] table: verb')
ctl_man = man('sriovctl.1')
commands = section(ctl_man, 'COMMANDS')
doc_verbs = re.findall(r'^\*([a-z-]+)\*', commands, re.M)
compare(table_verbs, doc_verbs, 'sriovctl(1) verb')
for v in table_verbs:
    if not re.search(r'^\t\$ sriovctl( --\S+)* %s\b' % re.escape(v), commands, re.M):
        missing.append('sriovctl(1) example of ' + v)
help_opts = re.findall(r'--[a-z-]+', helptext.split('Options:')[1])
doc_opts = re.findall(r'^\*(--[a-z-]+)', section(ctl_man, 'OPTIONS'), re.M)
doc_opts += re.findall(r'^\*-h\*, \*(--[a-z-]+)', section(ctl_man, 'OPTIONS'), re.M)
compare(help_opts, doc_opts, 'sriovctl(1) option')

# sriovd(8): the daemon's getopt table.
main_c = open(os.path.join(SRC, 'daemon', 'main.c')).read()
daemon_opts = ['--' + o for o in re.findall(r'\{"([a-z-]+)", (?:no|required)_argument', main_c)]
assert len(daemon_opts) >= 5, daemon_opts
d_man = man('sriovd.8')
doc_dopts = re.findall(r'^\*(--[a-z-]+)', section(d_man, 'OPTIONS'), re.M)
doc_dopts += re.findall(r'^\*-h\*, \*(--[a-z-]+)', section(d_man, 'OPTIONS'), re.M)
compare(daemon_opts, doc_dopts, 'sriovd(8) option')
for sect in ('SIGNALS', 'FILES', 'ENVIRONMENT', 'EXIT STATUS'):
    section(d_man, sect)
for env in set(re.findall(r'getenv\("(SRIOVD_[A-Z_]+)"\)', main_c + open(os.path.join(SRC, 'daemon', 'log.c')).read())):
    if '*$%s*' % env not in section(d_man, 'ENVIRONMENT'):
        missing.append('sriovd(8) environment ' + env)

# Documentation= of the units names pages that exist.
pages = {f[:-4] for f in os.listdir(os.path.join(SRC, 'man')) if f.endswith('.scd')}
for u in os.listdir(os.path.join(SRC, 'units')):
    for line in open(os.path.join(SRC, 'units', u)):
        if line.startswith('Documentation='):
            for ref in line.split('=', 1)[1].split():
                m = re.match(r'^man:([\w.-]+)\((\d)\)$', ref)
                if not m or '%s.%s' % m.groups() not in pages:
                    wrong.append('units/%s Documentation= %s (no such page in man/)' % (u, ref))

for m in missing:
    print('undocumented:', m)
for m in wrong:
    print('documented but not in the code:', m)
sys.exit(1 if missing or wrong else 0)
