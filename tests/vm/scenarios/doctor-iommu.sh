#!/bin/bash
# Guest scenario (VM tier): `sriovctl doctor` reports the IOMMU state the VM was booted
# with. Run once in a VM with `-device intel-iommu` and `intel_iommu=on iommu=pt`
# (EXPECT_IOMMU=on), once without the device (EXPECT_IOMMU=off).
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
EXPECT=${EXPECT_IOMMU:?set EXPECT_IOMMU=on or off}
json=$(sriovctl --json doctor) || true   # exit 1 when a check fails; the JSON is what we test
row() { echo "$json" | grep -o "{\"Check\":\"$1\",\"Status\":\"[a-z]*\"" | head -1 | sed 's/.*"Status":"//; s/"$//'; }

iommu=$(row iommu); pt=$(row iommu-passthrough)
echo "iommu=$iommu iommu-passthrough=$pt"
if [ "$EXPECT" = on ]; then
        [ -n "$(ls /sys/class/iommu)" ] || fail "VM booted without an IOMMU unit"
        [ "$iommu" = ok ] || fail "iommu is $iommu with intel-iommu"
        [ "$pt" = ok ] || fail "iommu-passthrough is $pt with iommu=pt"
        # Each igb VF has its own group in this machine: no ACS finding.
        [ "$(row acs)" = ok ] || fail "acs is $(row acs)"
        sriovctl doctor >/dev/null && true
else
        [ "$iommu" = fail ] || fail "iommu is $iommu without an IOMMU"
        sriovctl doctor >/dev/null && fail "doctor exited 0 with a failing check"
fi
# The table and JSON agree on the number of rows.
[ "$(sriovctl doctor | grep -cE ' (ok|warn|fail) ')" -eq "$(echo "$json" | grep -o '"Check"' | wc -l)" ] ||
        fail "table and JSON disagree"
echo "PASS: doctor-iommu ($EXPECT)"
