#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 3 scenario b: QMP hot-plug. An igb added on a free root port after sriovd started
# is configured with no admin action; device_del drops its VFs from sriovd's state with
# the daemon healthy; re-adding configures it again, with the same stable MACs.
# Issue 14 target 1: sriovd hears of the hot PF from the kernel's bind uevent. While a udev
# rule holds udevd on the PF's PCI "add" (so udevd has passed on nothing about the PF and
# has not named its netdev), a drop-in that matches by PCI address already gets its VFs;
# one that matches by interface name waits for udevd's name. Neither state goes back
# through configuring once configured.
# vm-args: --pfs 1 --hotplug-ports 1
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0)
HP=$(pf_pci 1)            # the hot-plug port hp0 is the bus after the last PF
mkdir -p /etc/sriov.d
write_conf() { # MATCH: the hot PF's match clause
        cat >/etc/sriov.d/50-hotplug.conf <<CONF
physical_functions = (
  {
    match = { pci = "$(pf_pci 0)"; };
    num_vfs = 2;
  },
  {
    match = { $1 };
    num_vfs = 3;
    vfs = ( { range = "0-2"; pool = "hot"; mac = "stable"; vlan = 300; trust = true; } );
  }
);
CONF
}
write_conf "pci = \"$HP\";"
# The hold: udevd runs this PROGRAM while processing the hot PF's PCI "add"; the PF's
# netdev "add" (its child) and the PF's "bind" wait behind it in udevd's queue, while the
# kernel probes igb regardless. It ends when the scenario writes to the FIFO (or after 60 s).
mkfifo /run/hold-udevd
printf '#!/bin/sh\nexec timeout 60 sh -c "read x </run/hold-udevd"\n' >/usr/local/sbin/hold-udevd
chmod +x /usr/local/sbin/hold-udevd
echo "ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"$HP\", PROGRAM=\"/usr/local/sbin/hold-udevd\"" \
        >/etc/udev/rules.d/10-sriovd-test-hold.rules
install_sriovd            # reloads udevd's rules too
start_sriovd
wait_for 60 "PF0 has 2 VFs" numvfs_is 0 2
check "sriovctl wait-online" sriovctl wait-online --timeout=60
pid=$(sriovd_pid)
hp_netdev() { netdev_of "/sys/bus/pci/devices/$HP"; }
hp_vfs() { sriovctl --json vfs | jq --arg p "$HP" '[.[] | select(.PCIAddress | startswith($p[0:8]))] | length'; }
hp_macs() { ip -d -j link show dev "$(hp_netdev)" | jq -r '.[0].vfinfo_list[].address' | tr '\n' ' '; }
hp_numvfs() { cat "/sys/bus/pci/devices/$HP/sriov_numvfs" 2>/dev/null; }
hp_vfs_set() { # the kernel's VF table: 3 VFs with vlan 300 and trust
        [ "$(hp_numvfs)" == 3 ] &&
                [ "$(ip -d -j link show dev "$(hp_netdev)" | jq '[.[0].vfinfo_list[] | select(.vlan_list[0].vlan == 300 and .trust == true)] | length')" == 3 ]
}
hp_ready() { hp_vfs_set && [ "$(pf_prop "$HP" State)" == configured ]; }
renamed() { [ "$(hp_netdev)" != "$kname" ]; }
held() { pgrep -f "read x </run/hold-udevd" >/dev/null; }
release() { timeout 10 sh -c 'echo go >/run/hold-udevd'; }
journal_has() { journalctl -q -u sriovd.service --since "@$1" -g "$2" >/dev/null 2>&1; }
# configured once, last: udevd's later events for the PF did not send it back to work.
configured_once() { [ "$(states | grep -o configured | wc -l)" == 1 ] && [[ "$(states)" == *"configured " ]]; }
# sriovd's D-Bus announcements of the hot PF's State, in order, from `sriovctl monitor`.
systemd-run -q --unit=hp-monitor -p StandardOutput=file:/run/hp-monitor.log sriovctl monitor
states() { sed -n "s/^pf $HP:.*State=\([a-z]*\).*/\1/p" /run/hp-monitor.log | uniq | tr '\n' ' '; }

for round in 1 2; do
        t=$(now_us) since=$(($(date +%s) - 1))
        : >/run/hp-monitor.log
        check "round $round: device_add igb on hp0" vmctl device_add igb,id=hotpf,bus=hp0,netdev=hpnet0
        wait_for 60 "round $round: udevd holds the hot PF's PCI add" held
        if [ $round == 1 ]; then
                # By PCI address: not waiting for udevd.
                wait_for 50 "round 1: sriovd set the 3 VFs (vlan 300, trust) while udevd still holds the PF" hp_vfs_set
                check "round 1: udevd was still holding the PF then" held
                check "round 1: sriovd says it heard the PF from the kernel" \
                        journal_has "$since" "PF $HP bound, declared by .*: not waiting for udevd"
                say "round 1: VFs set $(secs_since "$t")s after device_add, udevd still held"
        else
                # By interface name: sriovd heard the bind and waits for udevd's name.
                wait_for 50 "round 2: sriovd heard the PF from the kernel and waits for udevd" \
                        journal_has "$since" "PF $HP bound; a declaration may match on its interface name"
                check_eq "round 2: no VF while udevd holds the PF's name" 0 "$(hp_numvfs)"
                check "round 2: udevd was still holding the PF then" held
        fi
        kname=$(hp_netdev)
        check "round $round: the PF's netdev still has the kernel's name ($kname)" [ -n "$kname" -a "${kname#eth}" != "$kname" ]
        check "round $round: release udevd" release
        wait_for 90 "round $round: hot-plugged PF $HP configured (3 VFs, vlan 300, trust) by sriovd" hp_ready
        say "round $round: configured $(secs_since "$t")s after device_add"
        check_eq "round $round: sriovd lists the 3 hot VFs" 3 "$(hp_vfs)"
        wait_for 30 "round $round: udevd renamed the PF's netdev (from $kname)" renamed
        name=$(hp_netdev)
        wait_for 30 "round $round: sriovd shows udevd's name for the PF" \
                bash -c "[ \"\$(sriovctl --json list | jq -r --arg p '$HP' '.[] | select(.PCIAddress == \$p) | .Interface')\" == '$name' ]"
        # udevd's events for the PF (its name, its bind) came after the early start: they must
        # not send it back through pending/configuring.
        check "round $round: the PF's states on D-Bus end at one configured: $(states)" configured_once
        macs[$round]=$(hp_macs)
        say "round $round: VF MACs ${macs[$round]}"
        show_state "$name"
        if [ $round == 1 ]; then
                # Round 2 matches on the name udevd gave (the same port gets the same name).
                write_conf "interface = \"$name\";"
                check "reload with the hot PF matched by name" systemctl reload sriovd
        fi

        t=$(now_us)
        check "round $round: device_del (QEMU reports DEVICE_DELETED)" vmctl device_del hotpf
        check "round $round: PF gone from sysfs" [ ! -e "/sys/bus/pci/devices/$HP" ]
        wait_for 30 "round $round: its VFs left sriovd's state" bash -c "[ \"\$(sriovctl --json vfs | jq --arg p '${HP:0:8}' '[.[] | select(.PCIAddress | startswith(\$p))] | length')\" == 0 ]"
        wait_for 30 "round $round: the PF left sriovd's state" bash -c "! sriovctl --json list | jq -e --arg p '$HP' '.[] | select(.PCIAddress == \$p)' >/dev/null"
        say "round $round: removed from sriovd $(secs_since "$t")s after device_del"
        check "round $round: sriovd healthy" sriovd_alive
        check_eq "round $round: sriovd not restarted" "$pid" "$(sriovd_pid)"
        check_eq "round $round: PF0 still has 2 VFs" 2 "$(cat "$(pf_dev 0)/sriov_numvfs")"
        check_eq "round $round: PF0 State" configured "$(pf_prop "$(pf_pci 0)" State)"
done
systemctl stop hp-monitor.service
check_eq "stable MACs identical after re-add" "${macs[1]}" "${macs[2]}"
finish
