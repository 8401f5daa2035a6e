#!/usr/bin/env bash
# Prepares the public datasets of ../shared/data (or the folder given) for configs/ml100k_*.json and
# configs/magazine_*.json: MovieLens-100k (RecBole atomic files) into runs/data/ml-100k and Amazon 2018
# Magazine Subscriptions (5-core as in HLLM) into runs/data/magazine, each with a tokenizer trained on its
# item texts. The project ships no third-party data; a dataset that is absent is skipped, saying so.
#
#   scripts/prepare_real_data.sh [SHARED_DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared/data}
prepare=build/bin/hllm_prepare

ml=$shared/ml-100k
if [ -f "$ml/ml-100k.inter" ]; then
  $prepare --format recbole --interactions "$ml/ml-100k.inter" --items "$ml/ml-100k.item" \
    --out runs/data/ml-100k --train_tokenizer 2000 --num_shards 2 --max_text_len 32 --overwrite
else
  echo "prepare_real_data: skipped MovieLens-100k: no $ml/ml-100k.inter" >&2
fi

mag=$shared/amazon-magazine-2018
if [ -f "$mag/Magazine_Subscriptions_5.json.gz" ]; then
  $prepare --format amazon2018 --interactions "$mag/Magazine_Subscriptions_5.json.gz" \
    --items "$mag/meta_Magazine_Subscriptions.json.gz" --out runs/data/magazine --train_tokenizer 1000 \
    --min_user_inter 5 --min_item_inter 5 --max_text_len 64 --overwrite
else
  echo "prepare_real_data: skipped Amazon Magazine: no $mag/Magazine_Subscriptions_5.json.gz" >&2
fi
