#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 3 scenario e: `systemctl restart sriovd` and `kill -9` on a converged host change
# nothing: no write to sriov_numvfs (inotify on the attributes), no VF churn (no PCI
# add/remove uevents, same VF netdev ifindexes, same drivers), same VF settings.
# vm-args: --pfs 2 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0) PF1=$(pf_if 1)
ip link set dev "$PF0" up; ip link set dev "$PF1" up
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-restart.conf <<CONF
physical_functions = (
  {
    match = { pci = "$(pf_pci 0)"; };
    num_vfs = 4;
    vfs = (
      { range = "0-1"; pool = "net"; mac = "stable"; vlan = 10; trust = true; max_tx_rate = 100; },
      { range = "2-3"; pool = "vm"; driver = "vfio-pci"; }
    );
  },
  {
    match = { pci = "$(pf_pci 1)"; };
    num_vfs = 2;
    vfs = ( { range = "0"; mac = "02:5a:00:00:01:00"; spoofchk = false; } );
  }
);
CONF
install_sriovd
start_sriovd
wait_for 60 "PF0 has 4 VFs" numvfs_is 0 4
wait_for 60 "PF1 has 2 VFs" numvfs_is 1 2
check "sriovctl wait-online" sriovctl wait-online --timeout=60
udevadm settle --timeout=60
wait_for 30 "PF0 VF2/VF3 on vfio-pci" bash -c \
        "[ \"\$(basename \$(readlink $(vf_dev 0 2)/driver))\" == vfio-pci ] && [ \"\$(basename \$(readlink $(vf_dev 0 3)/driver))\" == vfio-pci ]"
show_state "$PF0" "$PF1"

# Everything a restart must not change.
snapshot() {
        local i v d
        for i in 0 1; do
                echo "PF$i numvfs $(cat "$(pf_dev $i)/sriov_numvfs")"
                ip -d -j link show dev "$(pf_if $i)" | jq -c '.[0].vfinfo_list[]'
                for d in "$(pf_dev $i)"/virtfn*; do
                        d=$(readlink -f "$d")
                        echo "$(basename "$d") driver=$(drv_of "$d") ifindex=$(cat "$d"/net/*/ifindex 2>/dev/null)"
                done
        done
        sriovctl --json vfs | jq -c '.[] | [.PCIAddress, .Interface, .Driver, .MACAddress, .VLAN, .Trust, .SpoofCheck, .MaxTxRate, .Pool, .State, .VFIODevice]'
}
before=$(snapshot)

# Watchers: sysfs writes, PCI uevents, rtnetlink link messages.
w=/run/vm-watch; mkdir -p $w; : >$w/sentinel
python3 "$VM_SRCDIR/tests/vm/guest/inotify-watch.py" $w/numvfs.log "$(pf_dev 0)/sriov_numvfs" "$(pf_dev 1)/sriov_numvfs" \
        $w/sentinel &
ino=$!
udevadm monitor --kernel --subsystem-match=pci >$w/uevents.log 2>&1 &
mon=$!
ip -t monitor link >$w/netlink.log 2>&1 &
ipm=$!
wait_for 10 "inotify watcher ready" test -e $w/numvfs.log.ready
wait_for 10 "uevent monitor ready" grep -q 'monitor will print' $w/uevents.log
# The detector must be able to fail: a no-op write of the same count is seen.
echo 4 >"$(pf_dev 0)/sriov_numvfs"
wait_for 10 "inotify sees a (no-op) sriov_numvfs write" grep -q sriov_numvfs $w/numvfs.log
: >$w/numvfs.log
# ... and a VF attribute write that changes nothing still notifies on rtnetlink.
ip link set dev "$PF1" vf 0 spoofchk off
wait_for 10 "ip monitor sees a (no-op) VF attribute write" grep -qE "^[0-9]+: $PF1[:@]" $w/netlink.log
: >$w/netlink.log

# 1. systemctl restart (returns after READY=1, i.e. after the initial reconcile)
pid1=$(sriovd_pid)
t=$(now_us)
check "systemctl restart sriovd" systemctl restart sriovd.service
say "restart took $(secs_since "$t")s"
check "sriovd running with a new PID after restart" bash -c "[ \"\$(systemctl show -P MainPID sriovd.service)\" != $pid1 ]"
check "sriovctl wait-online after restart" sriovctl wait-online --timeout=60

# 2. kill -9: systemd restarts it (Restart=on-failure)
pid2=$(sriovd_pid)
kill -9 "$pid2"
wait_for 30 "sriovd restarted by systemd after kill -9" bash -c \
        "[ \"\$(systemctl show -P MainPID sriovd.service)\" != $pid2 ] && [ \"\$(systemctl show -P MainPID sriovd.service)\" != 0 ] && systemctl is-active --quiet sriovd.service"
check_eq "NRestarts after kill -9" 1 "$(systemctl show -P NRestarts sriovd.service)"
check "sriovctl wait-online after kill -9" sriovctl wait-online --timeout=60
udevadm settle --timeout=30

drain_watchers $w
kill $ino $mon $ipm 2>/dev/null; wait $ino $mon $ipm 2>/dev/null
after=$(snapshot)
say "sriov_numvfs writes seen:"; cat $w/numvfs.log
check "no sriov_numvfs write during restart and kill -9" bash -c "! grep -q sriov_numvfs $w/numvfs.log"
say "PCI uevents seen:"; grep -E '^KERNEL' $w/uevents.log || true
check "no PCI add/remove uevents (no VF churn)" bash -c "! grep -qE '^KERNEL.*(add|remove) ' $w/uevents.log"
check "no driver bind/unbind uevents" bash -c "! grep -qE '^KERNEL.*(bind|unbind) ' $w/uevents.log"
n=$(grep -cE "^[0-9]+: ($PF0|$PF1)[:@]" $w/netlink.log || true)
say "rtnetlink link notifications for the PFs during restarts: $n (a VF attribute write notifies)"
check "no rtnetlink writes to the PFs (idempotent re-apply)" [ "$n" -eq 0 ]
if [ "$before" == "$after" ]; then say "ok   state identical"
else
        say "FAIL state differs:"; diff <(echo "$before") <(echo "$after"); VM_FAILS=$((VM_FAILS + 1))
fi
check "sriovd still running" sriovd_alive
finish
