#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds (or reuses) everything the VM tier boots, in a cache directory:
#   kernel-<kabi>/   Debian guest kernel + modules, unpacked (never installed on the host),
#                    and netdevsim.ko built out of tree against the same headers
#   initrd-<key>.img tiny busybox initrd: loads virtio_blk/ext4/9p, mounts /dev/vda, switch_root
#   rootfs-<key>.ext4 debootstrap'd bookworm with systemd, udev, dbus, rdma-core, the runtime
#                    libraries sriovd links, and the guest kernel's modules
#   current.env      paths of the above, read by vm.py
# Every artefact is keyed on its inputs (package versions, this script and image/*), so a
# second run is a cache hit. Usage: build-images.sh CACHE_DIR
set -euo pipefail

cache=${1:?usage: build-images.sh CACHE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
mirror=${SRIOVD_VM_MIRROR:-http://deb.debian.org/debian}
t0=$(date +%s.%N)
log() { printf 'build-images: %s\n' "$*" >&2; }
elapsed() { printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)"; }

# Only one builder at a time per cache (meson may start several VM tests).
exec 9>"$cache/.lock"
flock 9

command -v qemu-system-x86_64 >/dev/null && command -v debootstrap >/dev/null \
        && command -v pahole >/dev/null && command -v busybox >/dev/null || {
        log "missing host tools: run scripts/setup-deps.sh --vm (tests/vm/setup-host.sh)"
        exit 1
}

# --- which kernel ------------------------------------------------------------------
# The newest bookworm 6.12 kernel (bookworm-security), found through the meta package.
if [ -n "${SRIOVD_VM_KERNEL:-}" ]; then
        kabi=$SRIOVD_VM_KERNEL
else
        kabi=$(apt-cache depends linux-image-6.12-amd64 2>/dev/null \
                | sed -n 's/^ *Depends: linux-image-\(6\.12\.[0-9]*+deb12-amd64\)$/\1/p' | head -n1)
fi
if [ -z "$kabi" ]; then
        # No apt lists (offline?): fall back to the newest cached kernel.
        kabi=$(ls -d "$cache"/kernel-6.12.*+deb12-amd64 2>/dev/null | sort -V | tail -n1 | sed 's,.*/kernel-,,')
        [ -n "$kabi" ] || { log "cannot find linux-image-6.12-amd64 with apt-cache (run apt-get update)"; exit 1; }
fi
kflav=${kabi%-amd64}                              # 6.12.117+deb12
kdir=$cache/kernel-$kabi
kroot=$kdir/root

# --- kernel, headers, netdevsim ------------------------------------------------------
if [ ! -e "$kdir/.done" ]; then
        log "fetching kernel $kabi"
        rm -rf "$kdir"; mkdir -p "$kdir/debs" "$kroot"
        kver=$(apt-cache show "linux-image-$kabi" | sed -n 's/^Version: //p' | head -n1)
        (cd "$kdir/debs" && apt-get download -q \
                "linux-image-$kabi" "linux-headers-$kabi" "linux-headers-$kflav-common" \
                "linux-kbuild-$kflav" "linux-source-6.12=$kver" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2)
        for d in "$kdir"/debs/linux-{image,headers,kbuild}-*.deb; do dpkg-deb -x "$d" "$kroot"; done
        # The headers' Makefile includes the -common tree by absolute path: point it here.
        echo "include $kroot/usr/src/linux-headers-$kflav-common/Makefile" \
                >"$kroot/usr/src/linux-headers-$kabi/Makefile"
        log "building netdevsim out of tree"
        dpkg-deb --fsys-tarfile "$kdir"/debs/linux-source-6.12_*.deb \
                | tar -xO ./usr/src/linux-source-6.12.tar.xz \
                | tar -xJ -C "$kdir" linux-source-6.12/drivers/net/netdevsim
        mv "$kdir/linux-source-6.12/drivers/net/netdevsim" "$kdir/netdevsim-src"
        rm -rf "$kdir/linux-source-6.12" "$kdir"/debs/linux-source-6.12_*.deb
        make -s -C "$kroot/usr/src/linux-headers-$kabi" M="$kdir/netdevsim-src" \
                CONFIG_NETDEVSIM=m -j"$(nproc)" modules >&2
        cp "$kdir/netdevsim-src/netdevsim.ko" "$kdir/netdevsim.ko"
        rm -f "$kdir"/debs/*.deb
        touch "$kdir/.done"
        log "kernel ready after $(elapsed)s"
fi
vmlinuz=$kroot/boot/vmlinuz-$kabi
moddir=$kroot/lib/modules/$kabi
# Debian generates modules.dep at install time (postinst): do it for the unpacked tree.
[ -e "$moddir/modules.dep" ] || depmod -b "$kroot" "$kabi"

# --- rootfs key ----------------------------------------------------------------------
rootfs_pkgs=(
        systemd systemd-sysv udev dbus iproute2 pciutils kmod
        rdma-core ibverbs-utils ibverbs-providers jq python3 procps less strace
        libsystemd0 libudev1 libnl-3-200 libnl-route-3-200 libnl-genl-3-200
        libpci3 pci.ids libconfig9 libibverbs1 meson ninja-build
        network-manager libpam-systemd
        man-db
        # Issue 13's consumers, each started by its own scenario (off at boot, below).
        podman crun conmon busybox-static containernetworking-plugins
        libvirt-daemon-system libvirt-clients
        slurmd slurmctld slurm-client munge
)
pkg_versions=$(apt-cache policy "${rootfs_pkgs[@]}" 2>/dev/null | sed -n 's/^ *Candidate: //p' | tr '\n' ' ')
key=$( { cat "$0" "$here"/image/*; echo "$kabi ${rootfs_pkgs[*]} $pkg_versions $mirror"; } \
        | sha256sum | cut -c1-16)
rootfs=$cache/rootfs-$key.ext4
initrd=$cache/initrd-$key.img

# --- initrd: busybox + the modules needed to reach an ext4 root on virtio-blk ---------
if [ ! -e "$initrd" ]; then
        log "building initrd"
        w=$(mktemp -d "$cache/initrd.XXXXXX")
        mkdir -p "$w"/{bin,dev,proc,sys,newroot,lib/modules}
        cp /bin/busybox "$w/bin/busybox"
        # Load order from the real modules.dep (host kmod reads the unpacked tree).
        modprobe -d "$kroot" -S "$kabi" -a --show-depends virtio_blk crc32c_generic ext4 \
                | awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' >"$w/order.full"
        : >"$w/modules.order"
        while read -r m; do
                b=$(basename "$m" .xz)
                xz -dc "$m" >"$w/lib/modules/$b"
                echo "$b" >>"$w/modules.order"
        done <"$w/order.full"
        rm "$w/order.full"
        install -m 0755 "$here/image/initrd-init" "$w/init"
        (cd "$w" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp"
        mv "$initrd.tmp" "$initrd"
        rm -rf "$w"
fi

# --- rootfs --------------------------------------------------------------------------
if [ ! -e "$rootfs" ]; then
        tr=$(date +%s.%N)
        log "debootstrap bookworm rootfs ($key)"
        w=$(mktemp -d "$cache/rootfs.XXXXXX")
        trap 'rm -rf "$w"' EXIT
        debootstrap --variant=minbase --include="$(IFS=,; echo "${rootfs_pkgs[*]}")" \
                bookworm "$w/root" "$mirror" >"$w/debootstrap.log" 2>&1 || {
                tail -n 30 "$w/debootstrap.log" >&2
                tail -n 30 "$w/root/debootstrap/debootstrap.log" >&2 2>/dev/null
                log "debootstrap failed"; exit 1; }
        r=$w/root
        # A fixed machine-id: "stable" VF MACs are derived from it and must not change
        # from one boot to the next.
        echo 5e1a0d5e1a0d4b0b9c0ffee0d15ea5e1 >"$r/etc/machine-id"
        echo sriovd-vm >"$r/etc/hostname"
        echo '/dev/vda / ext4 rw 0 1' >"$r/etc/fstab"
        chroot "$r" passwd -d root >/dev/null
        install -D -m 0755 "$here/image/sriovd-vm-boot" "$r/usr/local/sbin/sriovd-vm-boot"
        install -D -m 0644 "$here/image/sriovd-vm-boot.service" "$r/etc/systemd/system/sriovd-vm-boot.service"
        ln -sf /etc/systemd/system/sriovd-vm-boot.service "$r/etc/systemd/system/multi-user.target.wants/sriovd-vm-boot.service"
        install -D -m 0755 "$here/image/vmctl" "$r/usr/local/bin/vmctl"
        install -D -m 0644 "$here/image/autologin.conf" "$r/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf"
        # Nothing periodic or networked: boots stay short and deterministic.
        for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
                 systemd-timesyncd.service dpkg-db-backup.timer getty@tty1.service man-db.timer; do
                ln -sf /dev/null "$r/etc/systemd/system/$u"
        done
        echo 'kernel.printk = 4 4 1 7' >"$r/etc/sysctl.d/50-quiet.conf"
        # man-db is there for `man` on the installed package's pages; its dpkg trigger
        # would re-index every page under TCG on each install: man finds pages without it.
        rm -f "$r/var/lib/man-db/auto-update"
        # NetworkManager is there for bench/vm-compare.sh only (its `sriov.vfs` against
        # sriovd's): off at boot, no automatic profiles, root-only without polkit. polkitd
        # comes with it as a dependency but stays unreachable (no bus activation), so sriovd
        # sees the same bus as without it: root or AccessDenied.
        chroot "$r" systemctl disable -q NetworkManager.service NetworkManager-wait-online.service \
                NetworkManager-dispatcher.service 2>/dev/null || true
        rm -f "$r/usr/share/dbus-1/system-services/org.freedesktop.PolicyKit1.service"
        # The consumers (podman, libvirt, Slurm) stay off at boot too: boots stay short and
        # every scenario but theirs sees the same host as before. Their scenarios start them.
        chroot "$r" systemctl disable -q libvirtd.service libvirtd.socket libvirtd-ro.socket \
                libvirtd-admin.socket virtlogd.socket virtlockd.socket virtlogd-admin.socket \
                virtlockd-admin.socket libvirt-guests.service slurmd.service slurmctld.service \
                munge.service podman.socket podman-restart.service podman-auto-update.timer \
                2>/dev/null || true
        ln -sf /dev/null "$r/etc/systemd/system/polkit.service"
        printf '[main]\nno-auto-default=*\nauth-polkit=false\n' >"$r/etc/NetworkManager/conf.d/90-sriovd-bench.conf"
        # The guest kernel's modules, plus netdevsim, with a real depmod.
        mkdir -p "$r/lib/modules"
        cp -a "$moddir" "$r/lib/modules/"
        install -D -m 0644 "$kdir/netdevsim.ko" "$r/lib/modules/$kabi/extra/netdevsim.ko"
        depmod -b "$r" "$kabi"
        rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
        size=$(( $(du -sm "$r" | cut -f1) * 13 / 10 + 256 ))
        truncate -s "${size}M" "$w/img"
        mkfs.ext4 -q -F -L sriovd-root -d "$r" "$w/img"
        mv "$w/img" "$rootfs"
        rm -rf "$w"; trap - EXIT
        log "rootfs built in $(printf '%.1f' "$(echo "$(date +%s.%N) - $tr" | bc)")s (${size} MiB)"
        # Old keys are garbage now.
        for f in "$cache"/rootfs-*.ext4 "$cache"/initrd-*.img; do
                case "$f" in "$rootfs"|"$initrd") ;; *) rm -f "$f" ;; esac
        done
fi

cat >"$cache/current.env.tmp" <<ENV
KABI=$kabi
VMLINUZ=$vmlinuz
INITRD=$initrd
ROOTFS=$rootfs
ENV
mv "$cache/current.env.tmp" "$cache/current.env"
log "images ready in $(elapsed)s: kernel $kabi, rootfs $(basename "$rootfs")"
