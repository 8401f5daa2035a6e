#include "models/model_plan.h"

namespace hllm::models {

int64_t decoder_layer_parameters(const LlamaConfig& c) {
  const int64_t D = c.hidden_size, F = c.intermediate_size, d = c.head_dim();
  const int64_t q = c.num_attention_heads * d, kv = c.num_key_value_heads * d;
  int64_t n = D * q + 2 * D * kv + q * D + 3 * D * F + 2 * D;  // q, k, v, o; gate, up, down; two norms
  if (c.attention_bias) n += q + 2 * kv;
  return n;
}

BlockCost decoder_layer_cost(const LlamaConfig& c, double rows, double T, int64_t bytes_per_value) {
  const double n = rows * T, D = c.hidden_size, F = c.intermediate_size;
  const double H = c.num_attention_heads, Hkv = c.num_key_value_heads, d = c.head_dim();
  BlockCost cost;
  // q, k, v, o projections, the three SwiGLU matrices, and scores + weighted sum of attention.
  cost.forward_flops = 2 * n * D * (H * d + 2 * Hkv * d) + 2 * n * H * d * D + 2 * n * 3 * D * F + 4 * rows * H * T * T * d;
  cost.parameters = decoder_layer_parameters(c);
  // Inputs of every matrix product and norm, the attention probabilities (as the CPU path keeps them; fused
  // GPU kernels keep O(T) instead), the SwiGLU intermediates.
  cost.activation_bytes = static_cast<int64_t>((n * (6 * D + 3 * F) + rows * H * T * T) * bytes_per_value);
  return cost;
}

int64_t tower_parameters(const LlamaConfig& c, bool with_token_table) {
  int64_t n = c.num_hidden_layers * decoder_layer_parameters(c) + c.hidden_size;  // layers + final norm
  if (with_token_table) n += c.vocab_size * c.hidden_size;
  return n;
}

int64_t hllm_parameters(const LlamaConfig& item, const LlamaConfig& user) {
  return tower_parameters(item, true) + tower_parameters(user, false) + item.hidden_size + 1;
}

std::vector<std::pair<std::string, double>> hllm_block_flops(const LlamaConfig& item, const LlamaConfig& user,
                                                             const ModelShapes& s) {
  std::vector<std::pair<std::string, double>> out{{"item_embedding", 0.0}};
  for (int64_t i = 0; i < item.num_hidden_layers; ++i) {
    out.emplace_back("item_layer." + std::to_string(i),
                     decoder_layer_cost(item, static_cast<double>(s.items), static_cast<double>(s.item_tokens),
                                        s.bytes_per_value).forward_flops);
  }
  out.emplace_back("item_output", 0.0);
  out.emplace_back("user_input", 0.0);
  for (int64_t i = 0; i < user.num_hidden_layers; ++i) {
    out.emplace_back("user_layer." + std::to_string(i),
                     decoder_layer_cost(user, static_cast<double>(s.sequences), static_cast<double>(s.sequence_length),
                                        s.bytes_per_value).forward_flops);
  }
  out.emplace_back("user_output", 0.0);
  const double M = static_cast<double>(s.sequences * s.sequence_length);
  out.emplace_back("loss", 2 * M * static_cast<double>(s.negatives + 1) * static_cast<double>(user.hidden_size));
  return out;
}

}  // namespace hllm::models

namespace hllm::models {

ModelShapes hllm_micro_batch_shapes(const config::Config& config, int64_t micro_batch, int dp, int64_t prompt_tokens) {
  ModelShapes s;
  s.sequences = micro_batch;
  s.sequence_length = config.data.max_item_list_len + 1;
  s.items = micro_batch * s.sequence_length + config.data.num_negatives;
  s.item_tokens = prompt_tokens + config.data.max_text_len + 1;
  s.negatives = static_cast<int64_t>(config.data.num_negatives) * dp;
  s.bytes_per_value = config.bf16.enabled ? 2 : 4;
  return s;
}

}  // namespace hllm::models
