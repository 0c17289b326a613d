# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for VM scenarios (bash, sourced). A scenario keeps going after a failed check
# so one run shows every broken assertion; `finish` turns the count into the exit status.
set -u
VM_FAILS=0
# Times in microseconds from bash itself (the guest has no bc).
now_us() { echo "${EPOCHREALTIME/./}"; }
# secs_since T_US: seconds since T_US with one decimal
secs_since() { local d=$(( $(now_us) - $1 )); printf '%d.%d' $((d / 1000000)) $(((d % 1000000) / 100000)); }
VM_T0=$(now_us)

say() { printf '[%6s] %s\n' "$(secs_since "$VM_T0")" "$*"; }
die() { say "FATAL: $*"; exit 1; }

# check DESCRIPTION COMMAND...: run COMMAND, record a failure if it fails.
check() {
        local what=$1; shift
        if "$@"; then say "ok   $what"; else say "FAIL $what"; VM_FAILS=$((VM_FAILS + 1)); fi
}
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
        if [ "$2" == "$3" ]; then say "ok   $1 ($3)"
        else say "FAIL $1: expected '$2', got '$3'"; VM_FAILS=$((VM_FAILS + 1)); fi
}
# wait_for SECONDS DESCRIPTION COMMAND...: wait until COMMAND succeeds, with a deadline.
wait_for() {
        local limit=$1 what=$2; shift 2
        local end=$(( $(date +%s%N) + limit * 1000000000 ))
        until "$@" >/dev/null 2>&1; do
                if [ "$(date +%s%N)" -ge "$end" ]; then
                        say "FAIL timeout (${limit}s): $what"; VM_FAILS=$((VM_FAILS + 1)); return 1
                fi
                sleep 0.1
        done
        say "ok   $what"
}
finish() {
        if [ "$VM_FAILS" -eq 0 ]; then say "PASS"; exit 0; fi
        say "FAILED: $VM_FAILS check(s)"; exit 1
}

# PCI address of the igb PF on root port N (0-based): fixed by vm.py's slot layout.
pf_pci() { printf '0000:%02x:00.0' $(( $1 + 1 )); }
pf_dev() { echo "/sys/bus/pci/devices/$(pf_pci "$1")"; }
# netdev of a PCI device directory (first one)
netdev_of() { local n; for n in "$1"/net/*; do [ -e "$n" ] && { basename "$n"; return 0; }; done; return 1; }
pf_if() { netdev_of "$(pf_dev "$1")"; }
vf_dev() { readlink -f "$(pf_dev "$1")/virtfn$2"; }
vf_if() { netdev_of "$(vf_dev "$1" "$2")"; }
drv_of() { basename "$(readlink -f "$1/driver" 2>/dev/null)" 2>/dev/null; }
# JSON of VF $2 on netdev $1 from `ip -d -j link`
vf_json() { ip -d -j link show dev "$1" | jq -c ".[0].vfinfo_list[$2]"; }

# Install sriovd from the VM build tree (configured by tests/vm/prepare-build.sh with
# prefix /usr, shared at the same absolute path) and start it under systemd.
SRIOVD_VM_BUILD=${SRIOVD_VM_BUILD:-}
install_sriovd() {
        local b=$SRIOVD_VM_BUILD
        [ -n "$b" ] && [ -d "$b" ] || die "no VM build directory (vm.py --env SRIOVD_VM_BUILD=...)"
        [ -x "$b/daemon/sriovd" ] || die "sriovd binary missing in $b: the daemon is not built (or not written yet)"
        say "meson install -C $b"
        meson install -C "$b" --no-rebuild --quiet >/tmp/meson-install.log 2>&1 \
                || { cat /tmp/meson-install.log; die "meson install failed"; }
        [ -e /usr/lib/systemd/system/sriovd.service ] || [ -e /lib/systemd/system/sriovd.service ] \
                || die "sriovd.service was not installed"
        systemctl daemon-reload
        udevadm control --reload
}
