#!/usr/bin/env bash
# hllm_embed and hllm_recommend on finished runs, as a user runs them under mpirun: the item table h5py reads,
# top-K lists whose test hits are the run's own test Recall@10 (counted here from the dataset's files with
# h5py, not by the project's code), the same lists from the embeddings file and on other layouts, histories
# from a file, and the errors a user can make.
# Usage: serving_cli_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS" DATASET_DIR [CATALOGUE_DATASET_DIR]
set -u
bin=$1
src=$2
read -r -a mpi_flags <<< "$3"
dataset=$4
catalogue=${5:-}
mpirun_() { mpirun "${mpi_flags[@]}" "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"
py=/usr/bin/python3
# One LibTorch thread per rank everywhere: embeddings are then bit-identical across rank counts.
common=(--set data.path="$dataset" --set parallel.intra_op_threads=1)
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }

# test_hits_equal_recall RECOMMENDATIONS REPORT [SPLIT]: the share of users whose target (from the dataset's
# HDF5 files: the last item for test, the one before for valid) is listed, beside report.json's recall@10
# of that split; fails unless they are equal, or when no user's target is listed (a share of 0 proves nothing).
test_hits_equal_recall() {
  "$py" - "$dataset" "$1" "$2" "${3:-test}" <<'PY'
import glob, json, sys
import h5py
dataset, recommendations, report, split = sys.argv[1:5]
item_ids = h5py.File(dataset + "/items.h5", "r")["ids"].asstr()[:]
target = {}
back = 1 if split == "test" else 2
for path in sorted(glob.glob(dataset + "/users-*.h5")):
    f = h5py.File(path, "r")
    offsets, items, users = f["offsets"][:], f["items"][:], f["ids"].asstr()[:]
    for u, user in enumerate(users):
        target[user] = item_ids[items[offsets[u + 1] - back]]
lines = [json.loads(line) for line in open(recommendations)]
assert len(lines) == len(target), (len(lines), len(target))
share = sum(target[r["user"]] in r["items"] for r in lines) / len(lines)
want = json.load(open(report))[split]["recall@10"]
print("%s hits %.6f, report.json recall@10 %.6f" % (split, share, want))
sys.exit(0 if abs(share - want) < 1e-12 and share > 0 else 1)
PY
}

expect "train an HLLM run at ZeRO-3 on 2 ranks" 0 "test (popularity baseline)" -- \
  mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/demo.json" "${common[@]}" --set zero_optimization.stage=3 \
    --set train.max_steps=20 --set train.eval_interval=20 --set run.dir="$tmp/hllm"

expect "hllm_embed writes the table" 0 "120 items x 128 (hllm; 0 new)" -- mpirun_ -np 2 "$bin/hllm_embed" "$tmp/hllm"
"$py" - "$tmp/hllm/item_embeddings.h5" "$dataset" <<'PY' || fail "h5py does not read the item table as documented"
import sys
import h5py, numpy as np
table, dataset = sys.argv[1:3]
f = h5py.File(table, "r")
assert f["embeddings"].shape == (120, 128) and f["embeddings"].dtype == np.float32, f["embeddings"]
assert list(f["ids"].asstr()[:]) == list(h5py.File(dataset + "/items.h5", "r")["ids"].asstr()[1:])
assert list(f["dataset_index"][:]) == list(range(1, 121))
assert f.attrs["num_dataset_items"] == 120 and f.attrs["num_new_items"] == 0
assert np.isfinite(f["embeddings"][:]).all() and np.abs(f["embeddings"][:]).sum() > 0
PY

expect "recommend from the test input on 2 ranks" 0 "for 300 users" -- \
  mpirun_ -np 2 "$bin/hllm_recommend" "$tmp/hllm" --k 10 --split test --out "$tmp/test2.jsonl"
test_hits_equal_recall "$tmp/test2.jsonl" "$tmp/hllm/report.json" || fail "HLLM: test hits differ from Recall@10"
expect "recommend from the valid input" 0 "for 300 users" -- \
  mpirun_ -np 2 "$bin/hllm_recommend" "$tmp/hllm" --k 10 --split valid --out "$tmp/valid2.jsonl"
test_hits_equal_recall "$tmp/valid2.jsonl" "$tmp/hllm/report.json" valid || fail "HLLM: valid hits differ from Recall@10"
cmp -s "$tmp/test2.jsonl" "$tmp/valid2.jsonl" && fail "--split valid lists what --split test lists"
expect "the same lists on 3 ranks" 0 "for 300 users" -- \
  mpirun_ -np 3 "$bin/hllm_recommend" "$tmp/hllm" --k 10 --split test --out "$tmp/test3.jsonl"
cmp -s "$tmp/test2.jsonl" "$tmp/test3.jsonl" || fail "2 and 3 ranks list different items"
expect "the same lists from hllm_embed's table" 0 "for 300 users" -- \
  "$bin/hllm_recommend" "$tmp/hllm" --k 10 --split test --embeddings "$tmp/hllm/item_embeddings.h5" \
    --out "$tmp/test_file.jsonl" --set parallel.intra_op_threads=1
cmp -s "$tmp/test2.jsonl" "$tmp/test_file.jsonl" || fail "the table from the file lists different items"
expect "the same lists at pp 2" 0 "for 300 users" -- \
  mpirun_ -np 2 "$bin/hllm_recommend" "$tmp/hllm" --k 10 --split test --set parallel.pp=2 --out "$tmp/test_pp.jsonl"
test_hits_equal_recall "$tmp/test_pp.jsonl" "$tmp/hllm/report.json" || fail "pp 2: test hits differ from Recall@10"

# Standard output carries the lists only (the summary goes to standard error).
mpirun_ -np 2 "$bin/hllm_recommend" "$tmp/hllm" --k 5 --out - > "$tmp/all.jsonl" 2> "$tmp/err" ||
  fail "serving lists to standard output: $(cat "$tmp/err")"
"$py" - "$tmp/all.jsonl" "$dataset" <<'PY' || fail "--split all lists an item of the user's history"
import glob, json, sys
import h5py
lines = [json.loads(line) for line in open(sys.argv[1])]
dataset = sys.argv[2]
item_ids = h5py.File(dataset + "/items.h5", "r")["ids"].asstr()[:]
history = {}
for path in sorted(glob.glob(dataset + "/users-*.h5")):
    f = h5py.File(path, "r")
    offsets, items, users = f["offsets"][:], f["items"][:], f["ids"].asstr()[:]
    for u, user in enumerate(users):
        history[user] = {item_ids[i] for i in items[offsets[u]:offsets[u + 1]]}
assert len(lines) == 300
for r in lines:
    assert len(r["items"]) == 5 and len(r["scores"]) == 5, r
    assert not history[r["user"]] & set(r["items"]), r
    assert r["scores"] == sorted(r["scores"], reverse=True), r
PY

printf '{"user": "visitor", "items": ["item3", "item7", "item9"]}\n{"user": "other", "items": ["item1"]}\n' > "$tmp/users.jsonl"
expect "users from a file" 0 "for 2 users" -- "$bin/hllm_recommend" "$tmp/hllm" --k 4 --users "$tmp/users.jsonl" --out "$tmp/u.jsonl"
grep -q '"user":"visitor"' "$tmp/u.jsonl" && ! grep -q '"item3"\|"item7"\|"item9"' <(grep visitor "$tmp/u.jsonl") ||
  fail "the file's user is missing or gets an item of the history"
printf '{"user": "visitor", "items": ["item3", "no-such-item"]}\n' > "$tmp/bad_item.jsonl"
expect "an unknown item names file and line" 2 "bad_item.jsonl:1: item 'no-such-item' is neither in the run's dataset" -- \
  "$bin/hllm_recommend" "$tmp/hllm" --k 4 --users "$tmp/bad_item.jsonl"
printf '{"user": "visitor", "items": ["item3"]}\n' > "$tmp/short.jsonl"
expect "a history too short for the split" 2 "user 'visitor' has 1 item(s); --split test needs 2" -- \
  "$bin/hllm_recommend" "$tmp/hllm" --k 4 --users "$tmp/short.jsonl" --split test
printf 'not json\n' > "$tmp/not_json.jsonl"
expect "a line that is not JSON" 2 "not_json.jsonl:1: not a JSON object" -- \
  "$bin/hllm_recommend" "$tmp/hllm" --k 4 --users "$tmp/not_json.jsonl"
expect "--k is required" 2 "--k is required" -- "$bin/hllm_recommend" "$tmp/hllm"
expect "--k must be positive" 2 "--k '0': expected a positive integer" -- "$bin/hllm_recommend" "$tmp/hllm" --k 0
expect "--split takes all, valid or test" 2 "--split 'last': expected all, valid or test" -- \
  "$bin/hllm_recommend" "$tmp/hllm" --k 3 --split last
expect "an output directory that does not exist" 2 "/none' does not exist or is not writable" -- \
  mpirun_ -np 2 "$bin/hllm_recommend" "$tmp/hllm" --k 3 --out "$tmp/none/r.jsonl"
[ -z "$(ls "$tmp"/none 2>/dev/null)" ] || fail "a failed run left files"
expect "a file that is not HDF5" 2 "cannot open '$tmp/users.jsonl' as HDF5" -- \
  "$bin/hllm_recommend" "$tmp/hllm" --k 3 --embeddings "$tmp/users.jsonl"
expect "hllm_embed to a directory that does not exist" 2 "/none' does not exist or is not writable" -- \
  "$bin/hllm_embed" "$tmp/hllm" --out "$tmp/none/e.h5"
expect "hllm_embed's unknown flag" 2 "unknown flag '--item'" -- "$bin/hllm_embed" "$tmp/hllm" --item x

# New items known only by their text, on a dataset prepared here from CSV files: one new item repeats the text
# of dataset item i7, so its embedding must be i7's (the engine's, for the same text); one is new text.
"$py" - "$tmp/csv" <<'PY'
import os, random, sys
out = sys.argv[1]
os.makedirs(out)
random.seed(4)
colours = ["red", "green", "blue", "black", "white", "silver", "golden", "purple"]
kinds = ["kettle", "lamp", "chair", "novel", "camera", "guitar", "jacket", "teapot"]
with open(out + "/items.csv", "w") as f:
    f.write("item_id,title,description\n")
    for i in range(40):
        f.write('i%d,"%s %s %d","a %s %s for the %s room"\n' % (i, colours[i % 8], kinds[i // 5], i, colours[i % 8],
                kinds[i // 5], ["kitchen", "living", "study"][i % 3]))
with open(out + "/interactions.csv", "w") as f:
    f.write("item_id,user_id,timestamp\n")
    for u in range(60):
        for t in range(6):
            f.write("i%d,u%d,%d\n" % ((u * 7 + t * (u % 5 + 1)) % 40, u, 1000 + t))
with open(out + "/new.csv", "w") as f:
    f.write("item_id,title,description\n")
    f.write('fresh-copy,"%s %s %d","a %s %s for the %s room"\n' % (colours[7], kinds[1], 7, colours[7], kinds[1], "living"))
    f.write('fresh-other,"an orange umbrella","a folding umbrella for rainy days"\n')
with open(out + "/known.csv", "w") as f:
    f.write("item_id,title,description\ni3,another,text\n")
with open(out + "/no_description.csv", "w") as f:
    f.write("item_id,title\nfresh,a title\n")
PY
expect "prepare the CSV dataset" 0 "wrote" -- "$bin/hllm_prepare" --format hllm_csv --interactions "$tmp/csv/interactions.csv" \
  --items "$tmp/csv/items.csv" --out "$tmp/csv/data" --train_tokenizer 200 --max_text_len 24
expect "tokenize the new items as the dataset's" 0 "2 new items" -- \
  "$bin/hllm_prepare" --new_items "$tmp/csv/new.csv" --like "$tmp/csv/data" --out "$tmp/csv/new.h5"
expect "a new item that is already the dataset's" 2 "item 'i3' is already an item of" -- \
  "$bin/hllm_prepare" --new_items "$tmp/csv/known.csv" --like "$tmp/csv/data" --out "$tmp/csv/known.h5"
expect "new items without one of the dataset's text fields" 2 "has no text field 'description'" -- \
  "$bin/hllm_prepare" --new_items "$tmp/csv/no_description.csv" --like "$tmp/csv/data" --out "$tmp/csv/nd.h5"
[ ! -e "$tmp/csv/known.h5" ] && [ -z "$(ls "$tmp"/csv/*.tmp-* 2>/dev/null)" ] || fail "a refused new-items file was left behind"
expect "train HLLM on the CSV dataset" 0 "test (popularity baseline)" -- \
  mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/demo.json" --set data.path="$tmp/csv/data" \
    --set parallel.intra_op_threads=1 --set train.max_steps=10 --set train.eval_interval=10 --set run.dir="$tmp/csv/run"
expect "hllm_embed with new items" 0 "42 items x 128 (hllm; 2 new)" -- \
  mpirun_ -np 2 "$bin/hllm_embed" "$tmp/csv/run" --items "$tmp/csv/new.h5"
"$py" - "$tmp/csv/run/item_embeddings.h5" <<'PY' || fail "a new item's embedding is not the engine's for the same text"
import sys
import h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
ids = list(f["ids"].asstr()[:])
e = f["embeddings"][:]
assert ids[-2:] == ["fresh-copy", "fresh-other"] and list(f["dataset_index"][-2:]) == [0, 0], ids[-2:]
assert f.attrs["num_dataset_items"] == 40 and f.attrs["num_new_items"] == 2
same, other = e[ids.index("fresh-copy")], e[ids.index("fresh-other")]
print("fresh-copy vs i7: max |difference| %.3g" % np.abs(same - e[ids.index("i7")]).max())
assert np.allclose(same, e[ids.index("i7")], rtol=1e-5, atol=1e-6)
assert not np.allclose(other, e[ids.index("i7")], rtol=1e-3, atol=1e-3)
PY
printf '{"user": "shopper", "items": ["fresh-other", "i2"]}\n' > "$tmp/csv/users.jsonl"
expect "recommend over the table with its new items" 0 "top 42 of 42 items (2 new) for 1 users" -- \
  "$bin/hllm_recommend" "$tmp/csv/run" --k 42 --embeddings "$tmp/csv/run/item_embeddings.h5" \
    --users "$tmp/csv/users.jsonl" --out "$tmp/csv/u.jsonl"
"$py" - "$tmp/csv/u.jsonl" <<'PY' || fail "new items are not ranked as the dataset's item of the same text"
import json, sys
r = json.loads(open(sys.argv[1]).readline())
score = dict(zip(r["items"], r["scores"]))
assert len(r["items"]) == 40 and "fresh-other" not in score and "i2" not in score, r["items"]
assert abs(score["fresh-copy"] - score["i7"]) < 1e-5, (score["fresh-copy"], score["i7"])
PY
expect "hllm_embed --items with the raw CSV says how to tokenize it" 2 "hllm_prepare --new_items FILE --like" -- \
  "$bin/hllm_embed" "$tmp/csv/run" --items "$tmp/csv/new.csv" --out "$tmp/csv/x.h5"
expect "new items tokenized for another dataset" 2 "was tokenized with another tokenizer" -- \
  "$bin/hllm_embed" "$tmp/hllm" --items "$tmp/csv/new.h5" --out "$tmp/x.h5"

# An ID model: its item table, and the same test-hit identity.
expect "train SASRec on 2 ranks" 0 "test (popularity baseline)" -- \
  mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/demo_sasrec.json" "${common[@]}" --set train.max_steps=20 \
    --set run.dir="$tmp/sasrec"
expect "hllm_embed of SASRec" 0 "120 items x" -- mpirun_ -np 2 "$bin/hllm_embed" "$tmp/sasrec"
expect "SASRec's test lists" 0 "for 300 users" -- \
  mpirun_ -np 2 "$bin/hllm_recommend" "$tmp/sasrec" --k 10 --split test --out "$tmp/sasrec.jsonl"
test_hits_equal_recall "$tmp/sasrec.jsonl" "$tmp/sasrec/report.json" || fail "SASRec: test hits differ from Recall@10"
expect "SASRec has nothing for new items" 2 "sasrec learns one vector per training item id" -- \
  "$bin/hllm_embed" "$tmp/sasrec" --items "$tmp/csv/new.h5"
expect "the table of another run is refused" 2 "sasrec/item_embeddings.h5' holds 120 dataset items of dimension 64" -- \
  "$bin/hllm_recommend" "$tmp/hllm" --k 3 --embeddings "$tmp/sasrec/item_embeddings.h5"
printf '{"user": "visitor", "items": ["item3", "item5"]}\n' > "$tmp/sasrec_users.jsonl"
expect "SASRec with users from a file" 0 "for 1 users" -- \
  "$bin/hllm_recommend" "$tmp/sasrec" --k 4 --users "$tmp/sasrec_users.jsonl" --out "$tmp/s.jsonl"

# A catalogue of four evaluation chunks: each replica keeps only its slice of the table (train.eval_catalogue
# sharded, the default) and the lists are the replicated table's, byte for byte, on 3 ranks and at pp 2; their
# test hits are the run's Recall@10, which its sharded evaluation measured on 2 ranks.
if [ -n "$catalogue" ]; then
  expect "train HLLM on a catalogue of four chunks" 0 "test (popularity baseline)" -- \
    mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/demo.json" --set data.path="$catalogue" \
      --set parallel.intra_op_threads=1 --set train.max_steps=4 --set run.dir="$tmp/big"
  expect "the replicated table on 1 rank" 0 "for 400 users" -- "$bin/hllm_recommend" "$tmp/big" --k 10 --split test \
    --set train.eval_catalogue=replicated --set parallel.intra_op_threads=1 --out "$tmp/big1.jsonl"
  expect "slices on 3 ranks" 0 "for 400 users" -- \
    mpirun_ -np 3 "$bin/hllm_recommend" "$tmp/big" --k 10 --split test --out "$tmp/big3.jsonl"
  cmp -s "$tmp/big1.jsonl" "$tmp/big3.jsonl" || fail "slices on 3 ranks list what the whole table does not"
  expect "slices at pp 2 on 4 ranks" 0 "for 400 users" -- \
    mpirun_ -np 4 "$bin/hllm_recommend" "$tmp/big" --k 10 --split test --set parallel.pp=2 --out "$tmp/big_pp.jsonl"
  cmp -s "$tmp/big1.jsonl" "$tmp/big_pp.jsonl" || fail "slices at pp 2 list what the whole table does not"
  dataset="$catalogue" test_hits_equal_recall "$tmp/big3.jsonl" "$tmp/big/report.json" ||
    fail "sharded: test hits differ from Recall@10"
fi

finish
