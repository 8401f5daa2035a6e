#!/usr/bin/env bash
# Setup, build, then every test (unit, thread-backend multi-rank, and mpirun multi-rank) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir build --output-on-failure --parallel "$(nproc)" "$@"
