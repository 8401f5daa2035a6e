#!/usr/bin/python3
"""Writes a Hugging Face LLaMA directory with random weights (config.json + model.safetensors), written
independently of the trainer (NumPy only), so benchmarks and tests can load "a downloaded model" of any shape
without a download.

  make_random_llama.py OUT_DIR --hidden 1024 --layers 16 --heads 16 [--kv_heads 16] [--ffn 2816]
                       [--vocab 32000] [--dtype F32|BF16] [--seed 0] [--shards 1]

Matrices are normal(0, 0.02), norms ones; tie_word_embeddings is false and lm_head is written, as most
checkpoints do. --shards > 1 splits the tensors over model-0000i-of-0000n.safetensors files with a
model.safetensors.index.json, as large checkpoints are published.
"""
import argparse
import json
import os
import struct

import numpy as np


def tensors(args):
    d, f, v = args.hidden, args.ffn, args.vocab
    head = d // args.heads
    kv = args.kv_heads * head
    yield "model.embed_tokens.weight", (v, d), "normal"
    for i in range(args.layers):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (d,), "ones"
        yield p + "self_attn.q_proj.weight", (d, d), "normal"
        yield p + "self_attn.k_proj.weight", (kv, d), "normal"
        yield p + "self_attn.v_proj.weight", (kv, d), "normal"
        yield p + "self_attn.o_proj.weight", (d, d), "normal"
        yield p + "post_attention_layernorm.weight", (d,), "ones"
        yield p + "mlp.gate_proj.weight", (f, d), "normal"
        yield p + "mlp.up_proj.weight", (f, d), "normal"
        yield p + "mlp.down_proj.weight", (d, f), "normal"
    yield "model.norm.weight", (d,), "ones"
    yield "lm_head.weight", (v, d), "normal"


def encode(values, dtype):
    values = values.astype(np.float32)
    if dtype == "F32":
        return values.tobytes()
    bits = values.view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even
    return rounded.tobytes()


def write_file(path, entries, dtype, rng):
    size = 4 if dtype == "F32" else 2
    header, offset = {}, 0
    for name, shape, _ in entries:
        n = int(np.prod(shape)) * size
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for name, shape, init in entries:
            values = rng.normal(0.0, 0.02, shape) if init == "normal" else np.ones(shape)
            out.write(encode(values, dtype))
    return offset


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--hidden", type=int, required=True)
    parser.add_argument("--layers", type=int, required=True)
    parser.add_argument("--heads", type=int, required=True)
    parser.add_argument("--kv_heads", type=int)
    parser.add_argument("--ffn", type=int)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--dtype", choices=["F32", "BF16"], default="F32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shards", type=int, default=1)
    args = parser.parse_args()
    args.kv_heads = args.kv_heads or args.heads
    args.ffn = args.ffn or 4 * args.hidden
    if args.hidden % args.heads or args.heads % args.kv_heads:
        parser.error("--hidden must divide by --heads and --heads by --kv_heads")
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    entries = list(tensors(args))
    if args.shards == 1:
        write_file(os.path.join(args.out, "model.safetensors"), entries, args.dtype, rng)
    else:
        weight_map, total = {}, 0
        for s in range(args.shards):
            name = f"model-{s + 1:05d}-of-{args.shards:05d}.safetensors"
            part = entries[s * len(entries) // args.shards:(s + 1) * len(entries) // args.shards]
            total += write_file(os.path.join(args.out, name), part, args.dtype, rng)
            weight_map.update({tensor: name for tensor, _, _ in part})
        with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as out:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, out, indent=2)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": args.vocab,
        "hidden_size": args.hidden, "intermediate_size": args.ffn, "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads, "num_key_value_heads": args.kv_heads, "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False, "hidden_act": "silu",
        "torch_dtype": "float32" if args.dtype == "F32" else "bfloat16",
    }
    with open(os.path.join(args.out, "config.json"), "w") as out:
        json.dump(config, out, indent=2)


if __name__ == "__main__":
    main()
