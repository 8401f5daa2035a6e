#!/usr/bin/env bash
# hllm_prepare as a user runs it: real public data when ../shared/data is there, the synthetic catalog,
# h5py reading the result, and broken input giving errors that name the file and line.
# Usage: prepare_cli_test.sh BUILD_BIN_DIR SOURCE_DIR
set -u
bin=$1/hllm_prepare
src=$2
shared=$2/../shared/data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"

meta() { /usr/bin/python3 -c "import json,sys; print(json.load(open('$1/meta.json'))$2)"; }

expect "synthetic catalog" 0 "wrote $tmp/syn: 200 users" -- \
  "$bin" --synthetic users=200,items=80,seed=4 --out "$tmp/syn" --train_tokenizer 300 --num_shards 2
expect "verify" 0 "ok (200 users" -- "$bin" --verify "$tmp/syn"
expect "existing output refused" 2 "exists; choose another --out or pass --overwrite" -- \
  "$bin" --synthetic users=200,items=80,seed=4 --out "$tmp/syn" --train_tokenizer 300

# The dataset is the same bytes whatever the thread count (tokenizing and compressing run on --threads).
for threads in 1 3; do
  "$bin" --synthetic users=600,items=1500,seed=5 --out "$tmp/threads$threads" --train_tokenizer 400 \
    --threads $threads > "$tmp/threads$threads.out" 2> "$tmp/threads$threads.err" ||
    { echo "FAIL: --threads $threads"; cat "$tmp/threads$threads.err"; failures=$((failures + 1)); }
done
if diff -r "$tmp/threads1" "$tmp/threads3" > "$tmp/threads.diff"; then
  echo "ok: the same files at --threads 1 and 3"
else
  echo "FAIL: --threads 1 and 3 wrote different files"; cat "$tmp/threads.diff"; failures=$((failures + 1))
fi
expect "--threads must not be negative" 2 "--threads must be 0 (the cores) to 1024, got -1" -- \
  "$bin" --synthetic users=20,items=20,seed=1 --out "$tmp/x" --train_tokenizer 50 --threads -1
expect "--threads has a bound" 2 "--threads must be 0 (the cores) to 1024, got 100000" -- \
  "$bin" --synthetic users=20,items=20,seed=1 --out "$tmp/x" --train_tokenizer 50 --threads 100000

# Progress on stderr when it is a file: every phase's closing line, lines while a phase runs (here every
# 10 ms), no carriage returns, and the summary's phase times and peak memory on stdout.
err=$tmp/threads1.err
if grep -q "^generating: done in" "$err" && grep -q "^filtering: .* interactions in .* s" "$err" &&
   grep -q "^training the tokenizer: done in" "$err" && grep -q "^tokenizing: .* items in .* s, .* items/s" "$err" &&
   grep -q "^writing users: 600 users in" "$err" && ! grep -q $'\r' "$err"; then
  echo "ok: each phase's closing line in a log file"
else
  echo "FAIL: phase lines in a log file"; sed 's/^/    /' "$err"; failures=$((failures + 1))
fi
expect "summary: each phase's time and the peak memory" 0 "; peak memory" -- \
  grep -E "time: generating [0-9.]+ s, filtering [0-9.]+ s, training the tokenizer [0-9.]+ s, .*tokenizing [0-9.]+ s, writing users [0-9.]+ s; peak memory [0-9.]+ GB" "$tmp/threads1.out"
"$bin" --synthetic users=3000,items=4000,seed=6 --out "$tmp/ticking" --train_tokenizer 2000 \
  --progress_every 0.01 > /dev/null 2> "$tmp/ticking.err"
expect "a line every --progress_every seconds while a phase runs" 0 "training the tokenizer: 0 s" -- cat "$tmp/ticking.err"
for every in 0 nan inf 1e300; do
  expect "--progress_every $every is refused" 2 "--progress_every must be a number of seconds in (0, 86400]" -- \
    "$bin" --synthetic users=20,items=20,seed=1 --out "$tmp/x" --train_tokenizer 50 --progress_every $every
done
if command -v script > /dev/null; then
  # On a terminal: one line redrawn in place (a carriage return and erase before each state).
  script -qec "'$bin' --synthetic users=300,items=200,seed=2 --out '$tmp/tty' --train_tokenizer 300" /dev/null \
    > "$tmp/tty.out" 2>&1
  if grep -q $'\r\e\[Ktokenizing: ' "$tmp/tty.out"; then
    echo "ok: a redrawn line on a terminal"
  else
    echo "FAIL: no redrawn line on a terminal"; cat -v "$tmp/tty.out" | sed 's/^/    /'; failures=$((failures + 1))
  fi
else
  echo "skipped: the terminal check ('script' is not installed)"
fi

if /usr/bin/python3 -c "import h5py" 2> /dev/null; then
  expect "h5py reads items and users" 0 "h5py ok" -- /usr/bin/python3 -c "
import h5py
i = h5py.File('$tmp/syn/items.h5', 'r'); u = h5py.File('$tmp/syn/users-00001-of-00002.h5', 'r')
assert i['offsets'].shape[0] == 82 and i['offsets'][-1] == i['tokens'].shape[0]
assert u['offsets'][-1] == u['items'].shape[0] == u['timestamps'].shape[0] and u.attrs['first_user'] == 100
print('h5py ok')"
else
  echo "skipped: h5py check (python3-h5py is not installed for /usr/bin/python3)"
fi

if [ -f "$shared/ml-100k/ml-100k.inter" ]; then
  expect "ml-100k (RecBole)" 0 "943 users, 1682 items, 100000 interactions" -- \
    "$bin" --format recbole --interactions "$shared/ml-100k/ml-100k.inter" --items "$shared/ml-100k/ml-100k.item" \
      --out "$tmp/ml" --train_tokenizer 2000 --num_shards 4
  expect "ml-100k verifies" 0 "ok (943 users, 1682 items, 100000 interactions, 4 shards)" -- "$bin" --verify "$tmp/ml"
else
  echo "skipped: ml-100k ($shared/ml-100k is absent)"
fi

mag=$shared/amazon-magazine-2018
if [ -f "$mag/Magazine_Subscriptions_5.json.gz" ]; then
  # 2,375 reviews; 64 of them for the 6 items without metadata are dropped; HLLM's 5-core recipe (one pass on
  # the counts, then users left with fewer than 5 dropped) removes 128.
  expect "Amazon 2018 magazine, 5-core" 0 "319 users, 141 items, 2183 interactions" -- \
    "$bin" --format amazon2018 --interactions "$mag/Magazine_Subscriptions_5.json.gz" \
      --items "$mag/meta_Magazine_Subscriptions.json.gz" --out "$tmp/mag" --train_tokenizer 1000 \
      --min_user_inter 5 --min_item_inter 5
  expect "Amazon counts in meta.json" 0 "2375 64 128" -- \
    /usr/bin/python3 -c "import json; c = json.load(open('$tmp/mag/meta.json'))['counts']; print(c['input_interactions'], c['interactions_without_metadata'], c['interactions_removed_by_kcore'])"
  expect "the same counts by HLLM's recipe, computed from the reviews alone" 0 "HLLM's recipe: 319 users" -- \
    /usr/bin/python3 "$src/tests/tools/hllm_recipe_counts.py" "$mag/Magazine_Subscriptions_5.json.gz" "$tmp/mag" 5 \
      "$mag/meta_Magazine_Subscriptions.json.gz"
  # Every reviewed item kept, as HLLM keeps them: its recipe exactly.
  "$bin" --format amazon2018 --interactions "$mag/Magazine_Subscriptions_5.json.gz" \
    --items "$mag/meta_Magazine_Subscriptions.json.gz" --out "$tmp/mag_all" --train_tokenizer 1000 \
    --min_user_inter 5 --min_item_inter 5 --items_without_metadata empty_text > "$tmp/mag_all.log" 2>&1 ||
    { echo "FAIL: --items_without_metadata empty_text"; cat "$tmp/mag_all.log"; failures=$((failures + 1)); }
  expect "HLLM's recipe exactly (every reviewed item kept)" 0 "HLLM's recipe: 337 users, 146 items, 2310 interactions; hllm_prepare: 337, 146, 2310" -- \
    /usr/bin/python3 "$src/tests/tools/hllm_recipe_counts.py" "$mag/Magazine_Subscriptions_5.json.gz" "$tmp/mag_all" 5
else
  echo "skipped: Amazon magazine ($mag is absent)"
fi

printf 'item_id,user_id,timestamp\n1,u1,10\n2,u1,20\n3,u1,30\n' > "$tmp/inter.csv"
printf 'item_id,title\n1,"One"\n2,"Two, "still open\n3,Three\n' > "$tmp/bad_quote.csv"
expect "CSV with a broken quote names file and line" 2 "bad_quote.csv:3: text after the closing quote" -- \
  "$bin" --format hllm_csv --interactions "$tmp/inter.csv" --items "$tmp/bad_quote.csv" --out "$tmp/x" --train_tokenizer 50
printf 'item_id,title\n1,"One"\n2,"never closed\n' > "$tmp/open_quote.csv"
expect "CSV with an unterminated quote" 2 "open_quote.csv:3: unterminated quoted field" -- \
  "$bin" --format hllm_csv --interactions "$tmp/inter.csv" --items "$tmp/open_quote.csv" --out "$tmp/x" --train_tokenizer 50
printf 'item_id,user_id,timestamp\n1,u1,10\n2,u1,yesterday\n' > "$tmp/bad_time.csv"
expect "non-integer timestamp" 2 "bad_time.csv:3: timestamp 'yesterday' is not an integer" -- \
  "$bin" --format hllm_csv --interactions "$tmp/bad_time.csv" --items "$tmp/bad_quote.csv" --out "$tmp/x" --train_tokenizer 50
expect "nothing left after k-core" 2 "no user is left after filtering" -- \
  "$bin" --synthetic users=20,items=20,seed=1 --out "$tmp/x" --train_tokenizer 50 --min_user_inter 1000
expect "unknown text key" 2 "no text field 'colour'" -- \
  "$bin" --synthetic users=20,items=20,seed=1 --out "$tmp/x" --train_tokenizer 50 --text_keys title,colour
expect "no tokenizer" 2 "pass either --tokenizer PATH or --train_tokenizer" -- \
  "$bin" --synthetic users=20,items=20,seed=1 --out "$tmp/x"
[ -e "$tmp/x" ] && { echo "FAIL: a failed run left $tmp/x behind"; failures=$((failures + 1)); }

cp -r "$tmp/syn" "$tmp/truncated"
truncate -s 1000 "$tmp/truncated/items.h5"
expect "truncated items.h5 names the file" 2 "truncated/items.h5" -- "$bin" --verify "$tmp/truncated"
cp -r "$tmp/syn" "$tmp/flipped"
printf '\x01' | dd of="$tmp/flipped/users-00000-of-00002.h5" bs=1 seek=3000 conv=notrunc status=none
expect "damaged shard fails its checksum" 2 "users-00000-of-00002.h5: checksum" -- "$bin" --verify "$tmp/flipped"
expect "not a dataset" 2 "no meta.json" -- "$bin" --verify "$tmp"

finish
