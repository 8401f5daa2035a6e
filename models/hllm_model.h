// HllmModel: Item LLM + User LLM + InfoNCE on a training Batch (data/batch.h). Each distinct item of the
// batch is encoded once; the index maps of the batch place the embeddings into the user sequences and the
// negatives. Single-device code: gathering negatives across data-parallel ranks is a function passed in.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "data/batch.h"
#include "models/hllm_towers.h"

namespace hllm::models {

// Local negatives [N, D] -> negatives of every data-parallel rank [N_all, D], differentiable (its
// backward returns this rank's share of the gradient). Empty: use the local negatives.
using NegativeGather = std::function<at::Tensor(const at::Tensor&)>;

struct HllmOutput {
  at::Tensor loss;                // scalar
  std::vector<at::Tensor> top_k;  // accuracy of the NCE logits at k = 1, 5, 10
  int64_t predictions = 0;        // positions that carried loss
};

class HllmModel {
 public:
  HllmModel(ItemLlm item, UserLlm user);

  // Both towers from size presets (models/presets.h), std-0.02 initialisation, trainable.
  static HllmModel from_presets(const std::string& item_preset, const std::string& user_preset, int64_t vocab_size,
                                std::vector<int64_t> prompt_tokens, uint64_t seed);

  HllmOutput forward(const data::Batch& batch, const NegativeGather& gather_negatives = {}) const;

  const ItemLlm& item_llm() const { return item_; }
  const UserLlm& user_llm() const { return user_; }
  // "item.<HF name>", "item.item_token", "user.<HF name>", "logit_scale".
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;

 private:
  ItemLlm item_;
  UserLlm user_;
  at::Tensor logit_scale_;  // scalar, init ln(1/0.07)
};

}  // namespace hllm::models
