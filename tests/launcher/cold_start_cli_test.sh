#!/usr/bin/env bash
# Cold-start evaluation end to end: hllm_prepare holds items out of training (checked here with h5py: never
# in a user's training part), hllm_launch reports the metrics of users whose target is cold and of the
# others (their counts adding up, the overall metrics their weighted mean), and says what each model knows
# of the cold items.
# Usage: cold_start_cli_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS"
set -u
bin=$1
src=$2
read -r -a mpi_flags <<< "$3"
mpirun_() { mpirun "${mpi_flags[@]}" "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"
py=/usr/bin/python3
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }

expect "hold out a fifth of the items" 0 "cold items (held out of training, only valid/test targets): " -- \
  "$bin/hllm_prepare" --synthetic users=300,items=120,seed=9 --out "$tmp/data" --train_tokenizer 400 \
    --max_text_len 16 --cold_items 0.2
"$py" - "$tmp/data" <<'PY' || fail "a cold item is in a training part, or the counts disagree"
import glob, json, sys
import h5py
d = sys.argv[1]
meta = json.load(open(d + "/meta.json"))
cold = h5py.File(d + "/items.h5", "r")["cold"][:]
assert cold[0] == 0 and cold.sum() == meta["cold_items"]["count"] == meta["counts"]["cold_items"] > 0, meta["cold_items"]
assert meta["cold_items"]["fraction"] == 0.2
targets = 0
for path in glob.glob(d + "/users-*.h5"):
    f = h5py.File(path, "r")
    offsets, items = f["offsets"][:], f["items"][:]
    for u in range(len(offsets) - 1):
        seq = items[offsets[u]:offsets[u + 1]]
        assert not cold[seq[:-2]].any(), (u, seq)
        targets += cold[seq[-2:]].sum()
assert targets > 0
print("cold items:", cold.sum(), "cold valid/test targets:", targets)
PY
expect "a share outside [0, 1)" 2 "--cold_items is a share of the items in [0, 1), got 1.5" -- \
  "$bin/hllm_prepare" --synthetic users=300,items=120,seed=9 --out "$tmp/bad" --train_tokenizer 400 --cold_items 1.5
expect "every item cold" 2 "every item is cold" -- \
  "$bin/hllm_prepare" --synthetic users=300,items=120,seed=9 --out "$tmp/bad" --train_tokenizer 400 --cold_after 0
[ ! -e "$tmp/bad" ] || fail "a refused dataset was written"

# check_report RUN MODEL_NOTE: the cold and warm users are those whose target (valid: the second-to-last item,
# test: the last) items.h5 marks cold, counted here from the dataset's HDF5 files; the overall metrics are
# their weighted mean; the report says what the model knows of the cold items.
check_report() {
  "$py" - "$1/report.json" "$2" "$tmp/data" <<'PY'
import glob, json, sys
import h5py
report, note, data = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
cold_item = h5py.File(data + "/items.h5", "r")["cold"][:]
cold_targets = {"valid": 0, "test": 0}
users = 0
for path in glob.glob(data + "/users-*.h5"):
    f = h5py.File(path, "r")
    offsets, items = f["offsets"][:], f["items"][:]
    for u in range(len(offsets) - 1):
        users += 1
        cold_targets["valid"] += int(cold_item[items[offsets[u + 1] - 2]])
        cold_targets["test"] += int(cold_item[items[offsets[u + 1] - 1]])
assert cold_targets["valid"] != cold_targets["test"], cold_targets  # else a split mixed up would pass
assert note in report["cold_items"]["note"], report["cold_items"]
for split, counted in (("valid", "valid"), ("test", "test"), ("popularity_test", "test")):
    m = report[split]
    cold, warm = m["cold.users"], m["warm.users"]
    assert (cold, warm) == (cold_targets[counted], users - cold_targets[counted]), (split, cold, warm, cold_targets, users)
    for metric in ("recall@10", "ndcg@10", "recall@200", "ndcg@200"):
        mean = (cold * m["cold." + metric] + warm * m["warm." + metric]) / (cold + warm)
        assert abs(mean - m[metric]) < 1e-9, (split, metric, mean, m[metric])
assert report["popularity_test"]["cold.recall@10"] == 0, "popularity cannot know items with no training count"
print("test R@10 cold %.4f warm %.4f" % (report["test"]["cold.recall@10"], report["test"]["warm.recall@10"]))
PY
}
expect "HLLM reports cold and warm targets" 0 "cold targets (" -- \
  mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/demo.json" --set data.path="$tmp/data" \
    --set train.max_steps=20 --set train.eval_interval=20 --set run.dir="$tmp/hllm"
grep -q "HLLM embeds them from their text" "$tmp/out" || fail "the HLLM run does not say what it knows of cold items"
check_report "$tmp/hllm" "HLLM embeds them from their text" || fail "HLLM's report"
expect "hllm_eval prints them too" 0 "warm targets (" -- "$bin/hllm_eval" "$tmp/hllm"
expect "SASRec says its cold items are untrained ids" 0 "initial, untrained embeddings of their ids" -- \
  mpirun_ -np 2 "$bin/hllm_launch" --config "$src/configs/demo_sasrec.json" --set data.path="$tmp/data" \
    --set train.max_steps=20 --set run.dir="$tmp/sasrec"
check_report "$tmp/sasrec" "untrained embeddings" || fail "SASRec's report"

finish
