#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 11 fault matrix, polkit for real: polkitd runs in the guest (the image keeps it off
# for bench/vm-compare.sh; this scenario unmasks and starts it) with a rule that grants
# org.sriovd1.manage to alice, not to bob, and to "slow" only after 3 s (polkit.spawn of
# sleep). Checked: allowed, denied, the caller leaving before the answer (no lease), the VF
# going away before the answer (a clean error), and 1,000 pending checks (bounded: at most
# 16 per sender and 100 in all, the rest refused with LimitsExceeded, and the daemon
# answers a property read within 1 s while they are pending).
# vm-args: --pfs 1 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0) PCI0=$(pf_pci 0)
conf() {
        mkdir -p /etc/sriov.d
        cat >/etc/sriov.d/50-polkit.conf <<CONF
physical_functions = (
  { match = { pci = "$PCI0"; }; num_vfs = $1;
    vfs = ( { range = "0-1"; pool = "net"; }$([ "$1" -gt 2 ] && echo ', { range = "2"; pool = "tail"; }') ); }
);
CONF
}
conf 3
for u in alice bob slow; do useradd -M -s /usr/sbin/nologin "$u"; done
install_sriovd
start_sriovd
check "sriovctl wait-online" sriovctl wait-online --timeout=60

# polkitd on: the image masks it and removes its bus activation.
mkdir -p /etc/polkit-1/rules.d
cat >/etc/polkit-1/rules.d/50-sriovd-test.rules <<'RULES'
polkit.addRule(function(action, subject) {
        if (action.id != "org.sriovd1.manage")
                return polkit.Result.NOT_HANDLED;
        if (subject.user == "alice")
                return polkit.Result.YES;
        if (subject.user == "slow") {
                polkit.spawn(["/bin/sleep", "3"]);
                return polkit.Result.YES;
        }
        return polkit.Result.NO;
});
RULES
chmod 0644 /etc/polkit-1/rules.d/50-sriovd-test.rules
rm -f /etc/systemd/system/polkit.service
systemctl daemon-reload
t=$(now_us)
check "polkit.service starts" systemctl start polkit.service
say "polkitd up in $(secs_since "$t")s"
check "the sriovd action is known to polkit" test -e /usr/share/polkit-1/actions/org.sriovd1.policy

as() { local u=$1; shift; runuser -u "$u" -- "$@"; }
free_in() { busctl call $SRIOVD_M ListPools | grep -o "\"$1\" [0-9]* [0-9]*" | awk '{print $3}'; }
FLOOD=$VM_SRCDIR/tests/vm/guest/dbus-flood.py
polkit_thinking() { pgrep -u polkitd -x sleep >/dev/null; }
same_daemon() { systemctl is-active --quiet sriovd && [ "$(sriovd_pid)" == "$pid" ]; }
# never_within SECONDS DESCRIPTION COMMAND...: COMMAND must not succeed for SECONDS
never_within() {
        local limit=$1 what=$2; shift 2
        local end=$(( $(date +%s%N) + limit * 1000000000 ))
        while [ "$(date +%s%N)" -lt "$end" ]; do
                if "$@" >/dev/null 2>&1; then say "FAIL $what"; VM_FAILS=$((VM_FAILS + 1)); return 1; fi
                sleep 0.2
        done
        say "ok   no $what within ${limit}s"
}
leases_of() { sriovctl --json vfs | jq --arg o "$1" '[.[] | select(.Allocated and .Owner == $o)] | length'; }

# --- allowed ---------------------------------------------------------------------------------
o=$(as alice busctl call $SRIOVD_M Allocate 'ssa{sv}' net job-alice 0 2>&1)
say "alice Allocate: $o"
VFA=$(sed -n 's/^o "\(.*\)"$/\1/p' <<<"$o")
check "alice (granted by the rule) allocates" grep -q '^/org/sriovd1/vf/' <<<"$VFA"
check_eq "alice's lease" job-alice "$(vfget "$VFA" Owner)"
check "alice releases" as alice busctl call $SRIOVD_M Release os "$VFA" job-alice
check_eq "released" false "$(vfget "$VFA" Allocated)"

# --- denied ----------------------------------------------------------------------------------
o=$(as bob python3 "$FLOOD" 1 1 net job-bob 10)
say "bob Allocate: $o"
check "bob (refused by the rule) gets org.freedesktop.DBus.Error.AccessDenied" \
        jqe '.errors["org.freedesktop.DBus.Error.AccessDenied"] == 1' <<<"$o"
check_eq "bob has no lease" 0 "$(leases_of job-bob)"

# --- the caller leaves before polkit answers -------------------------------------------------
pid=$(sriovd_pid)
free0=$(free_in net)
o=$(as slow python3 "$FLOOD" 1 1 net job-gone 0.5)
say "slow caller, gone after 0.5 s: $o"
check "no answer before the caller left" jqe '.unanswered == 1' <<<"$o"
check "polkit is still deciding (its rule's sleep runs)" polkit_thinking
wait_for 20 "polkit decided (the rule's sleep ended)" bash -c "! pgrep -u polkitd -x sleep"
never_within 3 "lease for the caller that left" bash -c "[ \"\$(sriovctl --json vfs | jq '[.[] | select(.Owner == \"job-gone\")] | length')\" != 0 ]"
check_eq "pool 'net' free count unchanged" "$free0" "$(free_in net)"
check "sriovd alive, same PID" same_daemon

# --- the VF goes away before the answer ------------------------------------------------------
# (a) released meanwhile: slow's Release of a VF root releases while polkit thinks.
VFR=$(allocate net job-slow)
as slow busctl call $SRIOVD_M Release os "$VFR" job-slow >/run/slow-release.out 2>&1 &
rel=$!
wait_for 5 "slow's Release is waiting on polkit" polkit_thinking
check "root releases it first" busctl call $SRIOVD_M Release os "$VFR" job-slow
wait "$rel"; rc=$?
say "slow Release after root's: exit $rc: $(cat /run/slow-release.out)"
check "slow's Release fails cleanly (not allocated)" bash -c "[ $rc -ne 0 ] && grep -qi 'not allocated' /run/slow-release.out"
check_eq "the VF stays free" false "$(vfget "$VFR" Allocated)"
# (b) num_vfs change meanwhile: slow's Allocate from pool "tail" (VF 2 only), and root
# shrinks the PF to 2 VFs while polkit thinks.
as slow busctl call $SRIOVD_M Allocate 'ssa{sv}' tail job-tail 0 >/run/slow-tail.out 2>&1 &
al=$!
wait_for 5 "slow's Allocate is waiting on polkit" polkit_thinking
conf 2
check "root: Reload (3 -> 2 VFs)" busctl call $SRIOVD_M Reload
wait "$al"; rc=$?
say "slow Allocate from the vanished pool: exit $rc: $(cat /run/slow-tail.out)"
check "slow's Allocate fails cleanly" bash -c "[ $rc -ne 0 ] && grep -qiE 'no pool|no free' /run/slow-tail.out"
check_eq "no lease job-tail" 0 "$(leases_of job-tail)"
wait_for 60 "PF shrank to 2 VFs" numvfs_is 0 2
check "sriovd alive, same PID" same_daemon

# --- 1,000 pending checks ---------------------------------------------------------------------
# 20 connections of the slow user, 50 calls each (under the bus's own 128 pending replies per
# connection, so every call reaches sriovd): at most 16 per sender and 100 in all may wait.
rm -f /tmp/flood.sent /tmp/flood.quiet
# sriovd's CPU time (user + system, ms): what reading the flood costs the daemon itself, apart
# from dbus-daemon and the client (figure only).
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$(sriovd_pid)/stat"; }
cpu0=$(cpu_ms)
as slow env DBUS_FLOOD_SENT=/tmp/flood.sent DBUS_FLOOD_QUIET=/tmp/flood.quiet DBUS_FLOOD_MAX_PENDING=100 \
        python3 "$FLOOD" 1000 20 net job-flood 12 >/run/flood.out 2>&1 &
fl=$!
wait_for 20 "the flood's 1,000 calls are sent" test -e /tmp/flood.sent
# Reading 1,000 calls costs the daemon time; a read queued behind them waits for that
# (figure only). Once the refusals are out, the checks left are pending: reads must be quick.
slowest() {
        local i t d m=0
        for i in 1 2 3 4 5; do
                t=$(now_us)
                busctl get-property $SRIOVD_M Version >/dev/null || say "get-property failed"
                d=$(( $(now_us) - t )); [ "$d" -gt "$m" ] && m=$d
                sleep 0.2
        done
        echo $((m / 1000))
}
say "slowest of 5 property reads while the daemon reads the flood: $(slowest) ms"
wait_for 20 "the flood's refusals are out (no answer for 1 s)" test -e /tmp/flood.quiet
say "sriovd CPU time from the flood's start to its refusals out: $(( $(cpu_ms) - cpu0 )) ms"
ms=$(slowest)
say "slowest of 5 property reads with the checks pending: $ms ms"
check "a property read answers within 1 s while the checks are pending" [ "$ms" -lt 1000 ]
wait "$fl"
o=$(cat /run/flood.out); say "flood: $o"
check "at most 100 checks pending in all" jqe '.unanswered + .returns <= 100' <<<"$o"
check "at most 16 pending per sender" jqe '.max_unanswered_per_connection <= 16' <<<"$o"
check "the excess (>= 900) refused with LimitsExceeded" \
        jqe '(.errors["org.freedesktop.DBus.Error.LimitsExceeded"] // 0) >= 900' <<<"$o"
# slow is allowed, only slow to decide: no call of the flood may be told it is denied.
check "no AccessDenied for an allowed (slow) caller" \
        jqe '(.errors["org.freedesktop.DBus.Error.AccessDenied"] // 0) == 0' <<<"$o"
# The flood's callers are gone; stop polkit so nothing of it is left pending, then the
# daemon must still serve.
check "polkit stops" systemctl stop polkit.service
check "sriovd alive, same PID" same_daemon
check "sriovd answers after the flood" bash -c "busctl get-property $SRIOVD_M Version >/dev/null"
# A caller that got its answer has its lease; none for those that left before theirs.
check_eq "leases of the flood = the Allocates it saw succeed" "$(jq .returns <<<"$o")" "$(leases_of job-flood)"
finish
