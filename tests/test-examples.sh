#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every shipped example drop-in must load without an error: they are what admins copy.
# Usage: test-examples.sh SRIOVD CONF_D_DIR
set -euo pipefail
sriovd=$1 dir=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/sriov.d"
n=0
for ex in "$dir"/*.conf.example; do
        name=$(basename "$ex" .example)
        cp "$ex" "$root/etc/sriov.d/$name"
        n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no examples found in $dir"; exit 1; }
out=$("$sriovd" --check-config --root="$root" 2>"$root/errors") || {
        echo "examples rejected:"; cat "$root/errors"; exit 1; }
[ ! -s "$root/errors" ] || { echo "unexpected errors:"; cat "$root/errors"; exit 1; }
[ "$(printf '%s\n' "$out" | grep -c '\.conf$')" -eq "$n" ] || { echo "not all examples loaded: $out"; exit 1; }
echo "$n examples load cleanly"
# A broken copy must be reported as FILE:LINE.
printf 'physical_functions = ( { match = { interface = "x"; }; num_vfs = 2; vlna = 1; } );\n' \
        >"$root/etc/sriov.d/99-broken.conf"
if "$sriovd" --check-config --root="$root" 2>"$root/errors" >/dev/null; then
        echo "broken drop-in accepted"; exit 1
fi
grep -q "99-broken.conf:1: " "$root/errors" || { echo "no FILE:LINE error:"; cat "$root/errors"; exit 1; }
# Once: the loader reports, --check-config prints (it used to log each error a second time).
[ "$(grep -c "99-broken.conf:1: " "$root/errors")" -eq 1 ] || { echo "error printed more than once:"; cat "$root/errors"; exit 1; }
echo "broken drop-in reported: $(cat "$root/errors")"
