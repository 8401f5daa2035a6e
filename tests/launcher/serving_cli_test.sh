#!/usr/bin/env bash
# hllm_embed and hllm_recommend on finished runs, as a user runs them under mpirun: the item table h5py reads,
# top-K lists whose test hits are the run's own test Recall@10 (counted here from the dataset's files with
# h5py, not by the project's code), the same lists from the embeddings file and on other layouts, histories
# from a file, and the errors a user can make.
# Usage: serving_cli_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS" DATASET_DIR
set -u
bin=$1
src=$2
read -r -a mpi_flags <<< "$3"
dataset=$4
mpirun_() { mpirun "${mpi_flags[@]}" "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"
py=/usr/bin/python3
# One LibTorch thread per rank everywhere: embeddings are then bit-identical across rank counts.
common=(--set data.path="$dataset" --set parallel.intra_op_threads=1)
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }

# share_of_test_hits RECOMMENDATIONS REPORT: the share of users whose last item (from the dataset's HDF5
# files) is listed, beside report.json's test recall@10; fails unless they are equal.
test_hits_equal_recall() {
  "$py" - "$dataset" "$1" "$2" <<'PY'
import glob, json, sys
import h5py
dataset, recommendations, report = sys.argv[1:4]
item_ids = h5py.File(dataset + "/items.h5", "r")["ids"].asstr()[:]
last = {}
for path in sorted(glob.glob(dataset + "/users-*.h5")):
    f = h5py.File(path, "r")
    offsets, items, users = f["offsets"][:], f["items"][:], f["ids"].asstr()[:]
    for u, user in enumerate(users):
        last[user] = item_ids[items[offsets[u + 1] - 1]]
lines = [json.loads(line) for line in open(recommendations)]
assert len(lines) == len(last), (len(lines), len(last))
share = sum(last[r["user"]] in r["items"] for r in lines) / len(lines)
want = json.load(open(report))["test"]["recall@10"]
print("test hits %.6f, report.json recall@10 %.6f" % (share, want))
sys.exit(0 if abs(share - want) < 1e-12 else 1)
PY
}

expect "train an HLLM run at ZeRO-3 on 2 ranks" 0 "test (popularity baseline)" -- \
  mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/demo.json" "${common[@]}" --set zero_optimization.stage=3 \
    --set train.max_steps=20 --set train.eval_interval=20 --set run.dir="$tmp/hllm"

expect "hllm_embed writes the table" 0 "120 items x 128 (hllm)" -- mpirun_ -np 2 "$bin/hllm_embed" "$tmp/hllm"
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

# An ID model: its item table, and the same test-hit identity.
expect "train SASRec on 2 ranks" 0 "test (popularity baseline)" -- \
  mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/demo_sasrec.json" "${common[@]}" --set train.max_steps=20 \
    --set run.dir="$tmp/sasrec"
expect "hllm_embed of SASRec" 0 "120 items x" -- mpirun_ -np 2 "$bin/hllm_embed" "$tmp/sasrec"
expect "SASRec's test lists" 0 "for 300 users" -- \
  mpirun_ -np 2 "$bin/hllm_recommend" "$tmp/sasrec" --k 10 --split test --out "$tmp/sasrec.jsonl"
test_hits_equal_recall "$tmp/sasrec.jsonl" "$tmp/sasrec/report.json" || fail "SASRec: test hits differ from Recall@10"
expect "the table of another run is refused" 2 "sasrec/item_embeddings.h5' holds 120 dataset items of dimension 64" -- \
  "$bin/hllm_recommend" "$tmp/hllm" --k 3 --embeddings "$tmp/sasrec/item_embeddings.h5"
printf '{"user": "visitor", "items": ["item3", "item5"]}\n' > "$tmp/sasrec_users.jsonl"
expect "SASRec with users from a file" 0 "for 1 users" -- \
  "$bin/hllm_recommend" "$tmp/sasrec" --k 4 --users "$tmp/sasrec_users.jsonl" --out "$tmp/s.jsonl"

finish
