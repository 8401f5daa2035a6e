#!/usr/bin/env bash
# Setup, build, then the main job on the shipped demo config with two ranks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh > /dev/null
flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
# The training engine is not in this build yet: the demo checks the config and the 2-rank topology.
mpirun "${flags[@]}" -np 2 build/bin/hllm_launch --config configs/demo.json --dry_run
