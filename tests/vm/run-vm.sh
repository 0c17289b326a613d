#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Front door of the VM tier. Builds/reuses the guest images (BUILD/vm-cache), builds the
# tree the guest installs (BUILD/vm-build, prefix /usr), and boots a scenario.
#
#   tests/vm/run-vm.sh [--build DIR] --scenario NAME|FILE [vm.py options]
#   tests/vm/run-vm.sh [--build DIR] --shell [--scenario NAME|FILE]   interactive guest
#   tests/vm/run-vm.sh [--build DIR] --prepare-only                    images + VM build
#
# NAME is a file tests/vm/scenarios/NAME.sh; its "# vm-args:" lines add vm.py options
# (e.g. --pfs 2 --hotplug-ports 1 --no-iommu). Logs: BUILD/vm-runs/NAME/.
# In --shell mode the console is this terminal, root is logged in, the source and build
# trees are mounted at their host paths; quit with Ctrl-A X (or `poweroff`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build
scenario= shell=0 prepare_only=0
extra=()
while [ $# -gt 0 ]; do
        case "$1" in
        --build) build=$2; shift ;;
        --build=*) build=${1#*=} ;;
        --scenario) scenario=$2; shift ;;
        --scenario=*) scenario=${1#*=} ;;
        --shell) shell=1 ;;
        --prepare-only) prepare_only=1 ;;
        -h|--help) sed -n '3,14p' "$0"; exit 0 ;;
        *) extra+=("$1") ;;
        esac
        shift
done
mkdir -p "$build"
build=$(cd "$build" && pwd)

t0=$(date +%s.%N)
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v debootstrap >/dev/null; then
        echo "run-vm: VM tier tools missing; installing them (tests/vm/setup-host.sh)" >&2
        "$here/setup-host.sh" >&2
fi
"$here/build-images.sh" "$build/vm-cache"
"$here/prepare-build.sh" "$src" "$build/vm-build"
# Scenarios with a "# vm-needs: deb" line install the Debian package instead of the meson
# tree: it is built here, on the host, once per source state (BUILD/vm-deb), never in the
# guest. --prepare-only builds it too when the host can, so that they are cache hits.
f=
if [ -n "$scenario" ]; then
        f=$scenario
        [ -f "$f" ] || f=$here/scenarios/$scenario.sh
        [ -f "$f" ] || { echo "run-vm: no scenario $scenario" >&2; exit 1; }
fi
deb=
if { [ -n "$f" ] && grep -q '^# vm-needs:.*\<deb\>' "$f"; } ||
        { [ "$prepare_only" -eq 1 ] && command -v dpkg-buildpackage >/dev/null; }; then
        deb=$("$here/build-deb.sh" "$src" "$build/vm-deb")
fi
printf 'run-vm: images and VM build ready in %.1fs\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
[ "$prepare_only" -eq 1 ] && exit 0

args=(run --cache "$build/vm-cache" --share "$src" --share "$build"
      --env "SRIOVD_VM_BUILD=$build/vm-build")
[ -n "$deb" ] && args+=(--env "SRIOVD_VM_DEB=$deb")
name=shell
if [ -n "$scenario" ]; then
        name=$(basename "$f" .sh)
        # shellcheck disable=SC2207
        args+=(--scenario "$f" $(sed -n 's/^# vm-args://p' "$f"))
fi
[ "$shell" -eq 1 ] && args+=(--shell)
[ "$shell" -eq 0 ] && [ -z "$scenario" ] && { echo "run-vm: --scenario or --shell needed" >&2; exit 2; }
exec python3 "$here/vm.py" "${args[@]}" --out "$build/vm-runs/$name" "${extra[@]}"
