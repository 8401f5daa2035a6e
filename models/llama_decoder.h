// LlamaDecoder: a LLaMA-family decoder (Llama, Mistral, Qwen2 shapes) as plain tensors and functions.
// Single-device code; parameters are listed by name (Hugging Face names) so that ZeRO, checkpoints and
// export can treat them without knowing the model.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/llama_config.h"
#include "models/parameters.h"

namespace hllm::models {

class RandomStream;
class HfSource;
class HfWeights;

struct DecoderLayer {
  at::Tensor input_norm;                  // [D]
  at::Tensor q_proj, k_proj, v_proj;      // [H d, D], [Hkv d, D], [Hkv d, D]
  at::Tensor q_bias, k_bias, v_bias;      // undefined unless config.attention_bias
  at::Tensor o_proj;                      // [D, H d]
  at::Tensor post_attention_norm;         // [D]
  at::Tensor gate_proj, up_proj;          // [F, D]
  at::Tensor down_proj;                   // [D, F]
};

// Rotary tables for positions [T] ([T, d] each) or per-row positions [B, T] ([B, 1, T, d] each).
struct RopeTables {
  at::Tensor cos;
  at::Tensor sin;
};
RopeTables rope_for(const at::Tensor& positions, const LlamaConfig& config);

// Throws InputError naming the tensors of a checkpoint that no parameter of `config` uses (a Qwen2 file's
// biases read with attention_bias false, a layer beyond num_hidden_layers): loading it would silently be
// another model. Rotary inv_freq buffers, a tied model's stored lm_head and the [ITEM] embedding and
// logit scale hllm_export writes beside a tower's tensors pass.
void check_every_tensor_used(const HfWeights& weights, const LlamaConfig& config);

// Layer `index` of a decoder: x + attention(norm(x)), then + swiglu(norm(x)); the index says whether its
// attention is windowed (LlamaConfig::window_of_layer).   x: [B, T, D]; mask: [B or 1, 1, T, T]
at::Tensor decoder_layer_forward(const DecoderLayer& layer, const LlamaConfig& config, int64_t index,
                                 const at::Tensor& x, const at::Tensor& mask, const RopeTables& rope);

class LlamaDecoder {
 public:
  // Random weights: normal(0, 0.02) for matrices, ones for norms, zeros for biases.
  static LlamaDecoder random(const LlamaConfig& config, uint64_t seed, at::ScalarType dtype = at::kFloat);
  // Weights from a Hugging Face directory (config.json + safetensors). Throws InputError for an
  // unsupported type, dtype, missing or mis-shaped tensor.
  // `token_table`: false for a tower that reads embeddings (HLLM's User LLM): a directory without
  // model.embed_tokens.weight (as hllm_export writes it) is then accepted.
  // `lm_head`: false for an HLLM tower, which never uses it: lm_head.weight is not read (nor required of an
  // untied checkpoint). With true, an untied checkpoint must hold it.
  static LlamaDecoder from_hf(const std::string& directory, at::ScalarType dtype = at::kFloat, bool token_table = true,
                              bool lm_head = true);
  // The same tensors as random() or from_hf() but as placeholders (models/parameter_source.h: shapes, no
  // values) with `options`; the values come from the sources below, by slices.
  static LlamaDecoder unmaterialized(const LlamaConfig& config, const at::TensorOptions& options);
  // random(config, seed)'s draws, in its order, as a stream whose parameters are named `prefix` + HF name.
  static void describe_random(const LlamaConfig& config, const std::string& prefix, RandomStream* stream);
  // from_hf(directory)'s tensors as `prefix` + HF name (checked against the files' headers). `token_table`:
  // as from_hf.
  static void describe_hf(const LlamaConfig& config, const std::string& prefix, bool token_table, HfSource* source);

  const LlamaConfig& config() const { return config_; }
  const std::vector<DecoderLayer>& layers() const { return layers_; }
  const at::Tensor& final_norm() const { return norm_; }
  const at::Tensor& token_embedding() const { return embed_tokens_; }

  // Final-norm hidden states.   tokens: [B, T] int64; mask: bool [B or 1, 1, T, T] (default causal);
  // positions: [T] or per row [B, T] int64 (default 0..T-1). Returns [B, T, D].
  at::Tensor hidden(const at::Tensor& tokens, const at::Tensor& mask = {}, const at::Tensor& positions = {}) const;
  // Same from embeddings instead of token ids.   embeddings: [B, T, D]
  at::Tensor hidden_from_embeddings(const at::Tensor& embeddings, const at::Tensor& mask = {},
                                    const at::Tensor& positions = {}) const;
  // The token-embedding rows of `tokens` ([B, T] -> [B, T, D]).
  at::Tensor hidden_embeddings_of(const at::Tensor& tokens) const;
  // Vocabulary logits of hidden states (tied to the embedding when the config says so).   [B, T, V]
  at::Tensor logits(const at::Tensor& hidden) const;

  // Every parameter with its Hugging Face name, in a fixed order (dropped ones are not listed).
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;

  // For use as an HLLM tower: frees the output head, and the token table unless `keep_token_embedding`
  // (the User LLM reads embeddings, not tokens). logits() and hidden() then refuse to run.
  void drop_heads(bool keep_token_embedding);
  // Marks every parameter as trainable (or not).
  void set_requires_grad(bool requires_grad);
  // Moves every parameter to `device`, cast to `dtype` (keeps them trainable as they were).
  void to(const at::Device& device, at::ScalarType dtype);

  // config.json + model.safetensors in Hugging Face layout.
  void save_hf(const std::string& directory) const;

 private:
  LlamaConfig config_;
  at::Tensor embed_tokens_;  // [V, D]
  std::vector<DecoderLayer> layers_;
  at::Tensor norm_;     // [D]
  at::Tensor lm_head_;  // [V, D]; undefined when tied
  bool heads_dropped_ = false;
};

}  // namespace hllm::models
