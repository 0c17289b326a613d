#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 5: `sriovctl doctor` reports the IOMMU state the VM was booted with. This boot has
# intel-iommu and `intel_iommu=on iommu=pt`: the iommu and iommu-passthrough checks are ok,
# and every igb VF is alone in its IOMMU group (acs ok). doctor-no-iommu.sh sources this
# file with EXPECT_IOMMU=off for a boot without an IOMMU: iommu fails, passthrough warns
# (no iommu=pt), and doctor exits non-zero.
# vm-args: --pfs 1 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"
EXPECT=${EXPECT_IOMMU:-on}

udevadm settle --timeout=60
PF0=$(pf_if 0)
ip link set dev "$PF0" up
say "kernel command line: $(cat /proc/cmdline)"
say "IOMMU units: $(ls /sys/class/iommu 2>/dev/null | tr '\n' ' '); groups: $(ls /sys/kernel/iommu_groups 2>/dev/null | wc -l)"
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-doctor.conf <<CONF
physical_functions = ( { match = { pci = "$(pf_pci 0)"; }; num_vfs = 2; } );
CONF
install_sriovd
start_sriovd
wait_for 60 "PF0 has 2 VFs" numvfs_is 0 2
check "sriovctl wait-online" sriovctl wait-online --timeout=60
udevadm settle --timeout=60

json=$(sriovctl --json doctor); rc=$?
say "--- sriovctl doctor (exit $rc)"; sriovctl doctor || true
check "doctor --json is a JSON array of rows" jqe 'type == "array" and length > 0 and all(.[]; has("Check") and has("Status") and has("Object") and has("Advice"))' <<<"$json"
status() { jq -r --arg c "$1" '[.[] | select(.Check == $c) | .Status] | if length == 0 then "missing" else (if any(.[]; . == "fail") then "fail" elif any(.[]; . == "warn") then "warn" else "ok" end) end' <<<"$json"; }
advice() { jq -r --arg c "$1" '[.[] | select(.Check == $c) | .Advice] | join(" | ")' <<<"$json"; }
say "iommu: $(status iommu): $(advice iommu)"
say "iommu-passthrough: $(status iommu-passthrough): $(advice iommu-passthrough)"
say "acs: $(status acs): $(advice acs)"
if [ "$EXPECT" == on ]; then
        check "the VM has an IOMMU unit" bash -c "ls /sys/class/iommu | grep -q ."
        check "the command line has iommu=pt" grep -qw iommu=pt /proc/cmdline
        check_eq "doctor iommu" ok "$(status iommu)"
        check "doctor iommu advice names the unit" bash -c "grep -q '$(ls /sys/class/iommu | head -n1)' <<<'$(advice iommu)'"
        check_eq "doctor iommu-passthrough" ok "$(status iommu-passthrough)"
        check_eq "doctor acs (each igb VF in its own group)" ok "$(status acs)"
else
        check "the VM has no IOMMU unit" bash -c "! ls /sys/class/iommu | grep -q ."
        check "the command line has no iommu=pt" bash -c "! grep -qw iommu=pt /proc/cmdline"
        check_eq "doctor iommu" fail "$(status iommu)"
        check "doctor iommu advice says how to enable it" bash -c "grep -q 'intel_iommu=on' <<<'$(advice iommu)'"
        check_eq "doctor iommu-passthrough (no iommu=pt)" warn "$(status iommu-passthrough)"
        check "doctor acs does not claim isolation without IOMMU groups" bash -c "! grep -q alone <<<'$(advice acs)'"
fi
# Exit status: non-zero exactly when a check fails.
nfail=$(jq '[.[] | select(.Status == "fail")] | length' <<<"$json")
if [ "$nfail" -gt 0 ]; then check "doctor exits non-zero with $nfail failing check(s)" [ "$rc" -ne 0 ]
else check_eq "doctor exit status with no failing check" 0 "$rc"; fi
[ "$EXPECT" == off ] && check "doctor fails without an IOMMU" [ "$nfail" -gt 0 ]
# The table shows the same rows as the JSON.
check_eq "table rows = JSON rows" "$(jq length <<<"$json")" "$(sriovctl doctor | grep -cE '^[a-z0-9-]+ +(ok|warn|fail) ')"
check "sriovd still running" sriovd_alive
finish
