#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 13: libvirt takes its VFs through sriovd. libvirtd 9.0 with sriovd's hook linked into
# /etc/libvirt/hooks/network.d/ (docs/integrations.md) and the hostdev network printed by
# `sriovctl libvirt-network vm`. Network ports, not a domain start: a domain would need QEMU
# inside this TCG guest; a port makes libvirt pick a VF from the network's pool and run the
# same hook (port-created / port-deleted) that a domain's <interface type='network'> does.
#  - a port's VF is leased on the bus to libvirt:<port uuid> while the port exists;
#  - a VF another consumer (slurm:42) holds makes `virsh net-port-create` fail with the
#    holder's name, every time: libvirt does not skip to the next VF, it offers the first it
#    counts as unused, and the hook refuses it; the holder keeps its lease;
#  - once the holder lets go, the same request succeeds; net-port-delete releases;
#  - a network restarted under a port (libvirt drops the port silently) gives its lease back.
# The qemu hook (qemu.d/) is run once as libvirt runs it, with a domain XML on stdin, since
# libvirtd cannot start a domain here.
# vm-args: --pfs 1 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0)
ip link set dev "$PF0" up
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-libvirt.conf <<CONF
physical_functions = ( { match = { pci = "$(pf_pci 0)"; }; num_vfs = 3;
  vfs = ( { range = "0-2"; pool = "vm"; } ); } );
CONF
install_sriovd
HOOK=/usr/libexec/sriovd-libvirt-hook
check "the hook is installed at $HOOK" test -x "$HOOK"
start_sriovd
wait_for 60 "PF0 has 3 VFs" numvfs_is 0 3
sriovctl wait-online --timeout=60 || say "wait-online failed"
VF0=$(basename "$(vf_dev 0 0)") VF1=$(basename "$(vf_dev 0 1)") VF2=$(basename "$(vf_dev 0 2)")
say "pool vm: $VF0 $VF1 $VF2"

# The admin's steps (docs/integrations.md): link the hook, (re)start libvirtd, define the
# network from the pool.
mkdir -p /etc/libvirt/hooks/network.d /etc/libvirt/hooks/qemu.d
ln -s "$HOOK" /etc/libvirt/hooks/network.d/50-sriovd
ln -s "$HOOK" /etc/libvirt/hooks/qemu.d/50-sriovd
t=$(now_us)
systemctl start libvirtd.service || { journalctl -u libvirtd --no-pager | tail -n 30; die "libvirtd did not start"; }
say "libvirtd started in $(secs_since "$t")s"
V="virsh -q -c qemu:///system"
$V version >/dev/null 2>&1 || V="virsh -q -c network:///system"
sriovctl libvirt-network vm >/tmp/net.xml || die "sriovctl libvirt-network failed"
cat /tmp/net.xml
check_eq "the network lists the pool's 3 VFs" 3 "$(grep -c "<address type='pci'" /tmp/net.xml)"
$V net-define /tmp/net.xml >/dev/null || die "virsh net-define failed"
$V net-start sriovd-vm >/dev/null || die "virsh net-start failed"

# A port as a domain's <interface type='network'> asks for one: no <plug>, libvirt picks.
port_xml() {
        cat <<XML
<networkport>
  <uuid>$1</uuid>
  <owner><name>guest-$1</name><uuid>$(cat /proc/sys/kernel/random/uuid)</uuid></owner>
  <mac address='52:54:00:00:00:0$2'/>
</networkport>
XML
}
owner_of() { vf_prop "$1" Owner; }
port_vf() { $V net-port-dumpxml sriovd-vm "$1" | sed -n "s/.*<address .*bus='0x\([0-9a-f]*\)' slot='0x\([0-9a-f]*\)' function='0x\([0-9a-f]\)'.*/0000:\1:\2.\3/p"; }
vf_path() { busctl call org.sriovd1 /org/sriovd1 org.sriovd1.Manager ListVirtualFunctions s vm --json=short | jq -r --arg p "$1" '.data[0][] | select(.[1] == $p) | .[0]'; }
bus_owner() { busctl get-property org.sriovd1 "$(vf_path "$1")" org.sriovd1.VirtualFunction Owner | sed 's/^s "//; s/"$//'; }
PA=$(cat /proc/sys/kernel/random/uuid) PB=$(cat /proc/sys/kernel/random/uuid)

# --- a port takes its VF through sriovd ----------------------------------------------------
port_xml "$PA" 1 >/tmp/pa.xml
t=$(now_us)
check "net-port-create A" $V net-port-create sriovd-vm /tmp/pa.xml
say "port A created in $(secs_since "$t")s"
A_VF=$(port_vf "$PA")
check_eq "libvirt gave port A the network's first VF" "$VF0" "$A_VF"
check_eq "on D-Bus, $VF0's Owner is libvirt:<port A uuid>" "libvirt:$PA" "$(bus_owner "$VF0")"
check_eq "sriovctl shows it allocated" true "$(vf_prop "$VF0" Allocated)"

# --- a VF another consumer holds is refused --------------------------------------------------
sriovctl allocate vm --owner slurm:42 --pci "$VF1" || die "cannot lease $VF1 to slurm:42"
port_xml "$PB" 2 >/tmp/pb.xml
for attempt in 1 2; do
        if out=$($V net-port-create sriovd-vm /tmp/pb.xml 2>&1); then
                say "FAIL attempt $attempt: net-port-create B succeeded while $VF1 is leased: $out"
                VM_FAILS=$((VM_FAILS + 1))
        else
                say "attempt $attempt refused: $out"
                check "attempt $attempt: libvirt's error names the VF and its holder" \
                        grep -q "VF $VF1 (pool 'vm') is leased to 'slurm:42'" <<<"$out"
        fi
done
check_eq "no port B in libvirt" "" "$($V net-port-list sriovd-vm | grep "$PB")"
check_eq "$VF1 stays with slurm:42" slurm:42 "$(owner_of "$VF1")"
check_eq "no lease for port B" '{"Released":0}' "$(sriovctl --json release --all --owner "libvirt:$PB")"
check_eq "$VF2 untouched (libvirt does not skip to it)" false "$(vf_prop "$VF2" Allocated)"

# --- the holder lets go: the same request now succeeds ---------------------------------------
sriovctl release "$VF1" --owner slurm:42
check "net-port-create B once $VF1 is free" $V net-port-create sriovd-vm /tmp/pb.xml
check_eq "port B got $VF1" "$VF1" "$(port_vf "$PB")"
check_eq "on D-Bus, $VF1's Owner is libvirt:<port B uuid>" "libvirt:$PB" "$(bus_owner "$VF1")"

# --- ports go, leases go -----------------------------------------------------------------------
check "net-port-delete A" $V net-port-delete sriovd-vm "$PA"
check_eq "$VF0 released with port A" false "$(vf_prop "$VF0" Allocated)"
check_eq "$VF1 still port B's" "libvirt:$PB" "$(owner_of "$VF1")"
check "net-port-delete B" $V net-port-delete sriovd-vm "$PB"
check_eq "$VF1 released with port B" false "$(vf_prop "$VF1" Allocated)"
check_eq "pool vm all free" 3 "$(sriovctl --json pools | jq '.[] | select(.Name == "vm") | .Free')"

# --- a network restarted under a port: libvirt forgets the port (no port-deleted), the
# start hook gives its lease back (after a reboot the same happens at autostart) ----------
PC=$(cat /proc/sys/kernel/random/uuid)
port_xml "$PC" 3 >/tmp/pc.xml
check "net-port-create C" $V net-port-create sriovd-vm /tmp/pc.xml
check_eq "$VF0 is port C's" "libvirt:$PC" "$(owner_of "$VF0")"
check "net-destroy with port C in place" $V net-destroy sriovd-vm
check "net-start" $V net-start sriovd-vm
check_eq "libvirt has no port after the restart" "" "$($V net-port-list sriovd-vm)"
check_eq "$VF0's lease of the forgotten port C is released" false "$(vf_prop "$VF0" Allocated)"

# --- the qemu hook, run as libvirtd runs it (a domain cannot start in this guest) ----------------
addr() { local b=${1#*:}; printf "<address type='pci' domain='0x%s' bus='0x%s' slot='0x%s' function='0x%s'/>" \
        "${1%%:*}" "${b%%:*}" "$(cut -d: -f3 <<<"$1" | cut -d. -f1)" "${1##*.}"; }
DOM=$(cat /proc/sys/kernel/random/uuid)
dom_xml="<domain type='kvm'><name>g</name><uuid>$DOM</uuid><devices><hostdev mode='subsystem' type='pci' managed='yes'><source>$(addr "$VF2")</source></hostdev></devices></domain>"
sriovctl allocate vm --owner podman:web --pci "$VF2" >/dev/null
if out=$(/etc/libvirt/hooks/qemu.d/50-sriovd g prepare begin - <<<"$dom_xml" 2>&1); then
        say "FAIL qemu prepare took $VF2 from podman:web"; VM_FAILS=$((VM_FAILS + 1))
else
        check "qemu prepare refused: $out" grep -q "leased to 'podman:web'" <<<"$out"
fi
sriovctl release "$VF2" --owner podman:web
check "qemu prepare with $VF2 free" /etc/libvirt/hooks/qemu.d/50-sriovd g prepare begin - <<<"$dom_xml"
check_eq "$VF2 leased to libvirt:<domain uuid>" "libvirt:$DOM" "$(owner_of "$VF2")"
check "qemu release" /etc/libvirt/hooks/qemu.d/50-sriovd g release end - <<<"$dom_xml"
check_eq "$VF2 released" false "$(vf_prop "$VF2" Allocated)"

check "sriovd still running" sriovd_alive
check "libvirtd still running" systemctl is-active --quiet libvirtd.service
finish
