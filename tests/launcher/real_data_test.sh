#!/usr/bin/env bash
# The shipped ml-100k configs end to end on the real MovieLens-100k of ../shared/data (skipped, saying so,
# when it is absent): hllm_prepare, then one short epoch of SASRec and HSTU under mpirun -np 2, each of
# which must write report.json with test metrics.
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

expect "hllm_prepare on ml-100k" 0 "943 users, 1682 items, 100000 interactions" -- \
  "$bin/hllm_prepare" --format recbole --interactions "$raw/ml-100k.inter" --items "$raw/ml-100k.item" \
  --out "$tmp/data" --train_tokenizer 2000 --num_shards 2 --max_text_len 32
for model in sasrec hstu; do
  expect "configs/ml100k_$model.json trains and evaluates" 0 "test (popularity baseline)" -- \
    mpirun "${mpi_flags[@]}" -np 2 "$bin/hllm_launch" --config "$src/configs/ml100k_$model.json" \
    --set data.path="$tmp/data" --set run.dir="$tmp/$model" --set train.epochs=1 --set train.eval_interval=0
  grep -q '"recall@10"' "$tmp/$model/report.json" 2>/dev/null || { echo "FAIL: no report.json for $model"; failures=$((failures + 1)); }
done
finish
