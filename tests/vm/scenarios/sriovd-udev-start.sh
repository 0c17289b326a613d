#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 3 scenario c: the udev rule alone starts the service. sriovd is installed but
# neither enabled nor started; hot-adding an igb pulls it in (SYSTEMD_WANTS) and it
# configures the new PF.
# vm-args: --pfs 0 --hotplug-ports 1
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
HP=0000:01:00.0           # hp0 is the first bus when there is no cold-plugged PF
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-udev.conf <<CONF
physical_functions = ( { match = { pci = "$HP"; }; num_vfs = 2; } );
CONF
install_sriovd
check "sriovd is not enabled" bash -c "! systemctl is-enabled --quiet sriovd.service"
check "sriovd is not running before the hot-add" bash -c "! systemctl is-active --quiet sriovd.service"
check "device_add igb on hp0" vmctl device_add igb,id=hotpf,bus=hp0,netdev=hpnet0
wait_for 60 "udev pulled in sriovd" systemctl is-active --quiet sriovd.service
wait_for 60 "hot-added PF configured with 2 VFs" bash -c \
        "[ \"\$(cat /sys/bus/pci/devices/$HP/sriov_numvfs 2>/dev/null)\" == 2 ]"
check_eq "PF State" configured "$(pf_prop "$HP" State)"
say "why sriovd started:"; journalctl -b --no-pager -o cat _PID=1 | grep -i sriovd | head -n 5
finish
