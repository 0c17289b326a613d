#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 13 items 1 and 4 with the real consumer: podman 4.3 (Debian 12, rootful, crun) runs
# a container from a local busybox rootfs (no registry, no network) with a VF bound to
# vfio-pci, taken through sriovd the documented way: `sriovctl allocate --bind-pid=$$ --cdi`
# in a shell that then execs `podman run --device sriovd.io/vf=NAME`. The container sees the
# VF's /dev/vfio/N and the env naming it; when podman exits the lease ends with the process,
# the CDI spec goes, and podman refuses the name. A VF leased to another consumer
# (libvirt:vm1) gets no CDI name for podman: the allocate step fails naming the holder.
# Then lease liveness on the real systemd: a lease bound to a transient unit ends when the
# unit stops, one bound to a process when it is killed -9, both after a restart of sriovd,
# and one whose unit stopped while sriovd was down ends at start.
# vm-args: --pfs 1 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

# sriovctl logs to the journal under a unit (this scenario runs in one): errors to stderr here.
unset INVOCATION_ID JOURNAL_STREAM
udevadm settle --timeout=60
PCI0=$(pf_pci 0)
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-podman.conf <<CONF
physical_functions = (
  { match = { pci = "$PCI0"; }; num_vfs = 3;
    vfs = ( { range = "0-2"; pool = "ctr"; driver = "vfio-pci"; } ); }
);
CONF
install_sriovd
start_sriovd
check "sriovctl wait-online" sriovctl wait-online --timeout=60
VF0=$(basename "$(vf_dev 0 0)") VF1=$(basename "$(vf_dev 0 1)")
for v in "$VF0" "$VF1"; do
        wait_for 30 "$v on vfio-pci" bash -c "[ \"\$(basename \$(readlink /sys/bus/pci/devices/$v/driver))\" == vfio-pci ]"
done
GROUP0=$(vfio_group "$VF0")
NAME0=${VF0//:/-}
allocated() { [ "$(vf_prop "$1" Allocated)" == "$2" ]; }
vf_of_owner() { sriovctl --json vfs | jq -r --arg o "$1" '.[] | select(.Owner == $o) | .PCIAddress'; }

# A rootfs from busybox-static: what `podman run --rootfs` needs, nothing from a registry.
R=/var/tmp/ctr-rootfs
mkdir -p $R/bin $R/dev $R/proc $R/sys $R/etc
cp /bin/busybox $R/bin/busybox
for t in sh ls env cat true; do ln -sf busybox $R/bin/$t; done

# --- the documented flow: the lease is bound to the shell that becomes podman ----------------
t=$(now_us)
out=$(sh -c 'dev=$(sriovctl allocate ctr --owner podman:web --pci="$1" --bind-pid=$$ --cdi) || exit 1
        echo "CDI $dev"
        exec podman run --rm --network none --device "$dev" --rootfs "$2" /bin/sh -c "ls /dev/vfio; env"' \
        _ "$VF0" "$R" 2>&1)
rc=$?
say "podman run took $(secs_since "$t")s, rc $rc; output:"
sed 's/^/    /' <<<"$out"
check_eq "podman run with the leased VF exits 0" 0 "$rc"
check "sriovctl --cdi printed the CDI device" grep -qx "CDI sriovd.io/vf=$NAME0" <<<"$out"
check "the container sees the VF's group ${GROUP0##*/} in /dev/vfio" grep -qx "${GROUP0##*/}" <<<"$out"
check "the container sees /dev/vfio/vfio" grep -qx vfio <<<"$out"
check "the container's env names the VF" grep -qx "SRIOVD_VF_PCI=$VF0" <<<"$out"
check "the container's env names the group" grep -qx "SRIOVD_VF_VFIO_GROUP=$GROUP0" <<<"$out"
# podman (the bound process) exited: the lease ends with it, and the CDI spec with the lease.
wait_for 20 "lease of $VF0 ended with the podman process" allocated "$VF0" false
wait_for 10 "CDI spec of $VF0 removed" test ! -e "/run/cdi/sriovd-vf-$NAME0.json"
out=$(podman run --rm --network none --device "sriovd.io/vf=$NAME0" --rootfs "$R" /bin/true 2>&1); rc=$?
say "podman run after release: rc $rc: $out"
check "podman refuses the name once the lease is gone" [ "$rc" -ne 0 ]
check "podman says the CDI device is unresolvable" grep -qi "cdi" <<<"$out"

# --- a VF another consumer holds: no CDI name for podman -------------------------------------
VM1=$(busctl call $SRIOVD_M Allocate 'ssa{sv}' ctr libvirt:vm1 1 pci s "$VF1" | sed -n 's/^o "\(.*\)"$/\1/p')
check_eq "libvirt:vm1 holds $VF1" libvirt:vm1 "$(vf_prop "$VF1" Owner)"
out=$(sh -c 'dev=$(sriovctl allocate ctr --owner podman:db --pci="$1" --bind-pid=$$ --cdi) || exit 7
        exec podman run --rm --network none --device "$dev" --rootfs "$2" /bin/true' _ "$VF1" "$R" 2>&1)
rc=$?
say "podman flow for $VF1: rc $rc: $out"
check_eq "the podman flow stops at allocate" 7 "$rc"
check "the refusal names the holder" grep -q "leased to 'libvirt:vm1'" <<<"$out"
check_eq "$VF1 still libvirt:vm1's" libvirt:vm1 "$(vf_prop "$VF1" Owner)"
busctl call $SRIOVD_M Release os "$VM1" libvirt:vm1

# --- liveness on the real systemd: unit and pidfd, across a restart --------------------------
# Another user's process (sriovd reads its start time despite ProtectProc=invisible).
setpriv --reuid=nobody --regid=nogroup --clear-groups sleep infinity &
Q=$!
wait_for 10 "pid $Q runs as nobody" bash -c "[ \"\$(ps -o user= -p $Q | tr -d ' ')\" == nobody ]"
check "allocate bound to nobody's process $Q" sriovctl allocate ctr --owner podman:q --pci="$VF0" --bind-pid=$Q
check_eq "podman:q holds $VF0" podman:q "$(vf_prop "$VF0" Owner)"
kill $Q
wait_for 20 "lease bound to nobody's process ended when it was killed" allocated "$VF0" false
systemd-run --quiet --unit=lease-a sleep infinity
systemd-run --quiet --unit=lease-b sleep infinity
sleep infinity &
P=$!
check "allocate bound to lease-a.service" sriovctl allocate ctr --owner podman:a --pci="$VF0" --bind-unit=lease-a.service
check "allocate bound to pid $P" sriovctl allocate ctr --owner podman:p --pci="$VF1" --bind-pid=$P
check "allocate bound to lease-b.service" sriovctl allocate ctr --owner podman:b --bind-unit=lease-b.service
B=$(vf_of_owner podman:b)
out=$(sriovctl allocate ctr --owner podman:x --bind-unit=no-such.service 2>&1)
say "bound to a unit that does not run: $out"
check "a unit that does not run gets no lease" grep -q "not running" <<<"$out"
# sriovd goes down; lease-b stops meanwhile: that lease ends at start, the others stay.
systemctl stop sriovd.service
systemctl stop lease-b.service
t=$(now_us)
check "start sriovd again" systemctl start sriovd.service
say "sriovd back (READY=1) in $(secs_since "$t")s"
wait_for 20 "lease of a unit stopped while sriovd was down ended at start" allocated "$B" false
check_eq "unit-bound lease kept across the restart" podman:a "$(vf_prop "$VF0" Owner)"
check_eq "pid-bound lease kept across the restart" podman:p "$(vf_prop "$VF1" Owner)"
systemctl stop lease-a.service
wait_for 20 "lease bound to lease-a.service ended when it stopped" allocated "$VF0" false
kill -9 $P
wait $P 2>/dev/null
wait_for 20 "lease bound to pid $P ended at kill -9" allocated "$VF1" false
check "sriovd alive" sriovd_alive
journalctl -u sriovd --no-pager -o cat | grep -E "released|bound" | sed 's/^/    /'
finish
