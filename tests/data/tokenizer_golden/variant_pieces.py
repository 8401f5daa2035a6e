#!/usr/bin/python3
"""The pieces Hugging Face's Rust tokenizers make of each string before the rest of a variant's pipeline,
for variant_ids.js: the Digits pre-tokenizer splits at char::is_numeric, i.e. the Unicode general categories
Nd, Nl and No ("½", "²", "١٢٣" included), one numeral a piece (individual_digits) or runs of them.
transformers.js's Digits matches only ASCII \\d, so for a Digits variant its ids are taken piece by piece on
these pieces (its own Digits step then finds only whole pieces). Other variants: the whole string.
Reads one JSON string per line on stdin; writes one JSON list of pieces per line.
Usage: variant_pieces.py VARIANTS_JSON NAME < strings.jsonl
"""
import json
import sys
import unicodedata


def numeric(c):
    return unicodedata.category(c) in ("Nd", "Nl", "No")


def pieces(text, digits):
    if not digits:
        return [text]
    out = []
    for c in text:
        joins = out and (numeric(c) == numeric(out[-1][-1])) and (not numeric(c) or digits == "runs")
        if joins:
            out[-1] += c
        else:
            out.append(c)
    return out


variant = json.load(open(sys.argv[1]))[sys.argv[2]]
for line in sys.stdin:
    if line.strip():
        print(json.dumps(pieces(json.loads(line), variant.get("digits")), ensure_ascii=False))
