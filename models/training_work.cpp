#include "models/training_work.h"

#include <utility>

#include "models/model_plan.h"

namespace hllm::models {

std::vector<std::string> tower_names(const std::vector<TowerSize>& towers) {
  std::vector<std::string> names;
  for (const auto& tower : towers) names.push_back(tower.name);
  return names;
}

double training_flops(const TowerSize& size, const TowerWork& work) {
  return 6.0 * static_cast<double>(size.matmul_parameters) * static_cast<double>(work.tokens) +
         12.0 * static_cast<double>(size.attention_width) * static_cast<double>(work.squared_lengths);
}

TowerSize llama_tower_size(std::string name, const LlamaConfig& c, bool with_token_table, int64_t extra_parameters) {
  const int64_t D = c.hidden_size, F = c.intermediate_size, d = c.head_dim();
  const int64_t q = c.num_attention_heads * d, kv = c.num_key_value_heads * d;
  TowerSize size;
  size.name = std::move(name);
  size.parameters = tower_parameters(c, with_token_table) + extra_parameters;
  size.matmul_parameters = c.num_hidden_layers * (D * q + 2 * D * kv + q * D + 3 * D * F);  // q k v o, gate up down
  size.attention_width = c.num_hidden_layers * q;
  return size;
}

void add_sequence(int64_t length, TowerWork* work) {
  work->tokens += length;
  work->squared_lengths += length * length;
}

}  // namespace hllm::models
