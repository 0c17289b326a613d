#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest side of `bench/run-vm-bench.sh --memory PFSxVFS` (issue 14, targets 4 and 5): the
# installed sriovd's memory on the real kernel, idle with no PF declared and then managing
# PFS netdevsim devices × VFS VFs (stable MAC, VLAN, trust, spoofchk, rate), once settled
# (online and its CPU time still for 2 s), and again after the largest replies it gives
# (GetManagedObjects and ListVirtualFunctions over D-Bus). A bench: it prints a
# table (also into $VM_OUT/bench.md) and fails only if a run goes wrong.
#
# Figures from /proc/PID/status and /proc/PID/smaps (no debugger): VmRSS, RssAnon (the
# private data: malloc arenas, stacks), RssFile (library pages, mostly shared), PSS; RssAnon
# split into the main arena ([heap]), the other anonymous mappings (thread arenas and
# stacks) and their count.
#
# netdevsim's VFs have no PCI device: sriovd keeps no syspath, driver or netdev for them,
# and they send no uevents. Real VFs cost a few strings more each (bench-reconcile's fake
# substrate has them; docs/PERFORMANCE.md).
#
# Environment: BENCH_MEMORY (PFSxVFS, 64x256), BENCH_RUNS (2), BENCH_MEM_BASE (a second
# sriovd binary built with prefix /usr, e.g. main's BUILD/vm-build/daemon/sriovd copied
# into the build tree: runs alternate base, this tree, base, ...).
# vm-args: --pfs 0 --hotplug-ports 0 --smp 2 --mem 2048
. "$(dirname "$0")/../tests/vm/guest/lib.sh"

SPEC=${BENCH_MEMORY:-64x256}
NPF=${SPEC%x*} NVF=${SPEC#*x}
RUNS=${BENCH_RUNS:-2}
BASE=${BENCH_MEM_BASE:-}
RES=/run/bench
mkdir -p $RES /etc/sriov.d

install_sriovd
BIN=$(systemctl show -P ExecStart sriovd.service | sed -n 's/.*path=\([^ ;]*\).*/\1/p' | head -n1)
[ -x "$BIN" ] || die "installed sriovd binary not found ($BIN)"
cp "$BIN" $RES/sriovd-new
bins=(new)
if [ -n "$BASE" ]; then
        [ -x "$BASE" ] || die "BENCH_MEM_BASE=$BASE is not executable"
        cp "$BASE" $RES/sriovd-base
        bins=(base new)
fi
say "kernel $(uname -r), $(nproc) vCPU, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB;" \
        "$NPF netdevsim × $NVF VFs; builds: ${bins[*]}"

cpu_of() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }
# settled PID: its CPU time has not moved for 2 s (deadline 120 s).
still() { local a b; a=$(cpu_of "$1"); sleep 2; b=$(cpu_of "$1"); [ "$a" == "$b" ]; }
# figures PID: "VmRSS RssAnon RssFile Pss heap otheranon n_otheranon threads" in KiB.
figures() {
        local st
        st=$(awk '/^(VmRSS|RssAnon|RssFile|Threads):/ { printf "%s=%s ", $1, $2 }' /proc/"$1"/status)
        awk -v st="$st" '
                /^[0-9a-f]+-[0-9a-f]+ / { name = $6; anon = ($5 == 0 && name != "[vvar]" && name != "[vdso]") }
                /^Rss:/ && anon { if (name == "[heap]") heap += $2; else if (name !~ /^\[/ || name == "[stack]") { other += $2; if ($2 > 0) n++ } }
                /^Pss:/ { pss += $2 }
                END { split(st, a, " "); for (i in a) { split(a[i], kv, "="); v[kv[1]] = kv[2] }
                      printf "%d %d %d %d %d %d %d %d\n", v["VmRSS:"], v["RssAnon:"], v["RssFile:"], pss, heap, other, n, v["Threads:"] }' \
                /proc/"$1"/smaps
}
use_bin() { install -m 0755 "$RES/sriovd-$1" "$BIN"; }
: >$RES/mem
# Idle with no SR-IOV device at all (target 5: ≤ 4 MiB): before the netdevsim PFs exist.
rm -f /etc/sriov.d/50-mem.conf
for b in "${bins[@]}"; do
        use_bin "$b"
        systemctl start sriovd.service || die "sriovd ($b) did not start"
        pid=$(sriovd_pid)
        wait_for 60 "$b: idle sriovd, no device, settled" still "$pid"
        echo "$b 1 nodev 0 0 $(figures "$pid")" >>$RES/mem
        systemctl stop sriovd.service
done

modprobe netdevsim || die "modprobe netdevsim"
devs=()
for ((d = 1; d <= NPF; d++)); do
        echo "$d 1" >/sys/bus/netdevsim/new_device || die "netdevsim $d"
done
udevadm settle --timeout=120
for ((d = 1; d <= NPF; d++)); do
        echo "$NVF" >/sys/kernel/debug/netdevsim/netdevsim$d/max_vfs || die "netdevsim $d: max_vfs $NVF refused"
        n=$(basename "$(ls -d /sys/bus/netdevsim/devices/netdevsim$d/net/* | head -n1)")
        ip link set dev "$n" up
        devs+=("$n")
done
say "$NPF netdevsim PFs, max_vfs $NVF each: ${devs[0]} … ${devs[-1]}"

write_conf() {
        local p sep=
        {
                echo "physical_functions = ("
                for p in "${devs[@]}"; do
                        echo "$sep{ match = { interface = \"$p\"; }; num_vfs = $NVF; vfs = ( { range = \"0-$((NVF - 1))\"; pool = \"mem\"; mac = \"stable\"; vlan = 42; spoofchk = false; trust = true; max_tx_rate = 1000; } ); }"
                        sep=,
                done
                echo ");"
        } >/etc/sriov.d/50-mem.conf
}
reset_vfs() {
        local d
        for ((d = 1; d <= NPF; d++)); do
                echo 0 >/sys/bus/netdevsim/devices/netdevsim$d/sriov_numvfs
        done
}
for ((r = 1; r <= RUNS; r++)); do
        for b in "${bins[@]}"; do
                use_bin "$b"
                # Idle, the netdevsim PFs present, none declared.
                rm -f /etc/sriov.d/50-mem.conf
                reset_vfs
                systemctl start sriovd.service || die "sriovd ($b) did not start"
                sriovctl wait-online --timeout=60 >/dev/null || say "FAIL $b: not online"
                pid=$(sriovd_pid)
                wait_for 60 "$b run $r: idle sriovd settled" still "$pid"
                echo "$b $r idle 0 0 $(figures "$pid")" >>$RES/mem
                systemctl stop sriovd.service
                # NPF × NVF VFs (target 4).
                write_conf
                t=$(now_us)
                systemctl start sriovd.service || die "sriovd ($b) did not start"
                # (A D-Bus call of sriovctl's times out after 25 s while 16,384 VFs are being
                # announced under TCG: ask again until online.)
                wait_for 900 "$b run $r: online" sriovctl wait-online --timeout=60
                online=$(secs_since "$t")
                pid=$(sriovd_pid)
                check_eq "$b run $r: sriov_numvfs of the last PF" "$NVF" \
                        "$(cat /sys/bus/netdevsim/devices/netdevsim$NPF/sriov_numvfs)"
                wait_for 300 "$b run $r: sriovd settled after $NPF × $NVF" still "$pid"
                echo "$b $r settled $online 0 $(figures "$pid")" >>$RES/mem
                # The daemon's own line after a burst: its heap in use and free (mallinfo2).
                # (and its lines when it trimmed again because the heap grew back since.)
                journalctl -u sriovd.service -o cat --no-pager | grep -E 'Settled after|grew back' | tail -n4 |
                        while read -r l; do say "$b run $r: $l"; done
                # The largest replies there are: every object with its properties, and the
                # list of VFs (busctl: sriovctl's JSON of 16,384 VFs takes minutes under TCG).
                busctl call org.sriovd1 /org/sriovd1 org.freedesktop.DBus.ObjectManager GetManagedObjects \
                        >/dev/null || say "FAIL $b run $r: GetManagedObjects"
                n=$(busctl call org.sriovd1 /org/sriovd1 org.sriovd1.Manager ListVirtualFunctions s "" | awk '{ print $2 }')
                check_eq "$b run $r: sriovd lists every VF" $((NPF * NVF)) "$n"
                [ "$n" == $((NPF * NVF)) ] || journalctl -u sriovd --no-pager | tail -n 20
                wait_for 120 "$b run $r: settled after the listing" still "$pid"
                journalctl -u sriovd.service -o cat --no-pager | grep 'grew back' | tail -n2 |
                        while read -r l; do say "$b run $r, after the listing: $l"; done
                echo "$b $r listed $online 0 $(figures "$pid")" >>$RES/mem
                say "$b run $r: $(grep "^$b $r " $RES/mem | tr '\n' ';')"
                systemctl stop sriovd.service
        done
done
rm -f /etc/sriov.d/50-mem.conf
reset_vfs

{
        echo "| build | run | sriovd | VmRSS | RssAnon | [heap] | other anon (mappings) | RssFile | PSS | threads | start → online |"
        echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk -v vfs=$((NPF * NVF)) -v spec="$NPF × $NVF" '{
                what = $3 == "nodev" ? "no SR-IOV device" : $3 == "idle" ? spec " present, no PF declared" : $3 == "settled" ? spec ", settled" : spec ", after GetManagedObjects"
                printf "| %s | %d | %s | %d KiB | %d KiB | %d KiB | %d KiB (%d) | %d KiB | %d KiB | %d | %s |\n",
                        $1, $2, what, $6, $7, $10, $11, $12, $8, $9, $13, $3 == "idle" || $3 == "nodev" ? "" : $4 " s" }' $RES/mem
        echo
        echo "Per VF (VmRSS settled minus idle, same build and run):"
        awk -v vfs=$((NPF * NVF)) '$3 == "idle" { i[$1 " " $2] = $6 } $3 == "settled" {
                k = $1 " " $2; printf "%s run %d: %.2f KiB per VF (RssAnon %d KiB)\n", $1, $2, ($6 - i[k]) / vfs, $7 }' $RES/mem
} | tee "$VM_OUT/bench.md"
finish
