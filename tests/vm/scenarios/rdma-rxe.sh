#!/bin/bash
# Guest scenario (VM tier): soft-RoCE on an igb VF netdev is mapped to the VF by sriovd,
# shown on D-Bus, and the VF's health follows the rxe link.
# Needs: sriovd running with a drop-in giving the igb PF's VF 0 "rdma = true"
# (SRIOV_PF, default the first igb PF), modules rdma_rxe, ib_uverbs, crc32_generic.
set -euo pipefail
BUSCTL="busctl --system"
fail() { echo "FAIL: $*" >&2; exit 1; }
prop() { $BUSCTL get-property org.sriovd1 "$1" org.sriovd1.VirtualFunction "$2" | sed 's/^[a-z]* //; s/"//g'; }
# Event-driven daemon: allow it a moment to process uevents, but never assume a speed.
wait_for() { local i; for i in $(seq 1 100); do eval "$1" && return 0; sleep 0.1; done; return 1; }

modprobe crc32_generic 2>/dev/null || true
modprobe rdma_rxe
modprobe ib_uverbs
PF=${SRIOV_PF:-$(basename "$(dirname "$(readlink -f /sys/bus/pci/drivers/igb/*/net 2>/dev/null | head -1)")")}
[ -n "$PF" ] || fail "no igb PF"
wait_for '[ -e /sys/bus/pci/devices/$PF/virtfn0/net ]' || fail "VF 0 of $PF has no netdev"
VFPCI=$(basename "$(readlink -f /sys/bus/pci/devices/$PF/virtfn0)")
VFNET=$(ls /sys/bus/pci/devices/$PF/virtfn0/net | head -1)
VFOBJ=$($BUSCTL call org.sriovd1 /org/sriovd1 org.sriovd1.Manager ListVirtualFunctions s "" |
        grep -o "\"/org/sriovd1/vf/[^\"]*\" \"$VFPCI\"" | cut -d'"' -f2)
[ -n "$VFOBJ" ] || fail "VF $VFPCI not on D-Bus"
ip link set "$VFNET" up

# 1. Without an RDMA device the rdma = true VF is degraded, naming the VF.
wait_for '[ "$(prop $VFOBJ State)" = degraded ]' || fail "VF not degraded without RDMA device"
prop "$VFOBJ" LastError | grep -q "no RDMA device on VF $VFPCI" || fail "reason: $(prop $VFOBJ LastError)"

# 2. rxe on the VF netdev: mapped through the GID table netdev, VF ready.
rdma link add rxe_vf0 type rxe netdev "$VFNET"
wait_for '[ "$(prop $VFOBJ RDMADevice)" = rxe_vf0 ]' || fail "RDMADevice is '$(prop $VFOBJ RDMADevice)'"
[ "$(prop $VFOBJ RDMALinkLayer)" = Ethernet ] || fail "link layer $(prop $VFOBJ RDMALinkLayer)"
wait_for '[ "$(prop $VFOBJ RDMAPortState)" = active ]' || fail "port $(prop $VFOBJ RDMAPortState)"
wait_for '[ "$(prop $VFOBJ State)" = ready ]' || fail "VF not ready with rxe: $(prop $VFOBJ LastError)"
ibv_devices | grep -q rxe_vf0 || fail "ibv_devices does not list rxe_vf0"

# 3. rxe link removed: degraded again; re-added: ready again.
rdma link delete rxe_vf0
wait_for '[ "$(prop $VFOBJ State)" = degraded ]' || fail "VF not degraded after rdma link delete"
[ -z "$(prop $VFOBJ RDMADevice)" ] || fail "RDMADevice still set"
rdma link add rxe_vf0 type rxe netdev "$VFNET"
wait_for '[ "$(prop $VFOBJ State)" = ready ]' || fail "VF not ready after re-add"

# 4. doctor agrees.
sriovctl --json doctor | grep -q '"Check":"rdma-vf","Status":"ok"' || fail "doctor rdma-vf not ok"
rdma link delete rxe_vf0
echo "PASS: rdma-rxe"
