// Recommender: what the runtime needs of HLLM, SASRec and HSTU alike — the training loss on a Batch, the
// embeddings of catalogue items, and the user states of an evaluation batch — so one runtime trains and
// evaluates all three.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "data/batch.h"
#include "data/eval_batch.h"
#include "models/hllm_blocks.h"
#include "models/hllm_model.h"
#include "models/layered_model.h"
#include "models/parameter_source.h"
#include "models/training_work.h"

namespace hllm::models {

// Runs blocks [first, end) of a recommender's chain as the runtime holds them (Recommender::
// evaluation_user_states).
using RangeRunner = std::function<Activations(size_t first, size_t end, Activations inputs,
                                              const std::vector<std::string>& consumed)>;

class Recommender {
 public:
  virtual ~Recommender() = default;
  virtual HllmOutput loss(const data::Batch& batch, const NegativeGather& gather_negatives) const = 0;
  virtual std::vector<std::pair<std::string, at::Tensor>> named_parameters() const = 0;
  // Embeddings of items [first, end) (1-based item indices), given their tokens as CSR.   Returns [n, D].
  virtual at::Tensor item_embeddings(int64_t first, int64_t end, const at::Tensor& token_offsets,
                                     const at::Tensor& tokens) const = 0;
  // True when item_embeddings needs the items' tokens (the Item LLM); false for ID tables.
  virtual bool reads_item_tokens() const = 0;
  // The state at the last history position of each row.   catalog: [num_items + 1, D]. Returns [B, D].
  virtual at::Tensor user_states(const data::EvalBatch& batch, const at::Tensor& catalog) const = 0;
  // The same as evaluation runs it, with the model held as the runtime holds it: `run` runs the chain's
  // blocks [first, end) without autograd (ZeRO-3 gathering block by block, under pp through the stages,
  // dropping `consumed` before activations cross a stage) and returns the activations after the range, or
  // none on a stage that does not finish it; `starts_user_range`: this stage holds the User LLM's first
  // block (it builds the inputs). HLLM runs its User LLM's range; an ID model its own forward (whole).
  // Returns [B, D], undefined on a stage that does not finish the model.
  virtual at::Tensor evaluation_user_states(const data::EvalBatch& batch, const at::Tensor& catalog,
                                            const RangeRunner& run, bool starts_user_range) const = 0;
  // The model as blocks (models/layered_model.h), for ZeRO and activation checkpointing: running them on
  // block_inputs(batch) leaves the loss of loss(batch, gather) in activations["loss"]. HLLM is its chain of
  // embedding, decoder layers, norms and loss; SASRec and HSTU (small) are one block.
  virtual Blocks blocks(const NegativeGather& gather_negatives) const = 0;
  virtual Activations block_inputs(const data::Batch& batch) const = 0;
  // HLLM: where its Item and User LLMs lie in blocks(). ID models (one block, evaluated by their own
  // item_embeddings and user_states): all zero.
  virtual TowerRanges tower_ranges() const = 0;
  // Moves the parameters to `device` (float32 kept: these models train in float32).
  virtual void to(const at::Device& device) = 0;
  // What training computes (models/training_work.h): the towers' sizes, and a batch's work per tower in
  // the same order. HLLM: "item" (prompt + text + [ITEM] of each distinct item), "user" (the real positions
  // of each row); SASRec and HSTU: "sequence" (the real positions).
  virtual std::vector<TowerSize> tower_sizes() const = 0;
  virtual std::vector<TowerWork> batch_work(const data::Batch& batch) const = 0;
};

// What a recommender is built for besides its config section: the seed, the dataset's catalogue,
// vocabulary and prompt, and the longest history it reads.
struct RecommenderInputs {
  uint64_t seed = 42;
  int64_t num_items = 0;
  int64_t vocab_size = 0;
  std::vector<int64_t> prompt_tokens;
  int64_t max_item_list_len = 10;  // sequences of this + 1 items: SASRec's and HSTU's positions
};

// The recommender `model` (the config's model section) describes.
std::unique_ptr<Recommender> make_recommender(const config::ModelConfig& model, RecommenderInputs inputs);

// The same recommender on `device`, its parameters in `dtype` (HLLM's LLMs; logit_scale and the ID
// models stay float32), built without values where it can be: HLLM's parameters are placeholders whose
// values *source receives (models/parameter_source.h), to be filled by slices where they are kept; SASRec
// and HSTU (small) are built whole and *source stays null. The values are make_recommender()'s.
std::unique_ptr<Recommender> make_recommender_without_values(const config::ModelConfig& model, RecommenderInputs inputs,
                                                             const at::Device& device, at::ScalarType dtype,
                                                             std::unique_ptr<ParameterSource>* source);

}  // namespace hllm::models
