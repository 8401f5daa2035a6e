#!/usr/bin/env bash
# report.json's accounting (issue: scaling experiments) against an independent count: whole epochs with no
# negatives and one window per micro-batch, so the work does not depend on the order or the ranks, counted by
# tests/tools/count_training_work.py from the dataset's HDF5 files and the shapes in config.json (no code of
# the trainer). HLLM with a shape object for the User LLM on 2 ranks under ZeRO-3 and at pp = 2; SASRec; HSTU.
# Usage: accounting_cli_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS" DATASET_DIR
set -u
bin=$1/hllm_launch
src=$2
read -r -a mpi_flags <<< "$3"
dataset=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"

if ! /usr/bin/python3 -c "import h5py" 2> /dev/null; then
  echo "skipped: /usr/bin/python3 has no h5py (scripts/setup.sh installs python3-h5py)"
  exit 77
fi

run() {  # run NAME RANKS SETTINGS...: two epochs, one window per micro-batch, no negatives
  local name=$1 ranks=$2
  shift 2
  mpirun "${mpi_flags[@]}" -np "$ranks" "$bin" --config "$src/configs/demo.json" --set data.path="$dataset" \
    --set train.epochs=2 --set train.max_steps=0 --set train_micro_batch_size_per_gpu=1 \
    --set gradient_accumulation_steps=3 --set train_batch_size=0 --set data.num_negatives=0 \
    --set train.eval_interval=0 --set train.log_interval=50 --set run.dir="$tmp/$name" "$@" > "$tmp/$name.log" 2>&1 ||
    { echo "FAIL: the $name run exited non-zero:"; sed 's/^/    /' "$tmp/$name.log"; failures=$((failures + 1)); return 1; }
  grep -q "^training work: .* FLOPs (item .* tokens, user .* tokens); parameters" "$tmp/$name.log" ||
    grep -q "^training work: .* FLOPs (sequence .* tokens)" "$tmp/$name.log" ||
    { echo "FAIL: $name printed no training-work line"; failures=$((failures + 1)); }
  if /usr/bin/python3 "$src/tests/tools/count_training_work.py" "$tmp/$name" "$dataset" 2 > "$tmp/$name.count"; then
    echo "ok: $name's accounting equals the independent count ($(grep -c '^ok' "$tmp/$name.count") numbers)"
  else
    echo "FAIL: $name's accounting differs from the independent count"; sed 's/^/    /' "$tmp/$name.count"
    failures=$((failures + 1))
  fi
}

user_shape='model.user={"hidden_size": 32, "num_layers": 3, "num_heads": 2}'
run zero3 2 --set model.item=debug --set "$user_shape" --set zero_optimization.stage=3
run pipeline 2 --set model.item=debug --set "$user_shape" --set parallel.pp=2
run sasrec 1 --set model.type=sasrec
run hstu 1 --set model.type=hstu
finish
