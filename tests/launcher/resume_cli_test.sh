#!/usr/bin/env bash
# Preemption and crashes as a user meets them, under mpirun with 2 ranks:
#  - SIGTERM to the ranks, or SIGUSR1 to mpirun, mid-run: the job commits a checkpoint at the next step
#    boundary and exits 3;
#  - kill -9 of one rank: the job ends non-zero within 30 s instead of hanging; a rank that hangs
#    (SIGSTOP) ends it after comm.timeout_s with the operation named;
#  - after each, --resume auto continues and finishes with the uninterrupted run's losses, bit for bit (also
#    at pp = 2);
#  - --resume of a damaged checkpoint is refused naming the file; --resume auto skips it for the previous;
#  - hllm_export writes the towers of the newest checkpoint that verifies, in shards with an index past
#    --max_shard_size.
# Usage: resume_cli_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS" DATASET_DIR
set -u
bin=$1/hllm_launch
src=$2
read -r -a mpi_flags <<< "$3"
dataset=$4
tmp=$(mktemp -d)
trap 'pkill -9 -f "$tmp" 2> /dev/null; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"

launch() {  # launch RUN_NAME [flags...]: the same training in every run, its own run directory
  local name=$1
  shift
  mpirun "${mpi_flags[@]}" -np 2 "$bin" --config "$src/configs/demo.json" --set data.path="$dataset" \
    --set train.max_steps=40 --set train.log_interval=5 --set train.eval_interval=0 \
    --set checkpoint.interval_steps=10 --set run.dir="$tmp/$name" "$@"
}
# The logged losses, the loss's health and the FLOPs balance (whose open interval's sums the checkpoint
# carries too).
losses() {
  grep -oE '"(loss|negatives_kept|negatives_kept_min|filtered_share|positive_cosine|negative_cosine|item_cosine|grad_norm_item|grad_norm_user|flops_max_over_mean)":[^,}]*' \
    "$tmp/$1/metrics.jsonl"
}
work() {  # the run's accounting without its clock: samples, tokens and FLOPs over every segment
  python3 -c 'import json, sys; a = json.load(open(sys.argv[1]))["accounting"]; print(a["samples"], a["tokens"], a["flops"])' \
    "$tmp/$1/report.json"
}
wait_for_step() {  # wait_for_step RUN STEP: until metrics.jsonl has logged STEP (at most 120 s)
  for _ in $(seq 600); do
    grep -q "\"step\":$2," "$tmp/$1/metrics.jsonl" 2> /dev/null && return 0
    sleep 0.2
  done
  return 1
}

launch whole > "$tmp/whole.log" 2>&1 || { echo "FAIL: the uninterrupted run"; cat "$tmp/whole.log"; exit 1; }

# SIGTERM to both ranks (as Slurm sends it) after step 15 is logged.
launch term > "$tmp/term.log" 2>&1 &
job=$!
wait_for_step term 15 || echo "FAIL: the run never reached step 15"
pkill -TERM -f "^$bin .*run.dir=$tmp/term"  # the ranks (mpirun itself would end the job on SIGTERM)
wait $job
rc=$?
committed() { ls -d "$1"/step_*[0-9] 2> /dev/null | tail -n 1; }  # a committed step directory (not *.tmp)
if [ "$rc" -eq 3 ] && grep -q "stopped at step" "$tmp/term.log" && [ -n "$(committed "$tmp/term/checkpoints")" ]; then
  echo "ok: SIGTERM commits a checkpoint and exits 3 ($(committed "$tmp/term/checkpoints"))"
else
  echo "FAIL: SIGTERM (exit $rc)"; sed 's/^/    /' "$tmp/term.log"; failures=$((failures + 1))
fi
expect "--resume auto after SIGTERM finishes" 0 "resuming from $tmp/term/checkpoints/step_" -- launch term --resume auto
if [ "$(losses term)" = "$(losses whole)" ]; then echo "ok: the resumed run logs the uninterrupted run's losses"
else echo "FAIL: losses differ"; diff <(losses whole) <(losses term); failures=$((failures + 1)); fi
if [ "$(work term)" = "$(work whole)" ]; then echo "ok: the resumed run's accounting counts both segments: $(work term)"
else echo "FAIL: accounting after a resume: $(work term), uninterrupted: $(work whole)"; failures=$((failures + 1)); fi

# The same at pp = 2 (each rank one pipeline stage, saving its own blocks' state).
launch whole_pp --set parallel.pp=2 > "$tmp/whole_pp.log" 2>&1 || { echo "FAIL: the uninterrupted pp = 2 run"; cat "$tmp/whole_pp.log"; exit 1; }
launch term_pp --set parallel.pp=2 > "$tmp/term_pp.log" 2>&1 &
job=$!
wait_for_step term_pp 15 || echo "FAIL: the pp = 2 run never reached step 15"
pkill -TERM -f "^$bin .*run.dir=$tmp/term_pp"
wait $job
rc=$?
[ "$rc" -eq 3 ] || { echo "FAIL: SIGTERM at pp = 2 (exit $rc)"; sed 's/^/    /' "$tmp/term_pp.log"; failures=$((failures + 1)); }
expect "--resume auto at pp = 2 finishes" 0 "resuming from $tmp/term_pp/checkpoints/step_" -- \
  launch term_pp --set parallel.pp=2 --resume auto
if [ "$(losses term_pp)" = "$(losses whole_pp)" ]; then echo "ok: at pp = 2 the resumed run logs the uninterrupted run's losses"
else echo "FAIL: pp = 2 losses differ"; diff <(losses whole_pp) <(losses term_pp); failures=$((failures + 1)); fi
if [ "$(work term_pp)" = "$(work whole_pp)" ]; then echo "ok: at pp = 2 the resumed run's accounting counts both segments"
else echo "FAIL: accounting after a resume at pp = 2: $(work term_pp), uninterrupted: $(work whole_pp)"; failures=$((failures + 1)); fi

# SIGUSR1 to mpirun (Slurm's --signal=B:USR1@120 through launcher/slurm/hllm.sbatch): forwarded to the ranks.
launch usr1 > "$tmp/usr1.log" 2>&1 &
job=$!
wait_for_step usr1 5 || echo "FAIL: the run never reached step 5"
pkill -USR1 -f "^mpirun .*run.dir=$tmp/usr1"
wait $job
rc=$?
if [ "$rc" -eq 3 ] && [ -n "$(committed "$tmp/usr1/checkpoints")" ]; then echo "ok: SIGUSR1 to mpirun commits and exits 3"
else echo "FAIL: SIGUSR1 to mpirun (exit $rc)"; sed 's/^/    /' "$tmp/usr1.log"; failures=$((failures + 1)); fi

# A rank that hangs (SIGSTOP): the others give up after comm.timeout_s, naming the operation, and the job ends.
launch hang --set comm.timeout_s=3 > "$tmp/hang.log" 2>&1 &
job=$!
wait_for_step hang 5 || echo "FAIL: the run never reached step 5"
start=$SECONDS
pkill -STOP -o -f "^$bin .*run.dir=$tmp/hang"
wait $job
rc=$?
pkill -9 -f "^$bin .*run.dir=$tmp/hang" 2> /dev/null
if [ "$rc" -ne 0 ] && [ $((SECONDS - start)) -le 60 ] && grep -q "no progress for 3 s (comm.timeout_s)" "$tmp/hang.log"; then
  echo "ok: a hung rank ends the job after comm.timeout_s (exit $rc in $((SECONDS - start)) s)"
else
  echo "FAIL: a hung rank (exit $rc after $((SECONDS - start)) s)"; sed 's/^/    /' "$tmp/hang.log"; failures=$((failures + 1))
fi

# kill -9 of one rank after step 25: the job must end, not hang.
launch kill > "$tmp/kill.log" 2>&1 &
job=$!
wait_for_step kill 25 || echo "FAIL: the run never reached step 25"
start=$SECONDS
pkill -9 -o -f "^$bin .*run.dir=$tmp/kill"
wait $job
rc=$?
if [ "$rc" -ne 0 ] && [ $((SECONDS - start)) -le 30 ]; then
  echo "ok: kill -9 of a rank ends the job (exit $rc in $((SECONDS - start)) s)"
else
  echo "FAIL: kill -9 (exit $rc after $((SECONDS - start)) s)"; failures=$((failures + 1))
fi
expect "--resume auto after kill -9 finishes" 0 "resuming from $tmp/kill/checkpoints/step_00000020" -- launch kill --resume auto
if [ "$(losses kill)" = "$(losses whole)" ]; then echo "ok: the relaunched run logs the uninterrupted run's losses"
else echo "FAIL: losses differ after kill -9"; diff <(losses whole) <(losses kill); failures=$((failures + 1)); fi

# Damage: the newest checkpoint of the finished run is refused by path and skipped by auto.
newest=$(committed "$tmp/whole/checkpoints")
printf 'x' | dd of="$newest/rank_1.safetensors" bs=1 seek=200 conv=notrunc 2> /dev/null
expect "--resume of a damaged checkpoint names the file" 2 "rank_1.safetensors: CRC-32" -- launch whole --resume "$newest"
expect "--resume auto skips it for the previous one" 0 "skipping a checkpoint that does not verify" -- \
  launch whole --resume auto

# hllm_export of the run's checkpoint root (the resumed run above saved step 40 again): two HF directories.
expect "hllm_export writes the Item and User LLMs" 0 "exported $tmp/whole/checkpoints/step_00000040" -- "$1/hllm_export" "$tmp/whole/checkpoints" "$tmp/export"
[ -s "$tmp/export/item/model.safetensors" ] && [ -s "$tmp/export/user/config.json" ] ||
  { echo "FAIL: the export is incomplete"; failures=$((failures + 1)); }
expect "hllm_export refuses an existing output" 2 "exists" -- "$1/hllm_export" "$tmp/whole/checkpoints" "$tmp/export"
expect "hllm_export of a directory without a checkpoint" 2 "no manifest.json" -- "$1/hllm_export" "$tmp/none" "$tmp/x"
# Past --max_shard_size a tower is written as numbered shards with their index, as Hugging Face does.
expect "hllm_export writes shards past --max_shard_size" 0 "exported" -- \
  "$1/hllm_export" "$tmp/whole/checkpoints" "$tmp/sharded" --max_shard_size 100KB
[ -s "$tmp/sharded/item/model.safetensors.index.json" ] && [ -s "$tmp/sharded/item/model-00002-of-"*.safetensors ] &&
  [ ! -e "$tmp/sharded/item/model.safetensors" ] || { echo "FAIL: no shards with an index"; failures=$((failures + 1)); }
expect "hllm_export refuses a size it cannot read" 2 "'5XB' is not a size" -- \
  "$1/hllm_export" "$tmp/whole/checkpoints" "$tmp/y" --max_shard_size 5XB
finish
