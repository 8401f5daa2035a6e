#!/usr/bin/env bash
# On a GPU machine: build, run the GPU tests and the Item LLM step benchmark, logging into $1 (default
# build-cuda/check). Each stage is bounded in time so that a lent machine's lease is not outrun.
#
#   scripts/gpu/check.sh [LOG_DIR]
set -uo pipefail
cd "$(dirname "$0")/../.."
logs=${1:-build-cuda/check}
mkdir -p "$logs"
source scripts/gpu/env.sh
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "nccl", torch.cuda.nccl.version())'
  cmake --version | head -1; c++ --version | head -1; nvcc --version | tail -1; } 2>&1 | tee "$logs/machine.txt"

deadline=$((SECONDS + ${HLLM_CHECK_SECONDS:-560}))  # the whole check ends by then
stage() {  # stage NAME SECONDS COMMAND...: runs, logs to $logs/NAME.log, prints the verdict and the tail
  local name=$1 seconds=$2; shift 2
  local start=$SECONDS
  if [ $((deadline - SECONDS)) -lt "$seconds" ]; then seconds=$((deadline - SECONDS)); fi
  if [ "$seconds" -le 5 ]; then echo "== $name: skipped, out of time"; return; fi
  timeout "$seconds" "$@" > "$logs/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc in $((SECONDS - start)) s"
  grep -E "error:|FAILED:" "$logs/$name.log" | head -40
  tail -n 25 "$logs/$name.log"
}
export LD_LIBRARY_PATH=$HLLM_GPU_LIBS
stage build_gpu 330 scripts/gpu/build.sh cuda_model_test nccl_communicator_test item_step_bench
if [ ! -x build-cuda/bin/item_step_bench ]; then  # gather every compile error at once instead
  stage build_all 400 scripts/gpu/build.sh
  exit 1
fi
stage cuda_model_test 60 build-cuda/bin/cuda_model_test
stage nccl_communicator_test 60 build-cuda/bin/nccl_communicator_test
unset LD_LIBRARY_PATH
stage item_step 240 bench/gpu_item_step.sh --preset 1b --items 16 --text_tokens 256 --find_max_items
export LD_LIBRARY_PATH=$HLLM_GPU_LIBS
stage item_step_recompute 120 build-cuda/bin/item_step_bench --preset 1b --items 16 --text_tokens 256 --find_max_items \
  --recompute --steps 5
stage build_all 400 scripts/gpu/build.sh
stage ctest 300 ctest --test-dir build-cuda --output-on-failure --parallel 8
stage zero_gpu 120 env HLLM_TEST_DATASET="$PWD/build-cuda/tests/loader_dataset" build-cuda/bin/trainer_test \
  --gtest_filter='Zero.StageThree*:Trainer.TrainsOnTheGpu*'
