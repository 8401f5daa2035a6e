#!/usr/bin/env bash
# Setup, build, then the main job on the shipped demo config with two ranks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh > /dev/null
flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
# The demo's data: the synthetic catalog (the project ships no third-party data), tokenizer trained on it.
build/bin/hllm_prepare --synthetic users=2000,items=500,seed=1 --out runs/demo/data --train_tokenizer 1000 \
  --max_text_len 32 --overwrite
# The training engine is not in this build yet: the demo checks the config, the 2-rank topology and the
# dataset, and prints the plan.
mpirun "${flags[@]}" -np 2 build/bin/hllm_launch --config configs/demo.json --set data.path=runs/demo/data --dry_run
