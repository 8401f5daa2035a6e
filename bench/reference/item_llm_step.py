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

PRESETS = {  # hidden, intermediate, layers, heads, kv_heads (models/presets.cpp)
    "tiny": (128, 344, 4, 4, 4),
    "1b": (2048, 5632, 22, 32, 4),
    "7b": (4096, 11008, 32, 32, 32),
}


def make_parameters(preset, vocab, dtype, device):
    hidden, inter, layers, heads, kv = PRESETS[preset]
    d = hidden // heads

    def w(*shape):
        return (torch.randn(*shape, device=device) * 0.02).to(dtype).requires_grad_()

    def ones(n):
        return torch.ones(n, device=device, dtype=dtype).requires_grad_()

    p = {"embed": w(vocab, hidden), "norm": ones(hidden), "item": w(hidden), "layers": []}
    for _ in range(layers):
        p["layers"].append({
            "in_norm": ones(hidden), "q": w(heads * d, hidden), "k": w(kv * d, hidden), "v": w(kv * d, hidden),
            "o": w(hidden, heads * d), "post_norm": ones(hidden), "gate": w(inter, hidden), "up": w(inter, hidden),
            "down": w(hidden, inter)})
    return p


def rms_norm(x, weight, eps=1e-5):
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps) * weight.float()).to(x.dtype)


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    x32 = x.float()
    rotated = torch.cat([-x32[..., half:], x32[..., :half]], -1)
    return (x32 * cos + rotated * sin).to(x.dtype)


def item_embeddings(p, tokens, heads, kv):
    B, T1 = tokens.shape
    x = torch.cat([F.embedding(tokens, p["embed"]), p["item"].view(1, 1, -1).expand(B, 1, -1)], 1)
    T = T1 + 1
    D = x.shape[-1]
    d = D // heads
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d))
    angles = torch.arange(T, device=x.device, dtype=torch.float32)[:, None] * inv_freq
    both = torch.cat([angles, angles], -1)
    cos, sin = both.cos(), both.sin()
    for layer in p["layers"]:
        h = rms_norm(x, layer["in_norm"])
        q = F.linear(h, layer["q"]).view(B, T, heads, d).transpose(1, 2)
        k = F.linear(h, layer["k"]).view(B, T, kv, d).transpose(1, 2)
        v = F.linear(h, layer["v"]).view(B, T, kv, d).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        if heads != kv:
            k, v = k.repeat_interleave(heads // kv, 1), v.repeat_interleave(heads // kv, 1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + F.linear(a.transpose(1, 2).reshape(B, T, heads * d), layer["o"])
        h = rms_norm(x, layer["post_norm"])
        x = x + F.linear(F.silu(F.linear(h, layer["gate"])) * F.linear(h, layer["up"]), layer["down"])
    return rms_norm(x, p["norm"])[:, -1]


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
