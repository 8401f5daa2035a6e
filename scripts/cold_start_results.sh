#!/usr/bin/env bash
# The cold-start results of docs/RESULTS.md: MovieLens-100k and Amazon 2018 Magazine (from ../shared/data, or
# the folder given) with items held out of training (hllm_prepare --cold_items), and on each SASRec, HSTU,
# HLLM with tiny towers from scratch, HLLM with both towers started from the trained stories260K
# LLaMA (../shared/models/stories260K, converted by hllm_convert_llama2c; its own tokenizer), and the same
# stories260K shapes from random weights. Prints one Markdown table of warm and cold test metrics.
# About 25 minutes on a 2-core machine. Needs a build (scripts/build.sh).
#
#   scripts/cold_start_results.sh [SHARED_DIR]     (SHARED_DIR holds data/ and models/; default ../shared)
#   scripts/cold_start_results.sh --table          (only the table, from the runs already there)
set -euo pipefail
cd "$(dirname "$0")/.."
table_only=false
if [ "${1:-}" = "--table" ]; then table_only=true; shift; fi
shared=${1:-../shared}
bin=build/bin
out=runs/cold_start
flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
launch() { mpirun "${flags[@]}" -np 2 $bin/hllm_launch --progress lines "$@" > /dev/null; }
mkdir -p $out
if ! $table_only; then

# The pretrained towers, and random ones of the same shape (make_random_llama.py: normal(0, 0.02)).
$bin/hllm_convert_llama2c "$shared/models/stories260K/stories260K.bin" $out/stories260K \
  --tokenizer "$shared/models/stories260K/tok512.model" --overwrite
rm -rf $out/stories260K_random
/usr/bin/python3 bench/make_random_llama.py $out/stories260K_random --hidden 64 --layers 5 --heads 8 --kv_heads 4 \
  --ffn 172 --vocab 512 --seed 1
cp $out/stories260K/tokenizer.model $out/stories260K_random/

# name, interactions, items, format, cold share, k-core, text tokens
prepare() {
  local name=$1 inter=$2 items=$3 format=$4 cold=$5 kcore=$6 len=$7
  $bin/hllm_prepare --format "$format" --interactions "$inter" --items "$items" --out $out/data/$name \
    --train_tokenizer 2000 --max_text_len "$len" --cold_items "$cold" $kcore --overwrite > /dev/null
  $bin/hllm_prepare --format "$format" --interactions "$inter" --items "$items" --out $out/data/${name}_tok512 \
    --tokenizer $out/stories260K --max_text_len "$len" --cold_items "$cold" $kcore --overwrite > /dev/null
}
ml=$shared/data/ml-100k
mag=$shared/data/amazon-magazine-2018
prepare ml-100k "$ml/ml-100k.inter" "$ml/ml-100k.item" recbole 0.1 "" 32
prepare magazine "$mag/Magazine_Subscriptions_5.json.gz" "$mag/meta_Magazine_Subscriptions.json.gz" amazon2018 0.2 \
  "--min_user_inter 5 --min_item_inter 5" 64

for data in ml-100k magazine; do
  cfg=configs/${data/-/}_  # configs/ml100k_*.json, configs/magazine_*.json
  launch --config ${cfg}sasrec.json --set data.path=$out/data/$data --set run.dir=$out/$data/sasrec
  [ -f ${cfg}hstu.json ] && launch --config ${cfg}hstu.json --set data.path=$out/data/$data --set run.dir=$out/$data/hstu
  launch --config ${cfg}hllm_tiny.json --set data.path=$out/data/$data --set run.dir=$out/$data/hllm_tiny
  for towers in stories260K stories260K_random; do
    launch --config ${cfg}hllm_tiny.json --set data.path=$out/data/${data}_tok512 --set model.item=$out/$towers \
      --set model.user=$out/$towers --set run.dir=$out/$data/hllm_$towers
  done
done
fi

/usr/bin/python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
names = {"sasrec": "SASRec", "hstu": "HSTU", "hllm_tiny": "HLLM, tiny towers, random init",
         "hllm_stories260K": "HLLM, stories260K towers, pretrained",
         "hllm_stories260K_random": "HLLM, stories260K shapes, random init"}
print("| data | model | test R@10 | test N@10 | cold R@10 | cold N@10 | warm R@10 | warm N@10 | cold R@50 | users cold / warm |")
print("|---|---|---|---|---|---|---|---|---|---|")
for data in ("ml-100k", "magazine"):
    pop = None
    for run, name in names.items():
        path = os.path.join(out, data, run, "report.json")
        if not os.path.exists(path):
            continue
        r = json.load(open(path))
        t = r["test"]
        pop = r["popularity_test"]
        print("| %s | %s | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %d / %d |" % (
            data, name, t["recall@10"], t["ndcg@10"], t["cold.recall@10"], t["cold.ndcg@10"], t["warm.recall@10"],
            t["warm.ndcg@10"], t["cold.recall@50"], t["cold.users"], t["warm.users"]))
    if pop:
        print("| %s | popularity | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %d / %d |" % (
            data, pop["recall@10"], pop["ndcg@10"], pop["cold.recall@10"], pop["cold.ndcg@10"], pop["warm.recall@10"],
            pop["warm.ndcg@10"], pop["cold.recall@50"], pop["cold.users"], pop["warm.users"]))
PY
