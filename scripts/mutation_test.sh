#!/usr/bin/env bash
# Mutation testing of the hand-written numerics: each named mutation below (a small, plausible bug in a
# fused op's forward or backward, or in InfoNCE's same-item filter) is applied alone to a clean copy of the
# tree (a git worktree of HEAD), models_test is rebuilt and the tests that guard that code are run; the
# mutation must make them fail ("killed"). A mutation they miss ("SURVIVED") means a test too weak to catch
# that bug. Not part of .ci/run (about a minute per mutation here); run it after changing these files:
#   scripts/mutation_test.sh [NAME ...]        default: every mutation; exit 1 when one survives
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR CCACHE_NOHASHDIR=1

# name | file | exact text | its replacement | the gtest filter that must fail
mutations=(
  "rms_norm_backward_correction|models/fused_rms_norm.cpp|const A correction = scale * scale * dot|const A correction = scale * dot|FusedRmsNorm.*"
  "rms_norm_eps_dropped|models/fused_rms_norm.cpp|std::sqrt(squares / static_cast<A>(width) + static_cast<A>(eps))|std::sqrt(squares / static_cast<A>(width))|FusedRmsNorm.*"
  "swiglu_sigmoid_sign|models/fused_swiglu.cpp|g[i] / (1.0 + std::exp(-g[i])) * g[width + i]|g[i] / (1.0 + std::exp(g[i])) * g[width + i]|FusedSwigluGate.*"
  "swiglu_backward_drops_silu_derivative|models/fused_swiglu.cpp|vm::load<vm::Floats>(u + i) * s * (1.0f + gi * (1.0f - s))|vm::load<vm::Floats>(u + i) * s|FusedSwigluGate.*"
  "attention_scale_not_square_root|models/fused_attention.cpp|static_cast<A>(1.0 / std::sqrt(static_cast<double>(q.size(3))))|static_cast<A>(1.0 / static_cast<double>(q.size(3)))|FusedAttention.*"
  "attention_backward_drops_row_dot|models/fused_attention.cpp|(dS[r * keys + j] - row_dot) * p.scale|dS[r * keys + j] * p.scale|FusedAttention.*"
  "rope_rotation_sign|models/fused_rope.cpp|y[c] = x[c] * cos[c] - x[c + half] * sin[c];|y[c] = x[c] * cos[c] + x[c + half] * sin[c];|FusedRope.*"
  "info_nce_filter_inverted|models/info_nce.cpp|.gt(nce_threshold)|.lt(nce_threshold)|InfoNce.*"
  "info_nce_filter_off|models/info_nce.cpp|.gt(nce_threshold)|.gt(nce_threshold + 1e9)|InfoNce.*"
)

work=$(mktemp -d /tmp/hllm-mutation.XXXXXX)
cleanup() { git worktree remove --force "$work/tree" > /dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
git worktree add --detach "$work/tree" HEAD > /dev/null
tree=$work/tree
CCACHE_BASEDIR=$tree
echo "building models_test in a clean worktree of $(git rev-parse --short HEAD) ..."
(cd "$tree" && cmake -S . -B build -G Ninja > "$work/configure.log" 2>&1 && ninja -C build models_test > "$work/build.log" 2>&1) ||
  { tail -30 "$work/build.log" 2>/dev/null || cat "$work/configure.log"; exit 1; }

survived=0
for entry in "${mutations[@]}"; do
  IFS='|' read -r name file from to filter <<< "$entry"
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  cp "$tree/$file" "$work/original"
  /usr/bin/python3 - "$tree/$file" "$from" "$to" <<'PY' || { echo "$name: its text is no longer in $file; update the script"; exit 1; }
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
if text.count(old) < 1:
    sys.exit(1)
open(path, "w").write(text.replace(old, new, 1))
PY
  if ! ninja -C "$tree/build" models_test > "$work/$name.build.log" 2>&1; then
    echo "$name: does not compile (killed by the compiler)"
  elif OPENBLAS_NUM_THREADS=1 "$tree/build/bin/models_test" --gtest_filter="$filter" > "$work/$name.log" 2>&1; then
    echo "$name: SURVIVED ($filter passed with it)"
    survived=$((survived + 1))
  else
    failed=$(grep '^\[  FAILED  \] [A-Za-z]' "$work/$name.log" | sed 's/ (.*//' | sort -u | wc -l)
    echo "$name: killed ($failed of the $(grep -c '^\[ RUN      \]' "$work/$name.log") tests in $filter failed)"
  fi
  cp "$work/original" "$tree/$file"
done
[ "$survived" -eq 0 ] && echo "every mutation was killed" || { echo "$survived mutation(s) survived"; exit 1; }
