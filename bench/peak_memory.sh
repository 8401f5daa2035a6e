#!/usr/bin/env bash
# Peak memory per rank over a whole run (start-up, training, evaluation, checkpoints, the final save) beside
# hllm_plan's plan: a LLaMA pair from random Hugging Face directories (bench/make_random_llama.py), trained
# for 4 steps with a validation at step 2 and at the end and a checkpoint every 2 steps, in each layout
# given as STAGE:RANKS:PP. Every rank's host resident-set high-water mark is read from the run's
# report.json (the trainer measures it, RunMemory::gather) and divided by (its plan + the process
# before the model was built); beside it the most its tensors held at once (the host caching allocator's
# count) against the plan alone.
#
#   bench/peak_memory.sh [STAGE:RANKS:PP ...]        default: 3:4:1 3:4:2 3:8:1
#   HIDDEN=1024 ITEM_LAYERS=16 USER_LAYERS=1 FFN=2816 VOCAB=8000 OUT=runs/peak_memory bench/peak_memory.sh 0:2:1
#
# The default shapes are the issue's 0.22 B pair (Item LLM 1024 x 16 layers, User LLM 1024 x 1 layer); a
# micro-batch of one sequence of 5 items and 8 negatives (at most 13 items of 45 tokens) keeps activations a
# small part of the plan, as at scale, so what the run holds beyond the step shows.
set -euo pipefail
cd "$(dirname "$0")/.."
HIDDEN=${HIDDEN:-1024} ITEM_LAYERS=${ITEM_LAYERS:-16} USER_LAYERS=${USER_LAYERS:-1} FFN=${FFN:-2816}
HEADS=${HEADS:-16} VOCAB=${VOCAB:-8000} OUT=${OUT:-runs/peak_memory}
layouts=("$@")
[ ${#layouts[@]} -eq 0 ] && layouts=(3:4:1 3:4:2 3:8:1)
flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)

shape="${HIDDEN}x${ITEM_LAYERS}+${HIDDEN}x${USER_LAYERS}-ffn${FFN}-vocab${VOCAB}"
models="$OUT/models-$shape"
if [ ! -f "$models/user/config.json" ]; then
  bench/make_random_llama.py "$models/item" --hidden "$HIDDEN" --layers "$ITEM_LAYERS" --heads "$HEADS" --ffn "$FFN" --vocab "$VOCAB" --seed 1
  bench/make_random_llama.py "$models/user" --hidden "$HIDDEN" --layers "$USER_LAYERS" --heads "$HEADS" --ffn "$FFN" --vocab "$VOCAB" --seed 2
fi
if [ ! -f "$OUT/data/meta.json" ]; then
  build/bin/hllm_prepare --synthetic users=400,items=200,seed=1 --out "$OUT/data" --train_tokenizer 1000 \
    --max_text_len 32 --overwrite > /dev/null
fi

printf '%-10s %-5s %9s %9s %9s %7s %9s %7s   %s\n' layout rank "peak GiB" "plan GiB" "process" "ratio" "tensors" "/ plan" \
  "peak GiB by phase: start-up, training (with validations and checkpoints), evaluation, saving"
for layout in "${layouts[@]}"; do
  IFS=: read -r stage ranks pp <<< "$layout"
  run="$OUT/$shape/stage${stage}-np${ranks}-pp${pp}"
  mkdir -p "$OUT/$shape"
  rm -rf "$run"
  mpirun "${flags[@]}" -np "$ranks" build/bin/hllm_launch --config configs/demo.json \
    --set name=peak_memory --set run.dir="$run" --set data.path="$OUT/data" \
    --set model.item="$models/item" --set model.user="$models/user" \
    --set zero_optimization.stage="$stage" --set parallel.pp="$pp" \
    --set train_micro_batch_size_per_gpu=1 --set gradient_accumulation_steps="$pp" \
    --set data.max_item_list_len=4 --set data.num_negatives=8 --set train.max_steps=4 --set train.eval_interval=2 --set train.log_interval=1 \
    --set train.eval_batch_size=32 --set checkpoint.interval_steps=2 > "$run.log" 2>&1 \
    || { tail -n 30 "$run.log" >&2; echo "bench/peak_memory.sh: $layout failed (log: $run.log)" >&2; exit 1; }
  python3 - "$run/report.json" "$stage:$ranks:$pp" <<'PY'
import json, sys
peak = json.load(open(sys.argv[1]))["peak_memory_per_rank"]
gib = 1024.0 ** 3
phases = peak["host_rss_peak_bytes_by_phase"]
names = ["start-up", "training", "evaluation", "saving"]
for r, (p, plan, base, tensors) in enumerate(zip(peak["host_rss_peak_bytes"], peak["planned_bytes"],
                                                peak["host_rss_before_model_bytes"], peak["tensor_max_allocated_bytes"])):
    by_phase = "  ".join(f"{phases[n][r] / gib:5.2f}" for n in names if n in phases)
    print(f"{sys.argv[2] if r == 0 else '':<10} {r:<5} {p / gib:9.2f} {plan / gib:9.2f} {base / gib:9.2f} "
          f"{p / (plan + base):7.2f} {tensors / gib:9.2f} {tensors / plan:7.2f}   {by_phase}")
PY
done
