#!/usr/bin/env bash
# The loss's health (README "Training health") over whole healthy runs: the demo and the real-data configs
# on 2 ranks, each to its end, then one row per run and field: the first logged value, the last, and the
# range over every log line; then what the guards (on at their defaults) saw at every step beside their
# thresholds, and their incidents. These are the ranges that guards' defaults must leave alone
# (docs/RESULTS.md, "Training health on healthy runs"). About 12 minutes on 2 cores; a dataset that is absent is skipped.
#
#   scripts/health_ranges.sh [OUT_DIR]       (default runs/health_ranges; needs scripts/prepare_real_data.sh)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/health_ranges}
mkdir -p "$out"
mpirun_() { mpirun $( [ "$(id -u)" = 0 ] && echo --allow-run-as-root ) "$@"; }
[ -d runs/data/demo ] || build/bin/hllm_prepare --synthetic users=2000,items=500,seed=1 --out runs/data/demo \
  --train_tokenizer 1000 --max_text_len 32 > /dev/null
runs=()
for config in demo ml100k_sasrec ml100k_hstu ml100k_hllm_tiny magazine_sasrec magazine_hllm_tiny; do
  settings=(--set run.dir="$out/$config")
  [ "$config" = demo ] && settings+=(--set data.path=runs/data/demo)
  data=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"].get("path",""))' "configs/$config.json")
  if [ "$config" != demo ] && [ ! -d "$data" ]; then echo "health_ranges: skipped $config: no $data" >&2; continue; fi
  echo "health_ranges: $config" >&2
  OPENBLAS_NUM_THREADS=1 mpirun_ -np 2 build/bin/hllm_launch --config "configs/$config.json" "${settings[@]}" \
    > "$out/$config.log" 2>&1 || { echo "health_ranges: $config failed (see $out/$config.log)" >&2; continue; }
  runs+=("$out/$config")
done
/usr/bin/python3 - "${runs[@]}" <<'PY'
import json, os, sys
fields = ["negatives_kept", "negatives_kept_min", "filtered_share", "positive_cosine", "negative_cosine",
          "item_cosine", "logit_scale"]
print("| run | lines | " + " | ".join(fields) + " |")
print("|---|---|" + "---|" * len(fields))
for run in sys.argv[1:]:
    lines = [r for r in map(json.loads, open(run + "/metrics.jsonl")) if "negatives_kept" in r]
    cells = []
    for f in fields:
        v = [r[f] for r in lines]
        cells.append(f"{v[0]:.3g} → {v[-1]:.3g} ({min(v):.3g}–{max(v):.3g})")
    print(f"| {os.path.basename(run)} | {len(lines)} | " + " | ".join(cells) + " |")
# The guards (on at their defaults in every run): what they saw at every step against their thresholds.
print()
print("| run | steps judged | incidents | max loss / median (trips at 5) | min kept share (0.02) | max item cosine (0.999) | longest collapsed-looking streak (trips at 20) |")
print("|---|---|---|---|---|---|---|")
for run in sys.argv[1:]:
    guard = json.load(open(run + "/report.json"))["guard"]
    seen = guard["observed"]
    show = lambda key: "-" if seen[key] is None else f"{seen[key]:.4g}"
    print(f"| {os.path.basename(run)} | {seen['steps']} | {len(guard['incidents'])} | {show('max_spike_ratio')} | "
          f"{show('min_kept_share')} | {show('max_item_cosine')} | {seen['longest_collapsed_streak']} |")
PY
