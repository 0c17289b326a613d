#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 13: Slurm takes its VFs through sriovd. Debian's slurmctld + slurmd + munge on one node,
# sriovd's SPANK plugin loaded from plugstack.conf.d. sriovd makes 3 VFs: pool "hpc" (VFs 0-1),
# pool "busy" (VF 2, leased to another consumer first).
# - `srun --sriov-vf=hpc` runs with its VF in SRIOVD_VF_PCI/SRIOVD_VF_NETDEV, and the lease
#   (owner slurm:<jobid>) is on D-Bus while the job runs;
# - two concurrent jobs get different VFs; a third finds the pool empty and fails cleanly;
# - the leases are gone after the jobs, and after a kill -9 of a job's slurmstepd;
# - a pool whose VF another consumer holds makes the job fail with a clear message, and the
#   other consumer keeps its lease;
# - sbatch --sriov-vf: the batch step's VF is the one its srun steps see (no second lease).
# vm-args: --pfs 1 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
PF0=$(pf_if 0)
ip link set dev "$PF0" up
mkdir -p /etc/sriov.d
cat >/etc/sriov.d/50-slurm.conf <<CONF
physical_functions = ( { match = { pci = "$(pf_pci 0)"; }; num_vfs = 3;
  vfs = ( { range = "0-1"; pool = "hpc"; }, { range = "2"; pool = "busy"; } ); } );
CONF
install_sriovd
PLUGIN=$(ls /usr/lib/*/slurm-wlm/spank_sriovd.so 2>/dev/null | head -n 1)
[ -n "$PLUGIN" ] || die "meson install did not install spank_sriovd.so (slurm/spank.h missing on the host?)"
start_sriovd
wait_for 60 "PF0 has 3 VFs" numvfs_is 0 3
sriovctl wait-online --timeout=60 || say "wait-online failed"
udevadm settle --timeout=60

# --- Slurm on one node -------------------------------------------------------------------
# Slurm resolves its own listen address with AI_ADDRCONFIG, which finds nothing on a host
# with loopback only: the node gets an address on the PF and its name resolves to it.
HOST=$(hostname -s)
ip addr add 10.213.0.1/24 dev "$PF0"
sed -i "/[[:space:]]$HOST\$/d" /etc/hosts
echo "10.213.0.1 $HOST" >>/etc/hosts
install -d -o munge -g munge -m 0700 /etc/munge
head -c 1024 /dev/urandom >/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
# The generated gres.conf is what an admin would append (sriovctl gres).
sriovctl gres >/etc/slurm/gres.conf
say "gres.conf: $(grep -v '^#' /etc/slurm/gres.conf | tr '\n' ' ')"
check_eq "sriovctl gres: pool hpc" "NodeName=$HOST Name=sriov Type=hpc Count=2" \
        "$(grep 'Type=hpc ' /etc/slurm/gres.conf)"
GRES=$(sed -n 's/^# slurm.conf: .*, Gres=//p' /etc/slurm/gres.conf)
cat >/etc/slurm/slurm.conf <<CONF
ClusterName=vm
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
SchedulerParameters=sched_min_interval=0
GresTypes=sriov
NodeName=$HOST CPUs=4 Gres=$GRES State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
# The admin's one line (docs/integrations.md); Debian's plugstack.conf includes this dir.
mkdir -p /etc/slurm/plugstack.conf.d
cp /usr/share/doc/sriovd/examples/slurm-plugstack.conf /etc/slurm/plugstack.conf.d/sriovd.conf
grep -q 'plugstack.conf.d' /etc/slurm/plugstack.conf 2>/dev/null ||
        echo 'include /etc/slurm/plugstack.conf.d/*.conf' >>/etc/slurm/plugstack.conf
say "plugstack: $(cat /etc/slurm/plugstack.conf.d/sriovd.conf | grep -v '^#')"
t=$(now_us)
systemctl start munge.service || die "munge did not start"
systemctl start slurmctld.service slurmd.service || die "slurmctld/slurmd did not start"
node_idle() { [ "$(sinfo -h -n "$HOST" -o %t 2>/dev/null)" == idle ]; }
wait_for 60 "slurmd registered, node idle" node_idle ||
        { tail -n 30 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log; die "Slurm did not come up"; }
say "munge + slurmctld + slurmd up in $(secs_since "$t")s"
check "srun --help lists --sriov-vf" bash -c 'srun --help 2>&1 | grep -q -- "--sriov-vf"'

# --- helpers -------------------------------------------------------------------------------
# snap: one `sriovctl --json vfs` (about 0.5 s under TCG) that the lookups below read
snap() { VFS=$(sriovctl --json vfs); }
# owner_of PCI [PROP]: the lease owner (or PROP) sriovd showed for a VF at the last snap
owner_of() { jq -r --arg p "$1" --arg k "${2:-Owner}" '.[] | select(.PCIAddress == $p) | .[$k]' <<<"$VFS"; }
leases_of() { sriovctl --json vfs | jq -r --arg o "$1" '[.[] | select(.Owner == $o) | .PCIAddress] | join(" ")'; }
no_leases_of() { [ -z "$(leases_of "$1")" ]; }
# job_start NAME SRUN-ARGS...: a job that writes its env to /tmp/NAME.env, then runs until
# /tmp/NAME.go exists. srun's output goes to /tmp/NAME.out; its PID is in NAME_PID.
job_start() {
        local name=$1; shift
        rm -f "/tmp/$name.env" "/tmp/$name.go"
        srun "$@" bash -c "env | grep -E '^(SRIOVD_|UCX_|SLURM_JOB_ID=)' | sort >/tmp/$name.env.tmp &&
                mv /tmp/$name.env.tmp /tmp/$name.env && until [ -e /tmp/$name.go ]; do sleep 0.1; done" \
                >"/tmp/$name.out" 2>&1 &
        eval "${name}_PID=$!"
}
envof() { sed -n "s/^$2=//p" "/tmp/$1.env"; }
job_end() { touch "/tmp/$1.go"; }
srun_done() { ! kill -0 "$1" 2>/dev/null; }

# --- a job sees its VF; the lease is on D-Bus while it runs -----------------------------------
job_start a --sriov-vf=hpc
wait_for 60 "job a is running with its environment" test -s /tmp/a.env || cat /tmp/a.out
JA=$(envof a SLURM_JOB_ID) VA=$(envof a SRIOVD_VF_PCI)
say "job a ($JA): $(tr '\n' ' ' </tmp/a.env)"
check "job a got a VF PCI address" grep -Eq '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$' <<<"$VA"
check_eq "job a: SRIOVD_VF_POOL" hpc "$(envof a SRIOVD_VF_POOL)"
check_eq "job a: SRIOVD_VF_OWNER" "slurm:$JA" "$(envof a SRIOVD_VF_OWNER)"
snap
check_eq "job a: SRIOVD_VF_NETDEV is the VF's netdev" "$(owner_of "$VA" Interface)" "$(envof a SRIOVD_VF_NETDEV)"
check_eq "job a's VF is leased to slurm:$JA on D-Bus" "slurm:$JA" "$(owner_of "$VA")"
check_eq "job a's VF is in pool hpc" hpc "$(owner_of "$VA" Pool)"

# --- a second, concurrent job gets the other VF; a third finds the pool empty --------------
job_start b --sriov-vf=hpc
wait_for 60 "job b is running with its environment" test -s /tmp/b.env || cat /tmp/b.out
JB=$(envof b SLURM_JOB_ID) VB=$(envof b SRIOVD_VF_PCI)
say "job b ($JB): $(tr '\n' ' ' </tmp/b.env)"
check "jobs a and b run at the same time" kill -0 "$a_PID"
check "jobs a and b have different VFs ($VA, $VB)" test -n "$VB" -a "$VA" != "$VB"
snap
check_eq "job b's VF is leased to slurm:$JB" "slurm:$JB" "$(owner_of "$VB")"
t=$(now_us)
rm -f /tmp/c.ran
out=$(timeout 60 srun --sriov-vf=hpc touch /tmp/c.ran 2>&1); rc=$?
say "third job on a full pool: rc=$rc in $(secs_since "$t")s: $(tr '\n' '|' <<<"$out")"
check "a third job fails while the pool is full" test "$rc" -ne 0 -a "$rc" -ne 124
check "... saying the pool has no free VF" grep -q "sriovd: pool 'hpc' has no free VF" <<<"$out"
check "... before its command ran" test ! -e /tmp/c.ran
snap
check_eq "... and jobs a and b keep their VFs" "slurm:$JA slurm:$JB" "$(owner_of "$VA") $(owner_of "$VB")"

# --- the leases end with the jobs ------------------------------------------------------------
job_end a
job_end b
wait_for 60 "job a ended" srun_done "$a_PID"
wait_for 60 "job b ended" srun_done "$b_PID"
wait "$a_PID"; check_eq "job a exit status" 0 "$?"
wait "$b_PID"; check_eq "job b exit status" 0 "$?"
wait_for 10 "job a's lease is gone" no_leases_of "slurm:$JA"
wait_for 10 "job b's lease is gone" no_leases_of "slurm:$JB"
snap
check_eq "both hpc VFs free" "|" "$(owner_of "$VA")|$(owner_of "$VB")"

# --- kill -9 of the job's slurmstepd ends the lease ---------------------------------------------
job_start k --sriov-vf=hpc
wait_for 60 "job k is running with its environment" test -s /tmp/k.env || cat /tmp/k.out
JK=$(envof k SLURM_JOB_ID) VK=$(envof k SRIOVD_VF_PCI)
snap
check_eq "job k's VF is leased to slurm:$JK" "slurm:$JK" "$(owner_of "$VK")"
STEPD=$(pgrep -f "^slurmstepd: \[$JK\.0\]" | head -n 1)
say "job k ($JK): VF $VK, slurmstepd pid ${STEPD:-none}"
check "found job k's slurmstepd" test -n "$STEPD"
[ -n "$STEPD" ] && kill -9 "$STEPD"
wait_for 10 "job k's lease is gone after kill -9 of its slurmstepd" no_leases_of "slurm:$JK"
snap
check_eq "VF $VK free again" "" "$(owner_of "$VK")"
# Clean up what the kill left: its task, the job, and srun (which would wait for slurmd to
# notice the step is gone).
job_end k
scancel "$JK" 2>/dev/null
kill -9 "$k_PID" 2>/dev/null
wait "$k_PID" 2>/dev/null

# --- another consumer holds the VF: the job fails cleanly, the holder keeps it ------------------
OTHER=$(allocate busy libvirt:7c1d1a52-0000-4000-8000-000000000001)
VO=$(vfget "$OTHER" PCIAddress)
snap
check_eq "the busy pool's VF is leased to another consumer" libvirt:7c1d1a52-0000-4000-8000-000000000001 "$(owner_of "$VO")"
out=$(timeout 60 srun --sriov-vf=busy true 2>&1); rc=$?
say "job on a VF held by another consumer: rc=$rc: $(tr '\n' '|' <<<"$out")"
check "a job cannot take a VF another consumer holds" test "$rc" -ne 0 -a "$rc" -ne 124
check "... and says so" grep -q "sriovd: pool 'busy' has no free VF" <<<"$out"
snap
check_eq "... the other consumer keeps its lease" libvirt:7c1d1a52-0000-4000-8000-000000000001 "$(owner_of "$VO")"
out=$(timeout 60 srun --sriov-vf=nosuchpool true 2>&1); rc=$?
check "a job asking for an unknown pool fails" test "$rc" -ne 0 -a "$rc" -ne 124
check "... naming the pool" grep -q "no pool 'nosuchpool'" <<<"$out"
out=$(timeout 30 srun --sriov-vf='bad pool' true 2>&1); rc=$?
check "srun refuses a malformed --sriov-vf" test "$rc" -ne 0 -a "$rc" -ne 124
check "... saying what it wants" grep -q 'want POOL\[:COUNT\]' <<<"$out"

# --- sbatch: the batch step leases, its srun steps use the same VF ------------------------------
rm -f /tmp/batch.out
JS=$(sbatch --parsable --sriov-vf=hpc:2 -o /tmp/batch.out --wrap \
        'echo "batch $SRIOVD_VF_OWNER $SRIOVD_VF_PCI"; srun bash -c "echo step \$SRIOVD_VF_OWNER \$SRIOVD_VF_PCI"')
say "sbatch job $JS"
batch_done() { [ -z "$(squeue -h -j "$JS" 2>/dev/null)" ]; }
wait_for 60 "batch job $JS finished" batch_done
say "batch output: $(tr '\n' '|' </tmp/batch.out 2>/dev/null)"
BV=$(sed -n "s/^batch slurm:$JS //p" /tmp/batch.out)
check "the batch step had 2 VFs of hpc" grep -Eq '^[0-9a-f:.]+,[0-9a-f:.]+$' <<<"$BV"
check_eq "its srun step saw the same VFs" "step slurm:$JS $BV" "$(grep '^step ' /tmp/batch.out)"
wait_for 10 "the batch job's leases are gone" no_leases_of "slurm:$JS"

check "sriovd still running" sriovd_alive
journalctl -u slurmd --no-pager | grep -i sriovd | tail -n 20 | sed 's/^/  slurmd: /'
grep -i sriovd /var/log/slurm/slurmd.log | tail -n 20 | sed 's/^/  slurmd.log: /'
finish
