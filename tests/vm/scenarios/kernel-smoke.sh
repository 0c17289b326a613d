#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The emulated substrate on the real kernel, without sriovd: igb SR-IOV (VFs, virtfn
# links, igbvf netdevs, per-VF netlink attributes, min_tx_rate refused), vfio-pci binding,
# netdevsim with 256 VFs, rdma_rxe on a VF, and QMP hot-plug through the control port.
. "$(dirname "$0")/../guest/lib.sh"

say "kernel $(uname -r)"
udevadm settle --timeout=30
for i in 0 1; do
        d=$(pf_dev $i)
        check "PF$i $(pf_pci $i) bound to igb" [ "$(drv_of "$d")" == igb ]
        check_eq "PF$i sriov_totalvfs" 7 "$(cat "$d/sriov_totalvfs")"
done
PF0=$(pf_if 0) PF1=$(pf_if 1)
say "PF netdevs: $PF0 $PF1"

# --- VFs --------------------------------------------------------------------------
for i in 0 1; do
        t=$(now_us)
        echo 7 >"$(pf_dev $i)/sriov_numvfs" || die "cannot create VFs on PF$i"
        say "PF$i: echo 7 > sriov_numvfs took $(secs_since $t)s"
done
udevadm settle --timeout=60
for i in 0 1; do
        for v in 0 1 2 3 4 5 6; do
                d=$(vf_dev $i $v)
                [ -d "$d" ] || { check "PF$i virtfn$v exists" false; continue; }
                [ "$(drv_of "$d")" == igbvf ] && [ -n "$(netdev_of "$d")" ] \
                        || check "PF$i VF$v bound to igbvf with a netdev" false
        done
        check_eq "PF$i VF count in sysfs" 7 "$(ls -d "$(pf_dev $i)"/virtfn* | wc -l)"
        check_eq "PF$i VFs in ip link" 7 "$(ip -j -d link show dev "$(pf_if $i)" | jq '.[0].vfinfo_list | length')"
done
check "VF netdev names follow udev naming" bash -c "ip -br link | grep -q '^${PF0}v0 '"

# --- per-VF attributes over rtnetlink --------------------------------------------
# igb checks the rate against the PF's link speed: with the PF down it is EINVAL.
err=$(ip link set dev "$PF0" vf 0 max_tx_rate 100 2>&1); rc=$?
say "max_tx_rate with $PF0 down: rc=$rc $err"
ip link set dev "$PF0" up
wait_for 20 "$PF0 has carrier" bash -c "[ \"\$(cat /sys/class/net/$PF0/carrier)\" == 1 ]"
check "set mac/vlan/qos/spoofchk/trust/max_tx_rate on $PF0 vf 0" \
        ip link set dev "$PF0" vf 0 mac 02:00:00:00:01:00 vlan 100 qos 2 spoofchk off trust on max_tx_rate 100
j=$(vf_json "$PF0" 0); say "vf 0: $j"
check_eq "vf 0 mac" 02:00:00:00:01:00 "$(jq -r .address <<<"$j")"
check_eq "vf 0 vlan" 100 "$(jq -r '.vlan_list[0].vlan' <<<"$j")"
check_eq "vf 0 qos" 2 "$(jq -r '.vlan_list[0].qos' <<<"$j")"
check_eq "vf 0 spoofchk" false "$(jq -r .spoofchk <<<"$j")"
check_eq "vf 0 trust" true "$(jq -r .trust <<<"$j")"
check_eq "vf 0 max_tx_rate" 100 "$(jq -r .rate.max_tx <<<"$j")"
check "ip -d link text shows vf 0 settings" bash -c \
        "ip -d link show dev $PF0 | grep -E 'vf 0 .*02:00:00:00:01:00.*vlan 100, qos 2.*max_tx_rate 100Mbps.*spoof checking off.*trust on' >/dev/null"
err=$(ip link set dev "$PF0" vf 1 min_tx_rate 10 2>&1); rc=$?
say "min_tx_rate on igb: rc=$rc: $err"
# Both halves inside check: a failed [[ ]] outside it would only set $?, never count.
refused_einval() { [ "$rc" -ne 0 ] && [[ $err == *"Invalid argument"* ]]; }
check "igb refuses min_tx_rate with EINVAL" refused_einval
err=$(ip link set dev "$PF0" vf 1 state enable 2>&1); rc=$?
say "link state on igb: rc=$rc: $err"
check "vf 1 untouched by the refused attribute" [ "$(vf_json "$PF0" 1 | jq -r .rate.min_tx)" == 0 ]

# --- vfio-pci ---------------------------------------------------------------------
vf=$(vf_dev 1 6); vfa=$(basename "$vf")
modprobe vfio-pci || die "modprobe vfio-pci"
echo vfio-pci >"$vf/driver_override"
echo "$vfa" >"$vf/driver/unbind"
echo "$vfa" >/sys/bus/pci/drivers_probe
check_eq "PF1 VF6 driver after drivers_probe" vfio-pci "$(drv_of "$vf")"
grp=$(basename "$(readlink "$vf/iommu_group")")
check "VF has its own IOMMU group $grp" [ "$(ls "$vf/iommu_group/devices" | wc -l)" -eq 1 ]
wait_for 10 "/dev/vfio/$grp appears" test -c "/dev/vfio/$grp"

# --- rdma_rxe on a VF netdev --------------------------------------------------------
modprobe crc32_generic; modprobe rdma_rxe || die "modprobe rdma_rxe"
vif=$(vf_if 0 2)
check "rdma link add rxe0 on $vif" rdma link add rxe0 type rxe netdev "$vif"
wait_for 10 "/dev/infiniband/uverbs0 appears" test -c /dev/infiniband/uverbs0
check "ibv_devices lists rxe0" bash -c "ibv_devices | grep -qw rxe0"
check "ibv_devinfo opens rxe0" bash -c "ibv_devinfo -d rxe0 | grep -q 'transport:.*InfiniBand'"
rdma link delete rxe0

# --- netdevsim at scale --------------------------------------------------------------
modprobe netdevsim || die "modprobe netdevsim"
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
echo "1 1" >/sys/bus/netdevsim/new_device
nd=/sys/bus/netdevsim/devices/netdevsim1
wait_for 10 "netdevsim1 netdev appears" bash -c "ls $nd/net/* >/dev/null 2>&1"
echo 256 >/sys/kernel/debug/netdevsim/netdevsim1/max_vfs
t=$(now_us)
check "netdevsim: 256 VFs" bash -c "echo 256 > $nd/sriov_numvfs"
say "netdevsim numvfs=256 took $(secs_since $t)s"
check_eq "netdevsim sriov_numvfs" 256 "$(cat $nd/sriov_numvfs)"
nsif=$(netdev_of "$nd")
check "netdevsim accepts min_tx_rate and state on vf 255" \
        ip link set dev "$nsif" vf 255 mac 02:00:00:00:ff:ff min_tx_rate 10 max_tx_rate 100 state enable
n=$(ip -d -j link show dev "$nsif" | jq '.[0].vfinfo_list | length')
say "ip -d link lists $n of 256 netdevsim VFs (a single RTM_GETLINK is capped)"

# --- QMP hot-plug through the control port --------------------------------------------
check "control port answers" vmctl ping
hp=0000:03:00.0
check "device_add igb on hp0" vmctl device_add igb,id=hpnic0,bus=hp0,netdev=hpnet0
wait_for 30 "hot-plugged PF $hp bound to igb" bash -c "[ \"\$(basename \$(readlink -f /sys/bus/pci/devices/$hp/driver))\" == igb ]"
wait_for 10 "hot-plugged PF has a netdev" bash -c "ls /sys/bus/pci/devices/$hp/net/* >/dev/null 2>&1"
check "device_del hpnic0 (waits for DEVICE_DELETED)" vmctl device_del hpnic0
check "hot-plugged PF gone" [ ! -e /sys/bus/pci/devices/$hp ]

# --- tear down VFs -------------------------------------------------------------------
t=$(now_us)
echo 0 >"$(pf_dev 0)/sriov_numvfs"
say "PF0: echo 0 > sriov_numvfs took $(secs_since $t)s"
check "PF0 has no virtfn left" bash -c "! ls -d $(pf_dev 0)/virtfn* 2>/dev/null"
finish
