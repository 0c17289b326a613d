#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The test command of the README and of CI:
#   scripts/run-tests.sh            fast tier + VM tier
#   scripts/run-tests.sh --fast     fast tier only (seconds)
# Installs what it needs from Debian packages, checks formatting, builds with warnings as
# errors (and again with ASan/UBSan for the fast tier), runs a bounded fuzz pass when clang
# is present, and ends with one line "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD

fast_only=0
for a in "$@"; do
        case "$a" in
        --fast) fast_only=1 ;;
        --ci) ;;
        *) echo "usage: $0 [--fast]" >&2; exit 2 ;;
        esac
done

step() { printf '\n=== %s\n' "$*"; }
fail_setup() { echo "SETUP FAILED: $*" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

step "dependencies"
if [ "$fast_only" -eq 1 ]; then
        scripts/setup-deps.sh || fail_setup "installing packages"
else
        scripts/setup-deps.sh --vm || fail_setup "installing packages"
fi

step "formatting (clang-format, .clang-format)"
mapfile -t c_files < <(git ls-files '*.c' '*.h' 2>/dev/null || find daemon sriovctl tests bench -name '*.[ch]')
fmt_bad=()
for f in "${c_files[@]}"; do
        [ -f "$f" ] || continue
        if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
                fmt_bad+=("$f")
        fi
done

step "build (warnings are errors)"
if [ ! -d build ]; then
        meson setup build -Dwerror=true -Dbuildtype=debugoptimized >/dev/null || fail_setup "meson setup build"
fi
ninja -C build || fail_setup "build"

if [ "$fast_only" -eq 0 ]; then
        # The guest images take a minute or two (downloads, debootstrap, netdevsim): build
        # them while the host tiers run; the VM tier's first test then finds them cached.
        step "VM images (in the background)"
        tests/vm/run-vm.sh --build "$top/build" --prepare-only >build/vm-prepare.log 2>&1 &
        vm_prep=$!
fi

step "build with ASan/UBSan"
if [ ! -d build-asan ]; then
        meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
                -Dvm-tests=disabled >/dev/null || fail_setup "meson setup build-asan"
fi
ninja -C build-asan || fail_setup "ASan build"

results=()

step "fast tier"
meson test -C build --suite fast --print-errorlogs --num-processes 2
# Each run rewrites testlog.json: keep each tier's results under its own name.
cp build/meson-logs/testlog.json build/meson-logs/testlog-fast.json
results+=(build/meson-logs/testlog-fast.json)

step "fast tier under ASan/UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build-asan --suite fast --print-errorlogs --num-processes 2
cp build-asan/meson-logs/testlog.json build-asan/meson-logs/testlog-fast-asan.json
results+=(build-asan/meson-logs/testlog-fast-asan.json)

if command -v clang >/dev/null && [ -x tests/fuzz/run-fuzz.sh ]; then
        step "fuzzing (bounded)"
        if [ ! -d build-fuzz ]; then
                CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false -Dvm-tests=disabled -Dwerror=true >/dev/null ||
                        fail_setup "meson setup build-fuzz"
        fi
        ninja -C build-fuzz || fail_setup "fuzz build"
        fuzz_rc=0
        tests/fuzz/run-fuzz.sh build-fuzz 30 || fuzz_rc=1
fi

if [ "$fast_only" -eq 0 ]; then
        step "VM tier (real kernel under QEMU)"
        # A failed background build is not fatal here: vm-images rebuilds and fails loudly.
        wait "$vm_prep" || { echo "background image build failed:"; tail -n 30 build/vm-prepare.log; }
        meson test -C build --suite vm --print-errorlogs --num-processes 1 --timeout-multiplier 1
        cp build/meson-logs/testlog.json build/meson-logs/testlog-vm.json
        results+=(build/meson-logs/testlog-vm.json)
fi

step "summary"
python3 - "${#fmt_bad[@]}" "${fuzz_rc:-skip}" "${results[@]}" <<'EOF'
import json, sys
fmt_bad = int(sys.argv[1]); fuzz = sys.argv[2]
passed = failed = skipped = 0
seen = set()
for path in sys.argv[3:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        print(f"FAIL  (no results in {path})")
        continue
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        key = (path, t['name'])
        if key in seen:
            continue
        seen.add(key)
        res = t['result']
        label = f"{path.split('/')[0]}:{t['name']}"
        if res in ('OK', 'EXPECTEDFAIL'):
            passed += 1
        elif res == 'SKIP':
            skipped += 1
            print(f"SKIP  {label}")
        else:
            failed += 1
            print(f"FAIL  {label} ({res})")
if fmt_bad:
    failed += 1
    print(f"FAIL  formatting: {fmt_bad} file(s) differ from .clang-format")
else:
    passed += 1
if fuzz == '1':
    failed += 1
    print("FAIL  fuzzing found a crash (see tests/fuzz/)")
elif fuzz == '0':
    passed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
EOF
