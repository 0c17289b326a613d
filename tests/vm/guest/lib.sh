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
        # A crash leaves its core in the host's run directory (a pipe helper runs outside
        # the service's read-only mount namespace): `gdb BUILD/vm-build/daemon/sriovd core.*`.
        printf '#!/bin/sh\ncat >"%s/core.$1.$2"\n' "$VM_OUT" >/usr/local/sbin/sriovd-vm-core
        chmod +x /usr/local/sbin/sriovd-vm-core
        echo '|/usr/local/sbin/sriovd-vm-core %e %p' >/proc/sys/kernel/core_pattern
        mkdir -p /etc/systemd/system/sriovd.service.d
        printf '[Service]\nLimitCORE=infinity\n' >/etc/systemd/system/sriovd.service.d/90-vm-core.conf
        systemctl daemon-reload
        udevadm control --reload
}

# Install sriovd from the Debian package run-vm.sh built on the host (scenarios with a
# "# vm-needs: deb" line get SRIOVD_VM_DEB). The package's postinst enables and starts
# sriovd, so the configuration must be in place before, as with install_sriovd.
SRIOVD_VM_DEB=${SRIOVD_VM_DEB:-}
install_sriovd_deb() {
        local t
        [ -n "$SRIOVD_VM_DEB" ] && [ -f "$SRIOVD_VM_DEB" ] || die "no .deb (run-vm.sh sets SRIOVD_VM_DEB for '# vm-needs: deb')"
        # Core dumps as with install_sriovd, set up first: postinst starts the service.
        printf '#!/bin/sh\ncat >"%s/core.$1.$2"\n' "$VM_OUT" >/usr/local/sbin/sriovd-vm-core
        chmod +x /usr/local/sbin/sriovd-vm-core
        echo '|/usr/local/sbin/sriovd-vm-core %e %p' >/proc/sys/kernel/core_pattern
        mkdir -p /etc/systemd/system/sriovd.service.d
        printf '[Service]\nLimitCORE=infinity\n' >/etc/systemd/system/sriovd.service.d/90-vm-core.conf
        say "dpkg -i $(basename "$SRIOVD_VM_DEB")"
        t=$(now_us)
        DEBIAN_FRONTEND=noninteractive dpkg -i "$SRIOVD_VM_DEB" >/tmp/dpkg-install.log 2>&1 \
                || { cat /tmp/dpkg-install.log; die "dpkg -i failed"; }
        say "installed (and started by postinst) in $(secs_since "$t")s"
}

# start_sriovd: enable and start the installed service; fails the scenario if it does not
# come up (Type=notify: `systemctl start` returns after READY=1).
start_sriovd() {
        local t; t=$(now_us)
        systemctl enable --now sriovd.service || { journalctl -u sriovd --no-pager | tail -n 50; die "sriovd did not start"; }
        say "sriovd started (READY=1) in $(secs_since "$t")s"
}
sriovd_alive() { systemctl is-active --quiet sriovd.service; }
sriovd_pid() { systemctl show -P MainPID sriovd.service; }
# vf_prop PCI PROP: a VirtualFunction property as sriovctl --json vfs reports it
vf_prop() { sriovctl --json vfs | jq -r --arg p "$1" --arg k "$2" '.[] | select(.PCIAddress == $p) | .[$k]'; }
pf_prop() { sriovctl --json list | jq -r --arg p "$1" --arg k "$2" '.[] | select(.PCIAddress == $p) | .[$k]'; }
# show what a user would see
show_state() {
        say "--- sriovctl status"; sriovctl status || true
        say "--- sriovctl vfs"; sriovctl vfs || true
        local i; for i in "$@"; do say "--- ip -d link show $i"; ip -d link show dev "$i" | grep -E '^ *vf |^[0-9]' || true; done
}
numvfs_is() { [ "$(cat "$(pf_dev "$1")/sriov_numvfs")" == "$2" ]; }
# is_stable_mac MAC: locally administered unicast, not all zero
is_local_unicast() {
        local b=$((16#${1%%:*}))
        [ $((b & 2)) -eq 2 ] && [ $((b & 1)) -eq 0 ] && [ "$1" != 00:00:00:00:00:00 ]
}

# --- per-VF write detector ---------------------------------------------------------------
# An rtnetlink link notification names the PF, not the VF, so "VF 3 saw no write" needs a
# finer detector: kprobes on igb's ndo_set_vf_* handlers, which rtnetlink's do_setvfinfo()
# calls once per attribute present in an IFLA_VF_INFO, even when the value is unchanged.
# Each hit is logged as "<net_device pointer> <vf> <attr>"; vfw_learn maps a PF netdev to
# its pointer by a no-op write (which also proves the detector fires).
VFW_T=/sys/kernel/tracing VFW_LOG=/run/vfw.trace VFW_PID=
vfw_start() {
        local a n=0
        mountpoint -q $VFW_T || mount -t tracefs nodev $VFW_T || return 1
        for a in mac vlan bw spoofchk trust link_state; do
                grep -qE "[[:space:]]igb_ndo_set_vf_$a([[:space:]]|$)" /proc/kallsyms || continue
                echo "p:vfw/$a igb_ndo_set_vf_$a dev=%di:x64 vf=%si:s32" >>$VFW_T/kprobe_events || return 1
                n=$((n + 1))
        done
        [ $n -ge 3 ] || { say "vfw: only $n igb_ndo_set_vf_* probes"; return 1; }
        mkdir -p $VFW_T/instances/vfw
        echo 1 >$VFW_T/instances/vfw/events/vfw/enable || return 1
        : >$VFW_LOG
        cat $VFW_T/instances/vfw/trace_pipe >>$VFW_LOG &
        VFW_PID=$!
}
vfw_stop() { [ -n "$VFW_PID" ] && kill "$VFW_PID" 2>/dev/null; wait "$VFW_PID" 2>/dev/null; VFW_PID=; }
# vfw_hits [FROM_LINE]: the hits logged from line FROM_LINE on, as "DEV VF ATTR"
vfw_hits() {
        tail -n +"${1:-1}" $VFW_LOG | sed -n 's/.* \([a-z_]*\): (igb_ndo_set_vf_[a-z_]*+.*) dev=\(0x[0-9a-f]*\) vf=\(-\?[0-9]*\).*/\2 \3 \1/p'
}
vfw_mark() { echo $(( $(wc -l <$VFW_LOG) + 1 )); }
# vfw_learn IFNAME VF IP-LINK-VF-ARGS...: do a (no-op) write of VF on IFNAME and print the
# device pointer the probe saw; fails if the probe does not fire within 10 s.
vfw_learn() {
        local ifn=$1 vf=$2 m d; shift 2
        m=$(vfw_mark)
        ip link set dev "$ifn" vf "$vf" "$@" || return 1
        local end=$(( $(date +%s%N) + 10000000000 ))
        until d=$(vfw_hits "$m" | awk -v vf="$vf" '$2 == vf { print $1; exit }') && [ -n "$d" ]; do
                [ "$(date +%s%N)" -ge "$end" ] && return 1
                sleep 0.1
        done
        echo "$d"
}
# drain_watchers DIR: before a detector's log in DIR is read as "nothing happened", make each
# running detector prove it has caught up: a harmless event of its own kind goes in and we wait
# until the detector has logged it (a watcher killed right away could drop what was queued).
#   DIR/numvfs.log   inotify-watch.py, started with DIR/sentinel among its files
#   DIR/netlink.log  ip monitor link (all links): lo's MTU goes to a value of its own and back
#                    (ip monitor prints neither aliases nor qlen, and a group change alone
#                    sends no notification)
#   DIR/uevents.log  udevadm monitor --kernel (pci): a "change" uevent on the host bridge
# Their lines are harmless to the checks: grep numvfs.log for sriov_numvfs, netlink.log for
# the PFs' names, uevents.log for add/remove/bind/unbind.
drain_watchers() {
        local w=$1 tag mtu
        tag=drain-$(date +%s%N)
        mtu=$((60000 + RANDOM % 5000))
        if [ -e "$w/sentinel" ] && [ -e "$w/numvfs.log" ]; then
                echo "$tag" >"$w/sentinel"
                wait_for 10 "inotify watcher drained" grep -q "$w/sentinel" "$w/numvfs.log"
        fi
        if [ -e "$w/netlink.log" ]; then
                ip link set dev lo mtu "$mtu"
                wait_for 10 "ip monitor drained" grep -qE "^[0-9]+: lo: .* mtu $mtu " "$w/netlink.log"
                ip link set dev lo mtu 65536
        fi
        if [ -e "$w/uevents.log" ]; then
                echo change >/sys/bus/pci/devices/0000:00:00.0/uevent
                wait_for 10 "uevent monitor drained" grep -qE '^KERNEL.*change +/devices/pci0000:00/0000:00:00.0 ' \
                        "$w/uevents.log"
        fi
}
# jqe FILTER [ARGS...] <<<JSON: jq -e without printing the result (for check)
jqe() { jq -e "$@" >/dev/null; }

# --- fault matrix helpers -------------------------------------------------------------------
# vfio_group PCI: the /dev/vfio/N node of a device bound to vfio-pci
vfio_group() { echo "/dev/vfio/$(basename "$(readlink -f "/sys/bus/pci/devices/$1/iommu_group")")"; }
# vfio_hold NODE [USER]: a process (as USER, default root) that opens NODE read-write and
# waits; prints its PID once /proc/PID/fd/3 is NODE (fails after 10 s otherwise).
vfio_hold() {
        local node=$1 user=${2:-} pid end
        if [ -n "$user" ]; then
                setpriv --reuid="$user" --regid="$(id -gn "$user")" --clear-groups \
                        bash -c 'exec 3<>"$1" && exec sleep infinity' _ "$node" >/dev/null 2>&1 &
        else
                bash -c 'exec 3<>"$1" && exec sleep infinity' _ "$node" >/dev/null 2>&1 &
        fi
        pid=$!
        end=$(( $(date +%s%N) + 10000000000 ))
        until [ "$(readlink "/proc/$pid/fd/3" 2>/dev/null)" == "$node" ]; do
                [ "$(date +%s%N)" -ge "$end" ] && { kill "$pid" 2>/dev/null; return 1; }
                sleep 0.05
        done
        echo "$pid"
}
holds() { [ "$(readlink "/proc/$1/fd/3" 2>/dev/null)" == "$2" ]; }
SRIOVD_M="org.sriovd1 /org/sriovd1 org.sriovd1.Manager"
# allocate POOL OWNER: Allocate as root, prints the VF object path
allocate() { busctl call $SRIOVD_M Allocate 'ssa{sv}' "$1" "$2" 0 | sed -n 's/^o "\(.*\)"$/\1/p'; }
# vfget PATH PROP: a VirtualFunction property, unquoted
vfget() { busctl get-property org.sriovd1 "$1" org.sriovd1.VirtualFunction "$2" | sed 's/^[a-z]* //; s/^"//; s/"$//'; }
pf_state_is() { [ "$(pf_prop "$1" State)" == "$2" ]; }
