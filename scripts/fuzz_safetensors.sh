#!/usr/bin/env bash
# Builds the safetensors parser and its fuzz driver with AddressSanitizer and UndefinedBehaviorSanitizer
# and feeds it mutated files. Usage: scripts/fuzz_safetensors.sh [ITERATIONS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/fuzz
mkdir -p "$out"
g++ -std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
  -I. common/io/safetensors_file.cpp common/error.cpp common/json_input.cpp tests/models/safetensors_fuzz.cpp -o "$out/safetensors_fuzz_asan"
"$out/safetensors_fuzz_asan" "${1:-20000}" "${2:-1}"
