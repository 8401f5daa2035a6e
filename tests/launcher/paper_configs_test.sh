#!/usr/bin/env bash
# The paper's configs (configs/hllm_{1b_books,1b_pixel8m,7b_books}.json) as README "Starting from a pretrained
# LLM" runs them: towers from a Hugging Face directory given with --set, the dataset's text keys and length
# checked, the batch split, the warmup, a plan at their GPU counts, and two real steps of the Books recipe.
# A random LLaMA directory written by bench/make_random_llama.py stands in for TinyLlama.
# Usage: paper_configs_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC_FLAGS"
set -u
bin=$1
src=$2
read -r -a mpi_flags <<< "$3"
if ! /usr/bin/python3 -c "import numpy" 2> /dev/null; then
  echo "skipped: /usr/bin/python3 has no NumPy (bench/make_random_llama.py needs it)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"

/usr/bin/python3 "$src/bench/make_random_llama.py" "$tmp/llm" --hidden 64 --layers 2 --heads 4 --ffn 128 --vocab 400 \
  > /dev/null || { echo "FAIL: make_random_llama.py"; exit 1; }
/usr/bin/python3 - "$tmp" <<'PY'
import sys
out = sys.argv[1]
words = ["river", "garden", "history", "python", "winter", "ocean", "silver", "forest", "music", "letters"]
items = ['b%d,"The %s of %s","a book about %s and %s","%s"' % (i, words[i % 10], words[i // 10 % 10], words[i % 7],
         words[i % 3], words[(i * 7) % 10]) for i in range(60)]
open(out + "/items.csv", "w").write("\n".join(["item_id,title,description,tag"] + items) + "\n")
rows = ["b%d,u%d,%d" % ((u * 11 + t * (u % 6 + 1)) % 60, u, 1000 + t) for u in range(80) for t in range(8)]
open(out + "/interactions.csv", "w").write("\n".join(["item_id,user_id,timestamp"] + rows) + "\n")
PY
prepare() {  # OUT TEXT_KEYS
  "$bin/hllm_prepare" --format hllm_csv --interactions "$tmp/interactions.csv" --items "$tmp/items.csv" --out "$1" \
    --text_keys "$2" --max_text_len 256 --train_tokenizer 300 > "$tmp/prepare.log" 2>&1 ||
    { echo "FAIL: hllm_prepare $1"; cat "$tmp/prepare.log"; exit 1; }
}
prepare "$tmp/books" title,description
prepare "$tmp/pixel" title,tag,description
towers=(--set model.item="$tmp/llm" --set model.user="$tmp/llm")
mpirun_() { mpirun "${mpi_flags[@]}" "$@"; }

expect "Books 1B: the batch of 128 on 2 ranks" 0 "train_batch_size 128 = micro batch 8 x accumulation 8 x dp 2" -- \
  mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/hllm_1b_books.json" --set data.path="$tmp/books" \
    "${towers[@]}" --dry_run
cp "$tmp/out" "$tmp/dry_run"
expect "Books 1B: pretrained towers are named" 0 "towers: Item LLM $tmp/llm (pretrained weights), User LLM $tmp/llm (pretrained weights)" -- \
  cat "$tmp/dry_run"
expect "Books 1B without --set: random towers, said up front" 0 "towers: Item LLM 1b (random weights), User LLM 1b (random weights)" -- \
  mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/hllm_1b_books.json" --set data.path="$tmp/books" --dry_run
expect "Books 1B on data with other text keys is refused" 2 "data.text_keys" -- \
  mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/hllm_1b_books.json" --set data.path="$tmp/pixel" \
    "${towers[@]}" --dry_run
expect "Pixel8M 1B: the batch of 512 on 2 ranks" 0 "train_batch_size 512 = micro batch 16 x accumulation 16 x dp 2" -- \
  mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/hllm_1b_pixel8m.json" --set data.path="$tmp/pixel" \
    "${towers[@]}" --dry_run
for config in hllm_1b_books:16 hllm_1b_pixel8m:32 hllm_7b_books:128; do
  expect "hllm_plan ${config%%:*} on ${config##*:} GPUs" 0 "Ψ =" -- \
    "$bin/hllm_plan" --config "$src/configs/${config%%:*}.json" --world "${config##*:}" --gpu_gib 80
done
# Two steps of the Books recipe as written (bf16, ZeRO-2, checkpointing, history 50, text 256, 32 negatives per
# rank), only the batch cut to one micro-batch per rank; warmup is 10% of the run's 2 steps, rounded: 0.
expect "Books 1B trains from the Hugging Face towers" 0 "test (popularity baseline)" -- \
  mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/hllm_1b_books.json" --set data.path="$tmp/books" \
    "${towers[@]}" --set train_batch_size=16 --set train.max_steps=2 --set train.eval_interval=0 \
    --set parallel.intra_op_threads=1 --set run.dir="$tmp/run"
finish
