#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench-guard with the steps of every sriovd run on the kernel's clock (signal, drop-in
# loaded, pass, sriov_numvfs in the kernel, job done, RTM_GETLINK/RTM_SETLINK as the kernel
# sees them): where the time of a steady apply goes. By hand, not in CI (docs/PERFORMANCE.md).
# vm-args: --pfs 0 --hotplug-ports 0
GUARD_TRACE=1 GUARD_RUNS=${GUARD_RUNS:-5} exec bash "$(dirname "$0")/bench-guard.sh"
