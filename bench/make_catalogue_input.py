#!/usr/bin/python3
"""A large catalogue in HLLM's CSV layout for bench/sharded_eval.sh: items.csv (item_id,title) with short
titles (4-8 words), and interactions.csv (item_id,user_id,timestamp) in which every item occurs at least once
(a shuffled deal of all items over the users), so the prepared dataset keeps the whole catalogue, with few
users (each with a long history) so that ranking every user against it stays short. The same arguments give
the same files.

usage: make_catalogue_input.py OUT_DIR USERS ITEMS [SEED]
"""
import os
import sys

import numpy as np


def write_csv(path, header, rows):
    """Writes `header` and the lines `rows` yields, a hundred thousand at a time."""
    with open(path, "w") as f:
        f.write(header)
        batch = []
        for line in rows:
            batch.append(line)
            if len(batch) == 100000:
                f.write("".join(batch))
                batch.clear()
        f.write("".join(batch))


def main():
    out, users, items = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    os.makedirs(out, exist_ok=True)
    words = np.array(["red", "blue", "green", "black", "white", "wool", "cotton", "steel", "wood", "glass", "lamp",
                      "chair", "table", "shirt", "coat", "boot", "pan", "knife", "cup", "bag", "watch", "ring",
                      "small", "large", "classic", "modern", "vintage", "soft", "light", "heavy"]
                     + ["w%d" % i for i in range(2000)])
    lengths = rng.integers(4, 9, items)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    drawn = words[rng.choice(len(words), size=int(starts[-1]))]
    write_csv(os.path.join(out, "items.csv"), "item_id,title\n",
              ("i%07d,%s\n" % (i, " ".join(drawn[starts[i]:starts[i + 1]])) for i in range(items)))
    # A shuffled deal of every item over the users: user u's history is its share, one hour apart.
    order = rng.permutation(items)
    per_user = items // users
    share = np.minimum(np.arange(items) // per_user, users - 1)
    write_csv(os.path.join(out, "interactions.csv"), "item_id,user_id,timestamp\n",
              ("i%07d,u%06d,%d\n" % (order[k], share[k], 1_500_000_000 + 3600 * (k - share[k] * per_user))
               for k in range(items)))


if __name__ == "__main__":
    main()
