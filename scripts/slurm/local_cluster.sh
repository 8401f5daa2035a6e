#!/usr/bin/env bash
# A real Slurm cluster on this one machine, for trying job scripts before submitting them to a real cluster
# and for the tests: NODES compute nodes (n1, n2, ...), each a network and UTS namespace of its own with its
# own address and hostname, joined by a bridge; slurmctld and munged in the host's namespace, one slurmd per
# node inside its namespace. Every file (slurm.conf, cgroup.conf, keys, spool, logs, pids) lives in the state
# folder; `down` stops only the daemons whose pids it recorded and removes only its own namespaces, veths and
# bridge. Each node has its own /tmp (a folder of the state's, bound there): a job's run directory, data and
# checkpoints belong on a path every node sees, as on a real cluster, so not under /tmp. Needs root, Debian's slurmctld/slurmd/slurm-client and munge (scripts/setup.sh), and namespaces.
#
#   scripts/slurm/local_cluster.sh up [NODES]   start (default 2 nodes); idempotent: a running cluster stays
#   scripts/slurm/local_cluster.sh down         stop and remove everything it made; idempotent
#   scripts/slurm/local_cluster.sh status       sinfo, or why the cluster is not up
#   scripts/slurm/local_cluster.sh check        exit 0, or 2 with one line saying why it cannot run here
#   eval "$(scripts/slurm/local_cluster.sh env)"  SLURM_CONF and the MPI interface variables for this shell
#
# Several clusters can be up at once (a user's and the tests'), each with its own:
#   HLLM_SLURM_NAME    prefix of its bridge (NAMEbr0), namespaces (NAME-nI) and veths (NAMEvI); default hllm
#   HLLM_SLURM_STATE   state folder; default /run/NAME-slurm
#   HLLM_SLURM_SUBNET  the bridge's /24 as three octets (the controller is .1, node i .(10 + i)); 10.231.7
#   HLLM_SLURM_PORT    slurmctld's port (slurmd's is the next); default 6817
# No traffic leaves the machine: every address belongs to the namespaces made here.
set -euo pipefail

name=${HLLM_SLURM_NAME:-hllm}
state=${HLLM_SLURM_STATE:-/run/$name-slurm}
subnet=${HLLM_SLURM_SUBNET:-10.231.7}
port=${HLLM_SLURM_PORT:-6817}
[[ "$name" =~ ^[a-z][a-z0-9]{0,7}$ ]] || { echo "local_cluster.sh: HLLM_SLURM_NAME must be 1-8 lowercase letters and digits, got '$name'" >&2; exit 2; }
octet='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
[[ "$subnet" =~ ^$octet\.$octet\.$octet$ ]] || { echo "local_cluster.sh: HLLM_SLURM_SUBNET must be three octets 0-255 (10.231.7), got '$subnet'" >&2; exit 2; }
[[ "$port" =~ ^[1-9][0-9]{3,4}$ ]] && [ "$port" -ge 1024 ] && [ "$port" -le 65534 ] ||
  { echo "local_cluster.sh: HLLM_SLURM_PORT must be 1024 to 65534 (slurmd takes the next), got '$port'" >&2; exit 2; }
bridge=${name}br0
controller=$subnet.1

die() { echo "local_cluster.sh: $*" >&2; exit 1; }
node_names() { cat "$state/nodes" 2> /dev/null || true; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2> /dev/null; }

# Exit 2 with one line when this machine cannot run the cluster (the tests report "skipped" on it).
check_can_run() {
  [ "$(id -u)" -eq 0 ] || { echo "local_cluster.sh: needs root (network namespaces, a bridge, slurmd)" >&2; exit 2; }
  local tool
  for tool in slurmctld slurmd sbatch munged ip nsenter unshare; do
    command -v "$tool" > /dev/null || { echo "local_cluster.sh: $tool is missing (scripts/setup.sh installs Slurm and munge)" >&2; exit 2; }
  done
  ip netns add "$name-probe" 2> /dev/null && ip netns del "$name-probe" ||
    { echo "local_cluster.sh: cannot create network namespaces here" >&2; exit 2; }
}

write_config() {
  local nodes=$1 cpus=$2 names=()
  for i in $(seq 1 "$nodes"); do names+=("n$i"); done
  cat > "$state/slurm.conf" <<CONF
# Written by scripts/slurm/local_cluster.sh: a cluster of namespaces on one machine.
ClusterName=$name
SlurmctldHost=$(hostname -s)($controller)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge.socket
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool/%n
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.%n.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.%n.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
OverTimeLimit=0
UnkillableStepTimeout=30
SchedulerType=sched/backfill
NodeName=DEFAULT CPUs=$cpus RealMemory=2000 State=UNKNOWN
$(for i in $(seq 1 "$nodes"); do echo "NodeName=n$i NodeAddr=$subnet.$((10 + i)) NodeHostname=n$i"; done)
PartitionName=local Nodes=$(IFS=,; echo "${names[*]}") Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
  cat > "$state/cgroup.conf" <<CONF
CgroupPlugin=cgroup/v1
CONF
}

up() {
  local nodes=${1:-2}
  [[ "$nodes" =~ ^[1-9][0-9]?$ ]] || die "NODES must be 1 to 99, got '$nodes'"
  check_can_run
  if alive "$state/slurmctld.pid"; then
    [ "$(node_names | wc -w)" -eq "$nodes" ] || die "a cluster of $(node_names | wc -w) nodes is up; run down first"
    echo "the local cluster is up ($state)"; return 0
  fi
  case $(realpath -m "$state")/ in
    /tmp/*) die "the state folder must not be under /tmp (each node has a /tmp of its own): $state" ;;
  esac
  down > /dev/null 2>&1 || true
  mkdir -p "$state"/{ctld,log,spool}
  chmod 0755 "$state"
  local cpus=$(( $(nproc) > 4 ? $(nproc) : 4 ))
  write_config "$nodes" "$cpus"

  # The network: a bridge with the controller's address, one namespace and veth pair per node.
  ip link add "$bridge" type bridge
  ip addr add "$controller/24" dev "$bridge"
  ip link set "$bridge" up
  for i in $(seq 1 "$nodes"); do
    local ns=$name-n$i
    ip netns add "$ns"
    ip link add "${name}v$i" type veth peer name eth0 netns "$ns"
    ip link set "${name}v$i" master "$bridge" up
    ip -n "$ns" addr add "$subnet.$((10 + i))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    echo "n$i" >> "$state/nodes"
  done

  # munge with a key of this cluster's own, on a socket in the state folder.
  dd if=/dev/urandom of="$state/munge.key" bs=1024 count=1 status=none
  chmod 0400 "$state/munge.key"
  munged --force --socket="$state/munge.socket" --key-file="$state/munge.key" --pid-file="$state/munged.pid" \
    --log-file="$state/log/munged.log" --seed-file="$state/munged.seed"

  SLURM_CONF=$state/slurm.conf slurmctld -f "$state/slurm.conf"
  wait_for "slurmctld to answer" 'scontrol ping | grep -q UP'
  for i in $(seq 1 "$nodes"); do
    mkdir -p "$state/spool/n$i" "$state/tmp/n$i"
    # nsenter, not `ip netns exec`: that remounts /sys, where slurmd then finds no cgroup file system. Each
    # node has its own hostname and its own /tmp, as real nodes do (Slurm's PMIx plugin makes the same
    # directory names there on every node of a step).
    nsenter --net="/var/run/netns/$name-n$i" unshare --uts --mount sh -c \
      "mount --make-rprivate / && mount --bind '$state/tmp/n$i' /tmp && hostname n$i &&
       SLURM_CONF='$state/slurm.conf' exec slurmd -f '$state/slurm.conf' -N n$i"
  done
  wait_for "$nodes nodes to be idle" "[ \$(sinfo -h -N -t idle -o %N | sort -u | wc -l) -eq $nodes ]"
  echo "the local cluster is up: $nodes nodes ($state)"
}

# Polls the shell condition $2 (with this cluster's SLURM_CONF) for up to 30 s, or shows the logs and fails.
wait_for() {
  local deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ]; do
    SLURM_CONF=$state/slurm.conf timeout 5 bash -c "$2" > /dev/null 2>&1 && return 0
    sleep 0.3
  done
  SLURM_CONF=$state/slurm.conf timeout 5 sinfo -N >&2 || true
  tail -n 5 "$state"/log/*.log >&2 || true
  die "timed out waiting for $1; logs in $state/log"
}

down() {
  local pid_file i
  for pid_file in "$state"/slurmd.*.pid "$state/slurmctld.pid" "$state/munged.pid"; do
    alive "$pid_file" || continue
    kill "$(cat "$pid_file")" 2> /dev/null || true
  done
  for pid_file in "$state"/slurmd.*.pid "$state/slurmctld.pid" "$state/munged.pid"; do
    for _ in $(seq 1 50); do alive "$pid_file" || break; sleep 0.1; done
    alive "$pid_file" && kill -9 "$(cat "$pid_file")" 2> /dev/null || true
  done
  # Job processes left in the namespaces (a node's slurmstepd and ranks) go with them. The namespaces are
  # found by name, so an earlier run whose state folder is gone is cleaned too.
  local ns
  for ns in $(ip netns list 2> /dev/null | awk '{print $1}' | grep -E "^$name-n[0-9]+$"); do
    ip netns pids "$ns" 2> /dev/null | xargs -r kill -9 2> /dev/null || true
    ip netns del "$ns" 2> /dev/null || true
    ip link del "${name}v${ns#"$name"-n}" 2> /dev/null || true
  done
  ip link del "$bridge" 2> /dev/null || true
  # The state folder goes only if this script made it (its slurm.conf says so).
  if grep -qs "^# Written by scripts/slurm/local_cluster.sh" "$state/slurm.conf"; then rm -rf "$state"; fi
  echo "the local cluster is down"
}

case ${1:-} in
  up) up "${2:-2}" ;;
  down) down ;;
  check) check_can_run ;;
  status)
    alive "$state/slurmctld.pid" || { echo "the local cluster is not up"; exit 1; }
    SLURM_CONF=$state/slurm.conf sinfo -N ;;
  env)
    echo "export SLURM_CONF=$state/slurm.conf"
    # Open MPI's daemons and ranks talk over the nodes' interface, not the host's.
    echo "export OMPI_MCA_btl_tcp_if_include=$subnet.0/24 OMPI_MCA_oob_tcp_if_include=$subnet.0/24" ;;
  *) echo "usage: $0 up [NODES] | down | status | check | env" >&2; exit 2 ;;
esac
