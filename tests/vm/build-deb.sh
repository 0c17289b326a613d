#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the Debian package the guest installs, on the host, once per source state:
# copies the source (what git tracks plus untracked, not ignored files) into OUTDIR/src,
# runs `dpkg-buildpackage -us -uc -b` there and, when lintian is installed, fails on any
# lintian error. Prints the path of the .deb. A second call with the same source reuses it.
# Usage: build-deb.sh SRCDIR OUTDIR
set -euo pipefail
src=${1:?usage: build-deb.sh SRCDIR OUTDIR}
out=${2:?usage: build-deb.sh SRCDIR OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# VM tests may run two at a time: one builder per OUTDIR, the other waits and reuses it.
exec 8>"$out/.lock"
flock 8

# The source as a reproducible tar stream: its hash is the cache key.
srctar() {
        if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
                (cd "$src" && git ls-files -z --cached --others --exclude-standard |
                        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
                        tar --null -T - --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf -)
        else
                (cd "$src" && tar --exclude='./build*' --exclude=./.git --sort=name --mtime=@0 \
                        --owner=0 --group=0 --numeric-owner -cf - .)
        fi
}
key=$(srctar | sha256sum | cut -c1-16)
version=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$src/debian/changelog")
arch=$(dpkg --print-architecture)
deb=$out/sriovd_${version}_${arch}.deb
if [ -e "$deb" ] && [ "$(cat "$out/key" 2>/dev/null)" = "$key" ]; then
        echo "$deb"
        exit 0
fi

rm -rf "$out/src" "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo "$out/key"
mkdir "$out/src"
# -m: files get the time of extraction (lintian rejects "ancient" 1970 files).
srctar | tar -xmf - -C "$out/src"
t0=$(date +%s)
(cd "$out/src" && nice dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || {
        tail -n 40 "$out/build.log" >&2
        echo "build-deb: dpkg-buildpackage failed (log: $out/build.log)" >&2
        exit 1
}
[ -e "$deb" ] || { echo "build-deb: $deb was not built" >&2; exit 1; }
echo "build-deb: built $(basename "$deb") in $(( $(date +%s) - t0 ))s" >&2
if command -v lintian >/dev/null; then
        # Errors fail the build; warnings are printed.
        lintian --fail-on error "$out"/sriovd_"${version}"_"${arch}".changes >"$out/lintian.txt" 2>&1 || {
                cat "$out/lintian.txt" >&2
                echo "build-deb: lintian reports errors" >&2
                exit 1
        }
        grep -E '^[EW]:' "$out/lintian.txt" >&2 || true
fi
rm -rf "$out/src"
echo "$key" >"$out/key"
echo "$deb"
