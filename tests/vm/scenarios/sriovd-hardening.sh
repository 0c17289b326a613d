#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 11, hardening: `systemd-analyze security sriovd.service` scores <= 2.0, and under
# that sandbox sriovd still does every privileged thing it needs:
#  - writes sriov_numvfs (ProtectKernelTunables=yes, ReadWritePaths=/sys/devices …);
#  - binds vfio-pci with the module unloaded first: loaded on demand through
#    modprobe@.service (the unit has no CAP_SYS_MODULE and no module syscalls), and the
#    VF's /dev/vfio/N is visible in the daemon's private /dev;
#  - opens /dev/infiniband/uverbsN through libibverbs for an rxe device on a VF netdev
#    (PrivateDevices=yes, DeviceAllow=char-infiniband_verbs; DevicePolicy=closed alone used
#    to hide it);
#  - keeps leases in $STATE_DIRECTORY: a drop-in renames the state directory and the lease
#    file appears there.
# And the sandbox is real: in the daemon's mount namespace /proc/sys is read-only and the
# disk is not in /dev.
# vm-args: --pfs 1 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0)
ip link set dev "$PF0" up
# Loaded on demand, so not loaded before.
modprobe -r vfio_pci 2>/dev/null || true
check "vfio_pci is not loaded before sriovd" bash -c '! grep -q "^vfio_pci " /proc/modules'
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-hardening.conf <<CONF
physical_functions = (
  { match = { pci = "$(pf_pci 0)"; }; num_vfs = 3;
    vfs = ( { range = "0"; pool = "rdma"; mac = "stable"; rdma = true; },
            { range = "1"; pool = "vm"; driver = "vfio-pci"; },
            { range = "2"; pool = "net"; mac = "stable"; } ); }
);
CONF
install_sriovd

# --- 1. the exposure score of the unit as installed --------------------------------------------
sec=$(systemd-analyze security --no-pager sriovd.service 2>&1)
grep '✗' <<<"$sec" | sed 's/^/  /'
score=$(sed -n 's/.*Overall exposure level for sriovd.service: \([0-9.]*\).*/\1/p' <<<"$sec")
say "systemd-analyze security sriovd.service: ${score:-?}"
check "exposure score parsed" test -n "$score"
check "exposure score $score <= 2.0" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'

# Leases under another state directory: only $STATE_DIRECTORY can lead sriovd there (the
# compiled-in /var/lib/sriovd is read-only under ProtectSystem=strict). Debug logging to see
# how RDMA devices are queried.
rm -rf /var/lib/sriovd /var/lib/sriovd-alt
printf '[Service]\nStateDirectory=\nStateDirectory=sriovd-alt\nEnvironment=SRIOVD_LOG_LEVEL=debug\n' \
        >/etc/systemd/system/sriovd.service.d/91-vm-hardening.conf
systemctl daemon-reload
start_sriovd
PID=$(sriovd_pid)
say "sandbox: $(systemctl show -P CapabilityBoundingSet sriovd.service | tr '\n' ' ')"
inside() { nsenter -t "$PID" -m -- "$@"; }

# --- 2. sysfs writes under ProtectKernelTunables ---------------------------------------------------
wait_for 60 "PF0 has 3 VFs (sriov_numvfs written)" numvfs_is 0 3
check "sriovctl wait-online" sriovctl wait-online --timeout=90
check "in the daemon's namespace /proc/sys is read-only" \
        bash -c "! nsenter -t $PID -m -- sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward' 2>/dev/null"
check "in the daemon's namespace /sys/devices is writable" inside test -w "$(readlink -f "$(pf_dev 0)")/sriov_numvfs"
check "in the daemon's namespace the disk is not in /dev" inside test ! -e /dev/vda

# --- 3. vfio-pci loaded on demand, bound, its group node visible ---------------------------------
VF1=$(vf_dev 0 1)
wait_for 60 "VF1 bound to vfio-pci" bash -c "[ \"\$(basename \"\$(readlink -f $VF1/driver)\")\" == vfio-pci ]"
check "vfio_pci was loaded (by modprobe@vfio_pci.service)" grep -q "^vfio_pci " /proc/modules
check "modprobe@vfio_pci.service ran" bash -c \
        'journalctl --no-pager -o cat -u modprobe@vfio_pci.service | grep -q "^Finished modprobe@vfio_pci.service"'
grp=$(basename "$(readlink -f "$VF1/iommu_group")")
check "/dev/vfio/$grp is visible in the daemon's /dev" inside test -c "/dev/vfio/$grp"
check_eq "VF1 VFIODevice" "/dev/vfio/$grp" "$(vf_prop "$(basename "$VF1")" VFIODevice)"
check "the vfio char major is registered (DeviceAllow=char-vfio resolved)" grep -qw vfio /proc/devices

# --- 4. libibverbs opens /dev/infiniband/uverbsN ------------------------------------------------------
VF0=$(basename "$(vf_dev 0 0)")
VFNET=$(vf_if 0 0)
check "modprobe crc32_generic rdma_rxe" modprobe -a crc32_generic rdma_rxe
ip link set dev "$VFNET" up
check "rdma link add rxe0 type rxe netdev $VFNET" rdma link add rxe0 type rxe netdev "$VFNET"
wait_for 30 "VF0 RDMADevice rxe0" bash -c "[ \"\$(sriovctl --json vfs | jq -r '.[] | select(.PCIAddress == \"$VF0\") | .RDMADevice')\" == rxe0 ]"
uverbs=$(basename "$(ls -d /sys/class/infiniband/rxe0/device/infiniband_verbs/uverbs* 2>/dev/null | head -n1)" 2>/dev/null)
[ -n "$uverbs" ] || uverbs=$(ls /dev/infiniband | grep -m1 '^uverbs')
check "/dev/infiniband/$uverbs is visible in the daemon's /dev" inside test -c "/dev/infiniband/$uverbs"
# A fresh start queries rxe0 with its node in place; with the node hidden or denied,
# libibverbs fails and sriovd falls back to sysfs (and says so at debug level).
systemctl restart sriovd.service
PID=$(sriovd_pid)
INV=$(systemctl show -P InvocationID sriovd.service)
wait_for 60 "VF0 ready with rxe0 after restart" bash -c "[ \"\$(sriovctl --json vfs | jq -r '.[] | select(.PCIAddress == \"$VF0\") | .State')\" == ready ]"
log=$(journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID="$INV")
check "sriovd queried rxe0 through libibverbs" grep -q "RDMA device rxe0: queried through libibverbs" <<<"$log"
check "no libibverbs failure for rxe0" bash -c '! grep -q "RDMA device rxe0: libibverbs query failed" <<<"$1"' _ "$log"
check_eq "VF0 RDMAPortState" active "$(vf_prop "$VF0" RDMAPortState)"
check "rdma link delete rxe0" rdma link delete rxe0

# --- 5. leases in $STATE_DIRECTORY ------------------------------------------------------------------
M="org.sriovd1 /org/sriovd1 org.sriovd1.Manager"
out=$(busctl call $M Allocate 'ssa{sv}' net hardening 0); say "Allocate: $out"
VFP=$(sed -n 's/^o "\(.*\)"$/\1/p' <<<"$out")
check "Allocate returns a VF" grep -q '^/org/sriovd1/vf/' <<<"$VFP"
check "the lease is in /var/lib/sriovd-alt/leases" grep -rqs '^OWNER=hardening$' /var/lib/sriovd-alt/leases
check "nothing in the compiled-in /var/lib/sriovd" bash -c '! grep -rqs hardening /var/lib/sriovd'
check "Release" busctl call $M Release os "$VFP" hardening
check "the lease file is gone" bash -c '! grep -rqs "^OWNER=hardening$" /var/lib/sriovd-alt/leases'

check "sriovd is still running" sriovd_alive
journalctl -u sriovd --no-pager -o cat -p warning | tail -n 20 | sed 's/^/  journal: /'
finish
