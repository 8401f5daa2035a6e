#!/usr/bin/env bash
# Setup, build, then the main job: prepare the synthetic demo catalog and train HLLM and SASRec on it with
# two ranks; each run prints its test metrics beside the popularity baseline; then HLLM's item table and
# top-10 lists, as a service would use them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh > /dev/null
flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
# The demo's data: the synthetic catalog (the project ships no third-party data), tokenizer trained on it.
build/bin/hllm_prepare --synthetic users=2000,items=500,seed=1 --out runs/demo/data --train_tokenizer 1000 \
  --max_text_len 32 --overwrite
echo
echo "== HLLM: tiny Item LLM + tiny User LLM from scratch, 300 steps (runs/demo) =="
mpirun "${flags[@]}" -np 2 build/bin/hllm_launch --config configs/demo.json --set data.path=runs/demo/data
echo
echo "== SASRec: one epoch (runs/demo_sasrec) =="
mpirun "${flags[@]}" -np 2 build/bin/hllm_launch --config configs/demo_sasrec.json --set data.path=runs/demo/data
echo
echo "== serving HLLM: the item table, then each user's top 10 (runs/demo) =="
mpirun "${flags[@]}" -np 2 build/bin/hllm_embed runs/demo
mpirun "${flags[@]}" -np 2 build/bin/hllm_recommend runs/demo --k 10 --embeddings runs/demo/item_embeddings.h5
head -n 2 runs/demo/recommendations.jsonl | cut -c 1-160
echo
echo "== plots =="
build/bin/hllm_plot runs/demo
build/bin/hllm_plot runs/demo_sasrec
