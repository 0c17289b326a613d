#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest side of bench/run-vm-bench.sh (issue 6): the same VF layout applied by sriovd and by
# what admins use today, on the VM tier's real kernel, timed from "config present" to "the
# kernel shows every VF setting"; then hot-plug to ready, and sriovd idle. A bench, not a
# test: it prints tables (also into $VM_OUT/bench.md) and fails only if a run goes wrong.
#
# Layout: VF i of PF k gets MAC 02:5b:00:k:i>>8:i&0xff, VLAN 42, spoofchk off, trust on,
# max_tx_rate 1000 Mbit/s. Targets: one netdevsim PF with N = 16, 64, 128 VFs; the two igb
# PFs with 7 VFs each. Methods:
#   floor        bench/vf-floor apply: sriov_numvfs, then one RTM_SETLINK with every VF
#                (on igb, --keep: the batch again when the igbvf driver undoes a MAC)
#   sriovd       sriovd running, drop-in written, SIGHUP (what `systemctl reload` sends)
#   sriovd-start drop-in written, `systemctl start sriovd` (process start included)
#   ip           `echo N >sriov_numvfs` and one `ip link set PF vf i ...` per VF
#   udevd        systemd .link file: SR-IOVVirtualFunctions= and one [SR-IOV] section per
#                VF, applied by `udevadm trigger --action=add` (systemd has no VF rate
#                setting: its layout has no max_tx_rate, and the finish line does not ask)
#   nm           NetworkManager running, `nmcli connection add ... sriov.total-vfs N
#                sriov.vfs '0 mac=... vlans=42 spoof-check=false trust=true max-tx-rate=1000,
#                ...'`, then `nmcli connection up`
# Every configuration is written (or its command lines computed) before the clock starts.
# The finish line is `vf-floor wait`, started (and subscribed to link notifications) before
# the clock starts: it re-reads the PFs' whole VF tables after every link notification.
# Between runs every tool is stopped, its configuration removed, the VFs destroyed (the
# netdevsim device re-created, so no VF setting survives).
#
# Environment (lists comma-separated: the kernel command line carries them): BENCH_RUNS (5),
# BENCH_SIZES (16,64,128), BENCH_METHODS (all),
# BENCH_TARGETS (netdevsim,igb), BENCH_IDLE_SECONDS (60), BENCH_HOTPLUG_ROUNDS (3),
# BENCH_HOTPLUG_AB (0; 1: even hot-plug rounds run sriovd with SRIOVD_KERNEL_UEVENTS=0, i.e.
# hearing of the PF from udevd only, as before issue 14), BENCH_START_PROFILE (0; N: N cold
# starts of sriovd with 128 netdevsim VFs declared, each split into phases on one clock),
# BENCH_AB_SRIOVD (unset; a second sriovd binary, e.g. main's: hot-plug rounds and cold
# starts alternate the installed binary ("new", odd) with this one ("base", even), bind-
# mounted over it, both with their own uprobes; takes the place of BENCH_HOTPLUG_AB).
# vm-args: --pfs 2 --hotplug-ports 1 --smp 2 --mem 2048
. "$(dirname "$0")/../tests/vm/guest/lib.sh"

RUNS=${BENCH_RUNS:-5}
SIZES=${BENCH_SIZES:-16,64,128}
SIZES=${SIZES//,/ }
METHODS=${BENCH_METHODS:-floor,sriovd,sriovd-start,ip,udevd,nm}
METHODS=${METHODS//,/ }
TARGETS=${BENCH_TARGETS:-netdevsim,igb}
IDLE_SECONDS=${BENCH_IDLE_SECONDS:-60}
HOTPLUG_ROUNDS=${BENCH_HOTPLUG_ROUNDS:-3}
HOTPLUG_AB=${BENCH_HOTPLUG_AB:-0}
START_PROFILE=${BENCH_START_PROFILE:-0}
AB_SRIOVD=${BENCH_AB_SRIOVD:-}
FLOOR=$SRIOVD_VM_BUILD/bench/vf-floor
VLAN=42 RATE=1000
RES=/run/bench
mkdir -p $RES
: >$RES/runs
[ -x "$FLOOR" ] || die "no $FLOOR (ninja -C $SRIOVD_VM_BUILD)"

vf_mac() { printf '02:5b:00:%02x:%02x:%02x' "$1" $(($2 >> 8)) $(($2 & 255)); }

# --- targets -------------------------------------------------------------------------
NSIM=/sys/bus/netdevsim/devices/netdevsim1
NSIM_MAX=128
for n in $SIZES; do [ "$n" -gt $NSIM_MAX ] && NSIM_MAX=$n; done
# nsim_recreate: a fresh netdevsim PF (no VF state survives), its name in NSIM_IF.
nsim_recreate() {
        [ -e $NSIM ] && echo 1 >/sys/bus/netdevsim/del_device
        echo "1 1" >/sys/bus/netdevsim/new_device
        udevadm settle --timeout=30
        NSIM_IF=$(basename "$(ls -d $NSIM/net/* | head -n1)")
        ip link set dev "$NSIM_IF" up
        echo $NSIM_MAX >/sys/kernel/debug/netdevsim/netdevsim1/max_vfs
}
modprobe netdevsim || die "modprobe netdevsim"
udevadm settle --timeout=60
IGB=("$(pf_if 0)" "$(pf_if 1)")
for p in "${IGB[@]}"; do ip link set dev "$p" up; done
# igb takes a VF max rate only at link speed 1000 (igb_ndo_set_vf_bw): wait for the link.
for p in "${IGB[@]}"; do
        wait_for 30 "$p link up at 1000 Mbit/s" bash -c "[ \"\$(cat /sys/class/net/$p/speed)\" == 1000 ]"
done

# --- per-method configuration --------------------------------------------------------
write_sriovd_conf() { # N PF...
        local n=$1 k=0 p i; shift
        {
                echo "physical_functions = ("
                for p in "$@"; do
                        [ $k -gt 0 ] && echo ","
                        echo "{ match = { interface = \"$p\"; }; num_vfs = $n; vfs = ("
                        for ((i = 0; i < n; i++)); do
                                [ $i -gt 0 ] && echo ","
                                printf '{ range = "%d"; mac = "%s"; vlan = %d; spoofchk = false; trust = true; max_tx_rate = %d; }' \
                                        $i "$(vf_mac $k $i)" $VLAN $RATE
                        done
                        echo "); }"
                        k=$((k + 1))
                done
                echo ");"
        } >/etc/sriov.d/50-bench.conf
}
write_link_files() { # N PF...
        local n=$1 k=0 p i; shift
        for p in "$@"; do
                {
                        printf '[Match]\nMACAddress=%s\n\n[Link]\nNamePolicy=keep\nSR-IOVVirtualFunctions=%d\n' \
                                "$(cat /sys/class/net/$p/address)" "$n"
                        for ((i = 0; i < n; i++)); do
                                printf '\n[SR-IOV]\nVirtualFunction=%d\nMACAddress=%s\nVLANId=%d\nMACSpoofCheck=no\nTrust=yes\n' \
                                        $i "$(vf_mac $k $i)" $VLAN
                        done
                } >/etc/systemd/network/10-bench-$k.link
                k=$((k + 1))
        done
}
nm_vfs() { # K N
        local i s=
        for ((i = 0; i < $2; i++)); do
                s+="${s:+, }$i mac=$(vf_mac "$1" $i) vlans=$VLAN spoof-check=false trust=true max-tx-rate=$RATE"
        done
        echo "$s"
}

# reset PF...: stop every tool, drop its configuration, destroy the VFs.
reset_all() {
        systemctl stop sriovd.service NetworkManager.service 2>/dev/null
        systemctl mask --runtime --now sriovd.service >/dev/null 2>&1
        rm -f /etc/sriov.d/50-bench.conf /etc/systemd/network/10-bench-*.link \
                /etc/NetworkManager/system-connections/bench-*
        udevadm control --reload
        local p
        for p in "${IGB[@]}"; do
                [ "$(cat /sys/class/net/$p/device/sriov_numvfs)" == 0 ] || echo 0 >/sys/class/net/$p/device/sriov_numvfs
        done
        nsim_recreate
        udevadm settle --timeout=60
}

# prepare METHOD N PF...: everything before the clock starts: the configuration is
# written (or, for ip and NetworkManager, its command lines computed) and daemons are up
# and idle, so that the clock measures applying a configuration that is present.
prepare() {
        local m=$1 n=$2 k=0 p i; shift 2
        MACS=() NM_VFS=()
        for p in "$@"; do
                for ((i = 0; i < n; i++)); do MACS[k * 4096 + i]=$(vf_mac $k $i); done
                NM_VFS[k]=$(nm_vfs $k "$n")
                k=$((k + 1))
        done
        case $m in
        sriovd)
                systemctl unmask --runtime sriovd.service >/dev/null 2>&1
                systemctl start sriovd.service || return 1
                SRIOVD_PID=$(sriovd_pid)
                write_sriovd_conf "$n" "$@"
                ;;
        sriovd-start)
                systemctl unmask --runtime sriovd.service >/dev/null 2>&1
                write_sriovd_conf "$n" "$@"
                ;;
        udevd) write_link_files "$n" "$@" ;;
        nm)
                systemctl start NetworkManager.service || return 1
                nm-online -s -q -t 60 || return 1
                ;;
        esac
}
# apply METHOD N PF...: the clock is running.
apply() {
        local m=$1 n=$2 k p i; shift 2
        case $m in
        floor)
                local a=()
                for p in "$@"; do a+=(--pf "$p"); done
                # On igb one batch does not hold (see vf-floor.c, keep_layout()).
                [ "$TARGET" == igb ] && a+=(--keep)
                "$FLOOR" apply "${a[@]}" --vfs "$n" --vlan $VLAN --rate $RATE >/dev/null
                ;;
        sriovd) kill -HUP "$SRIOVD_PID" ;;
        sriovd-start) systemctl start sriovd.service ;;
        ip)
                k=0
                for p in "$@"; do
                        echo "$n" >/sys/class/net/$p/device/sriov_numvfs || return 1
                        for ((i = 0; i < n; i++)); do
                                ip link set dev "$p" vf $i mac "${MACS[k * 4096 + i]}" vlan $VLAN spoofchk off \
                                        trust on max_tx_rate $RATE || return 1
                        done
                        k=$((k + 1))
                done
                ;;
        udevd)
                udevadm control --reload || return 1
                for p in "$@"; do udevadm trigger --action=add "/sys/class/net/$p" || return 1; done
                ;;
        nm)
                k=0
                for p in "$@"; do
                        nmcli connection add type ethernet ifname "$p" con-name "bench-$k" autoconnect no \
                                ipv4.method disabled ipv6.method disabled \
                                sriov.total-vfs "$n" sriov.vfs "${NM_VFS[k]}" >/dev/null || return 1
                        k=$((k + 1))
                done
                k=0
                for p in "$@"; do nmcli -w 120 connection up "bench-$k" >/dev/null || return 1; k=$((k + 1)); done
                ;;
        esac
}

# run_one TARGET METHOD N PF...: one timed run; appends "TARGET METHOD N MS CHECKS" to runs,
# or "TARGET METHOD N FAIL reason".
run_one() {
        local target=$1 m=$2 n=$3; shift 3
        local a=() p line t0 rate=(--rate $RATE) why
        [ "$m" == udevd ] && rate=(--no-rate)
        reset_all
        [ "$target" == netdevsim ] && set -- "$NSIM_IF"
        TARGET=$target
        for p in "$@"; do a+=(--pf "$p"); done
        prepare "$m" "$n" "$@" >$RES/apply.log 2>&1 || {
                echo "$target $m $n FAIL $(tail -n1 $RES/apply.log)" >>$RES/runs; return 1; }
        coproc CHK { exec "$FLOOR" wait "${a[@]}" --vfs "$n" --vlan $VLAN "${rate[@]}" --timeout 120; }
        # bash drops CHK when the process ends: read from a copy of its output.
        local chk
        exec {chk}<&"${CHK[0]}"
        local chkpid=$CHK_PID
        line=
        read -r -t 30 -u "$chk" line
        [ "$line" == ready ] || { echo "$target $m $n FAIL vf-floor wait did not start" >>$RES/runs; exec {chk}<&-; return 1; }
        t0=$(now_us)
        if ! apply "$m" "$n" "$@" >$RES/apply.log 2>&1; then
                why=$(grep . $RES/apply.log | tail -n1)
                kill "$chkpid" 2>/dev/null; wait "$chkpid" 2>/dev/null; exec {chk}<&-
                echo "$target $m $n FAIL ${why:-no message}" >>$RES/runs
                return 1
        fi
        line=
        read -r -t 150 -u "$chk" line
        wait "$chkpid" 2>/dev/null; exec {chk}<&-
        case $line in
        match\ *)
                set -- $line
                local d=$(($2 - t0))
                printf '%s %s %s %d.%d %s\n' "$target" "$m" "$n" $((d / 1000)) $(((d % 1000) / 100)) "$3" >>$RES/runs
                say "$target $m N=$n: $((d / 1000)) ms ($3 reads)"
                ;;
        *)
                echo "$target $m $n FAIL ${line:-no answer from vf-floor wait}" >>$RES/runs
                say "$target $m N=$n: FAIL $line"
                return 1
                ;;
        esac
}

install_sriovd
mkdir -p /etc/sriov.d /etc/systemd/network
systemctl mask --runtime --now sriovd.service >/dev/null 2>&1
say "kernel $(uname -r), systemd $(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')," \
        "NetworkManager $(NetworkManager --version 2>/dev/null), iproute2 $(ip -V | sed 's/.*iproute2-//')," \
        "$(nproc) vCPU (TCG)"

targets=()
[[ ,$TARGETS, == *,netdevsim,* ]] && for n in $SIZES; do targets+=("netdevsim:$n"); done
[[ ,$TARGETS, == *,igb,* ]] && targets+=("igb:7")
for t in "${targets[@]}"; do
        target=${t%%:*} n=${t#*:}
        for m in $METHODS; do
                for ((r = 1; r <= RUNS; r++)); do
                        # A method that cannot do the layout at all fails the same way every
                        # time: stop after a first run that fails. Later failures are counted.
                        run_one "$target" "$m" "$n" "${IGB[@]}" || [ $r -gt 1 ] || break
                done
        done
done
reset_all

# --- tables --------------------------------------------------------------------------
# median/min/max of the runs of TARGET METHOD N, in ms
stats() {
        awk -v t="$1" -v m="$2" -v n="$3" '$1 == t && $2 == m && $3 == n && $4 != "FAIL" { print $4 }' $RES/runs \
                | sort -n | awk '{ v[NR] = $1 } END {
                        if (NR == 0) exit 1
                        med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                        printf "%.1f %.1f %.1f %d\n", med, v[1], v[NR], NR }'
}
{
        echo "| target | VFs | method | median ms | min–max ms | runs that reached the layout | × sriovd |"
        echo "|---|---:|---|---:|---|---:|---:|"
        for t in "${targets[@]}"; do
                target=${t%%:*} n=${t#*:}
                total=$n
                [ "$target" == igb ] && total="2 × $n"
                base=$(stats "$target" sriovd "$n" | cut -d' ' -f1)
                for m in $METHODS; do
                        fails=$(awk -v t="$target" -v m="$m" -v n="$n" '$1 == t && $2 == m && $3 == n && $4 == "FAIL"' $RES/runs | grep -c .)
                        if s=$(stats "$target" "$m" "$n"); then
                                set -- $s
                                ratio=—
                                [ -n "$base" ] && ratio=$(awk -v a="$1" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
                                echo "| $target | $total | $m | $1 | $2–$3 | $4 of $(($4 + fails)) | $ratio |"
                        else
                                why=$(awk -v t="$target" -v m="$m" -v n="$n" '$1 == t && $2 == m && $3 == n && $4 == "FAIL" { $1 = $2 = $3 = $4 = ""; print; exit }' $RES/runs)
                                echo "| $target | $total | $m | n/a | ${why# *} | 0 of $fails | |"
                        fi
                done
        done
} >$RES/compare.md

# --- cold start, phase by phase ------------------------------------------------------
# `systemctl start sriovd` with 128 netdevsim VFs declared (the sriovd-start method), on
# CLOCK_MONOTONIC throughout: a tracefs instance with trace_clock mono (markers around
# systemctl, sriovd's exec, netdevsim's sriov_numvfs store, sriovd's RTM_SETLINKs) and the
# journal's monotonic receive times of sriovd's own lines and of systemd's "Started".
T=/sys/kernel/tracing
mountpoint -q $T || mount -t tracefs nodev $T
# The installed daemon (ExecStart of the unit as built; the unit is masked between runs).
SRIOVD_BIN=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$SRIOVD_VM_BUILD/units/sriovd.service" | tail -n1)
LIBSYSTEMD=$(ldd "$SRIOVD_BIN" | awk '$1 ~ /^libsystemd\.so/ { print $3 }')
# The A/B binary on the guest's own disk (uprobes need a local file), and which one runs.
BASE_BIN=
if [ -n "$AB_SRIOVD" ]; then
        BASE_BIN=/var/tmp/sriovd-base
        cp "$AB_SRIOVD" $BASE_BIN || die "no $AB_SRIOVD"
fi
# use_binary new|base: the next start of sriovd runs the installed binary or the base one.
use_binary() {
        # A running sriovd keeps its binary: the lazy umount lets the next start see the other.
        if [ "$1" == base ]; then
                mountpoint -q "$SRIOVD_BIN" || mount --bind $BASE_BIN "$SRIOVD_BIN" || die "bind mount"
        else
                ! mountpoint -q "$SRIOVD_BIN" || umount -l "$SRIOVD_BIN" || die "umount"
        fi
}
# What pf_refresh() waits on (issue 14 targets 1 and 2): its reads and the name lookup.
REFRESH_PROBES=("rattr=sysfs_read_attr,a=+0(%si):string" ret_rattr=sysfs_read_attr
        "rlnk=sysfs_read_link_attr,a=+0(%si):string" ret_rlnk=sysfs_read_link_attr
        vname=pci_names_vendor ret_vname=pci_names_vendor dname=pci_names_device ret_dname=pci_names_device)
# uprobes GROUP FILE NAME=FUNCTION[,FETCH]...: entry uprobes on functions of FILE (offsets
# from its symbol table, bench/elf-offsets.py): sriovd's own steps on the kernel's clock.
uprobes() {
        local g=$1 file=$2 a fn off fns=(); shift 2
        for a in "$@"; do fn=${a#*=}; fns+=("${fn%%,*}"); done
        local offs
        offs=$(python3 "$(dirname "$0")/elf-offsets.py" "$file" "${fns[@]}") || { say "no symbols in $file"; return; }
        for a in "$@"; do
                fn=${a#*=}
                off=$(awk -v f="${fn%%,*}" '$1 == f { print $2 }' <<<"$offs")
                [ -n "$off" ] || { say "no symbol ${fn%%,*} in $file"; continue; }
                [[ $fn == *,* ]] || fn=$fn,
                local kind=p
                [[ $a == ret_* ]] && kind=r # NAME ret_*: a return probe
                echo "$kind:$g/${a%%=*} $file:$off ${fn#*,}" >>$T/uprobe_events || say "no uprobe ${a%%=*}"
        done
}
# sriovd's PF state is its second argument: 3 is PF_STATE_CONFIGURED (pf.h).
configured_filter() { echo 'st == 3' >"$T/instances/$1/events/$2/configured/filter"; }
: >$RES/start
: >$RES/start-units
if [ "$START_PROFILE" -gt 0 ]; then
        mkdir -p $T/instances/st
        echo mono >$T/instances/st/trace_clock
        # netdevsim's sriov_numvfs store (its name moved between kernels).
        f=$(grep -oE '\b(nsim_bus_dev_numvfs_store|nsim_drv_configure_vfs)\b' /proc/kallsyms | head -n1)
        for e in "p:st/numvfs_in $f" "r:st/numvfs_out $f" "p:st/setlink rtnl_setlink"; do
                echo "$e" >>$T/kprobe_events || say "no kprobe $e"
        done
        echo 'comm == "sriovd"' >$T/instances/st/events/st/setlink/filter 2>/dev/null
        echo 1 >$T/instances/st/events/st/enable
        uprobes stu "$SRIOVD_BIN" main=main mstart=manager_start enum=udev_enumerate_pfs addpf=manager_add_pf \
                rec=on_reconcile jobdone=num_vfs_job_done "configured=pf_set_state,st=%si:u32" \
                ret_enum=udev_enumerate_pfs refresh=pf_refresh ret_refresh=pf_refresh rlink=reconcile_read_link \
                ret_rlink=reconcile_read_link ret_addpf=manager_add_pf ret_mstart=manager_start "${REFRESH_PROBES[@]}"
        [ -n "$BASE_BIN" ] && uprobes stb $BASE_BIN main=main mstart=manager_start enum=udev_enumerate_pfs \
                addpf=manager_add_pf rec=on_reconcile jobdone=num_vfs_job_done "configured=pf_set_state,st=%si:u32" \
                ret_enum=udev_enumerate_pfs refresh=pf_refresh ret_refresh=pf_refresh rlink=reconcile_read_link \
                ret_rlink=reconcile_read_link ret_addpf=manager_add_pf ret_mstart=manager_start "${REFRESH_PROBES[@]}"
        uprobes stn "$LIBSYSTEMD" notify=sd_notify
        configured_filter st stu
        [ -n "$BASE_BIN" ] && configured_filter st stb && echo 1 >$T/instances/st/events/stb/enable
        echo 'comm == "sriovd"' >$T/instances/st/events/stn/notify/filter
        echo 1 >$T/instances/st/events/stu/enable
        echo 1 >$T/instances/st/events/stn/enable
        echo 'filename ~ "*sriovd"' >$T/instances/st/events/sched/sched_process_exec/filter
        echo 1 >$T/instances/st/events/sched/sched_process_exec/enable
        for ((r = 1; r <= START_PROFILE; r++)); do
                reset_all
                smode=new
                [ -n "$BASE_BIN" ] && [ $((r % 2)) == 0 ] && smode=base
                [ -n "$BASE_BIN" ] && use_binary $smode
                systemctl unmask --runtime sriovd.service >/dev/null 2>&1
                write_sriovd_conf 128 "$NSIM_IF"
                echo >$T/instances/st/trace
                cur=$(journalctl -n0 --show-cursor | sed -n 's/^-- cursor: //p')
                echo "start" >$T/instances/st/trace_marker
                systemctl start sriovd.service || say "FAIL start profile $r: sriovd did not start"
                echo "started" >$T/instances/st/trace_marker
                sriovctl wait-online --timeout=60 >/dev/null || say "FAIL start profile $r: not online"
                awk '{ for (i = 1; i < NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) {
                        t = substr($i, 1, length($i) - 1); e = $(i + 1); sub(/:$/, "", e)
                        if (e == "tracing_mark_write") e = $(i + 2)
                        if (match($0, / a="[^"]*"/)) e = e ":" substr($0, RSTART + 4, RLENGTH - 5)
                        print t, e; break } }' $T/instances/st/trace >$RES/st.trace
                journalctl --after-cursor "$cur" -o short-monotonic --no-pager \
                        | awk '{ if (!match($0, /^\[ *[0-9]+\.[0-9]+\]/)) next
                                 t = substr($0, 2, RLENGTH - 2); gsub(/ /, "", t) }
                               /sriovd\[[0-9]+\]: Loaded [0-9]+ configuration/ && !c { c = 1; print t, "config_loaded" }
                               /sriovd\[[0-9]+\]: .*Found SR-IOV PF/ && !f { f = 1; print t, "pf_found" }
                               /sriovd\[[0-9]+\]: Initial reconcile/ && !i { i = 1; print t, "ready_logged" }
                               /systemd\[1\]: Started sriovd/ && !s { s = 1; print t, "systemd_started" }' >>$RES/st.trace
                if line=$(sort -n $RES/st.trace | awk -v run=$r -v mode=$smode '
                        { t[$2] = t[$2] ? t[$2] : $1; if ($2 == "numvfs_out") nout = $1 }
                        END {
                                split("start sched_process_exec main mstart enum rec numvfs_in jobdone setlink configured notify started", need)
                                for (k in need) if (!t[need[k]]) { print "run " run " incomplete: no " need[k]; exit 1 }
                                ms = 1000
                                printf "%d %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %s\n", run,
                                        (t["sched_process_exec"] - t["start"]) * ms,
                                        (t["main"] - t["sched_process_exec"]) * ms,
                                        (t["mstart"] - t["main"]) * ms,
                                        (t["enum"] - t["mstart"]) * ms,
                                        (t["rec"] - t["enum"]) * ms,
                                        (t["numvfs_in"] - t["rec"]) * ms,
                                        (nout - t["numvfs_in"]) * ms,
                                        (t["jobdone"] - nout) * ms,
                                        (t["setlink"] - t["jobdone"]) * ms,
                                        (t["configured"] - t["setlink"]) * ms,
                                        (t["notify"] - t["configured"]) * ms,
                                        (t["started"] - t["notify"]) * ms,
                                        (t["started"] - t["start"]) * ms, mode }'); then
                        echo "$line" >>$RES/start
                        say "start profile: $line"
                        # Every step of the first run, ms after sriovd's exec.
                        [ $r == 1 ] && sort -n $RES/st.trace | awk '$2 == "sched_process_exec" && !x { x = $1 }
                                x && !seen[$2]++ { printf "%s %.1f\n", $2, ($1 - x) * 1000 }' | tr '\n' ' ' |
                                sed 's/^/start profile, run 1, ms after exec: /' | { IFS= read -r l; say "$l"; }
                        # Inside the first two runs' first pf_refresh(): every read, name lookup.
                        [ $r -le 2 ] && sort -n $RES/st.trace | awk '$2 == "sched_process_exec" && !x { x = $1 }
                                $2 == "refresh" && !inside && !done { inside = 1 } inside { printf "%s %.1f\n", $2, ($1 - x) * 1000 }
                                inside && $2 == "ret_refresh" { inside = 0; done = 1 }' | tr '\n' ' ' |
                                sed "s/^/start profile, run $r ($smode), first pf_refresh(), ms after exec: /" |
                                { IFS= read -r l; say "$l"; }
                else
                        say "FAIL start profile: $line"; VM_FAILS=$((VM_FAILS + 1))
                        cat $RES/st.trace
                fi
        done
        # What systemd's share is made of, with units that run /bin/true: a bare start job;
        # the three modprobe@ units sriovd.service pulls in (oneshot without
        # RemainAfterExit: they run again at every start of sriovd); sriovd.service's own
        # [Service] sandbox around /bin/true.
        sed -e '/^\[Unit\]/,/^\[Service\]/{/^\[Service\]/!d}' -e '/^\[Install\]/,$d' \
                -e 's/^Type=.*/Type=oneshot/' -e 's|^ExecStart=.*|ExecStart=/bin/true|' \
                -e '/^ExecReload=/d; /^Restart/d; /^NotifyAccess=/d' \
                "$(systemctl show -P FragmentPath sriovd.service)" >/run/systemd/system/bench-sandbox.service
        printf '[Service]\nType=oneshot\nExecStart=/bin/true\n' >/run/systemd/system/bench-true.service
        systemctl daemon-reload
        for ((r = 1; r <= START_PROFILE; r++)); do
                for u in bench-true.service "modprobe@vfio.service modprobe@ib_uverbs.service modprobe@rdma_ucm.service" \
                         bench-sandbox.service; do
                        t=$(now_us)
                        systemctl start $u || say "FAIL systemctl start $u"
                        echo "${u%% *} $(( ($(now_us) - t) / 1000 ))" >>$RES/start-units
                done
        done
        rm -f /run/systemd/system/bench-sandbox.service /run/systemd/system/bench-true.service
        systemctl daemon-reload
        echo 0 >$T/instances/st/events/st/enable
        echo 0 >$T/instances/st/events/stu/enable
        echo 0 >$T/instances/st/events/stn/enable
        [ -n "$BASE_BIN" ] && echo 0 >$T/instances/st/events/stb/enable
        [ -n "$BASE_BIN" ] && use_binary new
        echo 0 >$T/instances/st/events/sched/sched_process_exec/enable
        echo >$T/kprobe_events 2>/dev/null
        echo >$T/uprobe_events 2>/dev/null
        reset_all
fi
{
        echo "| run | binary | systemctl to exec | exec to main() | main() to manager_start() (bus) | to enumeration (leases, drop-ins, monitors) | to first reconcile pass (PF added) | to sriov_numvfs write | kernel: sriov_numvfs (128 VFs) | job done on the loop | to RTM_SETLINK | to PF configured | to READY=1 | READY=1 to systemctl's return | total ms |"
        echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk '{ printf "| %s | %s |", $1, $NF; for (i = 2; i < NF; i++) printf " %d |", $i; printf "\n" }' $RES/start
        if [ -s $RES/start-units ]; then
                echo
                echo "| systemctl start (ms, $START_PROFILE runs) | median | min–max |"
                echo "|---|---:|---|"
                for u in bench-true.service modprobe@vfio.service bench-sandbox.service; do
                        awk -v u=$u '$1 == u { print $2 }' $RES/start-units | sort -n | awk -v u=$u '{ v[NR] = $1 }
                                END { if (NR) printf "| %s | %d | %d–%d |\n", u == "modprobe@vfio.service" ? "the 3 modprobe@ units" : u,
                                        NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR] }'
                done
        fi
} >$RES/start.md

# --- hot-plug to ready ---------------------------------------------------------------
# Timeline on one clock: kprobes in a tracefs instance, a trace_marker at device_add, and
# sriovd's D-Bus signals as `sriovctl monitor` prints them, written as trace_markers.
HP=$(pf_pci 2)
# No max_tx_rate here: a hot-plugged PF's link is down, and igb refuses VF rates then.
cat >/etc/sriov.d/50-bench.conf <<CONF
physical_functions = ( { match = { pci = "$HP"; }; num_vfs = 7;
  vfs = ( { range = "0-6"; mac = "stable"; vlan = $VLAN; spoofchk = false; trust = true; } ); } );
CONF
systemctl unmask --runtime sriovd.service >/dev/null 2>&1
systemctl start sriovd.service || die "sriovd did not start"
for e in "p:hp/probe_in igb_probe" "r:hp/probe_out igb_probe" "p:hp/numvfs_in sriov_numvfs_store" \
         "r:hp/numvfs_out sriov_numvfs_store" "p:hp/vf_mac igb_ndo_set_vf_mac"; do
        echo "$e" >>$T/kprobe_events || die "kprobe $e"
done
mkdir -p $T/instances/hp
echo 1 >$T/instances/hp/events/hp/enable
# The same steps on this build and, with --ab-sriovd, on the other binary.
HP_PROBES=(kev=on_kernel_event addpf=manager_add_pf jobdone=num_vfs_job_done
        setvfs=netlink_set_vfs_async "configured=pf_set_state,st=%si:u32" ret_addpf=manager_add_pf
        refresh=pf_refresh ret_refresh=pf_refresh rlink=reconcile_read_link ret_rlink=reconcile_read_link
        rec=reconcile_pf jobwork=num_vfs_job_work ucap=pci_read_sriov_cap ret_ucap=pci_read_sriov_cap
        "${REFRESH_PROBES[@]}")
uprobes hpu "$SRIOVD_BIN" "${HP_PROBES[@]}"
configured_filter hp hpu
echo 1 >$T/instances/hp/events/hpu/enable
if [ -n "$BASE_BIN" ]; then
        uprobes hpb "$BASE_BIN" "${HP_PROBES[@]}"
        configured_filter hp hpb
        echo 1 >$T/instances/hp/events/hpb/enable
fi
# sriovctl monitor's lines go into the same trace buffer as they arrive (its READY=1 comes
# from inside the pipeline, hence NotifyAccess=all).
systemd-run -q --unit=bench-monitor -p Type=notify -p NotifyAccess=all bash -c \
        "sriovctl monitor | while IFS= read -r l; do echo \"mon \$l\" >$T/instances/hp/trace_marker; done" \
        || die "sriovctl monitor"
# When udevd passes the hot PF's PCI events on (what sriovd waited for before issue 14).
systemd-run -q --unit=bench-udevmon bash -c \
        "udevadm monitor --udev -s pci | while IFS= read -r l; do echo \"udev \$l\" >$T/instances/hp/trace_marker; done" \
        || die "udevadm monitor"
configured() { grep -q "mon pf $HP: .*State=configured" $T/instances/hp/trace; }
# kernel_uevents on|off: sriovd restarted with or without SRIOVD_KERNEL_UEVENTS=0.
kernel_uevents() {
        local d=/run/systemd/system/sriovd.service.d
        mkdir -p $d
        if [ "$1" == off ]; then printf '[Service]\nEnvironment=SRIOVD_KERNEL_UEVENTS=0\n' >$d/50-bench-uevents.conf
        else rm -f $d/50-bench-uevents.conf; fi
        systemctl daemon-reload
        systemctl restart sriovd.service || die "sriovd did not restart"
        sriovctl wait-online --timeout=60 >/dev/null
}
: >$RES/hotplug
mode=on
[ -n "$BASE_BIN" ] && mode=new
for ((r = 1; r <= HOTPLUG_ROUNDS; r++)); do
        if [ -n "$BASE_BIN" ]; then
                want=new; [ $((r % 2)) == 0 ] && want=base
                if [ "$want" != "$mode" ]; then
                        use_binary $want; mode=$want
                        systemctl restart sriovd.service || die "sriovd did not restart"
                        sriovctl wait-online --timeout=60 >/dev/null
                fi
        elif [ "$HOTPLUG_AB" == 1 ]; then
                want=on; [ $((r % 2)) == 0 ] && want=off
                [ "$want" == "$mode" ] || { kernel_uevents $want; mode=$want; }
        fi
        echo >$T/instances/hp/trace
        echo "device_add" >$T/instances/hp/trace_marker
        vmctl device_add igb,id=hotpf,bus=hp0,netdev=hpnet0 || die "device_add"
        wait_for 120 "round $r: hot-plugged PF configured on D-Bus" configured || break
        n=$(sriovctl --json vfs | jq --arg p "${HP:0:8}" '[.[] | select((.PCIAddress | startswith($p)) and .State == "ready")] | length')
        check_eq "round $r: 7 VFs of the hot PF on D-Bus, all ready" 7 "$n"
        [ "$n" == 7 ] || sriovctl vfs
        # "SECONDS EVENT": the kprobes by name; markers by their text.
        awk -v hp="$HP" '{ for (i = 1; i < NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) {
                        t = substr($i, 1, length($i) - 1); e = $(i + 1); sub(/:$/, "", e)
                        if (e == "tracing_mark_write") {
                                e = $(i + 2)
                                if (e == "mon") e = index($0, "pf " hp ": ") && $0 ~ /State=configured/ ? "dbus_configured" : "mon"
                                if (e == "udev") {
                                        e = "udev"
                                        for (j = i + 3; j < NF; j++) if ($j ~ /\]$/) break
                                        if (index($0, "/" hp " (pci)")) e = "udev_" $(j + 1)
                                }
                        }
                        if (match($0, / a="[^"]*"/)) e = e ":" substr($0, RSTART + 4, RLENGTH - 5)
                        print t, e; break } }' $T/instances/hp/trace >$RES/hp.trace
        # Every step of the first two rounds, ms after the end of the PF's probe.
        [ $r -le 2 ] && awk '$2 == "probe_out" && !x { x = $1 } { t[NR] = $1; e[NR] = $2 }
                END { for (i = 1; i <= NR; i++) if (!seen[e[i]]++ && e[i] != "mon" && e[i] != "udev")
                        printf "%s %.0f\n", e[i], (t[i] - x) * 1000 }' $RES/hp.trace | tr '\n' ' ' |
                sed "s/^/hot-plug round $r ($mode), ms after the probe's end: /" | { IFS= read -r l; say "$l"; }
        # ...and inside the first pf_refresh(): every read and the name lookup.
        [ $r -le 4 ] && awk '$2 == "probe_out" && !x { x = $1 } { t[NR] = $1; e[NR] = $2 }
                END { for (i = 1; i <= NR; i++) {
                        if (e[i] == "refresh" && !inside && !done) inside = 1
                        if (inside) printf "%s %.0f\n", e[i], (t[i] - x) * 1000
                        if (inside && e[i] == "ret_refresh") { inside = 0; done = 1 } } }' $RES/hp.trace | tr '\n' ' ' |
                sed "s/^/hot-plug round $r ($mode), first pf_refresh(), ms after the probe's end: /" |
                { IFS= read -r l; say "$l"; }
        if line=$(awk -v round=$r -v mode=$mode '
                { t = $1; e = $2 }
                e == "udev_bind" && !ubind { ubind = t }
                e == "kev" && !kev { kev = t }
                e == "addpf" && !addpf { addpf = t }
                e == "jobdone" && !jobdone { jobdone = t }
                e == "setvfs" && !setvfs { setvfs = t }
                e == "configured" && m0 && !conf { conf = t }
                e == "device_add" && !add { add = t }
                e == "probe_in" && !pin { pin = t }
                e == "probe_out" && !pout { pout = t }
                e == "numvfs_in" && !nin { nin = t }
                e == "numvfs_out" { nout = t }
                e == "vf_mac" && !dbus { if (!m0) m0 = t; m1 = t; macs++ }
                e == "dbus_configured" && !dbus { dbus = t }
                END {
                        if (!add || !pout || !nin || !nout || !m0 || !dbus) { print "round " round " incomplete"; exit 1 }
                        d = "%.0f"
                        printf "%d %.0f %.0f %.0f %.0f %.0f %.0f %.0f %d %s %.0f %s %s %s %s %s %s\n", round,
                                (pin - add) * 1e3, (pout - pin) * 1e3, (nin - pout) * 1e3, (nout - nin) * 1e3,
                                (m0 - nout) * 1e3, (m1 - m0) * 1e3, (dbus - m1) * 1e3, macs, mode,
                                ubind ? (ubind - pout) * 1e3 : -1,
                                kev ? sprintf(d, (kev - pout) * 1e3) : "n/a",
                                addpf ? sprintf(d, (addpf - pout) * 1e3) : "n/a",
                                addpf ? sprintf(d, (nin - addpf) * 1e3) : "n/a",
                                jobdone ? sprintf(d, (jobdone - nout) * 1e3) : "n/a",
                                jobdone && setvfs ? sprintf(d, (setvfs - jobdone) * 1e3) : "n/a",
                                conf ? sprintf(d, (conf - m1) * 1e3) "/" sprintf(d, (dbus - conf) * 1e3) : "n/a"
                }' $RES/hp.trace); then
                echo "$line" >>$RES/hotplug
        else
                say "FAIL round $r: $line"; VM_FAILS=$((VM_FAILS + 1))
        fi
        vmctl device_del hotpf || die "device_del"
        wait_for 30 "round $r: the PF left sriovd" bash -c \
                "! sriovctl --json list | jq -e --arg p '$HP' '.[] | select(.PCIAddress == \$p)' >/dev/null"
done
systemctl stop bench-monitor.service bench-udevmon.service
if [ -n "$BASE_BIN" ]; then
        [ "$mode" == new ] || { use_binary new; systemctl restart sriovd.service; }
        echo 0 >$T/instances/hp/events/hpb/enable
else
        [ "$mode" == on ] || kernel_uevents on
fi
echo 0 >$T/instances/hp/events/hp/enable
echo 0 >$T/instances/hp/events/hpu/enable
echo >$T/kprobe_events 2>/dev/null
echo >$T/uprobe_events 2>/dev/null
{
        echo "| round | kernel uevents | QEMU + pciehp to igb probe | igb probe (PF) | sriovd: probe end to sriov_numvfs | (udevd: probe end to PF bind passed on) | kernel: sriov_numvfs (7 VFs) | sriovd: VFs to RTM_SETLINK | kernel: first to last VF MAC write | sriovd: to configured on D-Bus | total ms | kernel | sriovd | VF MAC writes |"
        echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk '{ tot = $2 + $3 + $4 + $5 + $6 + $7 + $8
               printf "| %d | %s | %d | %d | %d | %s | %d | %d | %d | %d | %d | %d | %d | %d |\n", $1, $10, $2, $3, $4,
                        $11 < 0 ? "n/a" : $11, $5, $6, $7, $8, tot, $2 + $3 + $5 + $7, $4 + $6 + $8, $9 }' $RES/hotplug
        echo
        echo "| round | kernel uevents | probe end to sriovd in on_kernel_event() | probe end to manager_add_pf() | manager_add_pf() to sriov_numvfs write | write returned to job done on the loop | job done to RTM_SETLINK | last VF MAC write to PF configured / to the monitor's line |"
        echo "|---:|---|---:|---:|---:|---:|---:|---:|"
        awk '{ printf "| %d | %s | %s | %s | %s | %s | %s | %s |\n", $1, $10, $12, $13, $14, $15, $16, $17 }' $RES/hotplug
} >$RES/hotplug.md

# --- idle ----------------------------------------------------------------------------
# sriovd managing 4 netdevsim PFs × 256 VFs (1,024 VFs) and the two igb PFs, converged:
# RSS, and over BENCH_IDLE_SECONDS its context switches (every wake-up is one) and CPU time.
rss_of() { awk '/^VmRSS/ { print $2 }' /proc/"$1"/status; }
pss_of() { awk '/^Pss:/ { print $2 }' /proc/"$1"/smaps_rollup; }
ctxt_of() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ { s += $2 } END { print s }'; }
cpu_of() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }
reset_all
systemctl unmask --runtime sriovd.service >/dev/null 2>&1
rm -f /etc/sriov.d/50-bench.conf
systemctl start sriovd.service || die "sriovd did not start"
sriovctl wait-online --timeout=60 >/dev/null
pid=$(sriovd_pid)
rss0=$(rss_of "$pid") pss0=$(pss_of "$pid")
systemctl stop sriovd.service
echo 1 >/sys/bus/netdevsim/del_device
devs=()
for d in 11 12 13 14; do
        echo "$d 1" >/sys/bus/netdevsim/new_device
        echo 256 >/sys/kernel/debug/netdevsim/netdevsim$d/max_vfs
done
udevadm settle --timeout=60
for d in 11 12 13 14; do devs+=("$(basename "$(ls -d /sys/bus/netdevsim/devices/netdevsim$d/net/* | head -n1)")"); done
{
        echo "physical_functions = ("
        for p in "${devs[@]}"; do
                echo "{ match = { interface = \"$p\"; }; num_vfs = 256; vfs = ( { range = \"0-255\"; mac = \"stable\"; vlan = $VLAN; spoofchk = false; trust = true; max_tx_rate = $RATE; } ); },"
        done
        echo "{ match = { pci = \"$(pf_pci 0)\"; }; num_vfs = 7; }, { match = { pci = \"$(pf_pci 1)\"; }; num_vfs = 7; } );"
} >/etc/sriov.d/50-bench.conf
t=$(now_us)
systemctl start sriovd.service || die "sriovd did not start"
check "sriovd online with 1,024 + 14 VFs" sriovctl wait-online --timeout=300
online=$(secs_since "$t")
check_eq "sriovd lists 1,038 VFs" 1038 "$(sriovctl --json vfs | jq length)"
pid=$(sriovd_pid)
c0=$(ctxt_of "$pid") u0=$(cpu_of "$pid")
sleep "$IDLE_SECONDS" # the measurement window, not a wait for anything
c1=$(ctxt_of "$pid") u1=$(cpu_of "$pid")
rss1=$(rss_of "$pid") pss1=$(pss_of "$pid")
{
        echo "| sriovd | VFs | VmRSS | PSS | over ${IDLE_SECONDS} s idle: wake-ups (context switches) | CPU |"
        echo "|---|---:|---:|---:|---:|---:|"
        echo "| no PF declared | 0 | ${rss0} KiB | ${pss0} KiB | | |"
        echo "| 4 netdevsim × 256 + 2 igb × 7, start to online ${online} s | 1,038 | ${rss1} KiB | ${pss1} KiB | $((c1 - c0)) | $(((u1 - u0) * 10)) ms |"
} >$RES/idle.md
check_eq "idle sriovd: no wake-up in ${IDLE_SECONDS} s" 0 $((c1 - c0))

for f in compare start hotplug idle; do
        echo
        cat $RES/$f.md
done | tee "$VM_OUT/bench.md"
cp $RES/runs "$VM_OUT/bench-runs.txt"
check "every method ran" true
grep -q FAIL $RES/runs && say "some methods failed: see the n/a rows"
finish
