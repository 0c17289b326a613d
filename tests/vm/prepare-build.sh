#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Configures and builds the tree the guest installs with `meson install`: same source, but
# prefix /usr, sysconfdir /etc, localstatedir /var, as a distribution package would.
# Usage: prepare-build.sh SRCDIR VMBUILDDIR
set -euo pipefail
src=${1:?usage: prepare-build.sh SRCDIR VMBUILDDIR}
b=${2:?usage: prepare-build.sh SRCDIR VMBUILDDIR}
# VM tests may run two at a time: one builder per tree, the other waits and finds it built.
mkdir -p "$(dirname "$b")"
exec 8>"$b.lock"
flock 8
if [ ! -e "$b/build.ninja" ]; then
        meson setup "$b" "$src" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
                --buildtype=debugoptimized -Dtests=false -Dvm-tests=disabled >"$b.setup.log" 2>&1 \
                || { cat "$b.setup.log" >&2; echo "prepare-build: meson setup failed" >&2; exit 1; }
fi
ninja -C "$b" >"$b.ninja.log" 2>&1 || { tail -n 60 "$b.ninja.log" >&2; echo "prepare-build: build failed" >&2; exit 1; }
