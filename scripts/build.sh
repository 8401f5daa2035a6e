#!/usr/bin/env bash
# Configures (once) and builds into build/; binaries land in build/bin/. Extra arguments go to CMake's
# configure step, e.g. scripts/build.sh -DCMAKE_BUILD_TYPE=Debug.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache (used by CMakeLists.txt when present): paths relative to the clone, so any clone shares the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

generator=()
if [ ! -f build/CMakeCache.txt ] && command -v ninja > /dev/null; then generator=(-G Ninja); fi
if [ ! -f build/CMakeCache.txt ] || [ $# -gt 0 ]; then
  cmake -S . -B build "${generator[@]}" "$@" > build.configure.log 2>&1 || { cat build.configure.log >&2; exit 1; }
  rm -f build.configure.log
fi
cmake --build build --parallel "$(nproc)"
