// IdModel: what SASRec and HSTU, the paper's ID-based baselines, share — an item-ID embedding table in place
// of the Item LLM ([num_items + 1, D], row 0 the padding, zero), a final LayerNorm, the learned logit scale
// (InfoNCE's temperature), their initialisation (N(0, 0.02) from one seeded CPU generator, drawn in
// construction order, the table first) and HLLM's loss on the table's rows. Each model adds its layers, its
// states() and its own parameters around these.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "models/hllm_model.h"

namespace hllm::models {

struct IdModelConfig {
  int64_t num_items = 0;  // without padding; the table has num_items + 1 rows
  int64_t hidden_size = 64;
  int64_t num_layers = 2;
  int64_t num_heads = 2;
  int64_t max_positions = 200;
};

class IdModel {
 public:
  const at::Tensor& item_table() const { return item_table_; }  // [num_items + 1, D]

 protected:
  // Checks the shape (`model` names it in the error) and draws the item table.
  IdModel(const char* model, const IdModelConfig& config, uint64_t seed);

  // The next N(0, 0.02) draw of `shape`; ones / zeros of the model's dtype.
  at::Tensor normal(std::vector<int64_t> shape);
  at::Tensor ones(int64_t n) const { return at::ones({n}, options_); }
  at::Tensor zeros(int64_t n) const { return at::zeros({n}, options_); }

  // HLLM's InfoNCE on the states [B, W, D] of `items` [B, W] (0 = padding), the table's rows playing the
  // item embeddings (a negative's id [N] is its row).
  HllmOutput loss(const at::Tensor& states, const at::Tensor& items, const at::Tensor& negatives,
                  const NegativeGather& gather_negatives) const;
  at::Tensor final_norm(const at::Tensor& x) const;

  // The model's parameters in order: the table, then `own`, then the final norm and the logit scale.
  std::vector<std::pair<std::string, at::Tensor>> parameters_around(
      std::vector<std::pair<std::string, at::Tensor>> own) const;
  // Moves the shared tensors and `own` to `device`.
  void move_to(const at::Device& device, std::initializer_list<at::Tensor*> own);

  at::Tensor item_table_;

 private:
  int64_t hidden_size_;
  at::TensorOptions options_;
  at::Generator generator_;
  at::Tensor final_norm_weight_, final_norm_bias_;
  at::Tensor logit_scale_;
};

}  // namespace hllm::models
