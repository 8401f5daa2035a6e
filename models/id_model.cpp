#include "models/id_model.h"

#include <ATen/CPUGeneratorImpl.h>

#include "common/error.h"
#include "models/hllm_towers.h"
#include "models/info_nce.h"
#include "models/parameters.h"

namespace hllm::models {

IdModel::IdModel(const char* model, const IdModelConfig& config, uint64_t seed)
    : hidden_size_(config.hidden_size),
      options_(at::TensorOptions().dtype(at::kFloat)),
      generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {
  HLLM_CHECK(config.num_items > 0 && config.hidden_size % config.num_heads == 0, model, ": ", config.num_items,
             " items and hidden size ", config.hidden_size, " for ", config.num_heads, " heads");
  item_table_ = normal({config.num_items + 1, config.hidden_size});
  item_table_[0].zero_();
  final_norm_weight_ = ones(config.hidden_size);
  final_norm_bias_ = zeros(config.hidden_size);
  logit_scale_ = at::full({}, initial_logit_scale(), options_);
}

at::Tensor IdModel::normal(std::vector<int64_t> shape) { return at::normal(0.0, 0.02, shape, generator_, options_); }

HllmOutput IdModel::loss(const at::Tensor& states, const at::Tensor& items, const at::Tensor& negatives,
                         const NegativeGather& gather_negatives) const {
  const SequenceInputs inputs{at::embedding(item_table_, items), items.ne(0)};
  return hllm_loss(states, inputs, item_table_, negatives, logit_scale_, gather_negatives);
}

at::Tensor IdModel::final_norm(const at::Tensor& x) const {
  return at::layer_norm(x, {hidden_size_}, final_norm_weight_, final_norm_bias_);
}

std::vector<std::pair<std::string, at::Tensor>> IdModel::parameters_around(
    std::vector<std::pair<std::string, at::Tensor>> own) const {
  std::vector<std::pair<std::string, at::Tensor>> out = {{"item_table", item_table_}};
  for (auto& named : own) out.push_back(std::move(named));
  out.emplace_back("final_norm.weight", final_norm_weight_);
  out.emplace_back("final_norm.bias", final_norm_bias_);
  out.emplace_back("logit_scale", logit_scale_);
  return out;
}

void IdModel::move_to(const at::Device& device, std::initializer_list<at::Tensor*> own) {
  move_parameters({&item_table_, &final_norm_weight_, &final_norm_bias_, &logit_scale_}, device);
  move_parameters(own, device);
}

}  // namespace hllm::models
