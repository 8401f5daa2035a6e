#!/usr/bin/env bash
# A real Slurm cluster of two nodes on this machine (scripts/slurm/local_cluster.sh: network namespaces, one
# slurmd each, slurmctld and munged beside them), with the shipped launcher/slurm/hllm.sbatch as a user
# submits it. Each check compares with a plain single-host `mpirun -np 4` of the same config, or names what
# it saw:
#   a. sbatch over 2 nodes x 2 ranks (ZeRO-3; mpirun through Open MPI's Slurm support) gives the single-host
#      run's per-step losses and test metrics, bit for bit; its topology table puts ranks 0-1 on n1 and 2-3
#      on n2 with their local ranks; srun --mpi=pmix launches the same run with the same losses;
#   b. a 1-minute time limit: SIGUSR1 (--signal=B:USR1@...) commits a checkpoint, the job exits 3 and
#      requeues itself (Restarts=1), resumes, and ends on the single-host run's final loss; the output file
#      (--open-mode=append) holds both segments;
#   c. node loss: every rank on n2 is killed with SIGKILL mid-run; the job ends within 30 s naming the lost
#      rank and host, and the job submitted again resumes from the last committed checkpoint and ends on the
#      single-host run's final loss;
#   d. a stalled rank: rank 3 on n2 stopped with SIGSTOP; comm.timeout_s ends the job, its error naming the
#      operation and rank 3 on n2 (every rank's flight recorder file), and hllm_flight points to rank 3 alone;
#   e. hllm_sweep --mode sbatch: its 3-point array job runs on the cluster; after scancel of one task, the
#      script submitted again trains only that point (resuming it), and hllm_plot --sweep collects all three.
# Slurm holds a requeued job about two minutes for its BeginTime; the test starts it at once, with a limit
# its second segment does not reach. The cluster is
# torn down on exit, also when a check fails. Where namespaces or Slurm are missing the test reports skipped
# (exit 77) with the reason, as where the tree is under /tmp.
# Usage: slurm_cluster_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS" DATASET_DIR
set -u
bin=$1
src=$2
read -r -a mpi_flags <<< "$3"
dataset=$4
cluster=$src/scripts/slurm/local_cluster.sh
# A cluster of the test's own, beside any the user runs.
export HLLM_SLURM_NAME=hllmci HLLM_SLURM_SUBNET=10.231.9 HLLM_SLURM_PORT=6937
reason=$("$cluster" check 2>&1) || { echo "SKIP: $reason"; exit 77; }
# The nodes run the binaries, the job script and the data from here, and each node has a /tmp of its own: a
# tree under /tmp is invisible to them (a clone in /tmp/x, say).
for path in "$bin" "$src" "$dataset"; do
  case $(cd "$path" && pwd -P)/ in
    /tmp/*) echo "SKIP: $path is under /tmp, which each node of the local cluster has of its own; clone and build elsewhere"
            exit 77 ;;
  esac
done
# Runs, checkpoints and the cluster's state on a path every node sees: the build tree (each node has its own
# /tmp).
tmp=$(mktemp -d -p "$bin/..")
# The cluster's state in a fixed folder: a run killed before its trap (a ctest timeout) leaves daemons whose
# pids the next run's `down` finds there.
export HLLM_SLURM_STATE=$bin/../slurm_cluster_test_state
trap '"$cluster" down > /dev/null 2>&1; rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

"$cluster" down > /dev/null 2>&1
"$cluster" up 2 > "$tmp/up.log" 2>&1 || { echo "FAIL: the cluster did not come up:"; cat "$tmp/up.log"; exit 1; }
eval "$("$cluster" env)"
# What reaches the ranks: the binaries, one BLAS thread each, and mpirun's consent to run as root (CI is root).
export HLLM_BIN=$bin OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# The same training everywhere: ZeRO-3 over 4 ranks, a checkpoint every 20 steps.
train=(--set data.path="$dataset" --set zero_optimization.stage=3 --set train.max_steps=STEPS
       --set train.log_interval=10 --set train.eval_interval=0 --set checkpoint.interval_steps=20
       --set train_micro_batch_size_per_gpu=2 --set data.num_negatives=16)
settings() { local steps=$1; shift; printf '%s\n' "${train[@]/STEPS/$steps}" "$@"; }
# The shipped script on a CPU cluster: 2 nodes x 2 ranks, no GPUs, one core per rank (command-line options
# override its #SBATCH lines).
cpu_job=(-N 2 --ntasks-per-node=2 --gpus-per-node=0 --cpus-per-task=1)
submit() {  # submit NAME MINUTES STEPS [sbatch options...] [-- settings...]: prints the job id
  local name=$1 minutes=$2 steps=$3 options=() extra=()
  shift 3
  while [ $# -gt 0 ] && [ "$1" != -- ]; do options+=("$1"); shift; done
  [ $# -gt 0 ] && shift && extra=("$@")
  mapfile -t flags < <(settings "$steps" --set run.dir="$tmp/$name" "${extra[@]}")
  sbatch --parsable "${cpu_job[@]}" --time="$minutes" --output="$tmp/$name.out" --job-name="$name" "${options[@]}" \
    "$src/launcher/slurm/hllm.sbatch" "$src/configs/demo.json" "${flags[@]}"
}
field() { scontrol show job "$1" 2> /dev/null | grep -o "$2=[^ ]*" | head -n 1 | cut -d= -f2; }
wait_job() {  # wait_job ID SECONDS: until the job has finished (not requeued or pending), or the time is up
  local deadline=$((SECONDS + $2)) state held=""
  while [ $SECONDS -lt $deadline ]; do
    state=$(field "$1" JobState)
    case $state in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) return 0 ;; esac
    # Slurm holds a requeued job for about two minutes (Reason=BeginTime) while its nodes finish the last
    # segment; once they are idle, the test starts it, with a limit its second segment does not reach (a
    # second signal would only repeat the first segment's check).
    if [ "$state" = PENDING ] && [ "$(field "$1" Reason)" = BeginTime ]; then
      held=${held:-$SECONDS}
      if [ $((SECONDS - held)) -ge 5 ] && [ "$(sinfo -h -N -t idle -o %N | sort -u | wc -l)" -eq 2 ]; then
        scontrol update JobId="$1" StartTime=now TimeLimit=10 2> /dev/null
      fi
    fi
    sleep 1
  done
  return 1
}
losses() { grep -o '"loss":[^,]*' "$tmp/$1/metrics.jsonl" 2> /dev/null; }
test_metrics() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["test"])' "$tmp/$1/report.json" 2> /dev/null; }
wait_for_step() {  # wait_for_step RUN STEP SECONDS
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    grep -q "\"step\":$2," "$tmp/$1/metrics.jsonl" 2> /dev/null && return 0
    sleep 0.3
  done
  return 1
}

# The single-host references.
for steps in 40 200; do
  mapfile -t flags < <(settings "$steps" --set run.dir="$tmp/host$steps")
  mpirun "${mpi_flags[@]}" -np 4 "$bin/hllm_launch" --config "$src/configs/demo.json" "${flags[@]}" > "$tmp/host$steps.log" 2>&1 ||
    { echo "FAIL: the single-host run of $steps steps:"; tail -n 20 "$tmp/host$steps.log"; exit 1; }
done

# a. Equivalence, through mpirun and through srun.
job=$(submit equal 10 40 --wait 2> "$tmp/equal.sbatch.err")
rc=$(field "$job" ExitCode)
if [ "$rc" = "0:0" ] && [ -n "$(losses equal)" ] && [ "$(losses equal)" = "$(losses host40)" ] &&
   [ "$(test_metrics equal)" = "$(test_metrics host40)" ]; then
  echo "ok: a. sbatch over n1 and n2 logs the single-host run's $(losses equal | wc -l) losses and its test metrics, bit for bit"
else
  fail "a. sbatch (exit $rc)"; diff <(losses host40) <(losses equal) | head; tail -n 30 "$tmp/equal.out"
fi
# The topology table: rank, host, local rank / ranks on that host.
if grep -Eq '^ *0 +n1 +0/2 ' "$tmp/equal.out" && grep -Eq '^ *1 +n1 +1/2 ' "$tmp/equal.out" &&
   grep -Eq '^ *2 +n2 +0/2 ' "$tmp/equal.out" && grep -Eq '^ *3 +n2 +1/2 ' "$tmp/equal.out"; then
  echo "ok: a. the topology table puts ranks 0-1 on n1 and 2-3 on n2, each with its local rank"
else
  fail "a. the topology table"; grep -A6 ' rank  host' "$tmp/equal.out"
fi
mapfile -t flags < <(settings 40 --set run.dir="$tmp/srun")
if srun "${cpu_job[@]}" --mpi=pmix --time=10 "$bin/hllm_launch" --config "$src/configs/demo.json" "${flags[@]}" \
     > "$tmp/srun.out" 2>&1 && [ "$(losses srun)" = "$(losses host40)" ] && grep -Eq '^ *3 +n2 +1/2 ' "$tmp/srun.out"; then
  echo "ok: a. srun --mpi=pmix starts the ranks on both nodes and logs the same losses"
else
  fail "a. srun --mpi=pmix"; diff <(losses host40) <(losses srun) | head; tail -n 20 "$tmp/srun.out"
fi

# b. The time limit: signalled 40 s before it, the job commits, exits 3 and requeues itself, then finishes.
job=$(submit limit 1 200 --signal=B:USR1@40)
if wait_job "$job" 300 && [ "$(field "$job" JobState)" = COMPLETED ] && [ "$(field "$job" Restarts)" = 1 ] &&
   [ "$(losses limit | tail -n 1)" = "$(losses host200 | tail -n 1)" ] &&
   grep -q "preempted at the time limit with a committed checkpoint: requeueing" "$tmp/limit.out" &&
   grep -q "resuming from $tmp/limit/checkpoints/step_" "$tmp/limit.out"; then
  echo "ok: b. the time limit's signal committed a checkpoint and requeued the job (Restarts=$(field "$job" Restarts));" \
    "it resumed and ended on the single-host run's final loss ($(losses limit | tail -n 1))"
else
  fail "b. time limit (state $(field "$job" JobState), restarts $(field "$job" Restarts))"
  diff <(losses host200) <(losses limit) | head; sed 's/^/    /' "$tmp/limit.out"
fi

# c. Node loss: every rank on n2 killed once the first checkpoint is committed.
job=$(submit lost 10 200)
if wait_for_step lost 30 120; then
  start=$SECONDS
  ip netns pids "$HLLM_SLURM_NAME-n2" | while read -r pid; do
    [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = hllm_launch ] && kill -9 "$pid"
  done
  if wait_job "$job" 60 && [ $((SECONDS - start)) -le 30 ] && [ "$(field "$job" JobState)" = FAILED ] &&
     grep -Eq "rank [23] .*on node n2 .*(signal 9|Killed)" "$tmp/lost.out"; then
    echo "ok: c. with n2's ranks killed the job ended in $((SECONDS - start)) s:" \
      "$(grep -Eo "process rank [23] .*on node n2[^.]*" "$tmp/lost.out" | head -n 1)"
  else
    fail "c. node loss (state $(field "$job" JobState) after $((SECONDS - start)) s)"; tail -n 30 "$tmp/lost.out"
  fi
  job=$(submit lost 10 200)
  if wait_job "$job" 300 && [ "$(field "$job" JobState)" = COMPLETED ] &&
     grep -q "resuming from $tmp/lost/checkpoints/step_" "$tmp/lost.out" &&
     [ "$(losses lost | tail -n 1)" = "$(losses host200 | tail -n 1)" ]; then
    echo "ok: c. the job submitted again resumed from $(grep -o "resuming from [^ ]*" "$tmp/lost.out" | tail -n 1 | sed 's/resuming from //')" \
      "and ended on the single-host run's final loss"
  else
    fail "c. the resubmitted job"; tail -n 30 "$tmp/lost.out"
  fi
else
  fail "c. the job never reached step 30"; tail -n 30 "$tmp/lost.out"
fi

# d. A stalled rank: rank 3 (on n2) stopped with SIGSTOP; comm.timeout_s (10 s) ends the job naming the
# operation and the stalled rank with its host, from every rank's flight recorder; hllm_flight then points
# to rank 3 alone.
job=$(submit stalled 10 100000 -- --set comm.timeout_s=10 --set comm.flight_recorder_interval_s=1)
if wait_for_step stalled 20 120; then
  for pid in $(ip netns pids "$HLLM_SLURM_NAME-n2"); do
    [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = hllm_launch ] &&
      tr '\0' '\n' < "/proc/$pid/environ" 2> /dev/null | grep -qx OMPI_COMM_WORLD_RANK=3 && kill -STOP "$pid"
  done
  start=$SECONDS
  wait_job "$job" 90
  elapsed=$((SECONDS - start))
  "$bin/hllm_flight" "$tmp/stalled" > "$tmp/stalled.flight" 2>&1
  findings=$(grep -E '^rank [0-9]+' "$tmp/stalled.flight")
  if [ "$(field "$job" JobState)" = FAILED ] && [ "$elapsed" -le 40 ] &&
     grep -Eq "[a-z_]+ on rank [0-2] of 4 \(mpi\): no progress for 10 s" "$tmp/stalled.out" &&
     grep -q "rank 3 on n2: silent for" "$tmp/stalled.out" &&
     [ -n "$findings" ] && ! grep -qvE "^rank 3 on n2: (silent for|did not run for)" <<< "$findings"; then
    echo "ok: d. with rank 3 stopped the job ended in $elapsed s: $(grep -Eo "[a-z_]+ on rank [0-2] of 4 \(mpi\): no progress for 10 s" "$tmp/stalled.out" | head -n 1);" \
      "$(grep -o "rank 3 on n2: silent for [0-9.]* s" "$tmp/stalled.out" | head -n 1); hllm_flight: $(cut -c 1-60 <<< "$findings")"
  else
    fail "d. stalled rank (state $(field "$job" JobState) after $elapsed s)"; tail -n 30 "$tmp/stalled.out"
    sed 's/^/    /' "$tmp/stalled.flight"
  fi
else
  fail "d. the job never reached step 20"; tail -n 30 "$tmp/stalled.out"
fi
scancel "$job" 2> /dev/null

# e. A sweep for real: hllm_sweep's array script, one task per point on both nodes; one task cancelled, then
# the script submitted again trains only that point; hllm_plot --sweep collects the three.
shape() { echo "{\"hidden_size\": $1, \"num_layers\": 1, \"num_heads\": 2}"; }
cat > "$tmp/ladder.json" <<JSON
{"points": [
  {"name": "d16", "set": {"model.item": $(shape 16), "model.user": $(shape 16)}},
  {"name": "d32", "set": {"model.item": $(shape 32), "model.user": $(shape 32)}},
  {"name": "d48", "set": {"model.item": $(shape 48), "model.user": $(shape 48)}}
]}
JSON
python3 - "$src/configs/demo.json" "$dataset" "$tmp/base.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["data"].update({"path": sys.argv[2], "num_negatives": 16})
config["train"].update({"max_steps": 60, "eval_interval": 0, "log_interval": 10})
# d16 (one 16-wide layer) embeds every item alike from its first step (every negative filtered, loss 0): the
# collapse guard would rightly stop it (exit 4). The sweep's mechanics are tested here, so that guard is off.
config["train"]["guard"] = {"collapse_min_kept_share": 0, "collapse_max_item_cosine": 1}
config["checkpoint"] = {"interval_steps": 10}
json.dump(config, open(sys.argv[3], "w"), indent=1)
PY
"$bin/hllm_sweep" --config "$tmp/base.json" --ladder "$tmp/ladder.json" --out "$tmp/sweep" --mode sbatch --nodes 2 \
  --ntasks_per_node 1 --time 00:10:00 > "$tmp/sweep.log" 2>&1 || { fail "e. hllm_sweep --mode sbatch"; cat "$tmp/sweep.log"; }
array=(--gpus-per-node=0 --cpus-per-task=1 "$tmp/sweep/sweep.sbatch")
job=$(sbatch --parsable "${array[@]}")
# Cancel the last point mid-run, once its checkpoints of steps 10 and 20 are behind it.
deadline=$((SECONDS + 120))
until grep -qs '"step":30,' "$tmp/sweep/runs/d48/metrics.jsonl" || [ $SECONDS -ge $deadline ]; do sleep 0.3; done
scancel "${job}_2"
deadline=$((SECONDS + 180))
while [ -n "$(squeue -h -j "$job" 2> /dev/null)" ] && [ $SECONDS -lt $deadline ]; do sleep 1; done
if [ -f "$tmp/sweep/runs/d16/report.json" ] && [ -f "$tmp/sweep/runs/d32/report.json" ] &&
   [ ! -f "$tmp/sweep/runs/d48/report.json" ]; then
  echo "ok: e. the array job trained d16 and d32 on the cluster; d48 was cancelled mid-run"
else
  fail "e. the first array job"; tail -n 5 "$tmp"/sweep/logs/*.out
fi
job=$(sbatch --parsable --wait "${array[@]}")
if grep -qs "d16: already trained" "$tmp/sweep/logs/slurm-${job}_0.out" &&
   grep -qs "d32: already trained" "$tmp/sweep/logs/slurm-${job}_1.out" &&
   grep -qs "resuming from $tmp/sweep/runs/d48/checkpoints/step_" "$tmp/sweep/logs/slurm-${job}_2.out" &&
   "$bin/hllm_plot" --sweep "$tmp/sweep" > "$tmp/plot.log" 2>&1 && [ "$(grep -c '^d[0-9]*,' "$tmp/sweep/sweep.csv")" -eq 3 ]; then
  echo "ok: e. submitted again, only d48 trained (resumed from its checkpoint); hllm_plot --sweep collected the 3 points"
else
  fail "e. the resubmitted array job"; tail -n 5 "$tmp"/sweep/logs/slurm-"${job}"_*.out; cat "$tmp/plot.log"
fi

squeue -h -o '%i %j %T' | sed 's/^/    left in the queue: /'
[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
