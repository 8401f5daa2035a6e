// Converting a llama2.c checkpoint (Karpathy's run.c format) into a Hugging Face directory
// (config.json + model.safetensors), so it loads through the normal HF path.
//
// llama2.c layout (little-endian, no magic): int32[7] = dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size (negative: untied classifier at the end), seq_len; then float32 arrays, matrices [out][in]:
// token_embedding [V, D]; rms_att [L, D]; wq [L, D, D]; wk [L, KV, D]; wv [L, KV, D]; wo [L, D, D];
// rms_ffn [L, D]; w1 [L, F, D]; w2 [L, D, F]; w3 [L, F, D]; rms_final [D]; freq_cis_real and _imag
// [seq_len, d/2] (unused); wcls [V, D] if untied.
//
// RoPE: llama2.c rotates interleaved pairs (x[2i], x[2i+1]), Hugging Face rotates halves; the rows of wq and
// wk are permuted per head so both give the same result:
//   w.view(heads, d/2, 2, in).transpose(1, 2).reshape(out, in)
#pragma once

#include <string>

#include "models/llama_config.h"

namespace hllm::models {

// Throws InputError naming the file when it is too short for the header's shapes or the shapes are invalid.
LlamaConfig convert_llama2c(const std::string& checkpoint, const std::string& out_directory);

}  // namespace hllm::models
