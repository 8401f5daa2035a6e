#include "models/llama_decoder.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/error.h"
#include "models/hf_weights.h"
#include "models/llama_ops.h"
#include "models/parameter_source.h"

namespace hllm::models {
namespace {

std::string layer_name(size_t i, const char* suffix) { return "model.layers." + std::to_string(i) + "." + suffix; }

}  // namespace

void LlamaDecoder::drop_heads(bool keep_token_embedding) {
  lm_head_ = at::Tensor();
  if (!keep_token_embedding) embed_tokens_ = at::Tensor();
  heads_dropped_ = true;
}

void LlamaDecoder::set_requires_grad(bool requires_grad) {
  for (auto& [name, tensor] : named_parameters()) tensor.requires_grad_(requires_grad);
}

void LlamaDecoder::to(const at::Device& device, at::ScalarType dtype) {
  embed_tokens_ = moved_parameter(embed_tokens_, device, dtype);
  for (auto& l : layers_) {
    for (at::Tensor* t : {&l.input_norm, &l.q_proj, &l.k_proj, &l.v_proj, &l.q_bias, &l.k_bias, &l.v_bias, &l.o_proj,
                          &l.post_attention_norm, &l.gate_proj, &l.up_proj, &l.down_proj}) {
      *t = moved_parameter(*t, device, dtype);
    }
  }
  norm_ = moved_parameter(norm_, device, dtype);
  lm_head_ = moved_parameter(lm_head_, device, dtype);
}

std::vector<std::pair<std::string, at::Tensor>> LlamaDecoder::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  if (embed_tokens_.defined()) out.emplace_back("model.embed_tokens.weight", embed_tokens_);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const auto& l = layers_[i];
    out.emplace_back(layer_name(i, "input_layernorm.weight"), l.input_norm);
    out.emplace_back(layer_name(i, "self_attn.q_proj.weight"), l.q_proj);
    out.emplace_back(layer_name(i, "self_attn.k_proj.weight"), l.k_proj);
    out.emplace_back(layer_name(i, "self_attn.v_proj.weight"), l.v_proj);
    if (config_.attention_bias) {
      out.emplace_back(layer_name(i, "self_attn.q_proj.bias"), l.q_bias);
      out.emplace_back(layer_name(i, "self_attn.k_proj.bias"), l.k_bias);
      out.emplace_back(layer_name(i, "self_attn.v_proj.bias"), l.v_bias);
    }
    out.emplace_back(layer_name(i, "self_attn.o_proj.weight"), l.o_proj);
    out.emplace_back(layer_name(i, "post_attention_layernorm.weight"), l.post_attention_norm);
    out.emplace_back(layer_name(i, "mlp.gate_proj.weight"), l.gate_proj);
    out.emplace_back(layer_name(i, "mlp.up_proj.weight"), l.up_proj);
    out.emplace_back(layer_name(i, "mlp.down_proj.weight"), l.down_proj);
  }
  out.emplace_back("model.norm.weight", norm_);
  if (lm_head_.defined()) out.emplace_back("lm_head.weight", lm_head_);
  return out;
}

LlamaDecoder LlamaDecoder::random(const LlamaConfig& config, uint64_t seed, at::ScalarType dtype) {
  config.validate("LlamaConfig");
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto options = at::TensorOptions().dtype(at::kFloat);
  auto matrix = [&](int64_t rows, int64_t cols) {
    return at::normal(0.0, 0.02, {rows, cols}, generator, options).to(dtype);
  };
  const int64_t D = config.hidden_size, F = config.intermediate_size, d = config.head_dim();
  const int64_t H = config.num_attention_heads, Hkv = config.num_key_value_heads;
  LlamaDecoder decoder;
  decoder.config_ = config;
  decoder.embed_tokens_ = matrix(config.vocab_size, D);
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    DecoderLayer l;
    l.input_norm = at::ones({D}, options).to(dtype);
    l.q_proj = matrix(H * d, D);
    l.k_proj = matrix(Hkv * d, D);
    l.v_proj = matrix(Hkv * d, D);
    if (config.attention_bias) {
      l.q_bias = at::zeros({H * d}, options).to(dtype);
      l.k_bias = at::zeros({Hkv * d}, options).to(dtype);
      l.v_bias = at::zeros({Hkv * d}, options).to(dtype);
    }
    l.o_proj = matrix(D, H * d);
    l.post_attention_norm = at::ones({D}, options).to(dtype);
    l.gate_proj = matrix(F, D);
    l.up_proj = matrix(F, D);
    l.down_proj = matrix(D, F);
    decoder.layers_.push_back(std::move(l));
  }
  decoder.norm_ = at::ones({D}, options).to(dtype);
  if (!config.tie_word_embeddings) decoder.lm_head_ = matrix(config.vocab_size, D);
  return decoder;
}

namespace {

// A decoder's tensors in random()'s order of construction: name, shape, initial kind.
struct TensorRecipe {
  std::string name;
  std::vector<int64_t> shape;
  RandomStream::Kind kind;
};

std::vector<TensorRecipe> decoder_recipes(const LlamaConfig& c) {
  const int64_t D = c.hidden_size, F = c.intermediate_size, d = c.head_dim();
  const int64_t H = c.num_attention_heads, Hkv = c.num_key_value_heads;
  using K = RandomStream::Kind;
  std::vector<TensorRecipe> out{{"model.embed_tokens.weight", {c.vocab_size, D}, K::kNormal}};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const auto n = [&](const char* suffix) { return layer_name(static_cast<size_t>(i), suffix); };
    out.push_back({n("input_layernorm.weight"), {D}, K::kOnes});
    out.push_back({n("self_attn.q_proj.weight"), {H * d, D}, K::kNormal});
    out.push_back({n("self_attn.k_proj.weight"), {Hkv * d, D}, K::kNormal});
    out.push_back({n("self_attn.v_proj.weight"), {Hkv * d, D}, K::kNormal});
    if (c.attention_bias) {
      out.push_back({n("self_attn.q_proj.bias"), {H * d}, K::kZeros});
      out.push_back({n("self_attn.k_proj.bias"), {Hkv * d}, K::kZeros});
      out.push_back({n("self_attn.v_proj.bias"), {Hkv * d}, K::kZeros});
    }
    out.push_back({n("self_attn.o_proj.weight"), {D, H * d}, K::kNormal});
    out.push_back({n("post_attention_layernorm.weight"), {D}, K::kOnes});
    out.push_back({n("mlp.gate_proj.weight"), {F, D}, K::kNormal});
    out.push_back({n("mlp.up_proj.weight"), {F, D}, K::kNormal});
    out.push_back({n("mlp.down_proj.weight"), {D, F}, K::kNormal});
  }
  out.push_back({"model.norm.weight", {D}, K::kOnes});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, D}, K::kNormal});
  return out;
}

}  // namespace

LlamaDecoder LlamaDecoder::unmaterialized(const LlamaConfig& config, const at::TensorOptions& options) {
  config.validate("LlamaConfig");
  LlamaDecoder decoder;
  decoder.config_ = config;
  std::map<std::string, at::Tensor> made;
  for (const auto& recipe : decoder_recipes(config)) made[recipe.name] = placeholder(recipe.shape, options);
  decoder.embed_tokens_ = made.at("model.embed_tokens.weight");
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const auto get = [&](const char* suffix) { return made.at(layer_name(static_cast<size_t>(i), suffix)); };
    DecoderLayer l;
    l.input_norm = get("input_layernorm.weight");
    l.q_proj = get("self_attn.q_proj.weight");
    l.k_proj = get("self_attn.k_proj.weight");
    l.v_proj = get("self_attn.v_proj.weight");
    if (config.attention_bias) {
      l.q_bias = get("self_attn.q_proj.bias");
      l.k_bias = get("self_attn.k_proj.bias");
      l.v_bias = get("self_attn.v_proj.bias");
    }
    l.o_proj = get("self_attn.o_proj.weight");
    l.post_attention_norm = get("post_attention_layernorm.weight");
    l.gate_proj = get("mlp.gate_proj.weight");
    l.up_proj = get("mlp.up_proj.weight");
    l.down_proj = get("mlp.down_proj.weight");
    decoder.layers_.push_back(std::move(l));
  }
  decoder.norm_ = made.at("model.norm.weight");
  if (!config.tie_word_embeddings) decoder.lm_head_ = made.at("lm_head.weight");
  return decoder;
}

void LlamaDecoder::describe_random(const LlamaConfig& config, const std::string& prefix, RandomStream* stream) {
  for (const auto& recipe : decoder_recipes(config)) stream->add(prefix + recipe.name, recipe.shape, recipe.kind);
}

void check_every_tensor_used(const HfWeights& weights, const LlamaConfig& config) {
  std::set<std::string> used;
  for (const auto& recipe : decoder_recipes(config)) used.insert(recipe.name);
  std::vector<std::string> unused;
  for (const auto& name : weights.names()) {
    const bool buffer = name.size() >= 20 && name.compare(name.size() - 20, 20, "rotary_emb.inv_freq") == 0;
    const bool tied_head = name == "lm_head.weight" && config.tie_word_embeddings;
    const bool hllm_tensor = name == "item_token" || name == "logit_scale";  // hllm_export's, read by HllmModel
    if (!used.count(name) && !buffer && !tied_head && !hllm_tensor) unused.push_back(name);
  }
  if (unused.empty()) return;
  std::string listed;
  for (size_t i = 0; i < unused.size() && i < 5; ++i) listed += (i ? ", " : "") + unused[i];
  if (unused.size() > 5) listed += detail::concat(" and ", unused.size() - 5, " more");
  throw InputError(detail::concat(weights.directory(), ": ", unused.size(), " tensor(s) that no parameter of its config.json uses: ",
                                  listed, " (model_type ", config.model_type, ", attention_bias ",
                                  config.attention_bias ? "true" : "false", ", num_hidden_layers ",
                                  config.num_hidden_layers, ")"));
}

void LlamaDecoder::describe_hf(const LlamaConfig& config, const std::string& prefix, bool token_table,
                               HfSource* source) {
  check_every_tensor_used(source->weights(), config);
  for (const auto& recipe : decoder_recipes(config)) {
    // What from_hf() reads: the token table unless the tower has none; no LM head (HLLM drops it).
    if (recipe.name == "lm_head.weight") continue;
    if (recipe.name == "model.embed_tokens.weight" && !token_table && !source->has(recipe.name)) continue;
    source->add(prefix + recipe.name, recipe.name, recipe.shape);
  }
}

LlamaDecoder LlamaDecoder::from_hf(const std::string& directory, at::ScalarType dtype, bool token_table,
                                   bool lm_head) {
  LlamaDecoder decoder;
  decoder.config_ = read_hf_config(directory);
  const LlamaConfig& c = decoder.config_;
  const HfWeights weights(directory);
  check_every_tensor_used(weights, c);
  const int64_t D = c.hidden_size, F = c.intermediate_size, d = c.head_dim();
  const int64_t H = c.num_attention_heads, Hkv = c.num_key_value_heads;
  if (token_table || weights.has("model.embed_tokens.weight")) {
    decoder.embed_tokens_ = weights.load("model.embed_tokens.weight", {c.vocab_size, D}, dtype);
  }
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    DecoderLayer l;
    l.input_norm = weights.load(layer_name(i, "input_layernorm.weight"), {D}, dtype);
    l.q_proj = weights.load(layer_name(i, "self_attn.q_proj.weight"), {H * d, D}, dtype);
    l.k_proj = weights.load(layer_name(i, "self_attn.k_proj.weight"), {Hkv * d, D}, dtype);
    l.v_proj = weights.load(layer_name(i, "self_attn.v_proj.weight"), {Hkv * d, D}, dtype);
    if (c.attention_bias) {
      l.q_bias = weights.load(layer_name(i, "self_attn.q_proj.bias"), {H * d}, dtype);
      l.k_bias = weights.load(layer_name(i, "self_attn.k_proj.bias"), {Hkv * d}, dtype);
      l.v_bias = weights.load(layer_name(i, "self_attn.v_proj.bias"), {Hkv * d}, dtype);
    }
    l.o_proj = weights.load(layer_name(i, "self_attn.o_proj.weight"), {D, H * d}, dtype);
    l.post_attention_norm = weights.load(layer_name(i, "post_attention_layernorm.weight"), {D}, dtype);
    l.gate_proj = weights.load(layer_name(i, "mlp.gate_proj.weight"), {F, D}, dtype);
    l.up_proj = weights.load(layer_name(i, "mlp.up_proj.weight"), {F, D}, dtype);
    l.down_proj = weights.load(layer_name(i, "mlp.down_proj.weight"), {D, F}, dtype);
    decoder.layers_.push_back(std::move(l));
  }
  decoder.norm_ = weights.load("model.norm.weight", {D}, dtype);
  if (!c.tie_word_embeddings && lm_head) {
    // Some tied checkpoints still store lm_head; an untied config must have it.
    decoder.lm_head_ = weights.load("lm_head.weight", {c.vocab_size, D}, dtype);
  }
  if (!lm_head) decoder.drop_heads(/*keep_token_embedding=*/true);
  return decoder;
}

at::Tensor LlamaDecoder::hidden(const at::Tensor& tokens, const at::Tensor& mask, const at::Tensor& positions) const {
  HLLM_CHECK(tokens.dim() == 2, "decoder: tokens must be [B, T], got ", tokens.sizes());
  HLLM_CHECK(embed_tokens_.defined(), "decoder: the token embedding was dropped (a User LLM reads embeddings)");
  return hidden_from_embeddings(at::embedding(embed_tokens_, tokens), mask, positions);
}

at::Tensor LlamaDecoder::hidden_embeddings_of(const at::Tensor& tokens) const {
  HLLM_CHECK(embed_tokens_.defined(), "decoder: the token embedding was dropped (a User LLM reads embeddings)");
  return at::embedding(embed_tokens_, tokens);
}

RopeTables rope_for(const at::Tensor& positions, const LlamaConfig& config) {
  auto [cos, sin] = rope_tables(positions, config.head_dim(), config.rope_theta, config.rope_scaling);  // [T, d] or [B, T, d]
  if (positions.dim() == 2) {
    cos = cos.unsqueeze(1);  // [B, 1, T, d]: per-row positions, shared by the heads
    sin = sin.unsqueeze(1);
  }
  return {cos, sin};
}

namespace {

// q, k, v of the normed input h [B, T, D], each [B, T, heads * d]. On the CPU one product with the three
// matrices stacked (faster than three small ones), split into views; v is copied out of it, so that what
// attention keeps of v does not hold q's and k's products too.
std::vector<at::Tensor> attention_projections(const DecoderLayer& l, const at::Tensor& h, int64_t q_width,
                                              int64_t kv_width) {
  if (!h.device().is_cpu()) {
    return {at::linear(h, l.q_proj, l.q_bias), at::linear(h, l.k_proj, l.k_bias), at::linear(h, l.v_proj, l.v_bias)};
  }
  const at::Tensor bias = l.q_bias.defined() ? at::cat({l.q_bias, l.k_bias, l.v_bias}) : at::Tensor();
  std::vector<at::Tensor> parts =
      at::linear(h, at::cat({l.q_proj, l.k_proj, l.v_proj}), bias).split_with_sizes({q_width, kv_width, kv_width}, -1);
  parts[2] = parts[2].contiguous();
  return parts;
}

// x + attention(norm(x)). Its own function so that, without autograd (evaluation), the normed input, the
// projections and the attention's output are freed before the layer's MLP runs (under autograd the graph
// keeps what it needs either way).
at::Tensor residual_attention(const DecoderLayer& l, const LlamaConfig& config, int64_t index, const at::Tensor& x,
                              const at::Tensor& mask, const RopeTables& rope) {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = config.num_attention_heads, Hkv = config.num_key_value_heads, d = config.head_dim();
  at::Tensor attended;  // [B, H, T, d]
  {
    const auto projections = attention_projections(l, rms_norm(x, l.input_norm, config.rms_norm_eps), H * d, Hkv * d);
    const at::Tensor q = projections[0].view({B, T, H, d}).transpose(1, 2);
    const at::Tensor k = projections[1].view({B, T, Hkv, d}).transpose(1, 2);
    const at::Tensor v = projections[2].view({B, T, Hkv, d}).transpose(1, 2);
    attended = grouped_attention(apply_rope(q, rope.cos, rope.sin), apply_rope(k, rope.cos, rope.sin), v,
                                 sliding_window_mask(mask, T, config.window_of_layer(index), x.device()));
  }
  at::Tensor merged = attended.transpose(1, 2).reshape({B, T, H * d});
  attended.reset();
  return x + at::linear(merged, l.o_proj);
}

}  // namespace

at::Tensor decoder_layer_forward(const DecoderLayer& l, const LlamaConfig& config, int64_t index, const at::Tensor& x,
                                 const at::Tensor& mask, const RopeTables& rope) {
  const at::Tensor y = residual_attention(l, config, index, x, mask, rope);
  return y + swiglu(rms_norm(y, l.post_attention_norm, config.rms_norm_eps), l.gate_proj, l.up_proj, l.down_proj);
}

at::Tensor LlamaDecoder::hidden_from_embeddings(const at::Tensor& embeddings, const at::Tensor& mask,
                                                const at::Tensor& positions) const {
  const int64_t T = embeddings.size(1);
  const at::Tensor where =
      positions.defined() ? positions : at::arange(T, at::TensorOptions().dtype(at::kLong).device(embeddings.device()));
  const RopeTables rope = rope_for(where, config_);
  at::Tensor x = embeddings;
  for (size_t i = 0; i < layers_.size(); ++i) {
    x = decoder_layer_forward(layers_[i], config_, static_cast<int64_t>(i), x, mask, rope);  // mask undefined: causal
  }
  return rms_norm(x, norm_, config_.rms_norm_eps);
}

at::Tensor LlamaDecoder::logits(const at::Tensor& hidden) const {
  HLLM_CHECK(!heads_dropped_, "decoder: the output head was dropped (an HLLM tower has none)");
  return at::linear(hidden, config_.tie_word_embeddings ? embed_tokens_ : lm_head_);
}

void LlamaDecoder::save_hf(const std::string& directory) const {
  std::filesystem::create_directories(directory);
  save_safetensors((std::filesystem::path(directory) / "model.safetensors").string(), named_parameters());
  std::ofstream((std::filesystem::path(directory) / "config.json").string()) << hf_config_json(config_);
}

}  // namespace hllm::models
