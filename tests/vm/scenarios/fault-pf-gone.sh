#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 11 fault matrix, PF gone mid-apply: a hot-plugged igb PF is removed with QMP
# device_del while sriovd is in the middle of applying it: (1) its sriov_numvfs write is
# issued, (2) a vfio-pci bind job runs (old driver unbound, not probed yet). sriovd is frozen
# at that step (SRIOVD_TEST_STOP_AT, SIGSTOP) while QEMU and the guest kernel remove the PF,
# then continued, so the job meets a PF that is gone (its write or probe fails on a removed
# device, its result names a PF that left the model). Then: no crash (same PID), no stuck
# job (the other PF still reconciles, D-Bus answers), the PF's object leaves the bus, and
# re-adding the PF on the same port converges to "configured".
# vm-args: --pfs 1 --hotplug-ports 1
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0) PCI0=$(pf_pci 0)
HP=$(pf_pci 1)            # the hot-plug port hp0 is the bus after the last PF
conf() {
        mkdir -p /etc/sriov.d
        cat >/etc/sriov.d/50-gone.conf <<CONF
physical_functions = (
  { match = { pci = "$PCI0"; }; num_vfs = 2; vfs = ( { range = "0-1"; vlan = $1; } ); },
  { match = { pci = "$HP"; }; num_vfs = 3;
    vfs = ( { range = "0-2"; pool = "hot"; driver = "vfio-pci"; vlan = 300; } ); }
);
CONF
}
conf 10
ip link set dev "$PF0" up
install_sriovd
start_sriovd
check "sriovctl wait-online" sriovctl wait-online --timeout=60

vm() { vmctl "$@" >/dev/null; }
bus_answers() { busctl get-property $SRIOVD_M Version >/dev/null; }
drv() { [ -e "$1/driver" ] && basename "$(readlink -f "$1/driver")"; }
stopped() { [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" == T ]; }
hp_on_bus() { sriovctl --json list | jq -e --arg p "$HP" '.[] | select(.PCIAddress == $p)' >/dev/null; }
hp_gone() { ! hp_on_bus; }
pf0_at() { [ "$(pf0_vlans)" == "[$1,$1]" ] && pf_state_is "$PCI0" configured; }
hp_vfs_on_bus() { sriovctl --json vfs | jq --arg p "${HP:0:8}" '[.[] | select(.PCIAddress | startswith($p))] | length'; }
pf0_vlans() { ip -d -j link show dev "$PF0" | jq -c '[.[0].vfinfo_list[].vlan_list[0].vlan]'; }
hp_configured() {
        local d=/sys/bus/pci/devices/$HP i
        [ -e "$d/sriov_numvfs" ] && [ "$(cat "$d/sriov_numvfs")" == 3 ] && pf_state_is "$HP" configured || return 1
        for i in 0 1 2; do [ "$(drv "$(readlink -f "$d/virtfn$i")")" == vfio-pci ] || return 1; done
}
injected=0 passed=0 vlan=10
for point in before-numvfs during-bind; do
        fails0=$VM_FAILS
        say "=== PF removed while sriovd is at $point"
        printf '[Service]\nEnvironment=SRIOVD_TEST_STOP_AT=%s\n' "$point" \
                >/etc/systemd/system/sriovd.service.d/92-stop-at.conf
        systemctl daemon-reload
        check "$point: restart sriovd with the stop hook" systemctl restart sriovd.service
        pid=$(sriovd_pid)
        check "$point: device_add igb on hp0" vm device_add igb,id=hotpf,bus=hp0,netdev=hpnet0
        wait_for 60 "$point: sriovd stopped itself at $point" stopped "$pid"
        check "$point: the hook fired there (journal)" bash -c "journalctl -b -t sriovd --no-pager | grep -q 'Test hook: SIGSTOP at $point\.'"
        say "$point: $HP sriov_numvfs $(cat "/sys/bus/pci/devices/$HP/sriov_numvfs" 2>/dev/null), VF0 driver '$(drv "$(readlink -f "/sys/bus/pci/devices/$HP/virtfn0")")'"
        injected=$((injected + 1))
        t=$(now_us)
        check "$point: device_del (QEMU reports DEVICE_DELETED)" vm device_del hotpf
        check "$point: PF gone from sysfs" [ ! -e "/sys/bus/pci/devices/$HP" ]
        say "$point: PF removed $(secs_since "$t")s after device_del; SIGCONT"
        kill -CONT "$pid"
        wait_for 30 "$point: the PF object left the bus" hp_gone
        check_eq "$point: no VF of the removed PF on the bus" 0 "$(hp_vfs_on_bus)"
        check "$point: sriovd alive" sriovd_alive
        check_eq "$point: same PID (no crash, no restart)" "$pid" "$(sriovd_pid)"
        check "$point: D-Bus answers" bus_answers
        # No job is stuck: the other PF still follows a config change.
        vlan=$((vlan + 1))
        conf "$vlan"
        check "$point: Reload" busctl call $SRIOVD_M Reload
        wait_for 30 "$point: PF0 reconciled (vlan $vlan on its VFs, configured)" pf0_at "$vlan"
        [ "$VM_FAILS" -eq "$fails0" ] && passed=$((passed + 1))
done

# The hook fired once; re-adding the PF on the same port converges.
rm /etc/systemd/system/sriovd.service.d/92-stop-at.conf
systemctl daemon-reload
t=$(now_us)
check "re-add: device_add igb on hp0" vm device_add igb,id=hotpf,bus=hp0,netdev=hpnet0
wait_for 90 "re-add: $HP configured (3 VFs on vfio-pci)" hp_configured
say "re-add: configured $(secs_since "$t")s after device_add"
check_eq "re-add: vlan 300 on its VFs" '[300,300,300]' \
        "$(ip -d -j link show dev "$(netdev_of "/sys/bus/pci/devices/$HP")" | jq -c '[.[0].vfinfo_list[].vlan_list[0].vlan]')"
check_eq "same PID throughout the re-add" "$pid" "$(sriovd_pid)"
show_state "$PF0"
say "PF gone mid-apply: $injected injected, $passed passed"
check_eq "PF-gone points passed" "$injected" "$passed"
finish
