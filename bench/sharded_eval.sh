#!/usr/bin/env bash
# The evaluation's item table held whole on every rank or sharded by rows, side by side: HLLM's tiny towers
# on a synthetic catalogue of ITEMS items (default 1,000,000, every one in some user's history:
# bench/make_catalogue_input.py) on 2 ranks, the same short training, then the final evaluation with
# train.eval_catalogue replicated and sharded. One row per run from its report.json and metrics.jsonl: the
# catalogue's embedding time and rate (items/s and tokens/s) beside the training step's (its item tokens/s,
# forward and backward; the forward alone is a third of those FLOPs), the users' ranking time, the table
# rows per rank, each rank's peak resident memory in the evaluation phase (above what the process held before
# the model) beside hllm_plan's, and whether
# the two evaluations' metrics are equal.
#
#   bench/sharded_eval.sh [ITEMS] [USERS] [OUT_DIR]      (default 1000000 10000 runs/sharded_eval)
set -uo pipefail
cd "$(dirname "$0")/.."
items=${1:-1000000}
users=${2:-10000}
out=${3:-runs/sharded_eval}
data=runs/data/catalogue-$items
mkdir -p "$out"
mpirun_() { mpirun --oversubscribe $( [ "$(id -u)" = 0 ] && echo --allow-run-as-root ) "$@"; }
if [ ! -f "$data/meta.json" ]; then
  echo "sharded_eval: writing a catalogue of $items items for $users users to $data" >&2
  /usr/bin/python3 bench/make_catalogue_input.py "$data-input" "$users" "$items" || exit 1
  build/bin/hllm_prepare --format hllm_csv --interactions "$data-input/interactions.csv" \
    --items "$data-input/items.csv" --out "$data" --train_tokenizer 2000 --max_text_len 8 --item_prompt "" \
    --num_shards 2 --overwrite > "$out/prepare.log" 2>&1 || { echo "sharded_eval: see $out/prepare.log" >&2; exit 1; }
fi
runs=()
for table in replicated sharded; do
  run="$out/$table"
  echo "sharded_eval: 2 ranks, train.eval_catalogue=$table" >&2
  OPENBLAS_NUM_THREADS=1 mpirun_ -np 2 build/bin/hllm_launch --config configs/demo.json --set data.path="$data" \
    --set run.dir="$run" --set train.eval_catalogue="$table" --set train.max_steps=40 --set train.log_interval=40 \
    --set train.eval_interval=0 > "$run.log" 2>&1 || { echo "sharded_eval: $run failed (see $run.log)" >&2; continue; }
  runs+=("$run")
done
/usr/bin/python3 - "$data" "${runs[@]}" <<'PY'
import json, sys
import h5py
data, runs = sys.argv[1], sys.argv[2:]
offsets = h5py.File(data + "/items.h5", "r")["offsets"][:]
tokens_per_item = (offsets[-1] - offsets[0]) / (len(offsets) - 1) + 1  # text and [ITEM] (no prompt)
print("| table | items | embedding s | items/s | item tokens/s | training item tokens/s (fwd+bwd) | ranking s | "
      "table rows per rank | peak RSS per rank in evaluation, above the process's start (GiB) | planned (GiB) |")
print("|---|---|---|---|---|---|---|---|---|---|")
metrics = {}
for run in runs:
    r = json.load(open(run + "/report.json"))
    e, a, p = r["evaluation"], r["accounting"], r["peak_memory_per_rank"]
    training = a["tokens"]["item"] / a["train_seconds"]
    rss = [peak - start for peak, start in zip(p["host_rss_peak_bytes_by_phase"]["evaluation"],
                                               p["host_rss_before_model_bytes"])]
    planned = p["planned_bytes_by_phase"]["evaluation"]
    print("| %s | %d | %.1f | %.0f | %.0f | %.0f | %.1f | %d | %s | %s |" % (
        e["table"], e["catalogue_items"], e["embedding_seconds"], e["items_per_second"],
        e["items_per_second"] * tokens_per_item, training, e["ranking_seconds"], e["table_rows_per_rank"],
        " / ".join("%.2f" % (b / 2**30) for b in rss), " / ".join("%.2f" % (b / 2**30) for b in planned)))
    metrics[e["table"]] = (r["valid"], r["test"])
if len(metrics) == 2:
    same = metrics["replicated"] == metrics["sharded"]
    print("\nvalid and test metrics of the two tables %s" % ("equal, bit for bit" if same else "DIFFER"))
PY
