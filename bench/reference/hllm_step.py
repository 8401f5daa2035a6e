#!/usr/bin/env python3
"""One HLLM training step in PyTorch eager, the same computation as the engine's (models/hllm_model.h,
models/info_nce.h, runtime/adamw.h) written as fast as plain eager PyTorch allows: the Item LLM on the
batch's distinct items (prompt + text + a learned [ITEM] embedding, the [ITEM] position's final-norm
state), all items of one length in one batch; the User LLM on the item embeddings of each sequence; cosine
InfoNCE with a learned scale against the batch's negatives; backward; torch.optim.AdamW. float32 on the
CPU. Attention is products and a softmax with an additive float mask (-inf above the causal diagonal for
the items; the dtype's lowest value where the User LLM's left padding masks keys, as Hugging Face does, so
a padded row attends uniformly and needs no NaN-zeroing; its output is never read). Torch 1.13 has no
scaled_dot_product_attention. Run by bench/step_bench with the same shapes and threads; prints "step_ms X".

Debian's python3-torch (1.13, the same LibTorch as the C++ build): /usr/bin/python3 bench/reference/hllm_step.py
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

from llama_layers import PRESETS, decoder, layer_parameters, rms_norm, rope_tables

NCE_THRESHOLD = 0.99  # models/info_nce.h kNceThreshold


def decoder_parameters(preset, vocab, with_embedding):
    hidden = PRESETS[preset][0]

    def w(*shape):
        return (torch.randn(*shape) * 0.02).requires_grad_()

    def ones(n):
        return torch.ones(n, requires_grad=True)

    p = {"norm": ones(hidden), "layers": layer_parameters(preset, w, ones)}
    if with_embedding:
        p["embed"] = w(vocab, hidden)
    return p


def additive_attention(bias):
    """softmax(q k^T / sqrt(d) + bias) v; bias [.., T, T] float: 0 where a query may attend, very negative where not."""
    def attention(q, k, v):
        return torch.softmax(torch.baddbmm(bias.expand(q.shape[0] * q.shape[1], -1, -1), q.flatten(0, 1),
                                           k.flatten(0, 1).transpose(-2, -1), alpha=q.shape[-1] ** -0.5),
                             -1).view(*q.shape[:-1], -1) @ v
    return attention


def info_nce(u, p, n, logit_scale):
    u, p, n = (F.normalize(t, dim=-1, eps=1e-12) for t in (u, p, n))
    scale = logit_scale.clamp(0.0, math.log(100.0)).exp()
    positive = (u * p).sum(-1, keepdim=True) * scale
    negative = (u @ n.t()) * scale
    negative = negative.masked_fill((p.detach() @ n.detach().t()) > NCE_THRESHOLD, float("-inf"))
    logits = torch.cat([positive, negative], -1)
    return (torch.logsumexp(logits, -1) - logits[:, 0]).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--window", type=int, default=11)
    ap.add_argument("--text_tokens", type=int, default=32)
    ap.add_argument("--prompt_tokens", type=int, default=12)
    ap.add_argument("--negatives", type=int, default=64)
    ap.add_argument("--unique_items", type=int, default=100)
    ap.add_argument("--vocab", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--items_per_bucket", type=int, default=0,
                    help="items run together through the Item LLM; 0: all (they are of one length here)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    hidden, _, _, heads, kv = PRESETS[args.preset]
    item_p = decoder_parameters(args.preset, args.vocab, with_embedding=True)
    user_p = decoder_parameters(args.preset, args.vocab, with_embedding=False)
    item_token = (torch.randn(hidden) * 0.02).requires_grad_()
    logit_scale = torch.tensor(math.log(1 / 0.07), requires_grad=True)

    def flat(p):
        out = [p["norm"]] + [t for layer in p["layers"] for t in layer.values()]
        return out + ([p["embed"]] if "embed" in p else [])

    params = flat(item_p) + flat(user_p) + [item_token, logit_scale]
    optimizer = torch.optim.AdamW([{"params": [t for t in params if t.dim() >= 2], "weight_decay": 0.01},
                                   {"params": [t for t in params if t.dim() < 2], "weight_decay": 0.0}], lr=1e-4)

    U, B, W = args.unique_items, args.rows, args.window
    prompt = torch.arange(args.prompt_tokens) % (args.vocab - 2) + 2
    text = torch.randint(1, args.vocab, (U, args.text_tokens))
    item_slots = torch.randint(0, U, (B, W))
    negative_slots = torch.randint(0, U, (args.negatives,))
    mask = torch.ones(B, W, dtype=torch.bool)
    d = hidden // heads

    per_batch = args.items_per_bucket or U
    T = args.prompt_tokens + args.text_tokens + 1
    cos, sin = rope_tables(torch.arange(T), d)
    causal = torch.full((T, T), float("-inf")).triu(1)
    # The User LLM's keys: causal and real (left padding), per sequence, repeated for its heads.
    keys = torch.ones(W, W, dtype=torch.bool).tril().view(1, 1, W, W) & mask.view(B, 1, 1, W)
    user_bias = torch.zeros(B, 1, W, W).masked_fill(~keys, torch.finfo(torch.float32).min)
    user_bias = user_bias.expand(B, heads, W, W).reshape(B * heads, W, W)
    positions = (mask.long().cumsum(1) - 1).clamp_min(0)
    ucos, usin = (t.unsqueeze(1) for t in rope_tables(positions, d))

    def step():
        # Item LLM on the items (all of one length here), the [ITEM] state out.
        outputs = []
        for first in range(0, U, per_batch):
            rows = text[first:first + per_batch]
            ids = torch.cat([prompt.expand(rows.shape[0], -1), rows], 1)
            x = torch.cat([F.embedding(ids, item_p["embed"]), item_token.view(1, 1, -1).expand(rows.shape[0], 1, -1)], 1)
            hidden_states = decoder(item_p["layers"], x, cos, sin, heads, kv, additive_attention(causal))
            outputs.append(rms_norm(hidden_states[:, -1], item_p["norm"]))
        items = torch.cat(outputs, 0) if len(outputs) > 1 else outputs[0]
        # User LLM on the sequences (left-padding aware mask and positions, as the engine's).
        sequences = items.index_select(0, item_slots.view(-1)).view(B, W, -1) * mask.unsqueeze(-1)
        states = rms_norm(decoder(user_p["layers"], sequences, ucos, usin, heads, kv, additive_attention(user_bias)),
                          user_p["norm"])
        valid = mask[:, :-1] & mask[:, 1:]
        loss = info_nce(states[:, :-1][valid], sequences[:, 1:][valid], items.index_select(0, negative_slots),
                        logit_scale)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)

    for _ in range(2):
        step()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(f"step_ms {statistics.median(times) * 1e3:.3f} (torch {torch.__version__}, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
