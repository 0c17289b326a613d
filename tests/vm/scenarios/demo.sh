#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The demo (not a test): two emulated igb NICs, sriovd installed and running under systemd
# with the shipped example conf.d/60-virt-vfio.conf.example, its match pointed at the first
# NIC and a copy for the second, then the result as a user sees it.
#   tests/vm/run-vm.sh --scenario demo            prints and powers off
#   tests/vm/run-vm.sh --shell --scenario demo    prints, then leaves you in the guest
# vm-args: --pfs 2 --hotplug-ports 1
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
mkdir -p /etc/sriov.d
for i in 0 1; do
        sed "s/pci = \"0000:81:00.0\"/pci = \"$(pf_pci $i)\"/" \
                "$VM_SRCDIR/conf.d/60-virt-vfio.conf.example" >"/etc/sriov.d/6$i-virt-vfio.conf"
done
install_sriovd
start_sriovd
check "sriovctl wait-online" sriovctl wait-online --timeout=90
say "\$ sriovctl status"; sriovctl status
say "\$ sriovctl vfs"; sriovctl vfs
say "\$ sriovctl pools"; sriovctl pools
for i in 0 1; do say "\$ ip -d link show $(pf_if $i)"; ip -d link show dev "$(pf_if $i)" | grep -E '^ *vf |^[0-9]'; done
finish
