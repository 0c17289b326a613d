#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Stands in for a test whose tool was not found at configure time (tests/meson.build): the
# test fails with the tool's name instead of vanishing from the suite.
# Usage: missing-tool.sh TOOL_OR_EMPTY... -- ignored test arguments
for t in "$@"; do
        case "$t" in
        '') ;;
        *' ('*')') echo "FAIL: $t not found at configure time: install it (scripts/setup-deps.sh)," \
                "then meson setup --reconfigure" >&2; missing=1 ;;
        esac
done
[ -n "${missing:-}" ] || echo "FAIL: a tool was not found at configure time" >&2
exit 1
