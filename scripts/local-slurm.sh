#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for trying `cocofl campaign --slurm` and for the tests:
#   bash scripts/local-slurm.sh start    installs slurm-wlm if missing, writes /etc/slurm/slurm.conf, starts the daemons
#   bash scripts/local-slurm.sh stop     stops them (scontrol shutdown) and waits until they are gone
#   bash scripts/local-slurm.sh status   sinfo
# Needs root. No authentication (auth/none): for a test machine only, never for a shared one. The facts behind the
# settings (proctrack, scheduler delay, task pinning) are in ../shared/DESIGN.md §6 and docs/scaling.md.
set -euo pipefail
state=/tmp/cocofl-slurm
conf=/etc/slurm/slurm.conf
marker="# written by cocofl scripts/local-slurm.sh"

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: scripts/local-slurm.sh $1 needs root (it writes $conf and runs slurmctld/slurmd as root)" >&2
        exit 1
    fi
}

wait_gone() {  # pid files…
    for file in "$@"; do
        [ -f "$file" ] || continue
        pid=$(cat "$file")
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$file"
    done
}

start() {
    need_root start
    if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null; then
        echo "local-slurm: installing slurm-wlm"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm >/dev/null
    fi
    if [ -f "$conf" ] && ! grep -qF "$marker" "$conf"; then
        echo "error: $conf exists and was not written by this script; not replacing it (stop your cluster or move it away)" >&2
        exit 1
    fi
    stop_daemons
    mkdir -p "$state/state" "$state/spool" /etc/slurm
    # The node as slurmd sees it (CPUs, sockets, cores, threads, memory): the first line of `slurmd -C`.
    node=$(slurmd -C | head -1)
    host=$(hostname -s)
    cat > "$conf" <<EOF
$marker
ClusterName=cocofl-local
SlurmctldHost=$host
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
# The default cgroup plugin fails here silently: steps never run, yet jobs show COMPLETED.
ProctrackType=proctrack/linuxproc
# Pins each task to the cores it was given (-c N); with task/none a task sees every core.
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Without it every job waits 3 s before it is scheduled.
SchedulerParameters=batch_sched_delay=0
MailProg=/bin/true
ReturnToService=2
StateSaveLocation=$state/state
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
# sacct needs slurmdbd; this gives one line per finished task instead.
JobCompType=jobcomp/filetxt
JobCompLoc=$state/jobcomp.txt
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    slurmctld
    slurmd
    for _ in $(seq 100); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            echo "local-slurm: up: $(sinfo -h -o '%N %c CPUs %T')"
            return 0
        fi
        sleep 0.2
    done
    echo "error: the local Slurm cluster did not come up within 20 s; see $state/slurmctld.log and $state/slurmd.log" >&2
    sinfo >&2 || true
    exit 1
}

stop_daemons() {
    if [ -f "$state/slurmctld.pid" ] || [ -f "$state/slurmd.pid" ]; then
        scontrol shutdown >/dev/null 2>&1 || true
        wait_gone "$state/slurmctld.pid" "$state/slurmd.pid"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) need_root stop; stop_daemons; echo "local-slurm: stopped" ;;
    status) sinfo ;;
    *) echo "usage: bash scripts/local-slurm.sh start|stop|status" >&2; exit 2 ;;
esac
