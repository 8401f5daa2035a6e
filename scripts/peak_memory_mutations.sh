#!/usr/bin/env bash
# Shows that the CI peak-memory test (tests/launcher/peak_memory_cli_test.sh) sees a whole-model gather:
# each named mutation below reintroduces one — at start-up, in evaluation or while saving — in a clean copy
# of the tree (a git worktree of HEAD); hllm_launch is rebuilt and the test is run; the mutation must make it
# fail ("killed"). A mutation it misses ("SURVIVED") means a plan too loose to catch that regression. Not
# part of .ci/run (about a minute per mutation here); run it after changing the memory plan or the test:
#   scripts/peak_memory_mutations.sh [NAME ...]   default: every mutation; exit 1 when one survives
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR CCACHE_NOHASHDIR=1

# name @ file @ exact text @ its replacement. Lines with the same name are applied together.
mutations=(
  # Evaluation: the ID models' whole-model gather for every batch of users, applied to HLLM too.
  "evaluation_gathers_everything@runtime/model_placement.cpp@  if (model_->reads_item_tokens() || !runner_) return;@  if (!runner_) return;"
  "evaluation_gathers_everything@runtime/user_scorer.cpp@  if (model_.recommender().reads_item_tokens() || whole == id_model_whole_) return;@  if (whole == id_model_whole_) return;"
  # Saving: no block is released once gathered, so the whole model ends up gathered.
  "saving_keeps_everything_gathered@runtime/model_save.cpp@      if (last_of_block(i)) placement.release_block(specs[i].block - first_block);@      (void)last_of_block;"
  "saving_keeps_everything_gathered@runtime/model_save.cpp@    if (last_of_block(i)) placement.release_block(spec.block);@    (void)last_of_block;"
  # Start-up: the whole model gathered once, then released, before the first step.
  "start_up_gathers_everything@runtime/model_placement.cpp@  if (model_->reads_item_tokens() || !runner_) return;@  if (!runner_) return;"
  "start_up_gathers_everything@runtime/trainer.cpp@  memory_.end_phase(Phase::kStartUp, planned_for(Phase::kStartUp));@  placement_.gather_id_model(true);\n  placement_.gather_id_model(false);\n  memory_.end_phase(Phase::kStartUp, planned_for(Phase::kStartUp));"
)

if ! /usr/bin/python3 -c 'import numpy' 2> /dev/null; then
  echo "/usr/bin/python3 has no NumPy (the test's bench/make_random_llama.py needs it)"
  exit 1
fi
mpi_flags="--oversubscribe"
[ "$(id -u)" = 0 ] && mpi_flags="$mpi_flags --allow-run-as-root"

work=$(mktemp -d /tmp/hllm-memory-mutation.XXXXXX)
cleanup() { git worktree remove --force "$work/tree" > /dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
git worktree add --detach "$work/tree" HEAD > /dev/null
tree=$work/tree
CCACHE_BASEDIR=$tree
echo "building hllm_launch and hllm_prepare in a clean worktree of $(git rev-parse --short HEAD) ..."
(cd "$tree" && cmake -S . -B build -G Ninja > "$work/configure.log" 2>&1 &&
  ninja -C build hllm_launch hllm_prepare > "$work/build.log" 2>&1) ||
  { tail -30 "$work/build.log" 2>/dev/null || cat "$work/configure.log"; exit 1; }
"$tree/build/bin/hllm_prepare" --synthetic users=300,items=120,seed=9 --out "$work/dataset" --train_tokenizer 400 \
  --num_shards 3 --max_text_len 16 > "$work/prepare.log" 2>&1 || { cat "$work/prepare.log"; exit 1; }  # the tests' dataset

run_test() {
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$tree/tests/launcher/peak_memory_cli_test.sh" "$tree/build/bin" "$tree" \
    "$mpi_flags" "$work/dataset" > "$1" 2>&1
}
if ! run_test "$work/unmutated.log"; then
  echo "the test fails without a mutation:"; cat "$work/unmutated.log"; exit 1
fi

names=()
for entry in "${mutations[@]}"; do
  name=${entry%%@*}
  [[ " ${names[*]} " == *" $name "* ]] || names+=("$name")
done
survived=0
for name in "${names[@]}"; do
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  for entry in "${mutations[@]}"; do
    IFS='@' read -r entry_name file from to <<< "$entry"
    [ "$entry_name" = "$name" ] || continue
    /usr/bin/python3 - "$tree/$file" "$from" "$to" <<'PY' || { echo "$name: its text is no longer in $file; update the script"; exit 1; }
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
if old not in text:
    sys.exit(1)
open(path, "w").write(text.replace(old, new.replace("\\n", "\n"), 1))
PY
  done
  if ! ninja -C "$tree/build" hllm_launch > "$work/$name.build.log" 2>&1; then
    echo "$name: does not compile (update the script)"; tail -20 "$work/$name.build.log"; exit 1
  elif run_test "$work/$name.log"; then
    echo "$name: SURVIVED (the test passed with it)"
    survived=$((survived + 1))
  else
    echo "$name: killed"
    grep 'FAIL' "$work/$name.log" | sed 's/^/    /'
  fi
  git -C "$tree" checkout -q -- runtime
done
[ "$survived" -eq 0 ] && echo "every mutation was killed" || { echo "$survived mutation(s) survived"; exit 1; }
