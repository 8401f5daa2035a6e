#!/usr/bin/env bash
# The hostile-input run of CI (tests/tools/hostile_inputs.py) against the tools built with AddressSanitizer and
# UndefinedBehaviorSanitizer: any out-of-bounds access, use after free or undefined behaviour on a hostile
# input ends that tool with the sanitizer's exit code, which the run counts as a failure.
# Usage: scripts/fuzz_tools_asan.sh [CASES_PER_SURFACE] [SEED]   (the build, in build-asan/, takes ~30 min on
# 2 cores the first time; ccache makes later ones minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
if [ ! -f build-asan/CMakeCache.txt ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    > /dev/null
fi
cmake --build build-asan --parallel "$(nproc)" --target hllm_prepare hllm_tokenize hllm_sweep hllm_launch hllm_embed \
  hllm_recommend
# Leaks are not this run's question (MPI and LibTorch keep allocations until exit); a report ends the tool
# with exit 86 (ASan) or 87 (UBSan).
export ASAN_OPTIONS=detect_leaks=0:exitcode=86:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:exitcode=87:print_stacktrace=1
/usr/bin/python3 tests/tools/hostile_inputs.py build-asan/bin . --cases "${1:-12}" --seed "${2:-1}" --jobs "$(nproc)" \
  --timeout 300 --no_memory_limit
