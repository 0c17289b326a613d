#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 3 scenario g: a netdevsim PF with 256 VFs, each with a stable MAC, VLAN, trust,
# spoofchk and a max rate, all configured by sriovd; sriovd's view of all 256 is right
# although a plain RTM_GETLINK (what `ip -d link` does) truncates the kernel's VF list.
# vm-args: --pfs 0 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

modprobe netdevsim || die "modprobe netdevsim"
nd=/sys/bus/netdevsim/devices/netdevsim1
echo "1 1" >/sys/bus/netdevsim/new_device
wait_for 10 "netdevsim1 netdev appears" bash -c "ls $nd/net/* >/dev/null 2>&1"
# udev renames it (eth0 -> eni1np1): take the name once udev is done.
udevadm settle --timeout=30
NS=$(basename "$(ls -d $nd/net/* | head -n1)")
say "netdevsim PF netdev: $NS"
ip link set dev "$NS" up
# netdevsim allows 4 VFs until raised, and only while it has none.
echo 256 >/sys/kernel/debug/netdevsim/netdevsim1/max_vfs

mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-scale.conf <<CONF
physical_functions = (
  { match = { interface = "$NS"; };
    num_vfs = 256;
    vfs = ( { range = "0-255"; pool = "scale"; mac = "stable"; vlan = 42; qos = 1;
              trust = true; spoofchk = false; max_tx_rate = 1000; } );
  }
);
CONF
install_sriovd
t=$(now_us)
start_sriovd
check "sriovctl wait-online" sriovctl wait-online --timeout=120
say "256 VFs configured in $(secs_since "$t")s (from systemctl start to online)"
check_eq "sriov_numvfs" 256 "$(cat $nd/sriov_numvfs)"

# What iproute2 shows: a truncated list (the kernel's nested VF list is capped at 64 KiB
# with stats). sriovd reads with RTEXT_FILTER_SKIP_STATS and reports all 256.
n_ip=$(ip -d -j link show dev "$NS" | jq '.[0].vfinfo_list | length')
say "ip -d link lists $n_ip of 256 VFs"
j=$(sriovctl --json vfs --pool scale)
check_eq "sriovd lists every VF" 256 "$(jq length <<<"$j")"
check_eq "all 256 on VLAN 42" 256 "$(jq '[.[] | select(.VLAN == 42 and .QoS == 1)] | length' <<<"$j")"
check_eq "all 256 trusted, spoofchk off" 256 "$(jq '[.[] | select(.Trust and (.SpoofCheck | not))] | length' <<<"$j")"
check_eq "all 256 at 1000 Mbit/s" 256 "$(jq '[.[] | select(.MaxTxRate == 1000)] | length' <<<"$j")"
check_eq "all 256 ready" 256 "$(jq '[.[] | select(.State == "ready")] | length' <<<"$j")"
check_eq "256 distinct stable MACs" 256 "$(jq -r '.[].MACAddress' <<<"$j" | sort -u | grep -c .)"
mac=$(jq -r '.[] | select(.Index == 255) | .MACAddress' <<<"$j")
check "VF 255 MAC $mac is locally administered unicast" is_local_unicast "$mac"
# The kernel agrees where iproute2 can see: VF 0 as listed by ip.
check_eq "kernel VF 0 vlan" 42 "$(vf_json "$NS" 0 | jq -r '.vlan_list[0].vlan')"
check_eq "kernel VF 0 mac = sriovd's" "$(jq -r '.[] | select(.Index == 0) | .MACAddress' <<<"$j")" \
        "$(vf_json "$NS" 0 | jq -r .address)"

# A restart of a converged host writes nothing. All links are watched (lo is the drain's
# sentinel); the count is of $NS's own notifications.
w=/run/vm-watch; mkdir -p $w
ip monitor link >$w/netlink.log 2>&1 &
mon=$!
ns_lines() { grep -cE "^[0-9]+: $NS[:@]" $w/netlink.log; }
# Prove the detector sees a VF write (a no-op one) before trusting its silence.
wait_for 10 "ip monitor sees a VF write" bash -c \
        "ip link set dev $NS vf 0 vlan 42 qos 1; grep -qE '^[0-9]+: $NS[:@]' $w/netlink.log"
drain_watchers $w
n0=$(ns_lines)
t=$(now_us)
systemctl restart sriovd
check "sriovctl wait-online after restart" sriovctl wait-online --timeout=120
say "restart to online with 256 VFs: $(secs_since "$t")s"
drain_watchers $w
kill "$mon" 2>/dev/null; wait "$mon" 2>/dev/null
check_eq "no link change from the restart (ip monitor lines for $NS)" "$n0" "$(ns_lines)"
check_eq "sriov_numvfs unchanged" 256 "$(cat $nd/sriov_numvfs)"
finish
