#!/usr/bin/env python3
"""The Item LLM training step of bench/item_step_bench.cpp, written the way a PyTorch user would: a LLaMA
decoder in plain torch (RMSNorm in float32, rotary embeddings, grouped-query attention through
F.scaled_dot_product_attention with is_causal, SwiGLU), items of one length packed into one batch, the
last ([ITEM]) position's final-norm state as the item embedding, loss = sum(embedding * probe), backward.
No optimizer step, gradients set to None between steps. Prints the same line format as the C++ bench.

    python3 bench/reference/item_llm_step.py [--preset 1b] [--items 16] [--text_tokens 256] [--compile]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from llama_layers import PRESETS, decoder, layer_parameters, rms_norm, rope_tables


def make_parameters(preset, vocab, dtype, device):
    hidden = PRESETS[preset][0]

    def w(*shape):
        return (torch.randn(*shape, device=device) * 0.02).to(dtype).requires_grad_()

    def ones(n):
        return torch.ones(n, device=device, dtype=dtype).requires_grad_()

    return {"embed": w(vocab, hidden), "norm": ones(hidden), "item": w(hidden),
            "layers": layer_parameters(preset, w, ones)}


def causal_attention(q, k, v):
    if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2: the fused kernels
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[-2]
    scores = (q.float() @ k.float().transpose(-2, -1)) / q.shape[-1] ** 0.5
    scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool, device=q.device).tril(), float("-inf"))
    return (torch.softmax(scores, -1) @ v.float()).to(q.dtype)


def item_embeddings(p, tokens, heads, kv):
    B = tokens.shape[0]
    x = torch.cat([F.embedding(tokens, p["embed"]), p["item"].view(1, 1, -1).expand(B, 1, -1)], 1)
    cos, sin = rope_tables(torch.arange(x.shape[1], device=x.device), x.shape[-1] // heads)
    return rms_norm(decoder(p["layers"], x, cos, sin, heads, kv, causal_attention), p["norm"])[:, -1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="1b", choices=sorted(PRESETS))
    ap.add_argument("--items", type=int, default=16)
    ap.add_argument("--text_tokens", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--peak_tflops", type=float, default=989.0)
    ap.add_argument("--compile", action="store_true", help="time torch.compile of the forward instead of eager")
    args, ignored = ap.parse_known_args()  # flags of the C++ bench (e.g. --find_max_items) are passed along
    if ignored:
        print(f"(ignored: {' '.join(ignored)})")

    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    hidden, inter, layers, heads, kv = PRESETS[args.preset]
    p = make_parameters(args.preset, args.vocab, dtype, args.device)
    params = [p["norm"], p["item"]] + [t for layer in p["layers"] for t in layer.values()]
    matrix_parameters = sum(t.numel() for t in params)  # all but the token table, as in the C++ bench
    forward = item_embeddings
    if args.compile:
        forward = torch.compile(item_embeddings)

    tokens = torch.randint(1, args.vocab, (args.items, args.text_tokens), device="cpu")
    probe = torch.randn(args.items, hidden, device=args.device)

    def step():
        emb = forward(p, tokens.to(args.device), heads, kv)
        (emb.float() * probe).sum().backward()
        for t in params + [p["embed"]]:
            t.grad = None

    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    for _ in range(3):
        step()
    sync()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    n_tokens = args.items * (args.text_tokens + 1)
    mfu = 6.0 * matrix_parameters * n_tokens / seconds / (args.peak_tflops * 1e12)
    name = "torch.compile" if args.compile else "eager"
    print(f"{name}  preset {args.preset}  {args.device}  {args.dtype}  items {args.items} x {args.text_tokens + 1} tokens  "
          f"P {matrix_parameters / 1e9:.3f}B  step {seconds * 1e3:.2f} ms  {n_tokens / seconds:.0f} tokens/s  MFU {mfu:.3f}  "
          f"(torch {torch.__version__})", flush=True)


if __name__ == "__main__":
    main()
