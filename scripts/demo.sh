#!/usr/bin/env bash
# Setup, build, then the main job: prepare the synthetic demo catalog and train HLLM and SASRec on it with
# two ranks; each run prints its test metrics beside the popularity baseline; then HLLM's item table and
# top-10 lists, as a service would use them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# The build's own output goes to runs/build.log; here one line counts the compiled files up (a line per
# tenth when the output is not a terminal), and a failed build shows the log's end.
show_build_progress() {
  local line done total percent shown=-1
  while IFS= read -r line; do
    if [[ $line =~ ^\[([0-9]+)/([0-9]+)\] ]]; then  # ninja: [done/total]
      done=${BASH_REMATCH[1]} total=${BASH_REMATCH[2]}
      percent=$((100 * done / total))
    elif [[ $line =~ ^\[\ *([0-9]+)%\] ]]; then  # make: [ pp%]
      percent=${BASH_REMATCH[1]} done="" total=""
    else
      continue
    fi
    local text="built ${percent}%${total:+ ($done of $total steps)}"
    if [ -t 1 ]; then
      printf '\r  %s' "$text"
    elif [ $((percent / 10)) -ne "$shown" ]; then
      shown=$((percent / 10))
      echo "  $text"
    fi
  done
  if [ -t 1 ]; then echo; fi
  return 0
}
mkdir -p runs
if [ -x build/bin/hllm_launch ]; then
  echo "== build: only what changed (log: runs/build.log) =="
else
  echo "== build: the first build compiles about 200 files, roughly 8 minutes on 2 cores with an empty ccache (log: runs/build.log) =="
fi
if ! scripts/build.sh 2>&1 | tee runs/build.log | show_build_progress; then
  echo "the build failed; the end of runs/build.log:"
  tail -n 40 runs/build.log
  exit 1
fi
flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
# The demo's data: the synthetic catalog (the project ships no third-party data), tokenizer trained on it.
build/bin/hllm_prepare --synthetic users=2000,items=500,seed=1 --out runs/demo/data --train_tokenizer 1000 \
  --max_text_len 32 --overwrite
echo
echo "== HLLM: tiny Item LLM + tiny User LLM from scratch, 300 steps (runs/demo) =="
mpirun "${flags[@]}" -np 2 build/bin/hllm_launch --config configs/demo.json --set data.path=runs/demo/data
echo
echo "== SASRec: one epoch (runs/demo_sasrec) =="
mpirun "${flags[@]}" -np 2 build/bin/hllm_launch --config configs/demo_sasrec.json --set data.path=runs/demo/data
echo
echo "== serving HLLM: the item table, then each user's top 10 (runs/demo) =="
mpirun "${flags[@]}" -np 2 build/bin/hllm_embed runs/demo
mpirun "${flags[@]}" -np 2 build/bin/hllm_recommend runs/demo --k 10 --embeddings runs/demo/item_embeddings.h5
head -n 2 runs/demo/recommendations.jsonl | cut -c 1-160
echo
echo "== plots =="
build/bin/hllm_plot runs/demo
build/bin/hllm_plot runs/demo_sasrec
