#!/usr/bin/env bash
# The training guards as a user meets them (README "Training health"), under mpirun on the demo config:
#  - a NaN injected at a step (debug.inject) at dp 2 with ZeRO-3 and at pp 2, and a loss spike at dp 2: the
#    run rolls back to its last checkpoint in process, skips the step's windows, finishes with exit 0, and
#    ends bit for bit like a fresh run given the same data.skip_windows (every logged loss and health value,
#    the tested metrics, the saved model); the incident is in report.json, metrics.jsonl and the log;
#  - an injected collapse trips the collapse guard after train.guard.collapse_steps and is healed the same way;
#  - a real collapse (learning rate 0.1, no clipping: every item embedding alike, as in bytedance/HLLM #15)
#    trips the collapse guard again after each rollback and stops the run with exit code 4 after
#    train.guard.max_rollbacks, naming the step, metric, value, threshold and windows; --resume auto then
#    keeps the skip list;
#  - bad debug.inject, train.guard and data.skip_windows values exit 2 naming the key.
# Usage: guard_cli_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS" DATASET_DIR
set -u
source "$(dirname "$0")/cli_args.sh" "$@"
source "$(dirname "$0")/../cli_expect.sh"

launch() {  # launch NAME RANKS SETTINGS...: prints nothing, returns the job's exit code
  local name=$1 ranks=$2
  shift 2
  mpirun "${mpi_flags[@]}" -np "$ranks" "$bin/hllm_launch" --config "$src/configs/demo.json" --set data.path="$dataset" \
    --set train.max_steps=16 --set train.log_interval=2 --set train.eval_interval=0 \
    --set checkpoint.interval_steps=4 --set run.dir="$tmp/$name" "$@" > "$tmp/$name.log" 2>&1
}
launch_cmd() {  # the same settings, its output on stdout (for expect)
  mpirun "${mpi_flags[@]}" -np 2 "$bin/hllm_launch" --config "$src/configs/demo.json" --set data.path="$dataset" \
    --set train.max_steps=16 --set run.dir="$tmp/bad" "$@"
}
skip_list() {  # the windows a run's incidents took out, as a data.skip_windows value
  python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["skip_windows"]))' "$tmp/$1/checkpoints/incidents.json"
}
logged() {  # every metrics.jsonl line but the incidents: losses, health, grad norms, valid/test, less the clock
  grep -v '"split":"incident"' "$tmp/$1/metrics.jsonl" | sed -E 's/"(samples_per_second|tokens_per_second|wait_share)":[^,}]*,?//g'
}
guard_field() {  # guard_field RUN EXPRESSION: a value from report.json's "guard"
  python3 -c 'import json, sys; g = json.load(open(sys.argv[1]))["guard"]; print(eval(sys.argv[2]))' "$tmp/$1/report.json" "$2"
}

# heal NAME RANKS FAULT STEP WANT_LOG SETTINGS...: the fault is caught and rolled back; the run equals a
# fresh one with the same skip list.
heal() {
  local name=$1 ranks=$2 fault=$3 step=$4 want=$5
  shift 5
  launch "$name" "$ranks" --set debug.inject="$fault" --set debug.inject_step="$step" "$@"
  local rc=$?
  if [ "$rc" -ne 0 ] || ! grep -qF "$want" "$tmp/$name.log"; then
    echo "FAIL: $name (exit $rc; looked for: $want)"; sed 's/^/    /' "$tmp/$name.log"; failures=$((failures + 1)); return
  fi
  echo "ok: $name: $(grep -o "step [0-9]*: guard tripped.*" "$tmp/$name.log" | head -1)"
  local incidents
  incidents=$(guard_field "$name" '[(i["step"], i["guard"], i["action"], i.get("rolled_back_to")) for i in g["incidents"]]')
  if grep -q '"split":"incident"' "$tmp/$name/metrics.jsonl" && [[ $incidents == *rollback* ]]; then
    echo "ok: $name: report.json and metrics.jsonl record it: $incidents"
  else
    echo "FAIL: $name: the incident is not recorded ($incidents)"; failures=$((failures + 1))
  fi
  launch "$name.fresh" "$ranks" --set data.skip_windows="$(skip_list "$name")" "$@" ||
    { echo "FAIL: the fresh run for $name"; sed 's/^/    /' "$tmp/$name.fresh.log"; failures=$((failures + 1)); return; }
  if [ "$(logged "$name")" = "$(logged "$name.fresh")" ] && [ -n "$(logged "$name")" ] &&
     cmp -s "$tmp/$name/model/model.safetensors" "$tmp/$name.fresh/model/model.safetensors"; then
    echo "ok: $name ends bit for bit like a fresh run skipping $(skip_list "$name" | tr -cd , | wc -c | awk '{print $1 + 1}') windows"
  else
    echo "FAIL: $name differs from the fresh run with the same skip list"
    diff <(logged "$name") <(logged "$name.fresh") | head -20; failures=$((failures + 1))
  fi
}

heal nan_zero3 2 nan 6 "rolled back to step 4" --set zero_optimization.stage=3
heal nan_pp2 2 nan 9 "rolled back to step 8" --set parallel.pp=2
heal spike 2 spike 10 "guard tripped: spike" --set train.guard.spike_window=4 --set zero_optimization.stage=1
heal collapse 2 collapse 5 "guard tripped: collapse" --set train.guard.collapse_steps=2

# A real collapse: the same guard, no injection. It comes back after every rollback.
launch real_collapse 2 --set optimizer.params.lr=0.1 --set gradient_clipping=0 --set train.max_steps=60 \
  --set train.guard.collapse_steps=3 --set train.guard.max_rollbacks=2
rc=$?
message=$(grep -o "stopped by a training guard: .*" "$tmp/real_collapse.log")
if [ "$rc" -eq 4 ] && [[ $message == *"after 2 rollbacks (train.guard.max_rollbacks)"* ]] &&
   [[ $message == *"kept_share"* || $message == *"item_cosine"* ]] && [[ $message == *"windows are skipped on resume"* ]] &&
   [ "$(python3 -c 'import json, sys; print([i["action"] for i in json.load(open(sys.argv[1]))["incidents"]])' \
        "$tmp/real_collapse/checkpoints/incidents.json")" = "['rollback', 'rollback', 'stop']" ] &&
   [ ! -e "$tmp/real_collapse/report.json" ]; then
  echo "ok: a real collapse stops the run with exit 4 after 2 rollbacks, no report.json: ${message:0:240}..."
else
  echo "FAIL: the real collapse (exit $rc)"; sed 's/^/    /' "$tmp/real_collapse.log" | tail -30; failures=$((failures + 1))
fi
skipped_before=$(skip_list real_collapse)
# Resumed with the collapse guard off (a user looking into it): the skip list of all three incidents stays.
launch real_collapse 2 --set optimizer.params.lr=0.1 --set gradient_clipping=0 --set train.max_steps=60 \
  --set train.guard.collapse_min_kept_share=0 --set train.guard.collapse_max_item_cosine=1 --resume auto
rc=$?
reported_skips=$(python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["guard"]["skip_windows"]))' \
  "$tmp/real_collapse/report.json" 2> /dev/null)
if [ "$rc" -eq 0 ] && grep -q "resuming from" "$tmp/real_collapse.log" && [ "$reported_skips" = "$skipped_before" ] &&
   [ "$(guard_field real_collapse 'len(g["incidents"])')" = 3 ]; then
  echo "ok: --resume auto after the stop keeps the skip list ($(echo "$skipped_before" | tr -cd , | wc -c | awk '{print $1 + 1}') windows)"
else
  echo "FAIL: --resume auto after a guard stop (exit $rc)"; tail -20 "$tmp/real_collapse.log" | sed 's/^/    /'; failures=$((failures + 1))
fi

expect "a fault at a step the run never reaches is refused" 2 "debug.inject_step = 99 is not below the run's 16 steps" -- \
  launch_cmd --set debug.inject=nan --set debug.inject_step=99 --dry_run
expect "an unknown fault is refused" 2 "debug.inject" -- launch_cmd --set debug.inject=meteor --dry_run
expect "a malformed skip list is refused" 2 "data.skip_windows: '12' is not EPOCH:WINDOW" -- \
  launch_cmd --set 'data.skip_windows=["12"]' --dry_run
expect "a window past the dataset is refused" 2 "data.skip_windows: window 99999999 does not exist" -- \
  launch_cmd --set 'data.skip_windows=["0:99999999"]' --dry_run
expect "a learning-rate factor above 1 is refused" 2 "train.guard.lr_factor" -- \
  launch_cmd --set train.guard.lr_factor=2 --dry_run
finish
