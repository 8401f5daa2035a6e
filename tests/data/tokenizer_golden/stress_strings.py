#!/usr/bin/python3
# Strings for compare_outside.sh: COUNT seeded random mixes of Unicode (ASCII, whitespace incl. U+0085 and
# U+2028, combining marks, two- to four-byte characters), then every title and description of the Amazon
# Magazine metadata. One JSON string per line.
#   stress_strings.py SHARED_DATA_DIR COUNT SEED
import gzip, json, random, sys

shared, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)


def character():
    r = rng.random()
    if r < 0.3:
        return chr(rng.randint(0x20, 0x7E))
    if r < 0.4:
        return rng.choice(" \t\n\r\u00a0\u3000\u2028\u0085\x0b\x0c")
    if r < 0.5:
        return chr(rng.randint(0x300, 0x36F))
    if r < 0.6:
        return chr(rng.randint(0x80, 0x7FF))
    if r < 0.8:
        while True:
            c = rng.randint(0x800, 0xFFFF)
            if not 0xD800 <= c <= 0xDFFF:
                return chr(c)
    return chr(rng.randint(0x10000, 0x10FFFF))


for _ in range(count):
    print(json.dumps("".join(character() for _ in range(rng.randint(1, 60))), ensure_ascii=False))
with gzip.open(f"{shared}/amazon-magazine-2018/meta_Magazine_Subscriptions.json.gz", "rt", encoding="utf-8") as f:
    for line in f:
        row = json.loads(line)
        for text in (row.get("title", ""), " ".join(row.get("description", []))):
            print(json.dumps(text, ensure_ascii=False))
