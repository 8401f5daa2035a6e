#!/usr/bin/env bash
# The Item LLM training step on a GPU, this engine beside PyTorch eager (and torch.compile) in one run:
# same preset, items, text length and dtype (docs/BENCHMARKS.md). Needs build-cuda (scripts/gpu/build.sh).
#
#   bench/gpu_item_step.sh [--preset 1b] [--items 16] [--text_tokens 256]
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu/env.sh
LD_LIBRARY_PATH=$HLLM_GPU_LIBS build-cuda/bin/item_step_bench "$@" | tee /tmp/hllm_engine_step.txt
python3 bench/reference/item_llm_step.py "$@" | tee /tmp/hllm_eager_step.txt
timeout 150 python3 bench/reference/item_llm_step.py --compile "$@" 2>/tmp/hllm_compile.err | tee /tmp/hllm_compile_step.txt \
  || echo "torch.compile: did not run here ($(tail -1 /tmp/hllm_compile.err))"
engine=$(grep -o '[0-9.]* tokens/s' /tmp/hllm_engine_step.txt | head -1 | cut -d' ' -f1)
eager=$(grep -o '[0-9.]* tokens/s' /tmp/hllm_eager_step.txt | head -1 | cut -d' ' -f1)
[ -n "$engine" ] && [ -n "$eager" ] && awk -v a="$engine" -v b="$eager" 'BEGIN { printf "engine / eager tokens/s: %.3f\n", a / b }'
exit 0
