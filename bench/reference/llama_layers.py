"""The LLaMA pieces both PyTorch references share (bench/reference/item_llm_step.py, hllm_step.py), written
as the engine computes them (models/llama_ops.h): RMSNorm and rotary embeddings in float32, SwiGLU,
grouped-query attention through a function the caller picks (SDPA on a GPU, masked softmax on the CPU)."""
import torch
import torch.nn.functional as F

PRESETS = {  # hidden, intermediate, layers, heads, kv_heads (models/presets.cpp)
    "debug": (32, 64, 2, 4, 2),
    "tiny": (128, 344, 4, 4, 4),
    "1b": (2048, 5632, 22, 32, 4),
    "7b": (4096, 11008, 32, 32, 32),
}
LAYER_KEYS = ("in_norm", "q", "k", "v", "o", "post_norm", "gate", "up", "down")


def layer_parameters(preset, make_matrix, make_ones):
    """One dict per layer; make_matrix(*shape) and make_ones(n) create the tensors."""
    hidden, inter, layers, heads, kv = PRESETS[preset]
    d = hidden // heads
    return [{"in_norm": make_ones(hidden), "q": make_matrix(heads * d, hidden), "k": make_matrix(kv * d, hidden),
             "v": make_matrix(kv * d, hidden), "o": make_matrix(hidden, heads * d), "post_norm": make_ones(hidden),
             "gate": make_matrix(inter, hidden), "up": make_matrix(inter, hidden), "down": make_matrix(hidden, inter)}
            for _ in range(layers)]


def rms_norm(x, weight, eps=1e-5):
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps) * weight.float()).to(x.dtype)


def rope_tables(positions, d, theta=10000.0):
    """cos, sin for positions [T] ([T, d]) or [B, T] ([B, T, d])."""
    inv_freq = 1.0 / theta ** (torch.arange(0, d, 2, device=positions.device, dtype=torch.float32) / d)
    angles = positions.float().unsqueeze(-1) * inv_freq
    both = torch.cat([angles, angles], -1)
    return both.cos(), both.sin()


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    x32 = x.float()
    return (x32 * cos + torch.cat([-x32[..., half:], x32[..., :half]], -1) * sin).to(x.dtype)


def decoder(layers, x, cos, sin, heads, kv, attention):
    """The layers on x [B, T, D]; attention(q, k, v) -> [B, heads, T, d] with k, v already repeated."""
    B, T, D = x.shape
    d = D // heads
    for layer in layers:
        h = rms_norm(x, layer["in_norm"])
        q = F.linear(h, layer["q"]).view(B, T, heads, d).transpose(1, 2)
        k = F.linear(h, layer["k"]).view(B, T, kv, d).transpose(1, 2)
        v = F.linear(h, layer["v"]).view(B, T, kv, d).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        if heads != kv:
            k, v = k.repeat_interleave(heads // kv, 1), v.repeat_interleave(heads // kv, 1)
        x = x + F.linear(attention(q, k, v).transpose(1, 2).reshape(B, T, D), layer["o"])
        h = rms_norm(x, layer["post_norm"])
        x = x + F.linear(F.silu(F.linear(h, layer["gate"])) * F.linear(h, layer["up"]), layer["down"])
    return x
