#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 4 on the real system bus: root allocates and releases with busctl; an unprivileged
# user (nobody) reads properties but Allocate/Release/ReleaseOwner/Reload are denied
# (org.freedesktop.DBus.Error.AccessDenied, decided by the daemon); a lease survives
# kill -9 right after Allocate returns, 30 times in a row.
# vm-args: --pfs 1 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"
N=${LEASE_LOOPS:-30}

udevadm settle --timeout=60
PF0=$(pf_if 0)
ip link set dev "$PF0" up
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-leases.conf <<CONF
physical_functions = (
  { match = { pci = "$(pf_pci 0)"; }; num_vfs = 3;
    vfs = ( { range = "0-2"; pool = "net"; mac = "stable"; vlan = 7; } ); }
);
CONF
install_sriovd
# 30 crashes in a row: no start rate limit, restart at once (the test, not the product).
printf '[Unit]\nStartLimitIntervalSec=0\n[Service]\nRestartSec=100ms\n' >/etc/systemd/system/sriovd.service.d/91-vm-leases.conf
systemctl daemon-reload
start_sriovd
wait_for 60 "PF0 has 3 VFs" numvfs_is 0 3
check "sriovctl wait-online" sriovctl wait-online --timeout=60
M="org.sriovd1 /org/sriovd1 org.sriovd1.Manager"
vfget() { busctl get-property org.sriovd1 "$1" org.sriovd1.VirtualFunction "$2" | sed 's/^[a-z]* //; s/^"//; s/"$//'; }
pool_free() { busctl call org.sriovd1 /org/sriovd1 org.sriovd1.Manager ListPools | grep -o '"net" [0-9]* [0-9]*' | awk '{print $3}'; }

# --- root: allocate, read, release -------------------------------------------------------
out=$(busctl call $M Allocate 'ssa{sv}' net job-root 0); say "Allocate: $out"
VF=$(sed -n 's/^o "\(.*\)"$/\1/p' <<<"$out")
check "Allocate as root returns a VF path" grep -q '^/org/sriovd1/vf/' <<<"$VF"
check_eq "Owner" job-root "$(vfget "$VF" Owner)"
check_eq "Allocated" true "$(vfget "$VF" Allocated)"
check_eq "pool free after Allocate" 2 "$(pool_free)"
# The consumer owns MAC and VLAN while it holds the lease (a VMM sets its own): Release must
# bring the declared ones back on the real VF.
IDX=$(vfget "$VF" Index) MAC0=$(vfget "$VF" MACAddress)
say "leased VF index $IDX, declared MAC $MAC0, VLAN 7"
check "consumer sets its own MAC and VLAN on the leased VF" \
        ip link set dev "$PF0" vf "$IDX" mac 52:54:00:12:34:56 vlan 333
declared_back() { vf_json "$PF0" "$IDX" | jqe --arg m "$MAC0" '.address == $m and .vlan_list[0].vlan == 7'; }

# --- nobody: reads work, mutations are denied ----------------------------------------------
nb() { runuser -u nobody -- "$@"; }
check "nobody: get-property Version" nb busctl get-property $M Version
check_eq "nobody reads the VF Owner" job-root "$(nb busctl get-property org.sriovd1 "$VF" org.sriovd1.VirtualFunction Owner | sed 's/^s "//; s/"$//')"
check "nobody: sriovctl --json vfs" bash -c "runuser -u nobody -- sriovctl --json vfs | jq -e 'length == 3' >/dev/null"
denied() {      # denied WHAT DBUS-SEND-ARGS...: the call fails with AccessDenied
        local what=$1 o; shift
        o=$(nb dbus-send --system --print-reply --dest=org.sriovd1 /org/sriovd1 "$@" 2>&1)
        if grep -q 'org.freedesktop.DBus.Error.AccessDenied' <<<"$o"; then say "ok   nobody: $what denied"
        else say "FAIL nobody: $what not denied: $o"; VM_FAILS=$((VM_FAILS + 1)); fi
}
o=$(nb busctl call $M Allocate 'ssa{sv}' net job-nobody 0 2>&1); rc=$?
say "nobody Allocate: exit $rc: $o"
check "nobody: Allocate fails with access denied" bash -c "[ $rc -ne 0 ] && grep -qi 'access denied\|AccessDenied' <<<'$o'"
denied "Release" org.sriovd1.Manager.Release objpath:"$VF" string:job-root
denied "ReleaseOwner" org.sriovd1.Manager.ReleaseOwner string:job-root
denied "Reload" org.sriovd1.Manager.Reload
check_eq "the lease is untouched" job-root "$(vfget "$VF" Owner)"
check_eq "pool free unchanged" 2 "$(pool_free)"
check "root: Release" busctl call $M Release os "$VF" job-root
check_eq "Allocated after Release" false "$(vfget "$VF" Allocated)"
check_eq "pool free after Release" 3 "$(pool_free)"
wait_for 30 "Release restores the declared MAC $MAC0 and VLAN 7 on VF $IDX" declared_back
say "VF $IDX after Release: $(vf_json "$PF0" "$IDX")"

# --- kill -9 right after Allocate returns, N times --------------------------------------
t=$(now_us) bad=0
for i in $(seq 1 "$N"); do
        pid=$(sriovd_pid)
        out=$(busctl call $M Allocate 'ssa{sv}' net "crash-$i" 0) && kill -9 "$pid"
        vf=$(sed -n 's/^o "\(.*\)"$/\1/p' <<<"$out")
        [ -n "$vf" ] || { say "FAIL loop $i: Allocate: $out"; bad=$((bad + 1)); continue; }
        if ! wait_for 30 "loop $i: sriovd restarted" bash -c \
                "p=\$(systemctl show -P MainPID sriovd.service); [ \"\$p\" != $pid ] && [ \"\$p\" != 0 ] && systemctl is-active --quiet sriovd.service" >/dev/null; then
                bad=$((bad + 1)); break
        fi
        owner=$(vfget "$vf" Owner 2>&1)
        if [ "$owner" != "crash-$i" ]; then
                say "FAIL loop $i: lease on $vf lost after kill -9: Owner='$owner'"; bad=$((bad + 1))
        fi
        busctl call $M Release os "$vf" "crash-$i" || { say "FAIL loop $i: Release"; bad=$((bad + 1)); }
done
say "$N x (Allocate, kill -9, restart, check, Release) in $(secs_since "$t")s"
check_eq "leases lost or loops failed" 0 "$bad"
check_eq "NRestarts" "$N" "$(systemctl show -P NRestarts sriovd.service)"
check_eq "pool free at the end" 3 "$(pool_free)"
check_eq "no leases left" 0 "$(sriovctl --json vfs | jq '[.[] | select(.Allocated)] | length')"
check "VF settings intact (vlan 7 on all)" bash -c "[ \"\$(ip -d -j link show dev $PF0 | jq '[.[0].vfinfo_list[].vlan_list[0].vlan] | unique')\" == \"\$(jq -n '[7]')\" ]"
check "sriovd still running" sriovd_alive
finish
