#!/usr/bin/env bash
# hllm_convert_llama2c on the real stories260K checkpoint (skipped, exit 77, when ../shared/models is absent):
# a Hugging Face directory that hllm_prepare tokenizes with and an HLLM run starts from, and the refusals.
# Usage: convert_cli_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS"
set -u
bin=$1
stories=$2/../shared/models/stories260K
read -r -a mpi_flags <<< "$3"
if [ ! -f "$stories/stories260K.bin" ]; then
  echo "skipped: no $stories/stories260K.bin"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"

expect "convert stories260K with its tokenizer" 0 "hidden 64, 5 layers, 8 heads (4 key-value), vocabulary 512" -- \
  "$bin/hllm_convert_llama2c" "$stories/stories260K.bin" "$tmp/s260" --tokenizer "$stories/tok512.model"
for f in config.json model.safetensors tokenizer.model; do
  [ -s "$tmp/s260/$f" ] || { echo "FAIL: no $f"; failures=$((failures + 1)); }
done
expect "an existing directory is kept" 2 "exists (--overwrite replaces it)" -- \
  "$bin/hllm_convert_llama2c" "$stories/stories260K.bin" "$tmp/s260"
head -c 100 "$stories/stories260K.bin" > "$tmp/short.bin"
expect "a truncated checkpoint" 2 "short.bin" -- "$bin/hllm_convert_llama2c" "$tmp/short.bin" "$tmp/short"
[ -z "$(ls -d "$tmp"/short* 2>/dev/null | grep -v short.bin)" ] || { echo "FAIL: a half-written directory is left"; failures=$((failures + 1)); }
expect "tokenize a dataset with the converted directory" 0 "tokenizer SentencePiece, vocabulary 512" -- \
  "$bin/hllm_prepare" --synthetic users=120,items=60,seed=3 --out "$tmp/data" --tokenizer "$tmp/s260" --max_text_len 16
expect "HLLM starts both towers from it" 0 "test (popularity baseline)" -- \
  mpirun "${mpi_flags[@]}" -np 2 "$bin/hllm_launch" --config "$2/configs/demo.json" --set data.path="$tmp/data" \
    --set model.item="$tmp/s260" --set model.user="$tmp/s260" --set train.max_steps=4 --set train.eval_interval=4 \
    --set run.dir="$tmp/run"
finish
