#!/usr/bin/env bash
# hllm_plan as a user runs it: HLLM-7B + 7B on 64 GPUs of 80 GiB, whose numbers can be checked by hand
# (Ψ = 13.084 B; ZeRO-3 model states 16Ψ/64 = 3.05 GiB), its pipeline layouts, and bad input. The shapes are
# configs/hllm_7b_books.json's at one sequence per micro-batch with 512 negatives (HLLM's Books-neg512 per GPU)
# and 4 micro-batches per step.
# Usage: plan_cli_test.sh BUILD_BIN_DIR SOURCE_DIR
set -u
bin=$1/hllm_plan
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"
plan() { "$bin" --config "$src/configs/hllm_7b_books.json" --set train_batch_size=0 --set train_micro_batch_size_per_gpu=1 \
           --set gradient_accumulation_steps=4 --set data.max_item_list_len=50 --set data.num_negatives=512 "$@"; }

expect "7b + 7b parameters" 0 "Ψ = 13.084 B" -- plan --world 64
expect "ZeRO-3 model states on 64 ranks" 0 "3      18Ψ/N           0.38 GiB     0.76 GiB     2.28 GiB     3.43 GiB   16Ψ/N           3.05 GiB" -- \
  plan --world 64
# Books' shapes (563 items of 269 tokens per micro-batch) keep 39 GiB per item layer stored:
# nothing fits; a micro-batch of 75 items (a history of 10, 64 negatives) does.
small=(--set data.num_negatives=64 --set data.max_item_list_len=10)
expect "7b + 7b at Books' shapes does not fit, even with stage 3 and checkpointing" 0 \
  "stage 3, checkpointing every block:     120.79 GiB  (buffers 40.94, kept 0.38)  does not fit" -- \
  plan --world 64
expect "7b + 7b with 75 items per micro-batch fits with stage 3 and checkpointing" 0 \
  "stage 3, checkpointing every block:      21.03 GiB  (buffers 7.09, kept 0.38)  fits" -- \
  plan --world 64 "${small[@]}"
expect "stage 0 does not fit" 0 "stage 0, checkpointing every block:     283.79 GiB  (buffers 53.94, kept 0.38)  does not fit" -- \
  plan --world 64 "${small[@]}"
expect "pipeline layouts are listed with their cut" 0 "2 x 32      20.0%  0     0-16 item_embedding .. item_layer.15" -- \
  plan --world 64
expect "a pipeline layout that fits 80 GiB" 0 "m = 4; largest per rank 20.41 GiB: fits" -- \
  plan --world 64 "${small[@]}"
expect "the configured pp is marked" 0 "m = 4; largest per rank 22.95 GiB: fits   <- configured" -- \
  plan --world 64 --set parallel.pp=4 "${small[@]}"
expect "a manual cut is planned" 0 "1     33-68 item_output .. loss" -- \
  plan --world 64 --set parallel.pp=2 --set 'parallel.pipeline_cut=[33]'
expect "pp must divide the world" 2 "parallel.pp = 3 does not divide --world 64" -- \
  plan --world 64 --set parallel.pp=3
expect "--set applies" 0 "ZeRO stage 1" -- plan --world 8 \
  --set zero_optimization.stage=1
expect "no --config" 2 "--config is required" -- "$bin" --world 4
expect "SASRec is not HLLM" 2 "plans HLLM" -- "$bin" --config "$src/configs/demo_sasrec.json" --world 2
expect "an unknown preset is named" 2 "key 'model.item': '13b' is neither a preset (debug, tiny, 1b, 7b) nor a model directory" -- \
  "$bin" --config "$src/configs/demo.json" --world 2 --set model.item='"13b"'
finish
