#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 3 scenario d: edit the drop-in + `systemctl reload sriovd` touches only what changed.
# 1. One VF's VLAN changes: `sriovctl plan` names that VF (and only it); after the reload
#    it has the new VLAN, and no other VF saw a write: kprobes on igb's ndo_set_vf_*
#    (per PF and VF), no rtnetlink notification for the other PF, no sriov_numvfs write.
# 2. num_vfs of a PF without leases changes: plan says so, its VFs are recreated with the
#    new count and configured as declared; the other PF sees no write at all.
# vm-args: --pfs 2 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0) PF1=$(pf_if 1)
ip link set dev "$PF0" up; ip link set dev "$PF1" up
mkdir -p /etc/sriov.d
conf() {        # conf VLAN_OF_PF0_VF1 NUM_VFS_OF_PF1
        cat >/etc/sriov.d/50-reload.conf.tmp <<CONF
physical_functions = (
  {
    match = { pci = "$(pf_pci 0)"; };
    num_vfs = 4;
    vfs = (
      { range = "0"; pool = "net"; mac = "stable"; vlan = 10; trust = true; },
      { range = "1"; pool = "net"; mac = "stable"; vlan = $1; trust = true; },
      { range = "2-3"; pool = "other"; vlan = 20; spoofchk = false; max_tx_rate = 100; }
    );
  },
  {
    match = { pci = "$(pf_pci 1)"; };
    num_vfs = $2;
    vfs = ( { range = "0-$(($2 - 1))"; pool = "p1"; mac = "stable"; vlan = 30; spoofchk = false; } );
  }
);
CONF
        mv /etc/sriov.d/50-reload.conf.tmp /etc/sriov.d/50-reload.conf
}
conf 11 2
install_sriovd
start_sriovd
wait_for 60 "PF0 has 4 VFs" numvfs_is 0 4
wait_for 60 "PF1 has 2 VFs" numvfs_is 1 2
check "sriovctl wait-online" sriovctl wait-online --timeout=60
udevadm settle --timeout=60
show_state "$PF0" "$PF1"
vlan_of() { vf_json "$1" "$2" | jq -r '.vlan_list[0].vlan // 0'; }
check_eq "PF0 VF1 vlan before" 11 "$(vlan_of "$PF0" 1)"
VF01=$(basename "$(vf_dev 0 1)")
VF01_PATH=$(sriovctl --json vfs | jq -r --arg p "$VF01" '.[] | select(.PCIAddress == $p) | .ObjectPath')
say "PF0 VF1 is $VF01 ${VF01_PATH:+($VF01_PATH)}"
check_eq "sriovctl plan on an unchanged config is empty" "[]" "$(sriovctl --json plan)"

# --- detectors ---------------------------------------------------------------------------
w=/run/vm-watch; mkdir -p $w; : >$w/sentinel
python3 "$VM_SRCDIR/tests/vm/guest/inotify-watch.py" $w/numvfs.log "$(pf_dev 0)/sriov_numvfs" "$(pf_dev 1)/sriov_numvfs" \
        $w/sentinel &
ino=$!
ip -t monitor link >$w/netlink.log 2>&1 &
ipm=$!
udevadm monitor --kernel --subsystem-match=pci >$w/uevents.log 2>&1 &
mon=$!
check "kprobes on igb ndo_set_vf_* installed" vfw_start
wait_for 10 "inotify watcher ready" test -e $w/numvfs.log.ready
wait_for 10 "uevent monitor ready" grep -q 'monitor will print' $w/uevents.log
# Each detector must be able to fire: no-op writes of values already in place.
echo 4 >"$(pf_dev 0)/sriov_numvfs"
wait_for 10 "inotify sees a (no-op) sriov_numvfs write" grep -q sriov_numvfs $w/numvfs.log
DEV0=$(vfw_learn "$PF0" 0 vlan 10); check "kprobe sees a (no-op) vlan write on PF0 VF0" [ -n "$DEV0" ]
DEV1=$(vfw_learn "$PF1" 0 spoofchk off); check "kprobe sees a (no-op) spoofchk write on PF1 VF0" [ -n "$DEV1" ]
check "the two PFs have distinct device pointers" [ "$DEV0" != "$DEV1" ]
wait_for 10 "ip monitor sees a (no-op) VF write on PF1" grep -qE "^[0-9]+: $PF1[:@]" $w/netlink.log
: >$w/numvfs.log; : >$w/netlink.log; : >$w/uevents.log
mark=$(vfw_mark)

# --- 1. one VF's VLAN changes ------------------------------------------------------------------
conf 111 2
plan=$(sriovctl --json plan); say "plan: $plan"
sriovctl plan || true
check "plan lists PF0 VF1 ($VF01) with configure-vf of vlan" jqe --arg p "$VF01_PATH" \
        'any(.[]; .Object == $p and .Action == "configure-vf" and (.Reason | test("vlan"; "i")))' <<<"$plan"
check_eq "plan lists nothing else" 1 "$(jq length <<<"$plan")"
check "the plan table names $VF01" bash -c "sriovctl plan | grep -E '$VF01 +configure-vf' >/dev/null"
check_eq "plan changed nothing" 11 "$(vlan_of "$PF0" 1)"
t=$(now_us)
check "systemctl reload sriovd" systemctl reload sriovd.service
wait_for 30 "PF0 VF1 has vlan 111" bash -c "[ \"\$(ip -d -j link show dev $PF0 | jq -r '.[0].vfinfo_list[1].vlan_list[0].vlan')\" == 111 ]"
say "reload applied in $(secs_since "$t")s"
check "sriovctl wait-online after reload" sriovctl wait-online --timeout=60
wait_for 10 "sriovctl reports VLAN 111 on PF0 VF1" bash -c "[ \"\$(sriovctl --json vfs | jq -r '.[] | select(.PCIAddress == \"$VF01\") | .VLAN')\" == 111 ]"
check_eq "sriovctl PF0 VF1 State" ready "$(vf_prop "$VF01" State)"
check_eq "sriovctl plan after the reload is empty" "[]" "$(sriovctl --json plan)"
udevadm settle --timeout=30
drain_watchers $w
hits=$(vfw_hits "$mark")
say "VF attribute writes during the reload (dev vf attr):"; echo "$hits" | sed "s/^$DEV0 /PF0 /; s/^$DEV1 /PF1 /"
check "PF0 VF1 got a vlan write" grep -qE "^$DEV0 1 vlan$" <<<"$hits"
check "no write to any other VF of PF0" bash -c "! grep -E '^$DEV0 ' <<<'$hits' | grep -vqE '^$DEV0 1 '"
check "no write to any VF of PF1" bash -c "! grep -qE '^$DEV1 ' <<<'$hits'"
check "no write on an unknown device" bash -c "! grep -vqE '^($DEV0|$DEV1) ' <<<'$hits'"
check "no rtnetlink notification for PF1" bash -c "! grep -qE '^[0-9]+: $PF1[:@]' $w/netlink.log"
check "no sriov_numvfs write" bash -c "! grep -q sriov_numvfs $w/numvfs.log"
check "no PCI add/remove/bind uevents" bash -c "! grep -qE '^KERNEL.*(add|remove|bind|unbind) ' $w/uevents.log"
for v in 0 2 3; do check_eq "PF0 VF$v vlan unchanged" "$([ $v -eq 0 ] && echo 10 || echo 20)" "$(vlan_of "$PF0" $v)"; done

# --- 2. num_vfs of PF1 (no leases) 2 -> 3 ---------------------------------------------------------
check_eq "no leases on PF1" 0 "$(sriovctl --json vfs | jq --arg p "$(pf_pci 1)" '[.[] | select(.Allocated == true)] | length')"
idx_before=$(cat "$(vf_dev 1 0)"/net/*/ifindex)
: >$w/numvfs.log; : >$w/netlink.log; : >$w/uevents.log
mark=$(vfw_mark)
conf 111 3
plan=$(sriovctl --json plan); say "plan: $plan"
check "plan: set-num-vfs 2 -> 3 on PF1" jqe 'any(.[]; .Action == "set-num-vfs" and (.Reason | test("2 -> 3")))' <<<"$plan"
check_eq "plan: PF1's 2 VFs destroyed" 2 "$(jq '[.[] | select(.Action == "destroy-vf")] | length' <<<"$plan")"
pf0_objs=$( (pf_prop "$(pf_pci 0)" ObjectPath; sriovctl --json vfs | jq -r --arg p "$(pf_prop "$(pf_pci 0)" ObjectPath)" '.[] | select(.PhysicalFunction == $p) | .ObjectPath') | sort)
check_eq "PF0 and its 4 VFs have object paths" 5 "$(grep -c /org/sriovd1/ <<<"$pf0_objs")"
check "plan: nothing on PF0 or its VFs" bash -c "[ -z \"\$(comm -12 <(jq -r '.[].Object' <<<'$plan' | sort) <(echo '$pf0_objs'))\" ]"
t=$(now_us)
check "systemctl reload sriovd" systemctl reload sriovd.service
wait_for 60 "PF1 has 3 VFs" numvfs_is 1 3
wait_for 60 "sriovctl shows PF1 with 3 VFs, configured" bash -c \
        "[ \"\$(sriovctl --json list | jq -r '.[] | select(.PCIAddress == \"$(pf_pci 1)\") | \"\\(.NumVFs) \\(.State)\"')\" == '3 configured' ]"
check "sriovctl wait-online after the count change" sriovctl wait-online --timeout=60
say "count change done in $(secs_since "$t")s"
udevadm settle --timeout=60
show_state "$PF0" "$PF1"
drain_watchers $w
grep sriov_numvfs $w/numvfs.log | sed 's/^/  numvfs write: /'
check "sriov_numvfs of PF1 was written" grep -q "$(pf_pci 1)" $w/numvfs.log
check "no sriov_numvfs write on PF0" bash -c "! grep -q '$(pf_pci 0)' $w/numvfs.log"
check "PF1's VFs were removed and re-added (uevents)" bash -c \
        "grep -qE '^KERNEL.*remove .*/$(pf_pci 1 | cut -d: -f1-2):' $w/uevents.log && grep -qE '^KERNEL.*add .*/$(pf_pci 1 | cut -d: -f1-2):' $w/uevents.log"
check "PF1 VF0 netdev is new (ifindex changed)" bash -c "[ \"\$(cat $(vf_dev 1 0)/net/*/ifindex)\" != $idx_before ]"
for v in 0 1 2; do
        pci=$(basename "$(vf_dev 1 $v)")
        j=$(vf_json "$PF1" $v)
        check_eq "PF1 VF$v vlan" 30 "$(jq -r '.vlan_list[0].vlan' <<<"$j")"
        check_eq "PF1 VF$v spoofchk" false "$(jq -r .spoofchk <<<"$j")"
        check "PF1 VF$v MAC is stable (local unicast)" is_local_unicast "$(jq -r .address <<<"$j")"
        check_eq "sriovctl PF1 VF$v State" ready "$(vf_prop "$pci" State)"
        check_eq "sriovctl PF1 VF$v Pool" p1 "$(vf_prop "$pci" Pool)"
done
check_eq "sriovctl PF1 State" configured "$(pf_prop "$(pf_pci 1)" State)"
check_eq "sriovctl PF1 NumVFs" 3 "$(pf_prop "$(pf_pci 1)" NumVFs)"
hits=$(vfw_hits "$mark")
check "no VF write on PF0 during the count change" bash -c "! grep -qE '^$DEV0 ' <<<'$hits'"
check_eq "PF0 VF1 keeps vlan 111" 111 "$(vlan_of "$PF0" 1)"

vfw_stop
kill $ino $ipm $mon 2>/dev/null; wait $ino $ipm $mon 2>/dev/null
check "sriovd still running" sriovd_alive
check_eq "sriovd never restarted" 0 "$(systemctl show -P NRestarts sriovd.service)"
finish
