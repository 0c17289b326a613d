#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 13: NetworkManager keeps off pooled VFs. NetworkManager 1.42 runs with a catch-all
# DHCP profile; sriovd creates 3 VFs, 2 of them in a pool. The pooled VFs stay `unmanaged`
# (udev: NM_UNMANAGED=1 from /run/sriovd/udev through 70-sriovd-vf.rules) and get no DHCP,
# also after a move to another network namespace and back; the VF without a pool is the
# host's (NetworkManager activates the profile on it). A reload that takes a VF out of the
# pool hands it back to NetworkManager.
# vm-args: --pfs 1 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0)
ip link set dev "$PF0" up
mkdir -p /etc/sriov.d
conf() {
        cat >/etc/sriov.d/50-nm.conf <<CONF
physical_functions = ( { match = { pci = "$(pf_pci 0)"; }; num_vfs = 3;
  vfs = ( { range = "$1"; pool = "vm"; } ); } );
CONF
}
conf 0-1

# NetworkManager first, as on a host where it manages everything it finds. The image keeps
# it off with no automatic profiles; this profile takes every enp* device and asks DHCP.
systemctl start NetworkManager.service || die "NetworkManager did not start"
nmcli connection add type ethernet con-name dhcp-all match.interface-name 'enp*' \
        connection.multi-connect multiple ipv4.method auto ipv6.method ignore \
        connection.autoconnect yes >/dev/null || die "cannot add the catch-all profile"

install_sriovd
start_sriovd
wait_for 60 "PF0 has 3 VFs" numvfs_is 0 3
sriovctl wait-online --timeout=60 || say "wait-online failed"
udevadm settle --timeout=60
VF0=$(vf_if 0 0) VF1=$(vf_if 0 1) VF2=$(vf_if 0 2)
say "VFs: $VF0 $VF1 (pool vm), $VF2 (no pool)"

nm_state() { nmcli -t -g GENERAL.STATE device show "$1" 2>/dev/null; }
is_unmanaged() { [[ "$(nm_state "$1")" == *unmanaged* ]]; }
is_managed() { local s; s=$(nm_state "$1"); [ -n "$s" ] && [[ "$s" != *unmanaged* ]]; }
nm_conn() { nmcli -t -g GENERAL.CONNECTION device show "$1" 2>/dev/null; }
prop_of() { udevadm info -q property -p "/sys/class/net/$1" | sed -n "s/^$2=//p"; }

for v in "$VF0" "$VF1"; do
        check_eq "$v udev NM_UNMANAGED" 1 "$(prop_of "$v" NM_UNMANAGED)"
        check_eq "$v udev ID_NET_MANAGED_BY" org.sriovd1 "$(prop_of "$v" ID_NET_MANAGED_BY)"
        wait_for 30 "$v (pool vm) is unmanaged in NetworkManager" is_unmanaged "$v"
done
check_eq "$VF2 (no pool) has no NM_UNMANAGED" "" "$(prop_of "$VF2" NM_UNMANAGED)"
wait_for 60 "$VF2 (no pool) is managed: NetworkManager activates the catch-all profile on it" \
        bash -c "[ \"\$(nmcli -t -g GENERAL.CONNECTION device show $VF2)\" == dhcp-all ]"
say "$(nmcli -t device status)"
# No DHCP on a pooled VF: NetworkManager never started a connection on it.
for v in "$VF0" "$VF1"; do
        check_eq "$v has no NetworkManager connection" "" "$(nm_conn "$v")"
        check "no dhclient/internal DHCP for $v in NetworkManager's journal" \
                bash -c "! journalctl -u NetworkManager --no-pager | grep -q \"($v): .*dhcp\""
done

# A trip through another network namespace: the netdev comes back as a new device.
ip netns add away
ip link set dev "$VF0" netns away
ip -n away link set dev "$VF0" netns 1
udevadm settle --timeout=60
check_eq "$VF0 back from a netns: NM_UNMANAGED" 1 "$(prop_of "$VF0" NM_UNMANAGED)"
wait_for 30 "$VF0 back from a netns is unmanaged" is_unmanaged "$VF0"
check_eq "$VF0 back from a netns has no connection" "" "$(nm_conn "$VF0")"

# VF 1 leaves the pool: its hint goes and its netdev loses the property at once.
# NetworkManager 1.42 does not re-manage a device on a udev "change"; it takes the VF when
# it next appears (here: a trip through a netns; or `nmcli device set IF managed yes`).
conf 0
systemctl reload sriovd.service
wait_for 30 "hint file of VF1 removed" bash -c "[ ! -e /run/sriovd/udev/$(basename "$(vf_dev 0 1)") ]"
wait_for 30 "$VF1 (out of the pool) lost NM_UNMANAGED" bash -c "[ -z \"\$(udevadm info -q property -p /sys/class/net/$VF1 | sed -n 's/^NM_UNMANAGED=//p')\" ]"
ip link set dev "$VF1" netns away
ip -n away link set dev "$VF1" netns 1
udevadm settle --timeout=60
wait_for 60 "$VF1 (out of the pool) is managed when it reappears" is_managed "$VF1"
check "$VF0 (still pooled) stays unmanaged" is_unmanaged "$VF0"

check "sriovd still running" sriovd_alive
finish
