#!/usr/bin/env bash
# Writes llama3.jsonl, qwen3.jsonl and one file per variants.json entry: the golden ids of the tokenizer.json
# tests, computed by transformers.js (npm @lenml/tokenizers 3.7.2), not by this project. Needs node, npm and ../shared.
# Run once when the strings change; the fixtures are committed.
#   tests/data/tokenizer_golden/generate.sh [SHARED_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${1:-$here/../../../../shared}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$here/npm_reference.sh"
npm_reference
/usr/bin/python3 "$here/make_strings.py" "$shared/data" > "$work/strings.jsonl"
for name in llama3 qwen3; do
  (cd "$work" && node golden_ids.js "$name" < strings.jsonl > "$here/$name.jsonl")
done
# The pre-tokenizer variants of variants.json: the same strings, cut as Hugging Face's Digits cuts them.
cp "$here/variant_ids.js" "$work/"
for name in $(/usr/bin/python3 -c "import json; print(' '.join(json.load(open('$here/variants.json'))))"); do
  /usr/bin/python3 "$here/variant_pieces.py" "$here/variants.json" "$name" < "$work/strings.jsonl" > "$work/$name.pieces"
  (cd "$work" && node variant_ids.js "$here/variants.json" "$name" < "$name.pieces" > "$here/$name.jsonl")
done
wc -l "$here"/*.jsonl
