#!/usr/bin/python3
"""A Books-shaped input in HLLM's CSV layout for bench/prepare_bench.sh: interactions.csv (item_id,user_id,
timestamp) and items.csv (item_id,title,description) with Amazon-like text lengths (title: 3-20 words;
description: lognormal, median about 45 words, capped at 250), popularity-skewed items (most items
interacted with), users with 5 or more interactions. The same arguments give the same files.

usage: make_books_input.py OUT_DIR INTERACTIONS USERS ITEMS [SEED]
"""
import os
import sys

import numpy as np


def main():
    out, interactions, users, items = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    os.makedirs(out, exist_ok=True)
    words = np.array(["book", "story", "novel", "author", "history", "world", "life", "love", "war", "family",
                      "mystery", "guide", "science", "art", "journey", "secret", "city", "night", "light", "king",
                      "garden", "river", "house", "time", "dream", "music", "children", "heart", "power", "edition",
                      "volume", "collection", "series", "classic", "modern", "ancient", "new", "complete", "illustrated",
                      "essays", "poems", "letters", "travel", "cooking", "business", "health", "mind", "nature"]
                     + ["w%d" % i for i in range(4000)])
    zipf = 1.0 / np.arange(1, len(words) + 1) ** 1.05
    zipf /= zipf.sum()
    with open(os.path.join(out, "items.csv"), "w") as f:
        f.write("item_id,title,description\n")
        title_lengths = rng.integers(3, 21, items)
        description_lengths = np.minimum(250, np.maximum(1, rng.lognormal(np.log(45), 0.7, items))).astype(int)
        drawn = rng.choice(len(words), size=int(title_lengths.sum() + description_lengths.sum()), p=zipf)
        at = 0
        for i in range(items):
            title = " ".join(words[drawn[at:at + title_lengths[i]]])
            at += title_lengths[i]
            description = " ".join(words[drawn[at:at + description_lengths[i]]])
            at += description_lengths[i]
            f.write("b%07d,%s,%s\n" % (i, title, description))
    # Each user at least 5 interactions, the rest spread; items by a mild power law over a shuffled order,
    # so that most items appear.
    per_user = np.full(users, 5) + rng.multinomial(interactions - 5 * users, np.ones(users) / users)
    item_weight = 1.0 / np.arange(1, items + 1) ** 0.6
    item_weight /= item_weight.sum()
    order = rng.permutation(items)
    chosen = order[rng.choice(items, size=interactions, p=item_weight)]
    times = 1_400_000_000 + rng.integers(0, 200_000_000, interactions)
    with open(os.path.join(out, "interactions.csv"), "w") as f:
        f.write("item_id,user_id,timestamp\n")
        at = 0
        lines = []
        for u in range(users):
            for k in range(per_user[u]):
                lines.append("b%07d,u%07d,%d\n" % (chosen[at], u, times[at]))
                at += 1
            if len(lines) > 100000:
                f.write("".join(lines))
                lines = []
        f.write("".join(lines))


if __name__ == "__main__":
    main()
