#!/usr/bin/env bash
# The shipped real-data configs end to end on ../shared/data (skipped, saying so, when it is absent):
# hllm_prepare of MovieLens-100k, then one epoch of SASRec and HSTU under mpirun -np 2 and its HLLM config as
# shipped; the demo as shipped; hllm_prepare of Amazon Magazine, then its SASRec and HLLM configs as shipped. Each must write report.json with test
# metrics, and the training guards, on at their defaults, must trip on none of these healthy runs (README
# "Training health"); what they saw is printed beside their thresholds.
# Usage: real_data_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS"
set -u
bin=$1
src=$2
read -r -a mpi_flags <<< "$3"
raw=$src/../shared/data/ml-100k
if [ ! -f "$raw/ml-100k.inter" ]; then
  echo "skip: MovieLens-100k is not in $raw"
  exit 77  # ctest reports it as skipped (SKIP_RETURN_CODE), not passed
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"

no_false_trips() {  # no_false_trips RUN_DIR: report.json records no guard incident
  if python3 - "$1/report.json" <<'PY'; then :; else failures=$((failures + 1)); fi
import json, os, sys
guard = json.load(open(sys.argv[1]))["guard"]
seen = guard["observed"]
name = os.path.basename(os.path.dirname(sys.argv[1]))
show = lambda key: "-" if seen[key] is None else f"{seen[key]:.4g}"
print(f"{'ok' if not guard['incidents'] else 'FAIL'}: {name}: {len(guard['incidents'])} guard incidents over "
      f"{seen['steps']} steps; max loss / median {show('max_spike_ratio')} (trips at 5), min kept share "
      f"{show('min_kept_share')} (0.02), max item cosine {show('max_item_cosine')} (0.999), longest collapsed-looking "
      f"streak {seen['longest_collapsed_streak']} (trips at 20)")
sys.exit(1 if guard["incidents"] else 0)
PY
}

expect "hllm_prepare on ml-100k" 0 "943 users, 1682 items, 100000 interactions" -- \
  "$bin/hllm_prepare" --format recbole --interactions "$raw/ml-100k.inter" --items "$raw/ml-100k.item" \
  --out "$tmp/data" --train_tokenizer 2000 --num_shards 2 --max_text_len 32
for model in sasrec hstu; do
  expect "configs/ml100k_$model.json trains and evaluates" 0 "test (popularity baseline)" -- \
    mpirun "${mpi_flags[@]}" -np 2 "$bin/hllm_launch" --config "$src/configs/ml100k_$model.json" \
    --set data.path="$tmp/data" --set run.dir="$tmp/$model" --set train.epochs=1 --set train.eval_interval=0
  grep -q '"recall@10"' "$tmp/$model/report.json" 2>/dev/null || { echo "FAIL: no report.json for $model"; failures=$((failures + 1)); }
  no_false_trips "$tmp/$model"
done
# HLLM's tiny towers on ml-100k and on the synthetic demo catalogue, as shipped (their whole runs): the
# guards' other healthy runs of docs/RESULTS.md.
expect "configs/ml100k_hllm_tiny.json trains and evaluates" 0 "test (popularity baseline)" -- \
  mpirun "${mpi_flags[@]}" -np 2 "$bin/hllm_launch" --config "$src/configs/ml100k_hllm_tiny.json" \
  --set data.path="$tmp/data" --set run.dir="$tmp/ml100k_hllm_tiny"
no_false_trips "$tmp/ml100k_hllm_tiny"
expect "hllm_prepare of the demo catalogue" 0 "users" -- \
  "$bin/hllm_prepare" --synthetic users=2000,items=500,seed=1 --out "$tmp/demo_data" --train_tokenizer 1000
expect "configs/demo.json trains and evaluates" 0 "test (popularity baseline)" -- \
  mpirun "${mpi_flags[@]}" -np 2 "$bin/hllm_launch" --config "$src/configs/demo.json" \
  --set data.path="$tmp/demo_data" --set run.dir="$tmp/demo"
no_false_trips "$tmp/demo"

mag=$src/../shared/data/amazon-magazine-2018
if [ ! -f "$mag/Magazine_Subscriptions_5.json.gz" ]; then
  echo "skip: Amazon Magazine is not in $mag"
  finish
  exit
fi
expect "hllm_prepare on Amazon Magazine" 0 "users" -- \
  "$bin/hllm_prepare" --format amazon2018 --interactions "$mag/Magazine_Subscriptions_5.json.gz" \
  --items "$mag/meta_Magazine_Subscriptions.json.gz" --out "$tmp/magazine" --train_tokenizer 1000 \
  --min_user_inter 5 --min_item_inter 5 --max_text_len 64
for config in magazine_sasrec magazine_hllm_tiny; do
  expect "configs/$config.json trains and evaluates" 0 "test (popularity baseline)" -- \
    mpirun "${mpi_flags[@]}" -np 2 "$bin/hllm_launch" --config "$src/configs/$config.json" \
    --set data.path="$tmp/magazine" --set run.dir="$tmp/$config"
  no_false_trips "$tmp/$config"
done
finish
