#!/usr/bin/env bash
# Writes llama3.jsonl and qwen3.jsonl: the golden ids of the tokenizer.json tests, computed by
# transformers.js (npm @lenml/tokenizers 3.7.2), not by this project. Needs node, npm and ../shared.
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
wc -l "$here"/llama3.jsonl "$here"/qwen3.jsonl
