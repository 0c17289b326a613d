#!/bin/bash
# Guest side of the VM tier, run by the image's sriovd-vm-boot.service from the 9p share:
# runs the scenario named on the kernel command line with a deadline, and leaves in the
# host's OUT directory: scenario.log, journal.txt, timing, and rc (written last: the host
# takes a missing rc as "the VM did not finish"). Then powers off, unless sriovd_vm.keep.
set -u
scenario= out= keep=0 limit=240
for a in $(cat /proc/cmdline); do
        case "$a" in
        sriovd_vm.scenario=*) scenario=${a#*=} ;;
        sriovd_vm.out=*) out=${a#*=} ;;
        sriovd_vm.keep=*) keep=1 ;;
        sriovd_vm.timeout=*) limit=${a#*=} ;;
        sriovd_vm.env.*=*) export "${a#sriovd_vm.env.}" ;;
        esac
done
boot=$(cut -d' ' -f1 /proc/uptime)
echo "harness: guest up after ${boot}s, running $scenario (limit ${limit}s)"
export VM_OUT=$out
export VM_SRCDIR=$(cd "$(dirname "$0")/../../.." && pwd)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
t0=${EPOCHREALTIME/./}
timeout --kill-after=10 "$limit" /bin/bash "$scenario" 2>&1 | tee "$out/scenario.log"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 124 ] && echo "harness: scenario killed after ${limit}s" | tee -a "$out/scenario.log"
t1=${EPOCHREALTIME/./}
journalctl -b --no-pager -o short-monotonic >"$out/journal.txt" 2>&1
d=$((t1 - t0))
printf 'boot=%s\nscenario=%d.%d\n' "$boot" $((d / 1000000)) $(((d % 1000000) / 100000)) >"$out/timing"
echo "$rc" >"$out/rc"
sync
echo "harness: scenario exit $rc"
[ "$keep" -eq 1 ] && exit 0
poweroff -ff
