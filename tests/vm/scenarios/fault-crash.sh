#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 11 fault matrix, crash points: sriovd is killed with SIGKILL at each step of a
# reconcile on igb PFs (SRIOVD_TEST_CRASH_AT: before the sriov_numvfs write, after it, inside
# a vfio-pci bind, right after the batched RTM_SETLINK); each start resumes from what the
# previous kill left, and the last one converges. PF1's count change is what walks the
# steps; PF0 holds a VF leased over D-Bus and a VF bound to vfio-pci whose group a process
# holds open, and its config asks for a count change that would destroy both: across every
# kill and start, PF0 stays blocked, its VFs are never removed and the lease is never lost.
# vm-args: --pfs 2 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0) PF1=$(pf_if 1)
ip link set dev "$PF0" up; ip link set dev "$PF1" up
write_conf() {  # write_conf PF0-COUNT PF1-COUNT PF1-VLAN
        mkdir -p /etc/sriov.d
        cat >/etc/sriov.d/50-crash.conf <<CONF
physical_functions = (
  { match = { pci = "$(pf_pci 0)"; }; num_vfs = $1;
    vfs = ( { range = "0"; pool = "net"; mac = "stable"; vlan = 5; },
            { range = "1"; pool = "vm"; driver = "vfio-pci"; } ); },
  { match = { pci = "$(pf_pci 1)"; }; num_vfs = $2;
    vfs = ( { range = "0-$(($2 - 1))"; pool = "work"; driver = "vfio-pci"; vlan = $3; } ); }
);
CONF
}
write_conf 2 1 100
install_sriovd
# The next start after a kill is the test's: the udev rule that starts sriovd when a PCI
# device with SR-IOV appears (the VFs of a numvfs write) must not start it behind our back.
ln -sf /dev/null /etc/udev/rules.d/70-sriovd.rules
udevadm control --reload
printf '[Unit]\nStartLimitIntervalSec=0\n[Service]\nRestartSec=100ms\n' >/etc/systemd/system/sriovd.service.d/91-vm-crash.conf
systemctl daemon-reload
start_sriovd
initial() { numvfs_is 0 2 && numvfs_is 1 1; }
wait_for 60 "PF0 has 2 VFs, PF1 has 1" initial
check "sriovctl wait-online" sriovctl wait-online --timeout=60

# The two VFs in use on PF0.
VF0=$(basename "$(vf_dev 0 0)") VF1=$(basename "$(vf_dev 0 1)")
LEASE=$(allocate net crash-job)
check "Allocate over D-Bus leases PF0 VF0" grep -q . <<<"$LEASE"
check_eq "the lease is on PF0's VF0" "$VF0" "$(vfget "$LEASE" PCIAddress)"
wait_for 30 "PF0 VF1 on vfio-pci" bash -c "[ \"\$(basename \$(readlink /sys/bus/pci/devices/$VF1/driver))\" == vfio-pci ]"
GROUP=$(vfio_group "$VF1")
HOLDER=$(vfio_hold "$GROUP") || die "cannot hold $GROUP open"
say "PF0: $VF0 leased ($LEASE), $VF1 held open through $GROUP by PID $HOLDER"
ifindex0=$(cat "/sys/bus/pci/devices/$VF0"/net/*/ifindex)

# Anything that removes a PF0 VF shows up as a PCI remove uevent.
udevadm monitor --kernel --subsystem-match=pci >/run/crash-uevents.log 2>&1 &
mon=$!
wait_for 10 "uevent monitor ready" grep -q 'monitor will print' /run/crash-uevents.log

# the driver of a device directory, empty when unbound
pf1_drv() { [ -e "$1/driver" ] && basename "$(readlink -f "$1/driver")"; }
pf1_vf_driver() { pf1_drv "$(vf_dev 1 "$1")"; }
killed_at() {
        [ "$(systemctl show -P ActiveState sriovd.service)" == failed ] &&
                [ "$(systemctl show -P ExecMainStatus sriovd.service)" == 9 ] &&
                journalctl -b -t sriovd --no-pager | grep -q "Test hook: SIGKILL at $1\."
}
pf1_vf_override() { cat "$(vf_dev 1 "$1")/driver_override" 2>/dev/null; }
pf1_vlans() { ip -d -j link show dev "$PF1" | jq -c '[.[0].vfinfo_list[].vlan_list[0].vlan]'; }
# step_seen POINT COUNT VLAN OLD: the kernel state says the kill came where it was asked
step_seen() {
        case "$1" in
        before-numvfs) numvfs_is 1 "$4" ;;
        after-numvfs) numvfs_is 1 "$2" && [ "$(pf1_vf_driver 0)" != vfio-pci ] ;;
        during-bind) numvfs_is 1 "$2" && [ "$(pf1_vf_override 0)" == vfio-pci ] && [ -z "$(pf1_vf_driver 0)" ] ;;
        after-batch) numvfs_is 1 "$2" && [ "$(pf1_vf_driver 0)" == vfio-pci ] && pf1_vlans | jq -e --argjson v "$3" 'any(.[]; . == $v)' >/dev/null ;;
        esac
}
pf1_converged() {
        numvfs_is 1 "$1" && pf_state_is "$(pf_pci 1)" configured &&
                [ "$(pf1_vlans)" == "$(jq -nc --argjson n "$1" --argjson v "$2" '[range($n)] | map($v)')" ] &&
                for i in $(seq 0 $(($1 - 1))); do [ "$(pf1_vf_driver "$i")" == vfio-pci ] || return 1; done
}

# in_use_intact WHEN [down]: PF0's VFs, the lease and the holder survived. While sriovd is
# down the lease is read from its store: a bus call would bus-activate sriovd (with the hook).
in_use_intact() {
        check "$1: PF0 still has 2 VFs" numvfs_is 0 2
        check "$1: lease on disk ($VF0, owner crash-job)" bash -c \
                "grep -rlx 'OWNER=crash-job' /var/lib/sriovd | xargs grep -qx 'VF=$VF0'"
        [ "${2:-}" == down ] || check_eq "$1: lease on the bus" crash-job "$(vfget "$LEASE" Owner 2>&1)"
        check_eq "$1: leased VF's netdev unchanged" "$ifindex0" "$(cat "/sys/bus/pci/devices/$VF0"/net/*/ifindex)"
        check_eq "$1: held VF still on vfio-pci" vfio-pci "$(pf1_drv "/sys/bus/pci/devices/$VF1")"
        check "$1: $GROUP still held by $HOLDER" holds "$HOLDER" "$GROUP"
}
# One walk through a reconcile, killed at each step in turn: every start resumes from the
# state the previous kill left (PF1 1 -> 2 VFs on vfio-pci with vlan 101), and PF0's config
# asks 2 -> 3 throughout (blocked by the lease and the open group).
write_conf 3 2 101
injected=0 passed=0 first=1
for point in before-numvfs after-numvfs during-bind after-batch; do
        fails0=$VM_FAILS
        say "=== crash at $point"
        printf '[Service]\nEnvironment=SRIOVD_TEST_CRASH_AT=%s\nRestart=no\n' "$point" \
                >/etc/systemd/system/sriovd.service.d/92-crash-at.conf
        systemctl daemon-reload
        if [ "$first" -eq 1 ]; then systemctl restart --no-block sriovd.service; first=0
        else systemctl start --no-block sriovd.service; fi
        injected=$((injected + 1))
        wait_for 60 "$point: sriovd killed there" killed_at "$point"
        check "$point: kernel state matches the crash point" step_seen "$point" 2 101 1
        say "$point: PF1 numvfs $(cat "$(pf_dev 1)/sriov_numvfs"), VF0 driver '$(pf1_vf_driver 0)' override '$(pf1_vf_override 0)', vlans $(pf1_vlans)"
        in_use_intact "$point" down
        [ "$VM_FAILS" -eq "$fails0" ] && passed=$((passed + 1))
done
rm /etc/systemd/system/sriovd.service.d/92-crash-at.conf
systemctl daemon-reload
t=$(now_us)
check "next start without the hook" systemctl start sriovd.service
wait_for 60 "PF1 converged (2 VFs on vfio-pci, vlan 101, configured)" pf1_converged 2 101
say "converged $(secs_since "$t")s after the start"
wait_for 30 "PF0 blocked" pf_state_is "$(pf_pci 0)" blocked
say "PF0 LastError: $(pf_prop "$(pf_pci 0)" LastError)"
check "PF0 LastError names an in-use VF" grep -qE "$VF0|$VF1" <<<"$(pf_prop "$(pf_pci 0)" LastError)"
in_use_intact "after the last start"
kill "$mon"; wait "$mon" 2>/dev/null
check "no PF0 VF was removed (no PCI remove uevent for $VF0/$VF1)" bash -c "! grep -E '^KERNEL.*remove .*($VF0|$VF1)' /run/crash-uevents.log"

# Once the consumers let go, PF0 follows its config.
kill "$HOLDER"
check "Release the lease" busctl call $SRIOVD_M Release os "$LEASE" crash-job
systemctl reload sriovd.service
wait_for 90 "PF0 changes to 3 VFs once nothing holds them" bash -c "[ \"\$(cat $(pf_dev 0)/sriov_numvfs)\" == 3 ]"
check "sriovctl wait-online at the end" sriovctl wait-online --timeout=90
show_state "$PF0" "$PF1"
say "crash points: $injected injected, $passed passed"
check_eq "crash points passed" "$injected" "$passed"
finish
