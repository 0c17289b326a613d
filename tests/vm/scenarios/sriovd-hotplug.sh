#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 3 scenario b: QMP hot-plug. An igb added on a free root port after sriovd started
# is configured with no admin action; device_del drops its VFs from sriovd's state with
# the daemon healthy; re-adding configures it again, with the same stable MACs.
# vm-args: --pfs 1 --hotplug-ports 1
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0)
HP=$(pf_pci 1)            # the hot-plug port hp0 is the bus after the last PF
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-hotplug.conf <<CONF
physical_functions = (
  {
    match = { pci = "$(pf_pci 0)"; };
    num_vfs = 2;
  },
  {
    match = { pci = "$HP"; };
    num_vfs = 3;
    vfs = ( { range = "0-2"; pool = "hot"; mac = "stable"; vlan = 300; trust = true; } );
  }
);
CONF
install_sriovd
start_sriovd
wait_for 60 "PF0 has 2 VFs" numvfs_is 0 2
check "sriovctl wait-online" sriovctl wait-online --timeout=60
pid=$(sriovd_pid)
hp_vfs() { sriovctl --json vfs | jq --arg p "$HP" '[.[] | select(.PCIAddress | startswith($p[0:8]))] | length'; }
hp_macs() { ip -d -j link show dev "$(netdev_of "/sys/bus/pci/devices/$HP")" | jq -r '.[0].vfinfo_list[].address' | tr '\n' ' '; }
hp_ready() {
        [ -e "/sys/bus/pci/devices/$HP/sriov_numvfs" ] && [ "$(cat "/sys/bus/pci/devices/$HP/sriov_numvfs")" == 3 ] &&
                [ "$(ip -d -j link show dev "$(netdev_of "/sys/bus/pci/devices/$HP")" | jq '[.[0].vfinfo_list[] | select(.vlan_list[0].vlan == 300 and .trust == true)] | length')" == 3 ] &&
                [ "$(pf_prop "$HP" State)" == configured ]
}

for round in 1 2; do
        t=$(now_us)
        check "round $round: device_add igb on hp0" vmctl device_add igb,id=hotpf,bus=hp0,netdev=hpnet0
        wait_for 90 "round $round: hot-plugged PF $HP configured (3 VFs, vlan 300, trust) by sriovd" hp_ready
        say "round $round: configured $(secs_since "$t")s after device_add"
        check_eq "round $round: sriovd lists the 3 hot VFs" 3 "$(hp_vfs)"
        macs[$round]=$(hp_macs)
        say "round $round: VF MACs ${macs[$round]}"
        show_state "$(netdev_of "/sys/bus/pci/devices/$HP")"

        t=$(now_us)
        check "round $round: device_del (QEMU reports DEVICE_DELETED)" vmctl device_del hotpf
        check "round $round: PF gone from sysfs" [ ! -e "/sys/bus/pci/devices/$HP" ]
        wait_for 30 "round $round: its VFs left sriovd's state" bash -c "[ \"\$(sriovctl --json vfs | jq --arg p '${HP:0:8}' '[.[] | select(.PCIAddress | startswith(\$p))] | length')\" == 0 ]"
        wait_for 30 "round $round: the PF left sriovd's state" bash -c "! sriovctl --json list | jq -e --arg p '$HP' '.[] | select(.PCIAddress == \$p)' >/dev/null"
        say "round $round: removed from sriovd $(secs_since "$t")s after device_del"
        check "round $round: sriovd healthy" sriovd_alive
        check_eq "round $round: sriovd not restarted" "$pid" "$(sriovd_pid)"
        check_eq "round $round: PF0 still has 2 VFs" 2 "$(cat "$(pf_dev 0)/sriov_numvfs")"
        check_eq "round $round: PF0 State" configured "$(pf_prop "$(pf_pci 0)" State)"
done
check_eq "stable MACs identical after re-add" "${macs[1]}" "${macs[2]}"
finish
