#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The test command of the README and of CI:
#   scripts/run-tests.sh            host tiers + VM tier
#   scripts/run-tests.sh --fast     host tiers only: suites fast and slow, the same under
#                                   ASan/UBSan, and a bounded fuzz pass (minutes)
#   scripts/run-tests.sh --ci       as CI runs it (also when CI=true): a missing clang fails
#   scripts/run-tests.sh --tier=T   only tier T (host, bench, asan, fuzz, vm; repeatable)
# Installs what it needs from Debian packages, checks formatting, builds with warnings as
# errors (and again with ASan/UBSan), runs a bounded fuzz pass, and ends with one line
# "N passed, N failed, N skipped".
#
# The summary line must not lie (docs/RELIABILITY.md, "The test runner cannot lie"):
# - each tier's `meson test` exit status counts, not only the log it leaves;
# - each tier's testlog.json is deleted before its run, so an old log is never counted again;
# - each tier must report at least as many results as `meson test --list` selects for it,
#   and a tier that selects no test at all fails;
# - reused build directories are reconfigured with the options below (-Dwerror=true);
# - fuzzing without clang fails under CI and is a counted skip elsewhere;
# - subtests that a TAP test skipped are counted and listed.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD

fast_only=0
ci=0
[ "${CI:-}" = true ] && ci=1
tiers=()
for a in "$@"; do
        case "$a" in
        --fast) fast_only=1 ;;
        --ci) ci=1; export CI=true ;;
        --tier=host|--tier=bench|--tier=asan|--tier=fuzz|--tier=vm) tiers+=("${a#--tier=}") ;;
        *) echo "usage: $0 [--fast] [--ci] [--tier=host|bench|asan|fuzz|vm]..." >&2; exit 2 ;;
        esac
done
if [ "${#tiers[@]}" -eq 0 ]; then
        tiers=(host bench asan fuzz)
        [ "$fast_only" -eq 1 ] || tiers+=(vm)
fi
want() { local t; for t in "${tiers[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }

step() { printf '\n=== %s\n' "$*"; }
fail_setup() { echo "SETUP FAILED: $*" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

# meson setup DIR, or reconfigure it when it exists: options given here must hold for a
# build directory made earlier by hand or by scripts/demo.sh, not only for a new one.
setup_dir() {
        local dir=$1 log rc
        shift
        log=$(mktemp)
        if [ -d "$dir/meson-private" ]; then
                meson setup --reconfigure "$dir" "$@" >"$log" 2>&1
        else
                meson setup "$dir" "$@" >"$log" 2>&1
        fi
        rc=$?
        [ "$rc" -eq 0 ] || cat "$log" >&2
        rm -f "$log"
        return "$rc"
}

# Records of the tiers that ran, "name|log|exit status|tests selected", for the summary.
records=()
# run_suite NAME BUILD_DIR SUITE [meson test options...]
run_suite() {
        local name=$1 dir=$2 suite=$3 selected rc log
        shift 3
        log=$dir/meson-logs/testlog.json
        selected=$(meson test -C "$dir" --no-rebuild --list --suite "$suite" 2>/dev/null | grep -c ' / ')
        echo "$name: $selected test(s) selected in $dir (suite $suite)"
        rm -f "$log" "$dir/meson-logs/testlog-$name.json"
        meson test -C "$dir" --suite "$suite" --print-errorlogs "$@"
        rc=$?
        [ -f "$log" ] && mv "$log" "$dir/meson-logs/testlog-$name.json"
        records+=("$name|$dir/meson-logs/testlog-$name.json|$rc|$selected")
}

step "dependencies"
if want vm; then
        scripts/setup-deps.sh --vm || fail_setup "installing packages"
else
        scripts/setup-deps.sh || fail_setup "installing packages"
fi

step "formatting (clang-format, .clang-format)"
fmt=ok
fmt_bad=()
if ! command -v clang-format >/dev/null; then
        fmt=missing
else
        mapfile -t c_files < <(git ls-files '*.c' '*.h' 2>/dev/null || find daemon sriovctl tests bench -name '*.[ch]')
        for f in "${c_files[@]}"; do
                [ -f "$f" ] || continue
                if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
                        fmt_bad+=("$f")
                fi
        done
        [ "${#fmt_bad[@]}" -eq 0 ] || { fmt=bad; printf '  differs: %s\n' "${fmt_bad[@]}"; }
fi

step "build (warnings are errors)"
setup_dir build -Dwerror=true -Dbuildtype=debugoptimized || fail_setup "meson setup build"
ninja -C build || fail_setup "build"

vm_prep=
if want vm; then
        # The guest images take a minute or two (downloads, debootstrap, netdevsim): build
        # them while the host tiers run; the VM tier's first test then finds them cached.
        step "VM images (in the background)"
        tests/vm/run-vm.sh --build "$top/build" --prepare-only >build/vm-prepare.log 2>&1 &
        vm_prep=$!
fi

if want host; then
        step "host tier: suite fast"
        run_suite host-fast build fast --num-processes 2
        step "host tier: suite slow"
        run_suite host-slow build slow --num-processes 2
fi

if want bench; then
        # Issue 14's guard on the fake substrate (ratios within one run; ~1-3 min). Its VM
        # half, bench-guard, runs with the VM tier.
        step "bench tier: regression guard (suite bench)"
        run_suite bench build bench --num-processes 1
fi

if want asan; then
        step "build with ASan/UBSan"
        setup_dir build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
                -Dvm-tests=disabled || fail_setup "meson setup build-asan"
        ninja -C build-asan || fail_setup "ASan build"
        step "ASan/UBSan tier: suites fast and slow"
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
        run_suite asan-fast build-asan fast --num-processes 2
        run_suite asan-slow build-asan slow --num-processes 2
        unset ASAN_OPTIONS UBSAN_OPTIONS
fi

# fuzz: 0 clean, 1 found a problem or did not build, noclang (a failure under CI)
fuzz=
if want fuzz; then
        step "fuzzing (bounded)"
        if command -v clang >/dev/null; then
                if CC=clang setup_dir build-fuzz -Dfuzz=true -Db_lundef=false -Dvm-tests=disabled -Dwerror=true &&
                        ninja -C build-fuzz; then
                        fuzz=0
                        tests/fuzz/run-fuzz.sh build-fuzz 30 || fuzz=1
                else
                        fuzz=1
                fi
        else
                fuzz=noclang
                echo "fuzzing: clang not found: $([ "$ci" -eq 1 ] && echo FAILURE under CI || echo SKIPPED)"
        fi
fi

if want vm; then
        step "VM tier (real kernel under QEMU)"
        # A failed background build is not fatal here: vm-images rebuilds and fails loudly.
        if [ -n "$vm_prep" ]; then
                wait "$vm_prep" || { echo "background image build failed:"; tail -n 30 build/vm-prepare.log; }
        fi
        # One vCPU per guest: two guests side by side on a two-core host nearly halve the
        # tier's time; more would only make each guest slower.
        vm_jobs=${SRIOVD_VM_JOBS:-$(( $(nproc) >= 2 ? 2 : 1 ))}
        run_suite vm build vm --num-processes "$vm_jobs" --timeout-multiplier 1
fi

step "summary"
python3 - "$fmt" "$fuzz" "$ci" "${records[@]}" <<'EOF'
import json, re, sys
fmt, fuzz, ci = sys.argv[1], sys.argv[2], sys.argv[3] == '1'
passed = failed = skipped = 0
TAP_SKIP = re.compile(r'^ok\s+\d*\s*-?\s*(.*?)\s*#\s*SKIP\b\s*(.*)$', re.I)

def fail(msg):
    global failed
    failed += 1
    print(f"FAIL  {msg}")

for rec in sys.argv[4:]:
    name, path, rc, selected = rec.split('|')
    rc, selected = int(rc), int(selected)
    if selected == 0:
        fail(f"{name}: no test selected (a disabled or misconfigured suite; meson test exit {rc})")
        continue
    try:
        lines = [l for l in open(path).read().splitlines() if l.strip()]
    except OSError:
        fail(f"{name}: no results in {path} (meson test exit {rc}: did the build fail?)")
        continue
    results = {}
    for line in lines:
        t = json.loads(line)
        results[t['name']] = t
    bad = 0
    for tname, t in results.items():
        res = t['result']
        label = f"{name}:{tname}"
        if res in ('OK', 'EXPECTEDFAIL'):
            passed += 1
            # A TAP test that skipped some subtests is OK to meson: say so, and count them.
            for l in (t.get('stdout') or '').splitlines():
                m = TAP_SKIP.match(l)
                if m:
                    skipped += 1
                    print(f"SKIP  {label}/{m.group(1)}: {m.group(2)}")
        elif res == 'SKIP':
            skipped += 1
            print(f"SKIP  {label}")
        else:
            bad += 1
            fail(f"{label} ({res})")
    if len(results) < selected:
        fail(f"{name}: {len(results)} result(s) for {selected} selected test(s)")
    if rc != 0 and bad == 0:
        fail(f"{name}: meson test exited {rc} but its log shows no failing test")
if fmt == 'missing':
    fail("formatting: clang-format not found")
elif fmt == 'bad':
    fail("formatting: file(s) differ from .clang-format (listed above)")
else:
    passed += 1
if fuzz == '1':
    fail("fuzzing: a fuzzer found a problem or did not build (see above, tests/fuzz/)")
elif fuzz == '0':
    passed += 1
elif fuzz == 'noclang':
    if ci:
        fail("fuzzing: clang not found (CI must fuzz)")
    else:
        skipped += 1
        print("SKIP  fuzzing: clang not found (install clang; under CI this is a failure)")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
EOF
