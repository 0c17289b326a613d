#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 6's side-by-side bench on the VM tier's real kernel: sriovd against the kernel's
# floor (bench/vf-floor), an `ip link` loop, systemd-udevd's .link [SR-IOV] and
# NetworkManager's sriov.vfs; hot-plug to ready, split between kernel and sriovd; sriovd
# idle. Boots one guest (TCG, 2 vCPUs) that runs bench/vm-compare.sh and prints its tables.
#
#   bench/run-vm-bench.sh [--build DIR] [--runs N] [--sizes "16 64 128"]
#                         [--methods "floor sriovd sriovd-start ip udevd nm"] [--targets "netdevsim igb"]
#                         [--idle SECONDS] [--hotplug-rounds N] [--hotplug-ab]
#                         [--start-profile N] [--ab-sriovd FILE]
#   bench/run-vm-bench.sh [--build DIR] --memory PFSxVFS [--runs N] [--base SRIOVD]
#
# --hotplug-ab: even hot-plug rounds run sriovd with SRIOVD_KERNEL_UEVENTS=0 (hearing of the
# PF from udevd only, as before issue 14), odd rounds as installed: both in one guest.
# --start-profile N: N cold starts (`systemctl start sriovd`, 128 netdevsim VFs declared)
# split into phases on CLOCK_MONOTONIC (tracefs + the journal); a table of its own.
# --ab-sriovd FILE: hot-plug rounds and cold starts alternate this build's sriovd ("new",
# odd) with FILE ("base", even; e.g. main's BUILD/vm-build/daemon/sriovd), in one guest.
# --memory PFSxVFS (e.g. 64x256): instead of all that, sriovd's memory (VmRSS, RssAnon, the
# arenas from smaps) idle and with PFS netdevsim PFs × VFS VFs, settled (bench/vm-memory.sh,
# ~6 min per run at 64x256). --base SRIOVD: a second sriovd built with prefix /usr (e.g.
# main's BUILD/vm-build/daemon/sriovd copied under the build tree, which the guest shares),
# run alternately with this tree's.
#
# ~15 min with the defaults here (2 host cores). Needs the VM tier's tools
# (scripts/setup-deps.sh --vm). Tables: stdout and BUILD/vm-runs/vm-compare/bench.md;
# every run: BUILD/vm-runs/vm-compare/bench-runs.txt.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build
env=() ab=
script=$src/bench/vm-compare.sh
while [ $# -gt 0 ]; do
        case "$1" in
        --build) build=$2; shift ;;
        --runs) env+=(--env "BENCH_RUNS=$2"); shift ;;
        --sizes) env+=(--env "BENCH_SIZES=${2// /,}"); shift ;;
        --methods) env+=(--env "BENCH_METHODS=${2// /,}"); shift ;;
        --targets) env+=(--env "BENCH_TARGETS=${2// /,}"); shift ;;
        --idle) env+=(--env "BENCH_IDLE_SECONDS=$2"); shift ;;
        --hotplug-rounds) env+=(--env "BENCH_HOTPLUG_ROUNDS=$2"); shift ;;
        --hotplug-ab) env+=(--env "BENCH_HOTPLUG_AB=1") ;;
        --start-profile) env+=(--env "BENCH_START_PROFILE=$2"); shift ;;
        --ab-sriovd) ab=$2; shift ;;
        --memory) env+=(--env "BENCH_MEMORY=$2"); script=$src/bench/vm-memory.sh; shift ;;
        --base) env+=(--env "BENCH_MEM_BASE=$(realpath "$2")"); shift ;;
        -h|--help) sed -n '3,28p' "$0"; exit 0 ;;
        *) echo "run-vm-bench: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
[ -e "$build/build.ninja" ] || meson setup "$build" "$src" >/dev/null
ninja -C "$build" >/dev/null
out=$build/vm-runs/$(basename "$script" .sh)
if [ -n "$ab" ]; then # the guest sees the build directory: a copy there
        mkdir -p "$build/bench-ab"
        cp "$ab" "$build/bench-ab/sriovd-base"
        env+=(--env "BENCH_AB_SRIOVD=$(cd "$build" && pwd)/bench-ab/sriovd-base")
fi
rm -f "$out/bench.md"
echo "# sriovd side by side on a real kernel, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "Host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); guest: QEMU TCG"
rc=0
"$src/tests/vm/run-vm.sh" --build "$build" --scenario "$script" --timeout 3000 "${env[@]}" \
        >"$build/$(basename "$script" .sh).log" 2>&1 || rc=$?
grep -E '^\[ *[0-9.]+\] (kernel|FAIL|some)' "$out/scenario.log" 2>/dev/null || true
if [ -s "$out/bench.md" ]; then
        cat "$out/bench.md"
else
        tail -n 40 "$build/$(basename "$script" .sh).log" >&2
        echo "run-vm-bench: the guest printed no tables (log: $build/$(basename "$script" .sh).log, $out/)" >&2
        rc=1
fi
exit $rc
