#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what the real-kernel VM tier needs on a Debian 12 host. Idempotent.
# QEMU >= 8 (for the igb SR-IOV device) only exists in bookworm-backports, so that
# suite is added as a source and QEMU is pinned to it; nothing else comes from it.
# Kernel packages for the guest are NOT installed here: build-images.sh downloads and
# unpacks them into the build directory's cache.
set -euo pipefail

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends)

need_update=0
bp_list=/etc/apt/sources.list.d/sriovd-vm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        $SUDO tee "$bp_list" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
        need_update=1
fi

# Everything but QEMU comes from bookworm proper.
pkgs=(
        debootstrap busybox-static cpio e2fsprogs python3 kmod zstd xz-utils
        dwarves gcc make bc flex bison libelf-dev libssl-dev
        dpkg-dev apt-utils ca-certificates
)
bp_pkgs=(qemu-system-x86 qemu-utils)

missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

qemu_ok=0
if command -v qemu-system-x86_64 >/dev/null; then
        v=$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -n1)
        [ "${v:-0}" -ge 8 ] && qemu_ok=1
fi

if [ "${#missing[@]}" -gt 0 ] || [ "$qemu_ok" -eq 0 ]; then
        need_update=1
fi
# The guest kernel is looked up with apt-cache by build-images.sh: lists must be fresh.
if [ "$need_update" -eq 1 ] || [ -z "$(apt-cache policy linux-source-6.12 2>/dev/null | sed -n 's/ *Candidate: //p' | grep -v none)" ]; then
        $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
fi
if [ "${#missing[@]}" -gt 0 ]; then
        $SUDO apt-get install "${APT_OPTS[@]}" "${missing[@]}"
fi
if [ "$qemu_ok" -eq 0 ]; then
        $SUDO apt-get install "${APT_OPTS[@]}" -t bookworm-backports "${bp_pkgs[@]}"
fi

qemu-system-x86_64 --version | head -n1
qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"' || {
        echo "setup-host: qemu-system-x86_64 has no igb device (need QEMU >= 8)" >&2
        exit 1
}
echo "setup-host: VM tier dependencies present"
