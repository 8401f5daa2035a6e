#!/usr/bin/env bash
# The demo's HLLM run (configs/demo.json on the synthetic catalog) on one GPU, then the same run on the
# CPU of the same machine, for the side-by-side in docs/RESULTS.md. Needs build-cuda (scripts/gpu/build.sh).
#
#   scripts/gpu/demo.sh [extra --set overrides...]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/gpu/env.sh
export LD_LIBRARY_PATH=$HLLM_GPU_LIBS
data=runs/gpu-demo/data
build-cuda/bin/hllm_prepare --synthetic users=2000,items=500,seed=1 --out $data --train_tokenizer 1000 \
  --max_text_len 32 --overwrite > /dev/null
for device in cuda cpu; do
  echo "== parallel.device = $device"
  start=$SECONDS
  build-cuda/bin/hllm_launch --config configs/demo.json --set data.path=$data --set parallel.device=$device \
    --set run.dir=runs/gpu-demo/$device "$@"
  echo "wall $((SECONDS - start)) s"
done
