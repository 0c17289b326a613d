#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 11, safety through the API on the real kernel: a consumer that leased a VF owns its
# MAC and VLAN while it holds it (sriovd does not fight it), and Release brings the declared
# values back, in the kernel (ip -d link) and on the bus (the VF's properties).
# vm-args: --pfs 1 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0)
# VF changes are announced (RTM_NEWLINK) only on an up PF.
ip link set dev "$PF0" up
MAC=02:5a:00:00:0a:01 VLAN=42
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-restore.conf <<CONF
physical_functions = (
  { match = { pci = "$(pf_pci 0)"; }; num_vfs = 2;
    vfs = ( { range = "0"; pool = "net"; mac = "$MAC"; vlan = $VLAN; },
            { range = "1"; vlan = 43; } ); }
);
CONF
install_sriovd
start_sriovd
check "sriovctl wait-online" sriovctl wait-online --timeout=60
kmac() { vf_json "$PF0" 0 | jq -r '.address'; }
kvlan() { vf_json "$PF0" 0 | jq -r '.vlan_list[0].vlan // 0'; }
check_eq "declared MAC in the kernel" "$MAC" "$(kmac)"
check_eq "declared VLAN in the kernel" "$VLAN" "$(kvlan)"

VF=$(allocate net consumer)
check "Allocate" grep -q . <<<"$VF"
check_eq "the leased VF is VF0" "$(basename "$(vf_dev 0 0)")" "$(vfget "$VF" PCIAddress)"
# The consumer sets its own MAC and VLAN, as a VMM or CNI plugin would.
CMAC=02:11:22:33:44:55 CVLAN=99
check "consumer: ip link set vf 0 mac $CMAC vlan $CVLAN" ip link set dev "$PF0" vf 0 mac "$CMAC" vlan "$CVLAN"
kernel_is() { [ "$(kmac)" == "$1" ] && [ "$(kvlan)" == "$2" ]; }
bus_is() { [ "$(vfget "$VF" MACAddress)" == "$1" ] && [ "$(vfget "$VF" VLAN)" == "$2" ]; }
wait_for 10 "the bus shows the consumer's MAC/VLAN while leased" bus_is "$CMAC" "$CVLAN"
# sriovd leaves a leased VF's settings to its consumer: give it a reconcile (Reload) and
# check they are still the consumer's.
check "Reload while leased" busctl call $SRIOVD_M Reload
check "sriovctl wait-online" sriovctl wait-online --timeout=60
check "the consumer's values stay while leased" kernel_is "$CMAC" "$CVLAN"
say "kernel: $(vf_json "$PF0" 0)"

check "Release" busctl call $SRIOVD_M Release os "$VF" consumer
wait_for 30 "kernel: declared MAC $MAC and VLAN $VLAN back after Release" kernel_is "$MAC" "$VLAN"
wait_for 10 "bus: MACAddress and VLAN back after Release" bus_is "$MAC" "$VLAN"
check_eq "Allocated after Release" false "$(vfget "$VF" Allocated)"
check_eq "VF1 untouched (vlan 43)" 43 "$(vf_json "$PF0" 1 | jq -r '.vlan_list[0].vlan // 0')"
ip -d link show dev "$PF0" | grep -E '^ *vf ' | sed 's/^/    /'
finish
