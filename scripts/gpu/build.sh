#!/usr/bin/env bash
# On the GPU machine: configures against the CUDA LibTorch of python3's torch and NCCL, with the other
# dependencies from .gpu/deps.tar.xz (scripts/gpu/bundle_deps.sh), and builds into build-cuda/.
# Extra arguments are ninja targets (default: everything).
#
#   scripts/gpu/build.sh [targets...]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/gpu/env.sh
if [ ! -f build-cuda/build.ninja ]; then  # also after a configure that failed
  cmake -S . -B build-cuda -G Ninja -DHLLM_DEPS_ROOT="$HLLM_DEPS_ROOT" -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
        -DHLLM_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=native
fi
# -k 0: report every failing file at once (a build on a lent machine is expensive to repeat).
ninja -C build-cuda -k 0 "$@"
