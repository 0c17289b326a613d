#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's first command: set up a fresh Debian 12 machine and run sriovd.
#
#   scripts/demo.sh            demo on emulated SR-IOV NICs (QEMU igb) when the host has none;
#                              on a host with SR-IOV NICs: discovery only, nothing is changed
#   scripts/demo.sh --vm       always the emulated demo
#   scripts/demo.sh --shell    the emulated demo, then stay in the guest's shell
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

mode=auto shell=0
for a in "$@"; do
        case "$a" in
        --vm) mode=vm ;;
        --shell) mode=vm; shell=1 ;;
        -h|--help) sed -n '3,8p' "$0"; exit 0 ;;
        *) echo "usage: $0 [--vm|--shell]" >&2; exit 2 ;;
        esac
done

host_pfs=()
for d in /sys/bus/pci/devices/*; do
        t=$(cat "$d/sriov_totalvfs" 2>/dev/null || echo 0)
        [ "$t" -gt 0 ] && host_pfs+=("$(basename "$d")")
done
[ "$mode" = auto ] && { [ "${#host_pfs[@]}" -gt 0 ] && mode=host || mode=vm; }

echo "=== installing build dependencies (Debian packages)"
if [ "$mode" = vm ]; then scripts/setup-deps.sh --vm; else scripts/setup-deps.sh; fi

echo "=== building"
# The same options as scripts/run-tests.sh, also for a build/ that exists already (a later
# run-tests.sh reconfigures it the same way, and -Dwerror must hold for what the demo runs).
if [ -d build/meson-private ]; then
        meson setup --reconfigure build -Dwerror=true -Dbuildtype=debugoptimized >/dev/null
else
        meson setup build -Dwerror=true -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C build

if [ "$mode" = host ]; then
        # Real SR-IOV hardware: show what sriovd sees without touching it. With an empty
        # config root every PF is unmanaged, and sriovd never writes to an unmanaged PF.
        echo "=== ${#host_pfs[@]} SR-IOV PF(s) on this host: ${host_pfs[*]}"
        echo "=== running sriovd on a private bus with no drop-ins (read-only discovery)"
        tmp=$(mktemp -d)
        trap 'kill "$busp" "$dp" 2>/dev/null; rm -rf "$tmp"' EXIT
        mkdir -p "$tmp/root/etc/sriov.d" "$tmp/state"
        cp /etc/machine-id "$tmp/root/etc/" 2>/dev/null || true
        # The bus prints its address once it listens: reading it is the wait.
        exec 4< <(exec dbus-daemon --session --nofork --print-address=1)
        busp=$!
        export SRIOVD_BUS_ADDRESS
        read -r SRIOVD_BUS_ADDRESS <&4
        build/daemon/sriovd --root="$tmp/root" --state-dir="$tmp/state" & dp=$!
        build/sriovctl/sriovctl wait-online --timeout=30 || true
        build/sriovctl/sriovctl list
        for pf in "${host_pfs[@]}"; do build/sriovctl/sriovctl status "$pf" || true; done
        build/sriovctl/sriovctl doctor || true
        echo
        echo "To manage these PFs: dpkg-buildpackage -us -uc -b && sudo apt install ../sriovd_*_amd64.deb,"
        echo "write /etc/sriov.d/*.conf (examples in /usr/share/doc/sriovd/examples/), then: sudo sriovctl reload"
        exit 0
fi

echo "=== booting a QEMU guest with two emulated igb SR-IOV NICs (TCG; first run builds the images);"
echo "    run-vm.sh builds the Debian package (tests/vm/build-deb.sh) and the guest installs it"
args=(--scenario demo)
[ "$shell" -eq 1 ] && args+=(--shell)
rc=0
tests/vm/run-vm.sh --build "$top/build" "${args[@]}" || rc=$?
log=build/vm-runs/demo/scenario.log
if [ "$shell" -eq 0 ] && [ -f "$log" ]; then
        echo "=== what sriovd did in the guest (from $log)"
        cat "$log"
fi
exit "$rc"
