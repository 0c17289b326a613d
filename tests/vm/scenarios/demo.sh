#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's demo: two emulated Intel 82576 (igb) SR-IOV PFs behind an intel-iommu, sriovd
# installed from its Debian package (built on the host) and started by it, the shipped
# 40-igb-lab example applied, and the result shown as an admin sees it. Also a test: it
# fails if the layout is not there.
#   tests/vm/run-vm.sh --scenario demo            prints and powers off
#   tests/vm/run-vm.sh --shell --scenario demo    prints, then leaves you in the guest
# vm-args: --pfs 2 --hotplug-ports 0
# vm-needs: deb
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0) PF1=$(pf_if 1)
ip link set dev "$PF0" up
ip link set dev "$PF1" up

banner() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { banner "$*"; "$@"; }
# run_check: the same, and a failing command fails the demo (its exit status is a result).
run_check() {
        local rc=0
        banner "$*"
        "$@" || rc=$?
        check_eq "exit status of: $*" 0 "$rc"
}

# The package enables and starts sriovd; with no drop-in yet every PF is unmanaged.
banner "dpkg -i $(basename "$SRIOVD_VM_DEB")"
install_sriovd_deb
run_check systemctl is-enabled sriovd
run_check cp /usr/share/doc/sriovd/examples/40-igb-lab.conf.example /etc/sriov.d/40-igb-lab.conf
# Returns once the new configuration is loaded: wait-online then waits for the PFs.
run_check sriovctl reload
run_check sriovctl wait-online --timeout=120
run systemctl status --no-pager --lines=0 sriovd
run sriovctl list
run sriovctl pools
run sriovctl vfs
banner "ip -d link show $PF0 (VF lines)"
ip -d link show dev "$PF0" | grep -E '^ +vf '
run_check sriovctl allocate jobs --owner demo-job-1
run sriovctl vfs --pool jobs
vf=$(sriovctl --json vfs --pool jobs | jq -r '.[] | select(.Owner == "demo-job-1") | .PCIAddress')
check_eq "VFs of pool jobs allocated to demo-job-1" 1 "$(grep -c . <<<"$vf")"
run_check sriovctl release "$vf" --owner demo-job-1
check_eq "the VF is free again" false "$(vf_prop "$vf" Allocated)"
run sriovctl doctor

# What the demo promises.
check_eq "PF0 has 4 VFs" 4 "$(cat "$(pf_dev 0)/sriov_numvfs")"
check_eq "PF1 has 4 VFs" 4 "$(cat "$(pf_dev 1)/sriov_numvfs")"
check_eq "PF0 VF1 vlan" 100 "$(vf_json "$PF0" 1 | jq -r '.vlan_list[0].vlan')"
check_eq "PF0 VF3 driver" vfio-pci "$(drv_of "$(vf_dev 0 3)")"
check_eq "PF0 state" configured "$(pf_prop "$(pf_pci 0)" State)"
finish
