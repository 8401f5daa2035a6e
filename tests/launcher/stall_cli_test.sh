#!/usr/bin/env bash
# A stalled rank on one host: rank 3 of 4 (ZeRO-3) gets SIGSTOP mid-run. comm.timeout_s (10 s) must end the
# job within 30 s more, its error naming the operation and the stalled rank with its host (from every rank's
# flight recorder file, written every second); afterwards `hllm_flight RUN_DIR` must point to rank 3 alone.
# tests/slurm/slurm_cluster_test.sh (d) does the same across two nodes.
# Usage: stall_cli_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS" DATASET_DIR
set -u
source "$(dirname "$0")/cli_args.sh" "$@"
stalled="" job="" host=$(hostname)
trap 'kill -CONT $stalled 2> /dev/null; kill -9 $job 2> /dev/null; rm -rf "$tmp"' EXIT

mpirun "${mpi_flags[@]}" -np 4 "$bin/hllm_launch" --config "$src/configs/demo.json" --set data.path="$dataset" \
  --set zero_optimization.stage=3 --set train.max_steps=100000 --set train.log_interval=10 --set train.eval_interval=0 \
  --set comm.timeout_s=10 --set comm.flight_recorder_interval_s=1 --set run.dir="$tmp/run" > "$tmp/log" 2>&1 &
job=$!
deadline=$((SECONDS + 120))
until grep -qs '"step":20,' "$tmp/run/metrics.jsonl" || [ $SECONDS -ge $deadline ]; do sleep 0.3; done
# Rank 3 of this job (other tests may run ranks of their own): its command line names this run's folder.
for pid in $(pgrep -x hllm_launch); do
  if tr '\0' '\n' < "/proc/$pid/cmdline" 2> /dev/null | grep -qx "run.dir=$tmp/run" &&
     tr '\0' '\n' < "/proc/$pid/environ" 2> /dev/null | grep -qx OMPI_COMM_WORLD_RANK=3; then
    stalled=$pid
  fi
done
[ -n "$stalled" ] || { echo "FAIL: rank 3 never reached step 20:"; tail -n 20 "$tmp/log"; exit 1; }
kill -STOP "$stalled"
start=$SECONDS
while kill -0 "$job" 2> /dev/null && [ $((SECONDS - start)) -le 60 ]; do sleep 0.5; done
elapsed=$((SECONDS - start))
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
if kill -0 "$job" 2> /dev/null; then
  fail "the job still runs $elapsed s after rank 3 stopped (comm.timeout_s is 10 s)"
elif [ "$elapsed" -gt 40 ]; then
  fail "the job took $elapsed s to end (comm.timeout_s 10 s + 30 s allowed)"
else
  echo "ok: the job ended $elapsed s after rank 3 stopped"
fi
if grep -Eq "(all_reduce|all_gather|reduce_scatter|broadcast|barrier)[a-z_]* on rank [0-2] of 4 \(mpi\): no progress for 10 s" "$tmp/log" &&
   grep -q "rank 3 on $host: silent for" "$tmp/log"; then
  echo "ok: the error names the operation, and the flight recorder names rank 3 on $host:"
  grep -m 1 -B 2 "rank 3 on $host: silent for" "$tmp/log" | cut -c 1-200 | sed 's/^/    /'
else
  fail "the error does not name the operation and rank 3 on $host:"; sed 's/^/    /' "$tmp/log" | tail -n 30
fi
"$bin/hllm_flight" "$tmp/run" > "$tmp/flight.txt" 2>&1 || fail "hllm_flight exited non-zero"
# The findings follow the table; every one must be about rank 3.
findings=$(grep -E '^rank [0-9]+' "$tmp/flight.txt")
if [ -n "$findings" ] && ! grep -qvE "^rank 3 on $host: (silent for|did not run for)" <<< "$findings"; then
  echo "ok: afterwards hllm_flight points to rank 3 alone:"; sed 's/^/    /' <<< "$findings" | cut -c 1-200
else
  fail "hllm_flight does not point to rank 3 alone:"; sed 's/^/    /' "$tmp/flight.txt"
fi
[ "$failures" -eq 0 ]
