#!/usr/bin/env bash
# A single-node SLURM cluster on this (Debian, root) machine, for trying and testing the
# SLURM launcher (hydra/launcher=slurm) without a real cluster.
#
#   scripts/slurm-up.sh          install if needed, start munged, slurmctld and slurmd
#   scripts/slurm-up.sh --down   stop the daemons this script started
#
# Running it again while the cluster is up changes nothing. No systemd needed: the daemons
# are started directly. Logs, pid files and SLURM's state live in $SLURM_DEV_DIR.
set -euo pipefail

DIR=${SLURM_DEV_DIR:-/tmp/slurm-dev}
CONF=/etc/slurm/slurm.conf  # where sbatch, squeue, ... look by default

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [[ ${1:-} == --down ]]; then
    for name in slurmd slurmctld; do
        if alive "$DIR/$name.pid"; then kill "$(cat "$DIR/$name.pid")"; echo "stopped $name"; fi
    done
    # munged is stopped only if this script started it (a system one is left alone).
    if [[ -f $DIR/munged.started ]] && alive /run/munge/munged.pid; then
        kill "$(cat /run/munge/munged.pid)"; echo "stopped munged"
    fi
    rm -f "$DIR/munged.started"
    exit 0
fi

# 1. Packages (about 15 s on a fresh machine).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi
mkdir -p "$DIR/state" "$DIR/spool"

# 2. munge authenticates the daemons' messages; it must run as the munge user, with a key.
if [[ ! -f /etc/munge/munge.key ]]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge
if ! alive /run/munge/munged.pid; then
    runuser -u munge -- munged
    touch "$DIR/munged.started"
fi

# 3. slurm.conf: one node (this machine, as `slurmd -C` measures it) in one default partition.
NODE=$(slurmd -C | head -n 1)  # NodeName=<host> CPUs=... RealMemory=...
CPUS=$(sed -E 's/.* CPUs=([0-9]+).*/\1/' <<<"$NODE")
MEM=$(sed -E 's/.* RealMemory=([0-9]+).*/\1/' <<<"$NODE")
mkdir -p "$(dirname "$CONF")"
cat >"$CONF.new" <<CONF
ClusterName=dev
SlurmctldHost=$(hostname -s)(127.0.0.1)
# The daemons run as root, so no directory needs a slurm owner; root may submit jobs.
SlurmUser=root
DisableRootJobs=NO
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
# No cgroups in a container: track processes through /proc, no CPU binding, no usage sampling.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No accounting database. Finished jobs go to a text file, which \`sacct\` reads.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt
# Cores and memory are allocated; a job that asks for no memory gets its share per CPU.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((MEM / CPUS))
# A node that was down comes back by itself when its slurmd registers.
ReturnToService=2
$NODE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
if ! cmp -s "$CONF.new" "$CONF"; then
    mv "$CONF.new" "$CONF"
    changed=1
else
    rm "$CONF.new"
    changed=0
fi

# 4. The daemons; if slurm.conf changed under running ones, they re-read it.
if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid"; then
    if ((changed)); then scontrol reconfigure; fi
else
    alive "$DIR/slurmctld.pid" || slurmctld
    alive "$DIR/slurmd.pid" || slurmd
fi

# 5. Wait until the node takes jobs.
for _ in $(seq 30); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -n 1 || true)
    [[ $state == idle* || $state == mix* || $state == alloc* ]] && break
    sleep 1
done
if [[ ! $state =~ ^(idle|mix|alloc) ]]; then
    echo "slurm-up: the node did not become ready (state: ${state:-none}); see the logs:" >&2
    echo "  $DIR/slurmctld.log  $DIR/slurmd.log  /var/log/munge/munged.log" >&2
    exit 1
fi
echo "SLURM is up: $(sinfo -h -o '%P %D node(s) %c CPUs %m MB %t')"
echo "logs: $DIR/slurmctld.log $DIR/slurmd.log /var/log/munge/munged.log; config: $CONF"
echo "stop it with: $0 --down"
