#!/usr/bin/env bash
# hllm_sweep and hllm_plot --sweep as a user runs them: a ladder of three widths on the test dataset, trained
# one after the other on 2 ranks; SIGTERM to hllm_sweep mid-ladder commits the running point's checkpoint and
# exits 3; the same command again skips the finished point, resumes the interrupted one and trains the rest,
# then writes the table and the plot. The sbatch array script passes bash -n and its --dry-run lists one
# hllm_launch per point. Bad ladders are refused naming the point and the key.
# Usage: sweep_cli_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS" DATASET_DIR
set -u
bin=$1
src=$2
mpirun_command="mpirun $3"
dataset=$4
tmp=$(mktemp -d)
trap 'pkill -9 -f "$tmp" 2> /dev/null; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli_expect.sh"

shape() { echo "{\"hidden_size\": $1, \"num_layers\": 1, \"num_heads\": 2}"; }
cat > "$tmp/ladder.json" <<JSON
{"points": [
  {"name": "d16", "set": {"model.item": $(shape 16), "model.user": $(shape 16)}},
  {"name": "d32", "set": {"model.item": $(shape 32), "model.user": $(shape 32)}},
  {"name": "d64", "set": {"model.item": $(shape 64), "model.user": $(shape 64), "data.num_negatives": 32}}
]}
JSON
/usr/bin/env python3 - "$src/configs/demo.json" "$dataset" "$tmp/base.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["data"]["path"] = sys.argv[2]
config["train"].update({"max_steps": 120, "eval_interval": 0, "log_interval": 10})
# d16 (one 16-wide layer) embeds every item alike from its first step (every negative filtered, loss 0): the
# collapse guard would rightly stop it (exit 4). The sweep's mechanics are tested here, so that guard is off.
config["train"]["guard"] = {"collapse_min_kept_share": 0, "collapse_max_item_cosine": 1}
config["checkpoint"] = {"interval_steps": 20}
json.dump(config, open(sys.argv[3], "w"), indent=1)
PY
sweep() { "$bin/hllm_sweep" --config "$tmp/base.json" --ladder "$tmp/$1" --out "$tmp/$2" --np 2 --mpirun "$mpirun_command" "${@:3}"; }

# Bad ladders: refused before anything runs, naming the point and what is wrong.
echo '{"points": [{"name": "a"}, {"name": "a"}]}' > "$tmp/twice.json"
expect "a name used twice is refused" 2 "point 1: name 'a' is used twice" -- sweep twice.json bad
echo '{"points": [{"name": "x", "set": {"model.item": {"hidden_size": 64, "num_layers": 1, "num_heads": 5}}}]}' > "$tmp/heads.json"
expect "a bad shape names the point and the key" 2 "point 0 ('x'): " -- sweep heads.json bad
grep -q "key 'model.item.num_heads': hidden_size 64 is not a multiple of num_heads 5" "$tmp/out" ||
  { echo "FAIL: the bad shape's key is not named"; failures=$((failures + 1)); }
echo '{"points": [{"name": "x", "set": {"train.max_step": 3}}]}' > "$tmp/key.json"
expect "an unknown key is refused with a suggestion" 2 "did you mean 'train.max_steps'?" -- sweep key.json bad
echo '{"points": [{"name": "../x"}]}' > "$tmp/name.json"
expect "a name that is not a directory name is refused" 2 "must be letters, digits" -- sweep name.json bad
[ ! -e "$tmp/bad/runs" ] || { echo "FAIL: a refused ladder left run directories"; failures=$((failures + 1)); }

# --mode list: the configs written, one command per point, nothing run.
expect "--mode list prints each point's command" 0 "d64: $mpirun_command -np 2 $bin/hllm_launch --config '$tmp/list/configs/d64.json' --resume auto" -- \
  sweep ladder.json list --mode list
if [ "$(grep -c "hllm_launch --config '$tmp/list/configs/d[0-9]*.json' --resume auto" "$tmp/out")" -eq 3 ] && [ ! -d "$tmp/list/runs/d16/checkpoints" ] &&
   /usr/bin/env python3 -c "
import json, sys
c = json.load(open('$tmp/list/configs/d64.json'))
sys.exit(0 if c['model']['item']['hidden_size'] == 64 and c['data']['num_negatives'] == 32 and c['train']['max_steps'] == 120 else 1)"; then
  echo "ok: --mode list wrote each point's config (d64: width 64, 32 negatives, the base's steps) and ran nothing"
else echo "FAIL: --mode list"; sed 's/^/    /' "$tmp/out"; failures=$((failures + 1)); fi

# The sbatch array script: valid bash, one task per point, and its dry run lists each task's command.
expect "--mode sbatch writes the array script" 0 "3 array tasks" -- sweep ladder.json slurm --mode sbatch
if bash -n "$tmp/slurm/sweep.sbatch"; then echo "ok: the array script passes bash -n"
else echo "FAIL: bash -n $tmp/slurm/sweep.sbatch"; failures=$((failures + 1)); fi
grep -q "^#SBATCH --array=0-2$" "$tmp/slurm/sweep.sbatch" || { echo "FAIL: no --array=0-2"; failures=$((failures + 1)); }
expect "its --dry-run lists the tasks" 0 "task 2 (d64, pending)" -- bash "$tmp/slurm/sweep.sbatch" --dry-run
if [ "$(grep -c "hllm_launch --config $tmp/slurm/configs/d[0-9]*.json --resume auto" "$tmp/out")" -eq 3 ]; then
  echo "ok: the dry run lists one hllm_launch per point"
else echo "FAIL: the dry run does not list one hllm_launch per point"; sed 's/^/    /' "$tmp/out"; failures=$((failures + 1)); fi

# Local: stopped during the second point, then finished by the same command.
sweep ladder.json local > "$tmp/first.log" 2>&1 &
job=$!
for _ in $(seq 600); do grep -q '"step":30,' "$tmp/local/runs/d32/metrics.jsonl" 2> /dev/null && break; sleep 0.2; done
pkill -TERM -f "hllm_sweep --config $tmp/base.json --ladder $tmp/ladder.json --out $tmp/local"
wait $job
rc=$?
if [ "$rc" -eq 3 ] && grep -q "stopped: d32 committed a checkpoint" "$tmp/first.log" && [ -f "$tmp/local/runs/d16/report.json" ] &&
   ls -d "$tmp"/local/runs/d32/checkpoints/step_*[0-9] > /dev/null 2>&1 && [ ! -f "$tmp/local/runs/d32/report.json" ] && [ ! -d "$tmp/local/runs/d64" ]; then
  echo "ok: SIGTERM to hllm_sweep stops the running point at a checkpoint (exit 3)"
else echo "FAIL: SIGTERM mid-ladder (exit $rc)"; sed 's/^/    /' "$tmp/first.log"; failures=$((failures + 1)); fi
before=$(stat -c %Y "$tmp/local/runs/d16/report.json")
expect "the same command again finishes the ladder" 0 "[2/3] d32: training, resuming from its newest checkpoint" -- sweep ladder.json local
grep -qF "[1/3] d16: done" "$tmp/out" && [ "$(stat -c %Y "$tmp/local/runs/d16/report.json")" = "$before" ] ||
  { echo "FAIL: the finished point was trained again"; failures=$((failures + 1)); }
for file in sweep.csv sweep.md scaling.png; do
  [ -s "$tmp/local/$file" ] || { echo "FAIL: no $file"; failures=$((failures + 1)); }
done
if [ "$(grep -c '^d[0-9]*,"' "$tmp/local/sweep.csv")" -eq 3 ] && grep -q "test Recall@10 ∝ N^slope: slope .* over 3 points" "$tmp/local/sweep.md"; then
  echo "ok: the table lists the three points and the power-law fits"
else echo "FAIL: the table"; cat "$tmp/local/sweep.md"; failures=$((failures + 1)); fi
# The table's values are the runs' reports', and its power-law slope is what a least-squares fit of
# log10(test Recall@10) on log10(N) gives, computed here with NumPy from the reports and from the CSV.
if ! /usr/bin/python3 -c "import numpy" 2> /dev/null; then
  echo "skipped: the table's values and slope (NumPy is not installed for /usr/bin/python3)"
else /usr/bin/python3 - "$tmp/local" <<'PY' || failures=$((failures + 1))
import csv, json, re, sys
import numpy as np
root = sys.argv[1]
rows = {row["point"]: row for row in csv.DictReader(open(root + "/sweep.csv"))}
n, recall = [], []
for name in ("d16", "d32", "d64"):
    report = json.load(open("%s/runs/%s/report.json" % (root, name)))
    row = rows[name]
    assert int(row["matmul_parameters"]) == round(report["accounting"]["matmul_parameters"]["total"]), (name, row)
    assert row["test_recall@10"] == "%.4f" % report["test"]["recall@10"], (name, row)
    assert row["test_ndcg@10"] == "%.4f" % report["test"]["ndcg@10"], (name, row)
    assert int(row["steps"]) == report["steps"] == 120, (name, row)
    n.append(report["accounting"]["matmul_parameters"]["total"])
    recall.append(report["test"]["recall@10"])
assert n[0] < n[1] < n[2], n
slope = np.polyfit(np.log10(n), np.log10(recall), 1)[0]
from_csv = np.polyfit(np.log10([float(rows[p]["matmul_parameters"]) for p in ("d16", "d32", "d64")]),
                      np.log10([float(rows[p]["test_recall@10"]) for p in ("d16", "d32", "d64")]), 1)[0]
printed = float(re.search(r"test Recall@10 ∝ N\^slope: slope (-?[0-9.]+)", open(root + "/sweep.md").read()).group(1))
ok = abs(printed - slope) <= 0.0005 and abs(printed - from_csv) <= 0.01
print(("ok" if ok else "FAIL") + ": the table's values are the reports'; slope %.3f printed, %.4f by NumPy (%.4f from the CSV)"
      % (printed, slope, from_csv))
sys.exit(0 if ok else 1)
PY
fi
# The resumed point's accounting covers both segments: the samples of the uninterrupted d16's 120 steps.
/usr/bin/env python3 - "$tmp/local/runs" <<'PY' || failures=$((failures + 1))
import json, sys
d16, d32 = (json.load(open(sys.argv[1] + "/%s/report.json" % name)) for name in ("d16", "d32"))
ok = d32["steps"] == 120 and d32["accounting"]["samples"] == d16["accounting"]["samples"] > 0
print(("ok" if ok else "FAIL") + ": the resumed d32 counts %d samples over its two segments, d16 %d" %
      (d32["accounting"]["samples"], d16["accounting"]["samples"]))
sys.exit(0 if ok else 1)
PY
expect "again: nothing left to train" 0 "[3/3] d64: done" -- sweep ladder.json local

# A point whose config changed after its run started is refused (its checkpoints would not fit).
sed -i 's/"max_steps": 120/"max_steps": 80/' "$tmp/base.json"
expect "a changed config of a started point is refused" 2 "point 'd16': its config changed since" -- sweep ladder.json local
expect "hllm_plot --sweep on a directory that is not a sweep" 2 "is '$tmp' a directory hllm_sweep wrote?" -- "$bin/hllm_plot" --sweep "$tmp"
finish
