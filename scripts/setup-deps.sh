#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs every build and test dependency of sriovd from Debian 12 packages.
# Usage: scripts/setup-deps.sh [--vm]   (--vm adds what the QEMU tier needs)
set -euo pipefail

want_vm=0
for a in "$@"; do
        case "$a" in
        --vm) want_vm=1 ;;
        *) echo "usage: $0 [--vm]" >&2; exit 2 ;;
        esac
done

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

pkgs=(
        meson ninja-build pkg-config gcc clang clang-format libclang-rt-14-dev
        libsystemd-dev libudev-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
        libpci-dev pci.ids libconfig-dev libibverbs-dev libxml2-dev
        libslurm-dev # slurm/spank.h: the SPANK plugin (slurm/)
        umockdev libumockdev-dev dbus iproute2 pciutils python3 jq
        python3-gi gir1.2-glib-2.0 libxml2-utils scdoc bash-completion
        debhelper dpkg-dev fakeroot lintian
        systemd # busctl: the D-Bus tests drive the API with it
)

missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$want_vm" -eq 1 ]; then
        exec "$(dirname "$0")/../tests/vm/setup-host.sh"
fi
