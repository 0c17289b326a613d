#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 3 scenario f: broken drop-ins (a validation error and a syntax error) are rejected
# as a whole with FILE:LINE in the journal and on D-Bus; sriovd stays up, the PF they would
# have matched keeps its state, the other PF is configured. Fixing the file and
# `systemctl reload sriovd` then applies it.
# vm-args: --pfs 2 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0) PF1=$(pf_if 1)
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/40-broken.conf <<CONF
# range beyond num_vfs: a validation error
physical_functions = (
  {
    match = { pci = "$(pf_pci 0)"; };
    num_vfs = 4;
    vfs = (
      { range = "0-5"; pool = "too-many"; }
    );
  }
);
CONF
cat >/etc/sriov.d/45-syntax.conf <<CONF
# a syntax error (libconfig itself rejects it)
physical_functions = (
  {
    match = { pci = "$(pf_pci 0)"; };
    num_vfs = = 2;
  }
);
CONF
cat >/etc/sriov.d/50-good.conf <<CONF
physical_functions = (
  {
    match = { interface = "$PF1"; };
    num_vfs = 2;
    vfs = ( { range = "0-1"; pool = "good"; mac = "stable"; vlan = 42; } );
  }
);
CONF
install_sriovd
start_sriovd
wait_for 60 "good PF1 has 2 VFs" numvfs_is 1 2
wait_for 30 "PF1 VFs on VLAN 42" bash -c "ip -d link show dev $PF1 | grep -q 'vf 1 .*vlan 42'"
show_state "$PF1"

check "sriovd still running" sriovd_alive
check_eq "PF0 (matched only by broken files) keeps 0 VFs" 0 "$(cat "$(pf_dev 0)/sriov_numvfs")"
check_eq "PF1 State" configured "$(pf_prop "$(pf_pci 1)" State)"

j=$(journalctl -u sriovd.service -b --no-pager -o cat)
l40=$(grep -n 'range = "0-5"' /etc/sriov.d/40-broken.conf | cut -d: -f1)
say "journal lines naming the broken files:"
grep -E '(40-broken|45-syntax)\.conf' <<<"$j" || true
check "journal: /etc/sriov.d/40-broken.conf:LINE: reason" \
        grep -qE '/etc/sriov\.d/40-broken\.conf:[0-9]+: ' <<<"$j"
# The journal goes in on stdin: quoted into the command, an apostrophe in any line broke it.
check "journal: 40-broken.conf error is on the range line ($l40) or its entry" bash -c \
        "grep -oE '/etc/sriov\.d/40-broken\.conf:[0-9]+:' | grep -qE ':($l40|$((l40 - 1))|$((l40 - 2))):'" <<<"$j"
check "journal: /etc/sriov.d/45-syntax.conf:LINE: reason" \
        grep -qE '/etc/sriov\.d/45-syntax\.conf:[0-9]+: ' <<<"$j"

errs=$(busctl --json=short get-property org.sriovd1 /org/sriovd1 org.sriovd1.Manager ConfigErrors)
say "Manager.ConfigErrors: $errs"
check "ConfigErrors names 40-broken.conf:LINE" grep -qE '40-broken\.conf:[0-9]+:' <<<"$errs"
check "ConfigErrors names 45-syntax.conf:LINE" grep -qE '45-syntax\.conf:[0-9]+:' <<<"$errs"
files=$(busctl --json=short get-property org.sriovd1 /org/sriovd1 org.sriovd1.Manager ConfigFiles)
check "ConfigFiles has the good file" grep -q '50-good.conf' <<<"$files"

# Fix the broken files and reload: PF0 is configured now, the errors are gone.
rm /etc/sriov.d/45-syntax.conf
sed -i 's/range = "0-5"/range = "0-3"/' /etc/sriov.d/40-broken.conf
systemctl reload sriovd.service
wait_for 60 "after reload PF0 has 4 VFs" numvfs_is 0 4
errs=$(busctl --json=short get-property org.sriovd1 /org/sriovd1 org.sriovd1.Manager ConfigErrors)
check_eq "ConfigErrors after the fix" '{"type":"as","data":[]}' "$errs"
check_eq "PF1 kept its 2 VFs across the reload" 2 "$(cat "$(pf_dev 1)/sriov_numvfs")"
check "sriovd still running" sriovd_alive
check_eq "sriovd never restarted" 0 "$(systemctl show -P NRestarts sriovd.service)"
finish
