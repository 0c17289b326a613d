#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 5: `sriovctl doctor` in a VM booted without an IOMMU (no intel-iommu device, no
# intel_iommu=on iommu=pt): the iommu check fails, passthrough warns. The checks are
# doctor-iommu.sh's.
# vm-args: --pfs 1 --hotplug-ports 0 --no-iommu
EXPECT_IOMMU=off
. "$(dirname "$0")/doctor-iommu.sh"
