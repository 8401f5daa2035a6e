// HllmModel: Item LLM + User LLM + InfoNCE on a training Batch (data/batch.h). Each distinct item of the
// batch is encoded once; the index maps of the batch place the embeddings into the user sequences and the
// negatives. Single-device code: gathering negatives across data-parallel ranks is a function passed in.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/batch.h"
#include "models/hllm_towers.h"
#include "common/config/tower_spec.h"
#include "models/parameter_source.h"

namespace hllm::models {

// Local negatives [N, D] -> negatives of every data-parallel rank [N_all, D], differentiable (its
// backward returns this rank's share of the gradient). Empty: use the local negatives.
using NegativeGather = std::function<at::Tensor(const at::Tensor&)>;

struct HllmOutput {
  at::Tensor loss;                // scalar
  std::vector<at::Tensor> top_k;  // accuracy of the NCE logits at k = 1, 5, 10
  int64_t predictions = 0;        // positions that carried loss
  at::Tensor health;              // info_nce.h's HealthField values; undefined when nothing was predicted
};

// The steps of HllmModel::forward, shared with its blocks (models/hllm_blocks.h).
struct SequenceInputs {
  at::Tensor sequences;  // [B, W, D] item embeddings per position (zeros at padding)
  at::Tensor mask;       // [B, W] bool
};
// Places the item embeddings [U, D] into the sequences by the batch's slot map.   item_slots: [B, W] int64
SequenceInputs hllm_sequences(const at::Tensor& item_embeddings, const at::Tensor& item_slots, const at::Tensor& mask);
// InfoNCE of the user states: the state at t predicts the item at t + 1 where both are real.
HllmOutput hllm_loss(const at::Tensor& states, const SequenceInputs& inputs, const at::Tensor& item_embeddings,
                     const at::Tensor& negative_slots, const at::Tensor& logit_scale, const NegativeGather& gather);
// The batch's index maps as tensors on `device`: items_mask [B, W] bool, item_slots [B, W], negative_slots [N],
// token_offsets [U+1], tokens [T].
struct BatchTensors {
  at::Tensor mask, item_slots, negative_slots, token_offsets, tokens;
};
BatchTensors batch_tensors(const data::Batch& batch, const at::Device& device);

class HllmModel {
 public:
  HllmModel(ItemLlm item, UserLlm user);

  // Both towers from size presets (models/presets.h), std-0.02 initialisation, trainable.
  static HllmModel from_presets(const std::string& item_preset, const std::string& user_preset, int64_t vocab_size,
                                std::vector<int64_t> prompt_tokens, uint64_t seed);

  // Each tower from a Hugging Face directory (config.json + safetensors; its token table and LM head are
  // dropped as the tower needs) or, for a preset or a shape (models/presets.h), from random weights.
  static HllmModel from_sources(const config::TowerSpec& item_source, const config::TowerSpec& user_source, int64_t vocab_size,
                                std::vector<int64_t> prompt_tokens, uint64_t seed);

  // The model from_sources() builds, with its parameters as placeholders (models/parameter_source.h) on
  // `device` in `dtype` (logit_scale: float32, with its value), and the source of their values by slices:
  // exactly from_sources()'s values, read from the towers' files or replayed from the seeds' streams.
  struct Unmaterialized;
  static Unmaterialized unmaterialized(const config::TowerSpec& item_source, const config::TowerSpec& user_source,
                                       int64_t vocab_size, std::vector<int64_t> prompt_tokens, uint64_t seed,
                                       const at::Device& device, at::ScalarType dtype);

  HllmOutput forward(const data::Batch& batch, const NegativeGather& gather_negatives = {}) const;

  // Moves both towers to `device` in `dtype`; logit_scale stays float32 (a scalar that the loss reads in
  // float32 anyway) but moves along.
  void to(const at::Device& device, at::ScalarType dtype);

  const ItemLlm& item_llm() const { return item_; }
  const at::Tensor& logit_scale() const { return logit_scale_; }
  const UserLlm& user_llm() const { return user_; }
  // "item.<HF name>", "item.item_token", "user.<HF name>", "logit_scale".
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;

 private:
  ItemLlm item_;
  UserLlm user_;
  at::Tensor logit_scale_;  // scalar, init ln(1/0.07)
};

struct HllmModel::Unmaterialized {
  HllmModel model;
  std::unique_ptr<ParameterSource> source;
};

}  // namespace hllm::models
