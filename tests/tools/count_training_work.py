#!/usr/bin/python3
"""Counts, from the files alone, what a training run computed, and compares it with its report.json.

Usage: count_training_work.py RUN_DIR DATASET_DIR EPOCHS

The run must have sampled no negatives (data.num_negatives = 0) and read one window per micro-batch
(train_micro_batch_size_per_gpu = 1): then each micro-batch's distinct items are those of its window, and
the work of whole epochs does not depend on the order or the ranks. This script rebuilds the windows from
the dataset's HDF5 files by the documented rule (leave-one-out; windows of max_item_list_len + 1 items cut
from the end of the training items, consecutive ones overlapping by one), counts the parameters from the
shapes in the run's config.json, and computes the training FLOPs as 6 N T + 12 (layers x heads x head size)
sum of L^2 per tower. It shares no code with the trainer. Exit 0 when every number agrees, 1 otherwise.
"""
import json
import os
import sys

import h5py

PRESETS = {  # hidden, layers, heads, kv heads, intermediate
    "debug": (32, 2, 4, 2, 64),
    "tiny": (128, 4, 4, 4, 344),
}


def windows(train_length, S):
    """[begin, end) of each training window of a user with `train_length` training items."""
    out = []
    if train_length < 2:
        return out
    end = train_length
    while True:
        begin = max(0, end - S - 1)
        out.append((begin, end))
        if begin == 0:
            return out
        end = begin + 1


def llama_shape(spec):
    if isinstance(spec, str):
        return PRESETS[spec]
    return (spec["hidden_size"], spec["num_layers"], spec["num_heads"], spec["num_kv_heads"],
            spec["intermediate_size"])


def llama_counts(shape, vocab, table):
    D, layers, H, KV, F = shape
    d = D // H
    matrices = D * H * d + 2 * D * KV * d + H * d * D + 3 * D * F
    per_layer = matrices + 2 * D  # two RMSNorm weights
    total = layers * per_layer + D + (vocab * D if table else 0)
    return total, layers * matrices, layers * H * d


def main():
    run_dir, dataset_dir, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    report = json.load(open(os.path.join(run_dir, "report.json")))
    config = json.load(open(os.path.join(run_dir, "config.json")))
    meta = json.load(open(os.path.join(dataset_dir, "meta.json")))
    assert config["data"]["num_negatives"] == 0 and config["train_micro_batch_size_per_gpu"] == 1, \
        "the run must sample no negatives and read one window per micro-batch"
    S = config["data"]["max_item_list_len"]
    prompt = len(meta["prompt_tokens"])
    with h5py.File(os.path.join(dataset_dir, "items.h5"), "r") as items:
        offsets = items["offsets"][:]
    text_length = offsets[1:] - offsets[:-1]  # item i: text_length[i]

    item_tokens = item_squares = positions = position_squares = samples = 0
    for shard in meta["shards"]:
        with h5py.File(os.path.join(dataset_dir, shard["file"]), "r") as users:
            user_offsets = users["offsets"][:]
            user_items = users["items"][:]
        for u in range(len(user_offsets) - 1):
            sequence = user_items[user_offsets[u]:user_offsets[u + 1]]
            for begin, end in windows(len(sequence) - 2, S):
                window = sequence[begin:end]
                samples += 1
                positions += len(window)
                position_squares += len(window) ** 2
                for item in set(int(i) for i in window):
                    length = prompt + int(text_length[item]) + 1  # prompt, text, [ITEM]
                    item_tokens += length
                    item_squares += length ** 2
    samples, item_tokens, item_squares = samples * epochs, item_tokens * epochs, item_squares * epochs
    positions, position_squares = positions * epochs, position_squares * epochs

    a = report["accounting"]
    expected = {"samples": samples}
    model = config["model"]
    if model["type"] == "hllm":
        vocab = meta["tokenizer"]["vocab_size"]
        item_shape, user_shape = llama_shape(model["item"]), llama_shape(model["user"])
        item_all, item_n, item_width = llama_counts(item_shape, vocab, True)
        user_all, user_n, user_width = llama_counts(user_shape, vocab, False)
        expected.update({
            "parameters.item": item_all + item_shape[0],  # [ITEM]
            "parameters.user": user_all + 1,  # logit_scale
            "matmul_parameters.item": item_n, "matmul_parameters.user": user_n,
            "tokens.item": item_tokens, "tokens.user": positions,
            "flops.item": 6 * item_n * item_tokens + 12 * item_width * item_squares,
            "flops.user": 6 * user_n * positions + 12 * user_width * position_squares,
        })
        expected["flops.total"] = expected["flops.item"] + expected["flops.user"]
        expected["parameters.total"] = expected["parameters.item"] + expected["parameters.user"]
    else:  # SASRec / HSTU: one tower over the positions
        D, layers = model["hidden_size"], model["num_layers"]
        n = layers * (6 if model["type"] == "sasrec" else 5) * D * D
        expected.update({"matmul_parameters.sequence": n, "tokens.sequence": positions,
                         "flops.total": 6 * n * positions + 12 * layers * D * position_squares})
    expected["dataset.interactions"] = meta["num_interactions"]
    expected["dataset.training_windows"] = samples // epochs

    failures = 0
    for key, want in expected.items():
        node = a
        for part in key.split("."):
            node = node[part]
        same = node == want if isinstance(want, int) and isinstance(node, int) else abs(node - want) <= 1e-12 * abs(want)
        print("%s %s: report %s, counted %s" % ("ok" if same else "FAIL", key, node, want))
        failures += not same
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
