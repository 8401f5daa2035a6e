// Sizes of a model for a configuration, computed from the shapes alone (no tensors): parameter counts
// and the per-layer cost (FLOPs, kept activation bytes). The blocks' cost() (models/hllm_blocks.h) and the
// planner (tools/hllm_plan) use the same formulas, so what the planner says is what the run's cost
// model says.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/config/config.h"
#include "models/layered_model.h"
#include "models/llama_config.h"

namespace hllm::models {

// The Item LLM's items are sorted by length and cut into buckets of this many, each padded only to its own
// longest and run through a layer by a call of its own (models/hllm_towers.h). (Measured by
// bench/model_bench: 1.4-1.5x faster than padding all items to the longest; a block-diagonal mask over one
// long row is 50-100x slower on CPU.)
inline constexpr int64_t kItemsPerBucket = 16;

// One decoder layer: its parameters, forward FLOPs and activation bytes for `rows` sequences of `tokens`.
// `fused_ops`: the layer runs the CPU's fused nodes (models/fused_*.h), which keep less than the plain
// formulas a GPU runs for RMSNorm and SwiGLU. `rows_per_call`: the rows one call of the layer runs (the
// Item LLM's buckets; 0: all), which bounds what its forward without autograd holds beside the inputs.
BlockCost decoder_layer_cost(const LlamaConfig& config, double rows, double tokens, int64_t bytes_per_value,
                             bool fused_ops, double rows_per_call = 0);
int64_t decoder_layer_parameters(const LlamaConfig& config);

// A tower's parameters: the token table (Item LLM only; the User LLM reads embeddings), the layers and the
// final norm. `with_token_table`: the Item LLM keeps its table, the User LLM does not.
int64_t tower_parameters(const LlamaConfig& config, bool with_token_table);

// HLLM: both towers plus [ITEM] (D) and logit_scale (1).
int64_t hllm_parameters(const LlamaConfig& item, const LlamaConfig& user);

}  // namespace hllm::models

namespace hllm::models {

// The costs of HLLM's blocks (models/hllm_blocks.h), in their order, from the shapes alone: forward FLOPs
// (what the pipeline's cut balances), parameters, activation bytes. The same numbers as the blocks' cost().
std::vector<std::pair<std::string, BlockCost>> hllm_block_costs(const LlamaConfig& item, const LlamaConfig& user,
                                                                const ModelShapes& shapes);

// What blocks [first, end) keep for the backward of one micro-batch: every block's activations (stored), or
// with every decoder layer recomputed its input only (checkpointed) plus, while one recomputes, the largest
// layer's activations (recomputing; held once, whatever the number of micro-batches in flight).
struct StageActivations {
  double stored = 0;
  double checkpointed = 0;
  double recomputing = 0;
};
StageActivations stage_activation_bytes(const std::vector<BlockCost>& costs, size_t first, size_t end);

}  // namespace hllm::models

namespace hllm::models {

// What a run's shapes depend on besides its batch and dataset (runtime/plan_options.h reads them from a
// config): the samples' shape, the evaluation's batch, the compute dtype and where the layers run.
struct ShapeSettings {
  int64_t max_item_list_len = 10;  // data.max_item_list_len: W = this + 1 items per sequence
  int64_t num_negatives = 256;     // data.num_negatives, per rank
  int64_t eval_batch_size = 32;    // train.eval_batch_size
  bool bf16 = false;               // values of 2 bytes
  bool fused_layer_ops = false;    // the CPU's fused norms and SwiGLU (keep less); false: a GPU's eager ones
};

// The shapes of one data-parallel rank's micro-batch of `micro_batch` sequences (HLLM): W =
// max_item_list_len + 1 items per sequence, at most micro_batch W + num_negatives distinct items of
// prompt + text + [ITEM] tokens (`text_tokens`: the dataset's max_text_len), the negatives of all `dp`
// ranks in the loss. What the pipeline's cut and the planner estimate with.
ModelShapes hllm_micro_batch_shapes(const ShapeSettings& settings, int64_t micro_batch, int dp, int64_t prompt_tokens,
                                    int64_t text_tokens);

// Evaluation encodes the catalogue in chunks of this many items (the same for any world size, so every
// item's embedding is computed the same way).
inline constexpr int64_t kCatalogueChunkItems = 256;

// The shapes of evaluation's work through the blocks (no autograd): a catalogue chunk (of
// kCatalogueChunkItems, or the whole catalogue when it is smaller; 0 = its size unknown) through the Item
// LLM, a batch of eval_batch_size user histories through the User LLM, no negatives.
ModelShapes hllm_evaluation_shapes(const ShapeSettings& settings, int64_t prompt_tokens, int64_t text_tokens,
                                   int64_t catalogue_items);

}  // namespace hllm::models
