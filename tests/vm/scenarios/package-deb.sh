#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 15: the Debian package, installed as an admin would (dpkg -i of the .deb built on
# the host by run-vm.sh): the postinst enables and starts sriovd, the bus and udev pick up
# its files, the man pages and the completion work; then `dpkg --purge` leaves nothing of
# the package behind but the administrator's own drop-in.
# vm-args: --pfs 1 --hotplug-ports 0
# vm-needs: deb
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0)
ip link set dev "$PF0" up

# The admin's drop-in, before the package: its postinst starts sriovd.
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-deb.conf <<CONF
physical_functions = ( { match = { pci = "$(pf_pci 0)"; }; num_vfs = 2;
                         vfs = ( { range = "0-1"; pool = "deb"; } ); } );
CONF
activatable() {
        busctl --json=short call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                ListActivatableNames | jq -e '.data[0] | index("org.sriovd1")' >/dev/null
}
not_activatable() { ! activatable; }
check "org.sriovd1 not activatable before the package" not_activatable

install_sriovd_deb
version=$(dpkg-query -W -f '${Version}' sriovd)
check_eq "package installed" "install ok installed" "$(dpkg-query -W -f '${Status}' sriovd)"
check_eq "sriovd.service enabled by postinst" enabled "$(systemctl is-enabled sriovd.service)"
check "systemctl status sriovd (active)" systemctl status --no-pager --lines=0 sriovd
check "sriovctl wait-online" sriovctl wait-online --timeout=90
check_eq "PF0 has the drop-in's 2 VFs" 2 "$(cat "$(pf_dev 0)/sriov_numvfs")"
check_eq "sriovctl --version is the package's" "sriovctl $version" "$(sriovctl --version)"
check_eq "sriovd --version is the package's" "sriovd $version" "$(/usr/libexec/sriovd --version)"
# The bus reloaded its configuration (dbus's file trigger): the activation file is known.
check "org.sriovd1 activatable (bus reloaded by the trigger)" activatable
check_eq "udev rule installed" /lib/udev/rules.d/70-sriovd.rules "$(dpkg -L sriovd | grep 'rules.d/70-sriovd.rules$')"

# Man pages.
check_eq "man -w sriovctl" /usr/share/man/man1/sriovctl.1.gz "$(man -w sriovctl)"
for p in 8:sriovd 5:sriov.d 5:org.sriovd1; do
        check "man -w ${p#*:}(${p%%:*})" test -e "$(man -w "${p%%:*}" "${p#*:}")"
done
# `man sriov.d` shows every key of the parser's tables (daemon/config-keys.c, and daemon/vf-attr.c
# for the per-VF keys, under "vfs"), each as an entry.
keys="$(sed -n '/config_keys\[\] = {/,/^};/p' "$VM_SRCDIR/daemon/config-keys.c" | sed -n 's/.*{"[^"]*", "[^"]*", "\([^"]*\)"}.*/\1/p')
$(grep -oE '\{"[a-z_]+", VF_ATTR_CONFIG_' "$VM_SRCDIR/daemon/vf-attr.c" | sed -E 's/\{"([a-z_]+)".*/vfs.\1/')"
page=$(MANWIDTH=120 man -E ascii -P cat sriov.d 2>/dev/null | sed 's/.\x08//g')
n=0 missing=
for k in $keys; do
        n=$((n + 1))
        grep -qE "^ +$(printf '%s' "$k" | sed 's/\./\\./g')\$" <<<"$page" || missing+=" $k"
done
check "config key table read ($n keys)" test "$n" -ge 20
check_eq "keys missing from man sriov.d" "" "$missing"

# Bash completion, installed and answering with the daemon's live pools.
check_eq "bash completion: sriovctl vfs --pool=" deb "$(bash -c '
        source /usr/share/bash-completion/completions/sriovctl
        COMP_WORDS=(sriovctl vfs --pool = ""); COMP_CWORD=4; _sriovctl; echo "${COMPREPLY[*]}"')"

# Some state: a lease on disk, then purge.
check "allocate (a lease in the state directory)" sriovctl allocate deb --owner=deb-test
check "lease store exists" test -d /var/lib/sriovd
files=$(dpkg -L sriovd)
say "dpkg --purge sriovd"
dpkg --purge sriovd >/tmp/dpkg-purge.log 2>&1 || { cat /tmp/dpkg-purge.log; say "FAIL dpkg --purge"; VM_FAILS=$((VM_FAILS + 1)); }
check_eq "package gone" "" "$(dpkg-query -W -f '${Status}' sriovd 2>/dev/null)"
check_eq "sriovd stopped" inactive "$(systemctl is-active sriovd.service)"
left=
for f in $files; do
        [ -d "$f" ] && continue                 # shared directories (/usr/share/man, ...)
        [ -e "$f" ] || [ -L "$f" ] && left+=" $f"
done
check_eq "package files left after purge" "" "$left"
# (sriovd-vm-boot.service is the test harness's own unit, not the package's.)
left=$(ls -d /var/lib/sriovd /var/lib/private/sriovd /etc/systemd/system/*/sriovd.service \
        /etc/systemd/system/*/sriovd-wait-online.service /etc/systemd/system/dbus-org.sriovd1.service \
        /var/lib/systemd/deb-systemd-helper-enabled/{,*/}{sriovd.service,sriovd-wait-online.service,dbus-org.sriovd1.service}* \
        2>/dev/null | tr '\n' ' ')
check_eq "state, enablement symlinks left after purge" "" "$left"
check "org.sriovd1 no longer activatable (bus reloaded)" not_activatable
# What Debian policy keeps: files the administrator created.
check "the admin's drop-in is kept" test -f /etc/sriov.d/50-deb.conf
check_eq "nothing else in /etc/sriov.d" 50-deb.conf "$(ls /etc/sriov.d)"
finish
