#!/usr/bin/python3
"""HLLM's k-core recipe (its process_books.py), computed from an Amazon 2018 reviews file alone, beside a
dataset that hllm_prepare wrote from it: prints both and exits 1 when they differ.

Usage: hllm_recipe_counts.py REVIEWS.json.gz DATASET_DIR K [META.json.gz]

The recipe: count every user's and item's rows once on the whole table; keep the rows whose user and item
both have at least K; then drop the users left with fewer than K rows. With META, rows whose item has no
metadata line are dropped first (hllm_prepare's --items_without_metadata drop); without it every row stays
(--items_without_metadata empty_text, as HLLM, which keeps every reviewed item).
"""
import collections
import gzip
import json
import os
import sys


def main():
    reviews, dataset, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rows = [json.loads(line) for line in gzip.open(reviews, "rt")]
    rows = [(r["reviewerID"], r["asin"]) for r in rows]
    if len(sys.argv) > 4:
        described = {json.loads(line)["asin"] for line in gzip.open(sys.argv[4], "rt")}
        rows = [r for r in rows if r[1] in described]
    users = collections.Counter(u for u, _ in rows)
    items = collections.Counter(i for _, i in rows)
    rows = [(u, i) for u, i in rows if users[u] >= k and items[i] >= k]
    left = collections.Counter(u for u, _ in rows)
    rows = [(u, i) for u, i in rows if left[u] >= k]
    counted = (len({u for u, _ in rows}), len({i for _, i in rows}), len(rows))
    meta = json.load(open(os.path.join(dataset, "meta.json")))
    prepared = (meta["num_users"], meta["num_items"], meta["num_interactions"])
    print("HLLM's recipe: %d users, %d items, %d interactions; hllm_prepare: %d, %d, %d" % (counted + prepared))
    return 0 if counted == prepared else 1


if __name__ == "__main__":
    sys.exit(main())
