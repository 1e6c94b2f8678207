#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for the slow tests and by hand (as root, or with sudo):
#   scripts/ci/slurm.sh start    installs slurm-wlm, munge, slurmdbd, mariadb-server from Debian where missing,
#                                writes /etc/slurm/slurm.conf and slurmdbd.conf for this host, starts MariaDB
#                                (loopback), munged, slurmdbd, slurmctld, slurmd without systemd, waits until the
#                                node is idle and prints the partition's name
#   scripts/ci/slurm.sh stop     ends them by their PID files
#   scripts/ci/slurm.sh status   sinfo, or exit 1 when no controller answers
# State, logs and PID files live under $CONVLAB_SLURM_DIR (default /tmp/convlab-slurm); `stop` leaves them for
# reading, `start` begins from empty state. Accounting (slurmdbd) is there because submitit reads job states with
# sacct: without it a cancelled job reads UNKNOWN and waiting on its result hangs.
set -euo pipefail

STATE=${CONVLAB_SLURM_DIR:-/tmp/convlab-slurm}
PARTITION=${CONVLAB_SLURM_PARTITION:-convlab}
CLUSTER=convlab
DB_PORT=${CONVLAB_SLURM_DB_PORT:-3306}
ETC=/etc/slurm
DAEMONS=(slurmd slurmctld slurmdbd mariadb munged)   # stop order; start is the reverse

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
say() { echo "slurm.sh: $*" >&2; }
pidfile() {  # munged (run as the munge user) keeps Debian's place; mariadbd runs as mysql
    case $1 in munged) echo /run/munge/munged.pid ;; mariadb) echo "$STATE/mysql-run/$1.pid" ;; *) echo "$STATE/run/$1.pid" ;; esac
}

install_missing() {
    local missing=()
    for pair in slurmctld:slurm-wlm slurmdbd:slurmdbd munged:munge mariadbd:mariadb-server; do
        command -v "${pair%%:*}" >/dev/null || [ -x "/usr/sbin/${pair%%:*}" ] || missing+=("${pair#*:}")
    done
    [ ${#missing[@]} -eq 0 ] && return
    say "installing ${missing[*]}"
    # An image with empty package lists needs them first; a fresh update costs ~10 s.
    ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

write_configs() {
    local node
    # slurmd -C describes this machine as slurm.conf wants it (CPUs, sockets, cores, memory); NodeName must be
    # `hostname -s`, NodeAddr=127.0.0.1 keeps DNS out of it.
    node=$(slurmd -C | head -1)
    # Never overwrite a real cluster's configuration: only one this script wrote.
    if [ -f "$ETC/slurm.conf" ] && ! grep -q "^# Written by convlab's scripts/ci/slurm.sh" "$ETC/slurm.conf"; then
        say "$ETC/slurm.conf exists and was not written by this script; leaving it (and SLURM) alone"
        exit 1
    fi
    as_root mkdir -p "$ETC"
    as_root tee "$ETC/slurm.conf" >/dev/null <<EOF
# Written by convlab's scripts/ci/slurm.sh: one node, one partition, accounting through slurmdbd.
ClusterName=$CLUSTER
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# A requeued job starts again only once its launch credential expired (default 120 s).
AuthInfo=cred_expire=5
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$(pidfile slurmctld)
SlurmdPidFile=$(pidfile slurmd)
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No cgroups in a container: track processes by their parent, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
KillWait=30
MinJobAge=300
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    as_root tee "$ETC/slurmdbd.conf" >/dev/null <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
PidFile=$(pidfile slurmdbd)
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=convlab
StorageLoc=slurm_acct_db
EOF
    as_root chmod 600 "$ETC/slurmdbd.conf"   # slurmdbd refuses a readable one: it holds the password
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2
    shift 2
    for _ in $(seq $((limit * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    say "$what did not come up within ${limit}s; logs in $STATE/log"
    exit 1
}

start_mariadb() {
    local db=$STATE/mysql
    as_root mariadb-install-db --user=mysql --datadir="$db" --auth-root-authentication-method=socket \
        --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1
    as_root mariadbd --user=mysql --datadir="$db" --bind-address=127.0.0.1 --port="$DB_PORT" \
        --socket="$STATE/mysql-run/mysqld.sock" --pid-file="$(pidfile mariadb)" --log-error="$STATE/log/mariadb.log" \
        --skip-name-resolve >/dev/null 2>&1 &
    wait_for 30 MariaDB as_root mariadb --socket="$STATE/mysql-run/mysqld.sock" -e "select 1"
    as_root mariadb --socket="$STATE/mysql-run/mysqld.sock" -e "
        CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'convlab';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
}

start() {
    # A running cluster is reused only whole: submitit reads job states through sacct, so accounting must answer too.
    if scontrol ping >/dev/null 2>&1 && sinfo -h >/dev/null 2>&1 && sacctmgr -n list cluster >/dev/null 2>&1; then
        say "a controller and its accounting already answer"
        sinfo -h -o %R | head -1
        return
    fi
    install_missing
    stop quiet
    as_root rm -rf "$STATE"
    as_root mkdir -p "$STATE"/{ctld,spool,log,run,mysql-run}
    as_root chown mysql:mysql "$STATE/mysql-run"   # mariadbd writes its socket and PID file there
    as_root chmod 755 "$STATE"
    write_configs
    start_mariadb
    # munged runs as the munge user, with the key Debian's package generated.
    as_root mkdir -p /run/munge && as_root chown munge:munge /run/munge
    as_root runuser -u munge -- munged --pid-file=/run/munge/munged.pid
    wait_for 10 munged munge -n
    as_root slurmdbd
    wait_for 30 slurmdbd sacctmgr -i -n list cluster
    sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
    as_root slurmctld -c   # -c: clear any state an earlier run left
    wait_for 30 slurmctld scontrol ping
    as_root slurmd
    wait_for 60 "the node" sh -c "sinfo -h -N -o %t | grep -qx idle"
    say "node $(hostname -s) idle in partition $PARTITION (state under $STATE)"
    echo "$PARTITION"
}

stop() {
    local pid
    for daemon in "${DAEMONS[@]}"; do
        local file
        file=$(pidfile "$daemon")
        [ -f "$file" ] || continue
        pid=$(cat "$file")
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            as_root kill "$pid"
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
        as_root rm -f "$file"
    done
    [ "${1:-}" = quiet ] || say "stopped (logs kept in $STATE/log)"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) scontrol ping && sinfo ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
