#!/usr/bin/env bash
# The issue's check of pipeline parallelism, as a user runs it: the demo config on 4 ranks under mpirun
# with pp = 2 (so dp = 2) and ZeRO stage 3 trains with the same loss curve as pp = 1 at dp = 2 (printed
# side by side), evaluates (report.json's valid and test), and writes a model.safetensors that hllm_eval
# reads back to the same metrics; pp = 4 x dp = 1 (GPipe, every layer recomputed) against one rank. Bad
# pipeline settings exit 2 with a message. The loss's health metrics are logged alike at every layout.
# Usage: pipeline_cli_test.sh BUILD_BIN_DIR SOURCE_DIR "MPIEXEC FLAGS" DATASET_DIR
set -u
source "$(dirname "$0")/cli_args.sh" "$@"

run() {  # run NAME RANKS SETTINGS...
  local name=$1 ranks=$2
  shift 2
  mpirun "${mpi_flags[@]}" -np "$ranks" "$bin/hllm_launch" --config "$src/configs/demo.json" --set data.path="$dataset" \
    --set train.max_steps=12 --set train.log_interval=2 --set train.eval_interval=6 --set gradient_accumulation_steps=2 \
    --set run.dir="$tmp/$name" "$@" > "$tmp/$name.log" 2>&1 ||
    { echo "FAIL: the $name run exited non-zero:"; sed 's/^/    /' "$tmp/$name.log"; exit 1; }
}
run plain 2
run piped 4 --set parallel.pp=2 --set zero_optimization.stage=3
grep -q "pipeline: 2 stages" "$tmp/piped.log" || { echo "FAIL: the stage cut was not printed"; exit 1; }
grep -A2 "pipeline: 2 stages" "$tmp/piped.log"
run one 1
run four 4 --set parallel.pp=4 --set parallel.pipeline_schedule=gpipe --set activation_checkpointing.policy=every_block

compare() {  # compare REFERENCE_RUN PIPELINED_RUN LABEL
python3 - "$tmp/$1" "$tmp/$2" "$3" <<'PY' || exit 1
import json, sys
def losses(run):
    return [(r["step"], r["loss"]) for r in map(json.loads, open(run + "/metrics.jsonl")) if "loss" in r]
plain, piped = losses(sys.argv[1]), losses(sys.argv[2])
print(f"step   pp 1 loss      {sys.argv[3]} loss")
failed = len(plain) != len(piped) or not plain
for (step, a), (_, b) in zip(plain, piped):
    ok = abs(a - b) <= 1e-4 * abs(a)
    failed |= not ok
    print(f"{step:4d}   {a:12.6f}   {b:12.6f}{'' if ok else '   <- differs'}")
# The loss's health (README "Training health"), computed by the last stage under pp, and each tower's
# gradient norm (ZeRO-3 shards over the stages against stage 0's whole gradients): the same values.
def health(run):
    return [{k: r[k] for k in r if k in FIELDS} for r in map(json.loads, open(run + "/metrics.jsonl")) if "loss" in r]
FIELDS = ("negatives_kept", "negatives_kept_min", "filtered_share", "logit_scale", "positive_cosine",
          "negative_cosine", "item_cosine", "grad_norm_item", "grad_norm_user")
plain_health, piped_health = health(sys.argv[1]), health(sys.argv[2])
for a, b in zip(plain_health, piped_health):
    if sorted(a) != sorted(FIELDS) or sorted(b) != sorted(FIELDS):
        print("health fields missing:", a, b); failed = True; break
    bad = [k for k in FIELDS if abs(a[k] - b[k]) > 1e-4 + 1e-3 * abs(a[k])]
    if bad:
        print("health differs:", {k: (a[k], b[k]) for k in bad}); failed = True
print(f"health at the last step, {sys.argv[3]}:", {k: round(v, 4) for k, v in piped_health[-1].items()})
for name, run in (("pp 1", sys.argv[1]), (sys.argv[3], sys.argv[2])):
    report = json.load(open(run + "/report.json"))
    print(f"{name}: valid NDCG@10 {report['valid']['ndcg@10']:.4f}, test NDCG@10 {report['test']['ndcg@10']:.4f}")
    failed |= not (0 <= report["test"]["ndcg@10"] <= 1)
sys.exit(1 if failed else 0)
PY
}
grep -q "^  health: negatives [0-9.]* (min [0-9]*, filtered [0-9.]*%) cos [-+][0-9.]*/[-+][0-9.]* items [-0-9.]* scale [0-9.]*; grad_norm item [0-9.]* user [0-9.]*; balance [0-9.]*x, waiting [0-9]*%$" "$tmp/piped.log" ||
  { echo "FAIL: no health line under the progress lines:"; grep -A1 "^step " "$tmp/piped.log" | head -n 4; exit 1; }
compare plain piped "pp 2 x dp 2 + ZeRO-3"
compare one four "pp 4 GPipe + recompute"

# The saved model of the pipelined run holds every parameter: hllm_eval gives the metrics the run
# reported, on one rank (pp = 1) and on two (pp = 2, each stage loading its own parameters).
for layout in "1 1" "2 2"; do
  read -r ranks pp <<< "$layout"
  mpirun "${mpi_flags[@]}" -np "$ranks" "$bin/hllm_eval" "$tmp/piped" --set parallel.pp="$pp" > "$tmp/eval.log" 2>&1 ||
    { echo "FAIL: hllm_eval of the pipelined run at pp $pp:"; sed 's/^/    /' "$tmp/eval.log"; exit 1; }
  python3 - "$tmp/piped" "$tmp/eval.log" <<'PY' || exit 1
import json, re, sys
report = json.load(open(sys.argv[1] + "/report.json"))
line = next(l for l in open(sys.argv[2]) if l.startswith("test "))
values = [float(x) for x in re.findall(r"\d+\.\d+", line)]
printed = values[:2] + values[-2:]  # R@10 N@10 ... R@200 N@200
expected = [report["test"][k] for k in ("recall@10", "ndcg@10", "recall@200", "ndcg@200")]
print("hllm_eval test:", printed, "report:", [round(x, 4) for x in expected])
sys.exit(0 if all(abs(a - b) <= 6e-4 for a, b in zip(printed, expected)) else 1)
PY
done

refused() {  # refused WHAT RANKS SETTINGS...: exit 2 and a message naming the key
  local what=$1 ranks=$2
  shift 2
  mpirun "${mpi_flags[@]}" -np "$ranks" "$bin/hllm_launch" --config "$src/configs/demo.json" --set data.path="$dataset" \
    --set run.dir="$tmp/refused" "$@" > "$tmp/refused.log" 2>&1
  local code=$?
  if [ "$code" -ne 2 ] || ! grep -q "$what" "$tmp/refused.log"; then
    echo "FAIL: expected exit 2 naming '$what', got $code:"; sed 's/^/    /' "$tmp/refused.log"; exit 1
  fi
  echo "refused as expected: $(grep -m1 "$what" "$tmp/refused.log")"
}
refused "parallel.pipeline_cut" 2 --set parallel.pp=2 --set 'parallel.pipeline_cut=[3, 5]'
refused "holds no parameters" 3 --set parallel.pp=3 --set 'parallel.pipeline_cut=[6, 7]'
refused "'parallel.pp' = 3" 3 --set parallel.pp=3 --set model.type=sasrec
echo "PASS"
