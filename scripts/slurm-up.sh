#!/usr/bin/env bash
# A single-node SLURM cluster on this Debian machine (as root), for running and testing
# sweeps with hydra/launcher=slurm without a real cluster.
#
#   scripts/slurm-up.sh          install what is missing, start the daemons, wait until ready
#   scripts/slurm-up.sh --down   stop the daemons this script started
#
# Options that change the cluster's configuration, as the tests use them (running the script
# again without them restores the default configuration):
#   --max-array-size N   MaxArraySize=N (SLURM's default: 1001): arrays of at most N jobs
#   --no-accounting      no slurmdbd, so that `sacct` fails, as on many small clusters
#   --default-scheduler  SLURM's default scheduler settings instead of the ones below that
#                        start short jobs sooner
#
# Running it again while the cluster is up changes nothing. No systemd is needed: the daemons
# are started directly. Logs, pid files and SLURM's state live in $SLURM_DEV_DIR.
set -euo pipefail

DIR=${SLURM_DEV_DIR:-/tmp/slurm-dev}
ETC=/etc/slurm  # where sbatch, squeue, sacct, ... look for slurm.conf

MAX_ARRAY_SIZE=1001
ACCOUNTING=yes
TUNED=yes
DOWN=no
while [[ $# -gt 0 ]]; do
    case $1 in
        --down) DOWN=yes ;;
        --max-array-size)
            [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || {
                echo "slurm-up: --max-array-size needs a positive number, got '${2:-}'" >&2
                exit 2
            }
            MAX_ARRAY_SIZE=$2
            shift ;;
        --no-accounting) ACCOUNTING=no ;;
        --default-scheduler) TUNED=no ;;
        *)
            echo "slurm-up: unknown option '$1': valid options are --down, --max-array-size N," \
                "--no-accounting, --default-scheduler" >&2
            exit 2 ;;
    esac
    shift
done

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

stop() {  # stop the daemon whose pid is in file $1, and wait until it is gone
    if alive "$1"; then
        kill "$(cat "$1")"
        while alive "$1"; do sleep 0.1; done
        echo "stopped $(basename "$1" .pid)"
    fi
}

stop_slurm() { stop "$DIR/slurmd.pid"; stop "$DIR/slurmctld.pid"; stop "$DIR/slurmdbd.pid"; }

if [[ $DOWN == yes ]]; then
    stop_slurm
    # munged and mariadbd only if this script started them: system ones are left alone.
    [[ -f $DIR/mariadbd.started ]] && stop /run/mysqld/mysqld.pid
    [[ -f $DIR/munged.started ]] && stop /run/munge/munged.pid
    rm -f "$DIR"/*.started
    exit 0
fi

# 1. Packages (15-30 s on a fresh machine). MariaDB holds the accounting database that
#    `sacct` reads; submitit asks sacct for the state of jobs that have not written a result.
PACKAGES="slurmctld slurmd slurmdbd slurm-client munge mariadb-server"
if ! dpkg -s $PACKAGES >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        $PACKAGES >/dev/null
fi
mkdir -p "$DIR/state" "$DIR/spool"

# 2. munge authenticates the daemons' messages; it runs as the munge user, with a shared key.
if [[ ! -f /etc/munge/munge.key ]]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge
if ! alive /run/munge/munged.pid; then
    runuser -u munge -- munged
    touch "$DIR/munged.started"
fi

# 3. MariaDB, on its Unix socket only. slurmdbd runs as root and logs in as the database's
#    root user, which Debian authenticates by the Unix user: no password to manage.
install -d -o mysql -g mysql -m 0755 /run/mysqld
if ! alive /run/mysqld/mysqld.pid; then
    setsid mariadbd --user=mysql --skip-networking --log-error="$DIR/mariadb.log" \
        </dev/null >/dev/null 2>&1 &
    touch "$DIR/mariadbd.started"
    for _ in $(seq 50); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 0.2; done
fi

# 4. Configuration: one node (this machine, as `slurmd -C` measures it) in one partition.
NODE=$(slurmd -C | head -n 1)  # NodeName=<host> CPUs=... RealMemory=...
CPUS=$(sed -E 's/.* CPUs=([0-9]+).*/\1/' <<<"$NODE")
MEM=$(sed -E 's/.* RealMemory=([0-9]+).*/\1/' <<<"$NODE")
mkdir -p "$ETC"
if [[ $ACCOUNTING == yes ]]; then
    ACCOUNTING_CONF="# Job states go to slurmdbd, so that sacct works as on a real cluster.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost"
else
    ACCOUNTING_CONF="# No accounting: sacct fails, as on clusters without slurmdbd.
AccountingStorageType=accounting_storage/none"
fi
if [[ $TUNED == yes ]]; then
    SCHEDULER_CONF="# Start jobs as soon as cores free up. By default the scheduler lets up to 3 s pass between
# passes (batch_sched_delay), which dominates a sweep of many short jobs.
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# An epilog (even one doing nothing) makes slurmd report each job's end at once, and that
# report starts the next job; without one the next job waits for the next 1-s scheduler pass.
Epilog=/bin/true"
else
    SCHEDULER_CONF="# SLURM's default scheduler settings."
fi
cat >"$DIR/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageUser=root
LogFile=$DIR/slurmdbd.log
PidFile=$DIR/slurmdbd.pid
CONF
cat >"$DIR/slurm.conf" <<CONF
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
$ACCOUNTING_CONF
# Cores and memory are allocated; a job that asks for no memory gets its share per CPU.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((MEM / CPUS))
$SCHEDULER_CONF
MaxArraySize=$MAX_ARRAY_SIZE
# A node that was down comes back by itself when its slurmd registers.
ReturnToService=2
$NODE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
chmod 600 "$DIR/slurmdbd.conf"  # slurmdbd refuses a config others can read
for f in slurm.conf slurmdbd.conf; do
    if ! cmp -s "$DIR/$f" "$ETC/$f"; then
        stop_slurm  # daemons running with an older config start again with this one
        cp -p "$DIR/$f" "$ETC/$f"
    fi
done

# 5. The SLURM daemons, unless they are running already: accounting, controller, node.
if [[ $ACCOUNTING == yes ]]; then
    if ! alive "$DIR/slurmdbd.pid"; then
        slurmdbd
        for _ in $(seq 50); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.2; done
    fi
    if [[ -z $(sacctmgr -n list cluster dev format=cluster 2>/dev/null) ]]; then
        sacctmgr -i add cluster dev >/dev/null
    fi
fi
alive "$DIR/slurmctld.pid" || slurmctld
alive "$DIR/slurmd.pid" || slurmd

# 6. Wait until the node takes jobs.
state=
for _ in $(seq 60); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -n 1 || true)
    [[ $state =~ ^(idle|mix|alloc) ]] && break
    sleep 0.5
done
LOGS="$DIR/{slurmctld,slurmd,slurmdbd,mariadb}.log /var/log/munge/munged.log"
if [[ ! $state =~ ^(idle|mix|alloc) ]]; then
    echo "slurm-up: the node did not become ready (state: ${state:-none}); logs: $LOGS" >&2
    exit 1
fi
echo "SLURM is up: $(sinfo -h -o "%P %D node, %c CPUs, %m MB, %t"); MaxArraySize=$MAX_ARRAY_SIZE, accounting: $ACCOUNTING, tuned scheduler: $TUNED"
echo "logs: $LOGS"
echo "stop it with: $0 --down"
