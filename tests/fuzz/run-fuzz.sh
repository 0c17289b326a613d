#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs every fuzzer of a -Dfuzz=true build for a bounded time over its seed corpus.
# Usage: tests/fuzz/run-fuzz.sh BUILD_DIR SECONDS   (SECONDS in total, split evenly)
# First replays crashes/<module>/ (a fixed crash must stay fixed), then fuzzes. New corpus
# entries go to a scratch directory; a crash is written to crashes/<module>/ so it can be
# committed with its fix. Exit status: 0 clean, 1 a fuzzer found a problem, 77 no fuzzers.
set -euo pipefail

if [ $# -ne 2 ]; then
        echo "usage: $0 BUILD_DIR SECONDS" >&2
        exit 2
fi
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
artifacts=${FUZZ_ARTIFACT_DIR:-}

fuzzers=(config vf-table bus-methods)
# Inputs up to this size; the VF table's seeds include a 74 KiB message whose list length
# wraps its u16, the others are text or a few calls.
declare -A max_len=([config]=16384 [vf-table]=81920 [bus-methods]=16384)
per=$((seconds / ${#fuzzers[@]}))
[ "$per" -ge 1 ] || per=1
# Leaks inside libconfig itself are known and not ours (see lsan.supp).
export LSAN_OPTIONS="suppressions=$here/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
found=0
missing=0
rc=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for m in "${fuzzers[@]}"; do
        bin="$build/tests/fuzz/fuzz-$m"
        if [ ! -x "$bin" ]; then
                # Counted: a build that has some fuzzers but not this one is out of date.
                echo "fuzz-$m: not built (configure with CC=clang meson setup ... -Dfuzz=true)" >&2
                missing=1
                continue
        fi
        found=1
        corpus="$here/corpus/$m"
        crashes="$here/crashes/$m"
        out="${artifacts:-$crashes}"
        mkdir -p "$scratch/$m" "$out"

        mapfile -t old < <(find "$crashes" -type f ! -name 'README*' ! -name '.*')
        if [ "${#old[@]}" -gt 0 ]; then
                echo "fuzz-$m: replaying ${#old[@]} known crash(es)"
                "$bin" -runs=1 "${old[@]}" || rc=1
        fi

        echo "fuzz-$m: fuzzing for ${per}s"
        dict=()
        [ -f "$here/$m.dict" ] && dict=(-dict="$here/$m.dict")
        "$bin" -max_total_time="$per" -max_len="${max_len[$m]}" -timeout=10 -rss_limit_mb=2048 \
                -print_final_stats=1 "${dict[@]}" -artifact_prefix="$out/" \
                "$scratch/$m" "$corpus" || rc=1
done

if [ "$found" -eq 0 ]; then
        exit 77
fi
[ "$missing" -eq 0 ] || rc=1
if [ "$rc" -ne 0 ]; then
        echo "fuzzing found a problem; reproducer(s) in ${artifacts:-$here/crashes/*}" >&2
fi
exit "$rc"
