#!/usr/bin/env bash
# End-to-end checks of hllm_launch's command line, as a user runs it under mpirun.
# Usage: launch_cli_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS" DATASET_DIR
set -u
bin=$1/hllm_launch
src=$2
read -r -a mpi_flags <<< "$3"
dataset=$4
mpirun_() { mpirun "${mpi_flags[@]}" "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"

expect "2 x 2 topology on 4 ranks" 0 "world_size 4 = pp 2 x dp 2" -- \
  mpirun_ -np 4 "$bin" --config "$src/configs/demo.json" --set parallel.pp=2 --dry_run
expect "table lists the last rank" 0 "     3  " -- \
  mpirun_ -np 4 "$bin" --config "$src/configs/demo.json" --set parallel.pp=2 --dry_run
expect "pp=3 on 4 ranks prints every factor" 2 "world_size (4) must equal pp (3) x dp" -- \
  mpirun_ -np 4 "$bin" --config "$src/configs/demo.json" --set parallel.pp=3 --dry_run

printf '{\n  "name": "typo",\n  "train_micro_batch_size_per_gpu": 2,\n  "zero_optimisation": {"stage": 1}\n}\n' > "$tmp/typo.json"
expect "misspelt key names the key and the fix" 2 "typo.json:4: unknown key 'zero_optimisation'; did you mean 'zero_optimization'?" -- \
  mpirun_ -np 2 "$bin" --config "$tmp/typo.json" --dry_run
expect "unknown --set key" 2 "did you mean 'parallel.pp'?" -- \
  "$bin" --config "$src/configs/demo.json" --set paralel.pp=2 --dry_run
expect "unknown flag" 2 "did you mean '--dry_run'?" -- "$bin" --config "$src/configs/demo.json" --dryrun
expect "missing config file" 2 "cannot open config file" -- "$bin" --config "$tmp/none.json" --dry_run
expect "no --config" 2 "--config is required" -- "$bin" --dry_run
expect "--help" 0 "--set" -- "$bin" --help
expect "--progress takes auto, bar or lines" 2 "expected auto, bar or lines" -- "$bin" --config "$src/configs/demo.json" --progress=fancy --dry_run
expect "single rank without mpirun" 0 "world_size 1 = pp 1 x dp 1" -- "$bin" --config "$src/configs/demo.json" --dry_run
expect "batch sizes that disagree" 2 "the three sizes disagree" -- \
  "$bin" --config "$src/configs/demo.json" --set train_batch_size=7 --dry_run

expect "dry run with a dataset prints its plan" 0 "300 users, 120 items" -- \
  mpirun_ -np 3 "$bin" --config "$src/configs/demo.json" --set data.path="$dataset" --dry_run
expect "data.path that is not a dataset" 2 "is not a dataset: no meta.json" -- \
  mpirun_ -np 2 "$bin" --config "$src/configs/demo.json" --set data.path="$tmp" --dry_run

expect "training without data.path" 2 "data.path is not set" -- "$bin" --config "$src/configs/demo.json"
expect "a few training steps on 2 ranks" 0 "test (popularity baseline)" -- \
  mpirun_ -np 2 "$bin" --config "$src/configs/demo_sasrec.json" --set data.path="$dataset" --set train.max_steps=20 \
    --set run.dir="$tmp/run"
[ -f "$tmp/run/report.json" ] && [ -s "$tmp/run/metrics.jsonl" ] || { echo "FAIL: no report.json / metrics.jsonl"; failures=$((failures + 1)); }
# The balance of work across the ranks (README "Balance of work across ranks"): in the final lines, report.json
# and every log line: the busiest rank's FLOPs at least the mean, a waiting share per rank within [0, 1).
grep -q "^balance: the busiest rank did" "$tmp/out" || { echo "FAIL: no balance line"; failures=$((failures + 1)); }
python3 - "$tmp/run" <<'PY' || failures=$((failures + 1))
import json, sys
b = json.load(open(sys.argv[1] + "/report.json"))["balance"]
lines = [r for r in map(json.loads, open(sys.argv[1] + "/metrics.jsonl")) if "loss" in r]
ok = (b["steps"] == 20 and len(b["flops_per_rank"]) == 2 and all(f > 0 for f in b["flops_per_rank"])
      and 1 <= b["step_flops_max_over_mean"]["mean"] <= b["step_flops_max_over_mean"]["max"]
      and len(b["wait_share_per_rank"]) == 2 and all(0 <= w < 1 for w in b["wait_share_per_rank"])
      and all(r["flops_max_over_mean"] >= 1 and 0 <= r["wait_share"] < 1 for r in lines))
print(("ok" if ok else "FAIL") + ": report.json's balance: " + json.dumps(b["step_flops_max_over_mean"]) +
      ", waiting " + json.dumps([round(w, 3) for w in b["wait_share_per_rank"]]))
sys.exit(0 if ok else 1)
PY
# hllm_eval on the saved model, on 1 and 3 ranks: the test metrics of report.json, to the printed digits.
want=$(python3 -c "import json,sys; print('%.4f' % json.load(open(sys.argv[1]))['test']['recall@10'])" "$tmp/run/report.json")
expect "hllm_eval on 1 rank" 0 "test (popularity baseline)" -- "$1/hllm_eval" "$tmp/run"
got=$(awk '$1 == "test" && $2 ~ /^[0-9]/ {print $2}' "$tmp/out")
[ "$got" = "$want" ] || { echo "FAIL: hllm_eval test R@10 $got, report.json $want"; failures=$((failures + 1)); }
expect "hllm_eval on 3 ranks" 0 "test (popularity baseline)" -- mpirun_ -np 3 "$1/hllm_eval" "$tmp/run"
got=$(awk '$1 == "test" && $2 ~ /^[0-9]/ {print $2}' "$tmp/out")
[ "$got" = "$want" ] || { echo "FAIL: hllm_eval on 3 ranks: test R@10 $got, report.json $want"; failures=$((failures + 1)); }
expect "hllm_eval with a config the model does not fit names file and tensor" 2 "model.safetensors: tensor 'item_table' has shape" -- \
  "$1/hllm_eval" "$tmp/run" --set model.hidden_size=8
cp -r "$tmp/run" "$tmp/nomodel" && rm -rf "$tmp/nomodel/model"
expect "hllm_eval of a run without model/" 2 "model" -- "$1/hllm_eval" "$tmp/nomodel"
expect "hllm_eval of a directory that is not a run" 2 "cannot open config file" -- "$1/hllm_eval" "$tmp/none"
if command -v gnuplot > /dev/null; then
  expect "hllm_plot draws the run" 0 "training.png" -- "$1/hllm_plot" "$tmp/run"
  [ -s "$tmp/run/training.png" ] || { echo "FAIL: no training.png"; failures=$((failures + 1)); }
  [ -s "$tmp/run/health.png" ] || { echo "FAIL: no health.png (the loss's health)"; failures=$((failures + 1)); }
  [ -s "$tmp/run/balance.png" ] || { echo "FAIL: no balance.png (the balance of work)"; failures=$((failures + 1)); }
else  # e.g. the GPU machine (docs/GPU.md): hllm_plot must say what is missing
  echo "skip: hllm_plot draws the run (gnuplot is not installed here)"
  expect "hllm_plot without gnuplot names it" 1 "gnuplot" -- "$1/hllm_plot" "$tmp/run"
fi
expect "hllm_plot on a directory that is not a run" 2 "a run directory?" -- "$1/hllm_plot" "$tmp/none"
expect "checkpointing SASRec is refused, not ignored" 2 "'activation_checkpointing.policy' = every_block" -- \
  "$bin" --config "$src/configs/demo_sasrec.json" --set data.path="$dataset" --set activation_checkpointing.policy=every_block
# A dry run refuses what the run would refuse, naming the file and the key.
expect "a dry run refuses what the run refuses" 2 "'bf16.enabled': sasrec (a small ID model)" -- \
  "$bin" --config "$src/configs/demo_sasrec.json" --set bf16.enabled=true --dry_run
# ... and a pipeline cut the model cannot take (its chain has 13 blocks), after printing the cut it would make.
expect "a dry run refuses a cut past the model's blocks" 2 "starts at block 99; stage starts must increase and stay below 13" -- \
  mpirun_ -np 2 "$bin" --config "$src/configs/demo.json" --set parallel.pp=2 --set 'parallel.pipeline_cut=[99]' --dry_run
expect "a dry run refuses towers of different widths" 2 "model.item ('debug') has hidden size 32 and model.user ('tiny') has 128" -- \
  "$bin" --config "$src/configs/demo.json" --set model.item=debug --dry_run
expect "a dry run prints the pipeline's cut" 0 "pipeline cut (stage 0: blocks 0 .. 2 (item_embedding .. item_layer.1)" -- \
  mpirun_ -np 2 "$bin" --config "$src/configs/demo.json" --set parallel.pp=2 --dry_run
# Two ranks on this machine: one GPU each is impossible here (no GPU in CI, one on the lent GPU machine),
# so parallel.device = cuda stops on every rank with one message.
expect "cuda without a GPU per rank is refused" 2 "every rank needs a GPU of its own" -- \
  mpirun_ -np 2 "$bin" --config "$src/configs/demo_sasrec.json" --set parallel.device=cuda --dry_run
expect "cpu is accepted" 0 "cpu" -- "$bin" --config "$src/configs/demo_sasrec.json" --set parallel.device=cpu --dry_run

# A failure on one rank only (a malformed local rank in its environment) must end the whole job, not hang
# the other rank in its next collective; ctest's timeout catches a hang.
# The keys hllm_prepare fixes are checked against the dataset's meta.json, not silently ignored.
expect "data.max_text_len other than the dataset's is refused" 2 "key 'data.max_text_len' = 64 but $dataset/meta.json says 16" -- \
  "$bin" --config "$src/configs/demo.json" --set data.path="$dataset" --set data.max_text_len=64 --dry_run
grep -qF "hllm_prepare --max_text_len 16" "$tmp/out" || { echo "FAIL: the flag is not named"; failures=$((failures + 1)); }
expect "data.text_keys and data.item_prompt are checked too" 2 "key 'data.item_prompt' = \"Embed: \" but" -- \
  "$bin" --config "$src/configs/demo.json" --set data.path="$dataset" --set 'data.text_keys=["title"]' \
  --set "data.item_prompt=Embed: " --dry_run
grep -qF "key 'data.text_keys' = [\"title\"]" "$tmp/out" || { echo "FAIL: text_keys not named"; failures=$((failures + 1)); }
expect "the dataset's own values are accepted" 0 "" -- \
  "$bin" --config "$src/configs/demo.json" --set data.path="$dataset" --set data.max_text_len=16 \
  --set 'data.text_keys=["title", "description", "category", "brand"]' --dry_run
# A pretrained Item LLM whose table has fewer rows than the dataset's tokenizer has ids (config.json alone
# is read at --dry_run).
mkdir -p "$tmp/small_vocab"
echo '{"model_type": "llama", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}' \
  > "$tmp/small_vocab/config.json"
expect "an Item LLM vocabulary smaller than the dataset's tokenizer is refused naming both files" 2 \
  "model.item: $tmp/small_vocab/config.json has vocab_size 100 but $dataset/meta.json's tokenizer has 370 ids" -- \
  "$bin" --config "$src/configs/demo.json" --set data.path="$dataset" --set model.item="$tmp/small_vocab" \
  --set model.user=debug --dry_run
expect "one rank failing aborts the job" 1 "is not a non-negative integer" -- \
  mpirun_ -np 1 env OMPI_COMM_WORLD_LOCAL_RANK=bad "$bin" --config "$src/configs/demo.json" --dry_run : \
          -np 1 "$bin" --config "$src/configs/demo.json" --dry_run

finish
