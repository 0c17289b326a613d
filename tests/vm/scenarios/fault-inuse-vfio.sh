#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 11 fault matrix, in-use fails closed on the real kernel: a VF bound to vfio-pci whose
# group node /dev/vfio/N belongs to an unprivileged user (nobody) who holds it open, as a
# non-root VMM does, survives a num_vfs decrease. sriovd runs without CAP_DAC_OVERRIDE, so
# it cannot open that node itself: "cannot tell" must read as "in use" (PF blocked, the
# reason in LastError), never as "free" (the VF destroyed under the running VM). Once the
# holder exits and the node is root's again, a Reload lets the count change proceed.
# vm-args: --pfs 1 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0) PCI0=$(pf_pci 0)
conf() {
        mkdir -p /etc/sriov.d
        cat >/etc/sriov.d/50-inuse.conf <<CONF
physical_functions = (
  { match = { pci = "$PCI0"; }; num_vfs = $1;
    vfs = ( { range = "0-$(($1 - 1))"; pool = "vm"; driver = "vfio-pci"; } ); }
);
CONF
}
conf 2
install_sriovd
# systemd resolves the unit's DeviceAllow=char-vfio through /proc/devices when sriovd starts:
# whether the vfio module was loaded then decides whether sriovd may open /dev/vfio/N.
say "vfio char major before sriovd starts: $(awk '$2 == "vfio" {print $1}' /proc/devices)"
start_sriovd
check "sriovctl wait-online" sriovctl wait-online --timeout=60
VF1=$(basename "$(vf_dev 0 1)")
wait_for 30 "VF1 $VF1 on vfio-pci" bash -c "[ \"\$(basename \$(readlink /sys/bus/pci/devices/$VF1/driver))\" == vfio-pci ]"
GROUP=$(vfio_group "$VF1")
chown nobody:nogroup "$GROUP"
chmod 0600 "$GROUP"
say "$GROUP: $(stat -c '%U:%G %a' "$GROUP")"
HOLDER=$(vfio_hold "$GROUP" nobody) || die "nobody cannot hold $GROUP open"
check_eq "the holder runs as nobody" nobody "$(ps -o user= -p "$HOLDER" | tr -d ' ')"
check "/proc/$HOLDER/fd/3 is $GROUP" holds "$HOLDER" "$GROUP"
ls -l "/proc/$HOLDER/fd/" | sed 's/^/    /'
# What sriovd meets: root without CAP_DAC_OVERRIDE cannot open a node owned by nobody 0600.
o=$(setpriv --inh-caps=-all --bounding-set=-dac_override,-dac_read_search bash -c "exec 3<>$GROUP" 2>&1)
say "open($GROUP) without CAP_DAC_OVERRIDE: ${o:-succeeded}"

# The decrease: 2 -> 1 would go through 0 and destroy VF1.
conf 1
t=$(now_us)
check "Reload" busctl call $SRIOVD_M Reload
wait_for 30 "PF blocked" pf_state_is "$PCI0" blocked
err=$(pf_prop "$PCI0" LastError)
say "PF State $(pf_prop "$PCI0" State) after $(secs_since "$t")s, LastError: $err"
check "LastError names the held VF $VF1" grep -q "$VF1" <<<"$err"
check_eq "sriov_numvfs unchanged" 2 "$(cat "$(pf_dev 0)/sriov_numvfs")"
check "VF1 still exists" test -e "/sys/bus/pci/devices/$VF1"
check_eq "VF1 still on vfio-pci" vfio-pci "$(drv_of "/sys/bus/pci/devices/$VF1")"
check "the holder still holds $GROUP" holds "$HOLDER" "$GROUP"
check "sriovd alive" sriovd_alive

# The VMM goes away and hands the node back, as libvirt's DAC driver restores the owner
# when a domain stops (a node still owned by another user reads as claimed: in use).
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
chown root:root "$GROUP"
check "Reload after the holder exited" busctl call $SRIOVD_M Reload
if ! wait_for 60 "sriov_numvfs 2 -> 1" numvfs_is 0 1; then
        say "PF: $(pf_prop "$PCI0" State): $(pf_prop "$PCI0" LastError)"
        say "vfio char major now: $(awk '$2 == "vfio" {print $1}' /proc/devices); diagnosis: restart sriovd and Reload"
        systemctl restart sriovd.service
        busctl call $SRIOVD_M Reload
        wait_for 60 "(diagnosis, counted) after a restart of sriovd: sriov_numvfs 2 -> 1" numvfs_is 0 1
fi
wait_for 60 "PF configured" pf_state_is "$PCI0" configured
show_state "$PF0"
finish
