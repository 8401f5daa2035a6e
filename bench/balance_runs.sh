#!/usr/bin/env bash
# The balance of work across ranks measured in real runs, side by side: HLLM's tiny towers on the synthetic
# demo catalogue, MovieLens-100k and Amazon Magazine (scripts/prepare_real_data.sh; an absent dataset is
# skipped), at dp 2 and 4, with data.balance = none and flops, the same steps each. One row per run from
# its report.json: the busiest rank's estimated FLOPs against the mean's per step (mean, p90), the ranks'
# share of step time spent waiting for communication, and samples/s.
#
#   bench/balance_runs.sh [STEPS] [OUT_DIR] [RANKS] [NEGATIVES] [CONFIGS]
#       (default 40 steps, runs/balance_runs, ranks "2 4", each config's negatives, all three configs; e.g.
#        bench/balance_runs.sh 20 runs/balance_dp8 "4 8" 8 magazine_hllm_tiny)
set -uo pipefail
cd "$(dirname "$0")/.."
steps=${1:-40}
out=${2:-runs/balance_runs}
ranks=${3:-2 4}
negatives=${4:-}
configs=${5:-demo ml100k_hllm_tiny magazine_hllm_tiny}
declare -A data_of=([demo]=runs/data/demo [ml100k_hllm_tiny]=runs/data/ml-100k [magazine_hllm_tiny]=runs/data/magazine)
mkdir -p "$out"
mpirun_() { mpirun --oversubscribe $( [ "$(id -u)" = 0 ] && echo --allow-run-as-root ) "$@"; }
[ -d runs/data/demo ] || build/bin/hllm_prepare --synthetic users=2000,items=500,seed=1 --out runs/data/demo \
  --train_tokenizer 1000 --max_text_len 32 > /dev/null
rows=()
for config in $configs; do
  data=${data_of[$config]}
  if [ ! -d "$data" ]; then echo "balance_runs: skipped $config: no $data" >&2; continue; fi
  for np in $ranks; do
    for balance in none flops; do
      run="$out/$config-np$np-$balance"
      echo "balance_runs: $config, $np ranks, data.balance=$balance" >&2
      OPENBLAS_NUM_THREADS=1 mpirun_ -np "$np" build/bin/hllm_launch --config "configs/$config.json" \
        --set data.path="$data" --set run.dir="$run" --set data.balance="$balance" --set train.max_steps="$steps" \
        --set train.log_interval="$steps" --set train.eval_interval=0 \
        ${negatives:+--set data.num_negatives=$negatives} > "$run.log" 2>&1 ||
        { echo "balance_runs: $run failed (see $run.log)" >&2; continue; }
      rows+=("$run")
    done
  done
done
/usr/bin/python3 - "${rows[@]}" <<'PY'
import json, os, sys
print("| run | ranks | balance | busiest / mean FLOPs per step (mean, p90) | waiting share (mean, most) | samples/s |")
print("|---|---|---|---|---|---|")
for run in sys.argv[1:]:
    report = json.load(open(run + "/report.json"))
    b = report["balance"]
    name, np, balance = os.path.basename(run).rsplit("-", 2)
    print(f"| {name} | {np[2:]} | {balance} | {b['step_flops_max_over_mean']['mean']:.3f}, "
          f"{b['step_flops_max_over_mean']['p90']:.3f} | {b['wait_share_mean']:.2f}, {b['wait_share_max']:.2f} | "
          f"{report['samples_per_second']:.1f} |")
PY
