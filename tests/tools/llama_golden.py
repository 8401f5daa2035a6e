#!/usr/bin/python3
"""Golden logits for LLaMA-family architectures, computed by a short NumPy implementation written from
Hugging Face transformers' modeling_llama / modeling_qwen2 / modeling_mistral formulas, independent of the
trainer. For each case it writes a Hugging Face directory with random weights (config.json,
model.safetensors) and reference.json (the token ids and the float64 logits [B, T, vocab]).

  llama_golden.py OUT_ROOT        (tests/models/golden; run once, the files are committed)

Cases:
  llama3   Llama-3.1-shaped: rope_scaling {rope_type: llama3} with the original context shorter than the
           sequence, head_dim 16 set explicitly (num_heads x head_dim != hidden_size), GQA, untied head
  qwen2    Qwen2: q/k/v biases, tied embeddings, rope_theta 1e6, a sliding_window that use_sliding_window
           false turns off
  mistral  Mistral: sliding_window 5 over 12 tokens, one key/value head
  qwen2_window   Qwen2 with use_sliding_window true: a 4-token window in the layers from max_window_layers
           (1) on, full attention before (transformers' rule)
  llama_linear   rope_scaling {rope_type: linear, factor 4}: positions divided by the factor
"""
import json
import os
import struct
import sys

import numpy as np

CASES = {
    "llama3": dict(
        config={"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 64, "hidden_size": 32,
                "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                "head_dim": 16, "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
                "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                 "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
                "tie_word_embeddings": False, "hidden_act": "silu", "attention_bias": False, "mlp_bias": False},
        tokens=24, seed=3),
    "qwen2": dict(
        config={"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 64, "hidden_size": 32,
                "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
                "tie_word_embeddings": True, "hidden_act": "silu", "use_sliding_window": False,
                "sliding_window": 4, "max_window_layers": 2},
        tokens=16, seed=5),
    "mistral": dict(
        config={"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 64,
                "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
                "num_key_value_heads": 1, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
                "rope_theta": 10000.0, "sliding_window": 5, "tie_word_embeddings": False, "hidden_act": "silu"},
        tokens=12, seed=7),
    "qwen2_window": dict(
        config={"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 64, "hidden_size": 32,
                "intermediate_size": 48, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
                "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
                "tie_word_embeddings": True, "hidden_act": "silu", "use_sliding_window": True,
                "sliding_window": 4, "max_window_layers": 1},
        tokens=16, seed=11),
    "llama_linear": dict(
        config={"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 64, "hidden_size": 32,
                "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
                "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                "rope_scaling": {"rope_type": "linear", "factor": 4.0},
                "tie_word_embeddings": False, "hidden_act": "silu"},
        tokens=20, seed=13),
}


def make_weights(c, rng):
    d = c.get("head_dim", c["hidden_size"] // c["num_attention_heads"])
    D, F, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    q, kv = c["num_attention_heads"] * d, c["num_key_value_heads"] * d
    bias = c["model_type"] == "qwen2" or c.get("attention_bias", False)
    w = {"model.embed_tokens.weight": rng.normal(0, 0.5, (V, D))}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + rng.normal(0, 0.1, D)
        for name, rows in (("q", q), ("k", kv), ("v", kv)):
            w[p + f"self_attn.{name}_proj.weight"] = rng.normal(0, 0.15, (rows, D))
            if bias:
                w[p + f"self_attn.{name}_proj.bias"] = rng.normal(0, 0.3, rows)
        w[p + "self_attn.o_proj.weight"] = rng.normal(0, 0.15, (D, q))
        w[p + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.1, D)
        w[p + "mlp.gate_proj.weight"] = rng.normal(0, 0.15, (F, D))
        w[p + "mlp.up_proj.weight"] = rng.normal(0, 0.15, (F, D))
        w[p + "mlp.down_proj.weight"] = rng.normal(0, 0.15, (D, F))
    w["model.norm.weight"] = 1 + rng.normal(0, 0.1, D)
    if not c["tie_word_embeddings"]:
        w["lm_head.weight"] = rng.normal(0, 0.5, (V, D))
    # Stored as float32: the reference computes from exactly the stored values.
    return {name: value.astype(np.float32) for name, value in w.items()}


def write_safetensors(path, weights):
    header, blobs, offset = {}, [], 0
    for name, value in weights.items():
        blob = np.ascontiguousarray(value, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(value.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def inverse_frequencies(c, d):
    inv = 1.0 / c["rope_theta"] ** (np.arange(0, d, 2, dtype=np.float64) / d)
    s = c.get("rope_scaling")
    if s and s["rope_type"] == "linear":  # transformers' linear scaling: every position divided by the factor
        inv = inv / s["factor"]
    if s and s["rope_type"] == "llama3":
        old = s["original_max_position_embeddings"]
        low_wavelength, high_wavelength = old / s["low_freq_factor"], old / s["high_freq_factor"]
        out = []
        for f in inv:
            wavelength = 2 * np.pi / f
            if wavelength < high_wavelength:
                out.append(f)
            elif wavelength > low_wavelength:
                out.append(f / s["factor"])
            else:
                smooth = (old / wavelength - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
                out.append((1 - smooth) * f / s["factor"] + smooth * f)
        inv = np.array(out)
    return inv


def rms_norm(x, weight, eps):
    return weight * (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def logits(c, w, ids):
    w = {name: value.astype(np.float64) for name, value in w.items()}
    B, T = ids.shape
    H, Hkv = c["num_attention_heads"], c["num_key_value_heads"]
    d = c.get("head_dim", c["hidden_size"] // H)
    eps = c["rms_norm_eps"]
    angles = np.arange(T)[:, None] * inverse_frequencies(c, d)[None, :]
    cos, sin = np.cos(np.concatenate([angles, angles], -1)), np.sin(np.concatenate([angles, angles], -1))
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    causal = j <= i
    window = c.get("sliding_window") if c.get("use_sliding_window", c["model_type"] != "qwen2") else None
    # Qwen2 windows only the layers at or past max_window_layers (transformers' layer_types rule).
    first_windowed = c.get("max_window_layers", 28) if c["model_type"] == "qwen2" else 0
    x = w["model.embed_tokens.weight"][ids]
    for layer in range(c["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        allowed = causal & (i - j < window) if window and layer >= first_windowed else causal

        def project(name, heads):
            y = h @ w[p + f"self_attn.{name}_proj.weight"].T
            if p + f"self_attn.{name}_proj.bias" in w:
                y = y + w[p + f"self_attn.{name}_proj.bias"]
            return y.reshape(B, T, heads, d).transpose(0, 2, 1, 3)

        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q, k, v = project("q", H), project("k", Hkv), project("v", Hkv)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = np.repeat(k, H // Hkv, axis=1), np.repeat(v, H // Hkv, axis=1)
        scores = np.where(allowed, q @ k.transpose(0, 1, 3, 2) / np.sqrt(d), -np.inf)
        probabilities = np.exp(scores - scores.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        attended = (probabilities @ v).transpose(0, 2, 1, 3).reshape(B, T, H * d)
        x = x + attended @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        x = x + ((gate / (1 + np.exp(-gate))) * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if c["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


def main():
    root = sys.argv[1]
    for name, case in CASES.items():
        rng = np.random.default_rng(case["seed"])
        c = case["config"]
        weights = make_weights(c, rng)
        ids = rng.integers(0, c["vocab_size"], (2, case["tokens"]))
        out = os.path.join(root, name)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(c, f, indent=2)
        write_safetensors(os.path.join(out, "model.safetensors"), weights)
        values = logits(c, weights, ids)
        with open(os.path.join(out, "reference.json"), "w") as f:
            json.dump({"ids": ids.tolist(), "logits": np.round(values, 6).tolist()}, f, separators=(",", ":"))
        print(f"{name}: logits {values.shape}, |max| {np.abs(values).max():.3f}")


if __name__ == "__main__":
    main()
