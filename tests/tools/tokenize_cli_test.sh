#!/usr/bin/env bash
# Model directories holding only tokenizer.json + tokenizer_config.json (Llama-3 and Qwen3, from
# ../shared/models): hllm_tokenize gives the ids transformers.js gave (tests/data/tokenizer_golden),
# hllm_prepare --tokenizer DIR writes a dataset whose tokens are those ids and that trains, hllm_prepare
# --new_items follows the dataset's tokenizer.json, and bad input is refused. Skipped (77) without ../shared.
# Usage: tokenize_cli_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC_FLAGS"
set -u
bin=$1
src=$2
read -r -a mpi_flags <<< "$3"
models=$src/../shared/models
if [ ! -f "$models/llama3-tokenizer/tokenizer.json" ] || [ ! -f "$models/qwen3-tokenizer/tokenizer.json" ]; then
  echo "skipped: $models/{llama3,qwen3}-tokenizer are absent"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"
golden=$src/tests/data/tokenizer_golden

for name in llama3 qwen3; do
  mkdir "$tmp/$name"
  cp "$models/$name-tokenizer/tokenizer.json" "$models/$name-tokenizer/tokenizer_config.json" "$tmp/$name/"
  /usr/bin/python3 - "$golden/$name.jsonl" "$tmp/$name" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2] + "/texts", "w") as texts, open(sys.argv[2] + "/want", "w") as want:
    for line in f:
        entry = json.loads(line)
        texts.write(json.dumps(entry["text"], ensure_ascii=False) + "\n")
        want.write(" ".join(map(str, entry["ids"])) + "\n")
PY
  "$bin/hllm_tokenize" --tokenizer "$tmp/$name" < "$tmp/$name/texts" > "$tmp/$name/got"
  expect "hllm_tokenize $name: every golden string's ids" 0 "identical" -- \
    bash -c "diff '$tmp/$name/want' '$tmp/$name/got' && echo identical, \$(wc -l < '$tmp/$name/got') strings"
done
expect "hllm_tokenize --info" 0 "tokenizer.json (byte-level BPE), vocabulary 151669, bos -1, eos 151645, pad 151643" -- \
  "$bin/hllm_tokenize" --tokenizer "$tmp/qwen3" --info < /dev/null
expect "a line that is not JSON" 2 "stdin line 2: not JSON" -- \
  bash -c "printf '\"ok\"\nplain text\n' | '$bin/hllm_tokenize' --tokenizer '$tmp/llama3'"
expect "a line that is not a string" 2 "stdin line 1: expected a JSON string, got 42" -- \
  bash -c "echo 42 | '$bin/hllm_tokenize' --tokenizer '$tmp/llama3'"
expect "no --tokenizer" 2 "--tokenizer PATH is required" -- "$bin/hllm_tokenize"
mkdir "$tmp/empty"
expect "a directory without a tokenizer" 2 "neither tokenizer.model (SentencePiece) nor tokenizer.json" -- \
  "$bin/hllm_tokenize" --tokenizer "$tmp/empty"
echo '{"model": {"type": "Unigram"}}' > "$tmp/empty/tokenizer.json"
expect "a tokenizer.json of another kind" 2 "key 'model.type': 'Unigram' is not supported" -- \
  "$bin/hllm_tokenize" --tokenizer "$tmp/empty"

# A small catalogue with non-ASCII titles, prepared with the Llama-3 tokenizer.
/usr/bin/python3 - "$tmp" <<'PY'
import sys
out = sys.argv[1]
titles = ["Café Crème au lait", "日本語の雑誌", "Ünïcödé   spaces", "Emoji 🤗 weekly", "Numbers 12345 monthly",
          "Don't Panic", "Straße & Co.", "Ελληνικά νέα"]
items = ['i%d,"%s %d","issue %d of %s"' % (i, titles[i % 8], i, i, titles[(i * 3) % 8]) for i in range(24)]
open(out + "/items.csv", "w").write("\n".join(["item_id,title,description"] + items) + "\n")
rows = ["i%d,u%d,%d" % ((u * 5 + t * (u % 4 + 1)) % 24, u, 1000 + t) for u in range(40) for t in range(6)]
open(out + "/interactions.csv", "w").write("\n".join(["item_id,user_id,timestamp"] + rows) + "\n")
with open(out + "/new.csv", "w") as f:
    f.write('item_id,title,description\nfresh,"Café 日本 🤗","brand new"\n')
PY
expect "hllm_prepare --tokenizer DIR (tokenizer.json only)" 0 "tokenizer tokenizer.json (byte-level BPE), vocabulary 128256" -- \
  "$bin/hllm_prepare" --format hllm_csv --interactions "$tmp/interactions.csv" --items "$tmp/items.csv" \
    --out "$tmp/data" --tokenizer "$tmp/llama3" --max_text_len 24
expect "the dataset verifies" 0 "ok (40 users, 24 items" -- "$bin/hllm_prepare" --verify "$tmp/data"
"$bin/hllm_tokenize" --tokenizer "$tmp/llama3" > "$tmp/expected_ids" <<'EOF2'
"Compress the following sentence into embedding: "
"title: Café Crème au lait 8 description: issue 8 of Café Crème au lait"
"title: 日本語の雑誌 1 description: issue 1 of Emoji 🤗 weekly"
EOF2
expect "meta.json and items.h5 hold the tokenizer's ids" 0 "tokens ok" -- /usr/bin/python3 - "$tmp/data" "$tmp/expected_ids" <<'PY'
import json, sys
import h5py
data, expected = sys.argv[1], [list(map(int, l.split())) for l in open(sys.argv[2])]
meta = json.load(open(data + "/meta.json"))
t = meta["tokenizer"]
assert (t["file"], t["vocab_size"], t["bos_id"], t["eos_id"], t["pad_id"]) == ("tokenizer.json", 128256, 128000, 128001, -1), t
assert "tokenizer.json" in meta["files"] and "tokenizer_config.json" in meta["files"], meta["files"]
assert meta["prompt_tokens"] == expected[0], (meta["prompt_tokens"], expected[0])
items = h5py.File(data + "/items.h5", "r")
ids, offsets, tokens = list(items["ids"].asstr()[:]), items["offsets"][:], items["tokens"][:]
for raw, want in (("i8", expected[1]), ("i1", expected[2])):
    i = ids.index(raw)
    got = list(tokens[offsets[i]:offsets[i + 1]])
    assert got == want[:24], (raw, got, want)
print("tokens ok")
PY
expect "new items with the dataset's tokenizer.json" 0 "1 new items" -- \
  "$bin/hllm_prepare" --new_items "$tmp/new.csv" --like "$tmp/data" --out "$tmp/new.h5"
expect "train HLLM on the Llama-3-tokenized dataset" 0 "test (popularity baseline)" -- \
  mpirun "${mpi_flags[@]}" -np 1 "$bin/hllm_launch" --config "$src/configs/demo.json" --set data.path="$tmp/data" \
    --set train.max_steps=4 --set train.eval_interval=0 --set run.dir="$tmp/run"
expect "hllm_prepare --tokenizer DIR (Qwen3)" 0 "tokenizer tokenizer.json (byte-level BPE), vocabulary 151669" -- \
  "$bin/hllm_prepare" --synthetic users=60,items=30,seed=2 --out "$tmp/qwen_data" --tokenizer "$tmp/qwen3"
expect "Qwen3's special tokens in meta.json" 0 "-1 151645 151643" -- /usr/bin/python3 -c "
import json; t = json.load(open('$tmp/qwen_data/meta.json'))['tokenizer']; print(t['bos_id'], t['eos_id'], t['pad_id'])"
finish
