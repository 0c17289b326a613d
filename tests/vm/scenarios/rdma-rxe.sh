#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 5: soft-RoCE (rdma_rxe) on an igb VF netdev. The VF's range has `rdma = true`:
# without an RDMA device it is degraded with a reason naming the VF; `rdma link add rxe0
# type rxe netdev <VF>` is mapped to the VF through the GID table netdev (RDMADevice =
# rxe0 on D-Bus and in sriovctl) and the VF becomes ready; `rdma link delete` makes it
# degraded again, re-adding makes it ready. A VF without `rdma` is not affected.
# vm-args: --pfs 1 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0)
ip link set dev "$PF0" up
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-rdma.conf <<CONF
physical_functions = (
  {
    match = { pci = "$(pf_pci 0)"; };
    num_vfs = 2;
    vfs = (
      { range = "0"; pool = "rdma"; mac = "stable"; rdma = true; },
      { range = "1"; pool = "plain"; mac = "stable"; }
    );
  }
);
CONF
install_sriovd
start_sriovd
wait_for 60 "PF0 has 2 VFs" numvfs_is 0 2
wait_for 30 "VF0 has a netdev" vf_if 0 0
udevadm settle --timeout=60
VF0=$(basename "$(vf_dev 0 0)") VF1=$(basename "$(vf_dev 0 1)")
VFNET=$(vf_if 0 0)
wait_for 30 "VF0 $VF0 on D-Bus" bash -c "sriovctl --json vfs | jq -e --arg p $VF0 'any(.[]; .PCIAddress == \$p)'"
VFOBJ=$(vf_prop "$VF0" ObjectPath)
say "VF0 $VF0 netdev $VFNET object $VFOBJ"
busprop() { busctl get-property org.sriovd1 "$VFOBJ" org.sriovd1.VirtualFunction "$1" | sed 's/^[a-z]* //; s/^"//; s/"$//'; }
vf0_is() { [ "$(vf_prop "$VF0" State)" == "$1" ]; }

# --- 1. rdma = true and no RDMA device: degraded, naming the VF ------------------------------
wait_for 30 "VF0 degraded without an RDMA device" vf0_is degraded
err=$(vf_prop "$VF0" LastError); say "VF0 LastError: $err"
check "reason names the missing RDMA device and the VF" grep -q "no RDMA device on VF $VF0" <<<"$err"
check_eq "VF0 RDMADevice before rxe" "" "$(vf_prop "$VF0" RDMADevice)"
check_eq "VF1 (no rdma) State" ready "$(vf_prop "$VF1" State)"
json=$(sriovctl --json doctor) || true
check_eq "doctor rdma-vf fails on VF0" fail "$(jq -r --arg p "$VF0" '[.[] | select(.Check == "rdma-vf" and .Object == $p) | .Status][0]' <<<"$json")"

# --- 2. rxe on the VF netdev: mapped, ready --------------------------------------------------
check "modprobe crc32_generic rdma_rxe ib_uverbs" modprobe -a crc32_generic rdma_rxe ib_uverbs
ip link set dev "$VFNET" up
wait_for 30 "VF0 netdev $VFNET has carrier" bash -c "[ \"\$(cat /sys/class/net/$VFNET/carrier 2>/dev/null)\" == 1 ]"
# What sriovd has to react to, with kernel timestamps (for the report: how long after the
# infiniband add uevent did the mapping appear; the GID table is filled asynchronously).
udevadm monitor --kernel --udev --subsystem-match=infiniband --subsystem-match=net >>/run/rdma-uevents.log 2>&1 &
umon=$!
wait_for 10 "uevent monitor ready" grep -q 'monitor will print' /run/rdma-uevents.log
t=$(now_us)
check "rdma link add rxe0 type rxe netdev $VFNET" rdma link add rxe0 type rxe netdev "$VFNET"
wait_for 30 "sriovctl: VF0 RDMADevice = rxe0" bash -c "[ \"\$(sriovctl --json vfs | jq -r '.[] | select(.PCIAddress == \"$VF0\") | .RDMADevice')\" == rxe0 ]"
wait_for 30 "VF0 ready with rxe0" vf0_is ready
say "mapped and ready $(secs_since "$t")s after rdma link add (uptime $(cut -d' ' -f1 /proc/uptime))"
say "GID 0 netdev now: $(cat /sys/class/infiniband/rxe0/ports/1/gid_attrs/ndevs/0 2>&1)"
grep -E '^(KERNEL|UDEV)' /run/rdma-uevents.log | sed 's/^/  uevent: /'
: >/run/rdma-uevents.log
check_eq "busctl: VF0 RDMADevice" rxe0 "$(busprop RDMADevice)"
# net uevents: off while rtnetlink names netdevs' devices and no RDMA device exists, back on
# while one is mapped (a netdev appearing or moving can move an RDMA device), off once gone.
net_switches() { journalctl -b -u sriovd --no-pager -o cat | grep -c "$1 net uevents" || true; }
check "journal: net uevents off before rxe0" [ "$(net_switches 'Not listening to')" -ge 1 ]
check "journal: net uevents on with rxe0 mapped" [ "$(net_switches 'Listening to')" -ge 1 ]
check_eq "busctl: VF0 State" ready "$(busprop State)"
check_eq "VF0 RDMALinkLayer" Ethernet "$(vf_prop "$VF0" RDMALinkLayer)"
check_eq "VF0 RDMAPortState" active "$(vf_prop "$VF0" RDMAPortState)"
check_eq "VF1 RDMADevice (rxe0 is not on it)" "" "$(vf_prop "$VF1" RDMADevice)"
check "ibv_devices lists rxe0" bash -c "ibv_devices | grep -qw rxe0"
json=$(sriovctl --json doctor) || true
check "doctor has no failing rdma-vf row" jqe '[.[] | select(.Check == "rdma-vf" and .Status != "ok")] | length == 0' <<<"$json"
sriovctl vfs || true

# --- 3. rxe removed: degraded; re-added: ready --------------------------------------------------
check "rdma link delete rxe0" rdma link delete rxe0
wait_for 30 "VF0 degraded after rdma link delete" vf0_is degraded
err=$(vf_prop "$VF0" LastError); say "VF0 LastError: $err"
check "reason names the missing RDMA device and the VF" grep -q "no RDMA device on VF $VF0" <<<"$err"
check_eq "VF0 RDMADevice after delete" "" "$(vf_prop "$VF0" RDMADevice)"
check_eq "busctl: VF0 RDMADevice after delete" "" "$(busprop RDMADevice)"
wait_for 30 "journal: net uevents off again without an RDMA device" bash -c "[ \"\$(journalctl -b -u sriovd --no-pager -o cat | grep -c 'Not listening to net uevents')\" -ge 2 ]"
t=$(now_us)
check "rdma link add rxe0 again" rdma link add rxe0 type rxe netdev "$VFNET"
wait_for 30 "VF0 RDMADevice = rxe0 again" bash -c "[ \"\$(sriovctl --json vfs | jq -r '.[] | select(.PCIAddress == \"$VF0\") | .RDMADevice')\" == rxe0 ]"
wait_for 30 "VF0 ready again" vf0_is ready
say "ready again $(secs_since "$t")s after rdma link add (uptime $(cut -d' ' -f1 /proc/uptime))"
grep -E '^(KERNEL|UDEV)' /run/rdma-uevents.log | sed 's/^/  uevent: /'
kill $umon 2>/dev/null; wait $umon 2>/dev/null
check_eq "VF1 State throughout" ready "$(vf_prop "$VF1" State)"
check "sriovd still running" sriovd_alive
check_eq "sriovd never restarted" 0 "$(systemctl show -P NRestarts sriovd.service)"
finish
