#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs every bench and prints its tables (markdown). Usage:
#   bench/run-bench.sh [BUILDDIR] [-- extra args for every bench, e.g. --runs=3]
# Benches on the fake substrate need the umockdev preload (ASan first if the build has it),
# and a testbed on tmpfs: on ext4 creating 16,384 fake VF devices is dominated by the disk.
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${1:-build}
[[ $# -gt 0 ]] && shift
[[ ${1:-} == -- ]] && shift

# name : needs the umockdev preload. Add new benches here (and in bench/meson.build).
benches=(
        "bench-reconcile:umockdev"
        "bench-bus:bus"
        "bench-marshal:pfs"
)

preload=libumockdev-preload.so.0
if grep -q "b_sanitize.*address" "$builddir/meson-info/intro-buildoptions.json" 2>/dev/null &&
   python3 -c 'import json,sys; o={x["name"]:x["value"] for x in json.load(open(sys.argv[1]))}; sys.exit(0 if "address" in o["b_sanitize"] else 1)' \
        "$builddir/meson-info/intro-buildoptions.json"; then
        preload="$(cc -print-file-name=libasan.so):$preload"
fi
tmp=/dev/shm
[[ -d $tmp && -w $tmp ]] || tmp=${TMPDIR:-/tmp}

echo "# sriovd benches, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
echo
status=0
for entry in "${benches[@]}"; do
        name=${entry%%:*}
        kind=${entry#*:}
        exe="$builddir/bench/$name"
        if [[ ! -x $exe ]]; then
                echo "## $name: not built (configure with -Dtests=true)"
                status=1
                continue
        fi
        if [[ $kind == umockdev ]]; then
                TMPDIR=$tmp LD_PRELOAD=$preload "$exe" "$@" || status=1
        elif [[ $kind == pfs ]]; then
                # Takes only --pfs and --runs of the extra arguments.
                own=()
                for a in "$@"; do [[ $a == --pfs=* || $a == --runs=* ]] && own+=("$a"); done
                "$exe" "${own[@]}" || status=1
        elif [[ $kind == bus ]]; then
                # The bus bench takes --pfs (default 16) of the extra arguments, not the others.
                pfs=()
                for a in "$@"; do [[ $a == --pfs=* ]] && pfs=("$a"); done
                # Drives tests/sriovd-test-daemon (preloaded by the bench itself) over a private
                # bus; leases go to the real disk under the build dir, as durable leases would.
                TMPDIR=$tmp "$exe" --daemon="$builddir/tests/sriovd-test-daemon" --preload="$preload" \
                        --sriovd="$builddir/daemon/sriovd" --state-dir="$builddir/bench/bench-bus-state" \
                        "${pfs[@]}" ||
                        status=1
        else
                "$exe" "$@" || status=1
        fi
        echo
done
exit $status
