// The layered-model interface: a model is an ordered list of Blocks, each owning named parameters, with a
// cost estimate for given shapes and a forward that reads and writes named tensors (Activations). ZeRO
// (one flat buffer per block), pipeline cuts (contiguous ranges of blocks balanced by cost), activation
// checkpointing (per block) and the planner work on this interface without knowing the model.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hllm::models {

// Named tensors flowing from block to block ("item_x", "user_states", "loss", ...).
using Activations = std::map<std::string, at::Tensor>;

// Initial values of a block's parameters by slices, for a model built without them
// (models/parameter_source.h): writes elements [offset, offset + out.numel()) of parameter `name`,
// flattened, into `out` (1-D); false when it has none for `name` (then the tensor's own values are used).
using ParameterFill = std::function<bool(const std::string& name, int64_t offset, const at::Tensor& out)>;

// The shapes of one micro-batch, for cost estimates.
struct ModelShapes {
  int64_t items = 0;            // distinct items the Item LLM encodes (U)
  int64_t item_tokens = 0;      // tokens per item: prompt + text + [ITEM] (T)
  int64_t sequences = 0;        // user sequences (B)
  int64_t sequence_length = 0;  // items per sequence (W = S + 1)
  int64_t negatives = 0;        // negatives after gathering (N)
  int64_t bytes_per_value = 4;  // compute dtype: 4 float32, 2 bfloat16
  bool fused_layer_ops = false;  // the CPU's fused norms and SwiGLU (keep less); false: a GPU's eager ones
};

struct BlockCost {
  double forward_flops = 0;      // one forward; a backward costs about twice that
  int64_t parameters = 0;        // elements
  int64_t activation_bytes = 0;  // kept for the backward when the block is not recomputed
  int64_t input_bytes = 0;       // a recomputable block (a decoder layer): its input, what checkpointing keeps
  int64_t inference_bytes = 0;   // the most its forward without autograd holds at once; 0: activation_bytes
};

class Block {
 public:
  virtual ~Block() = default;
  virtual const std::string& name() const = 0;
  // The tensors this block owns, by name, in a fixed order (the same tensors the model uses).
  virtual std::vector<std::pair<std::string, at::Tensor>> parameters() const = 0;
  virtual BlockCost cost(const ModelShapes& shapes) const = 0;
  // Reads its inputs from `activations` and writes its outputs there.
  virtual void forward(Activations& activations) const = 0;
  // A decoder layer's index within its tower, what activation checkpointing recomputes; -1 for any other
  // block (embeddings, norms and the loss are cheap to keep, and the loss communicates).
  virtual int decoder_layer() const { return -1; }
};

using Blocks = std::vector<std::unique_ptr<Block>>;

// Runs blocks [first, end) in order.
void run_blocks(const Blocks& blocks, Activations& activations, size_t first = 0, size_t end = SIZE_MAX);

// Total cost of all blocks.
BlockCost total_cost(const Blocks& blocks, const ModelShapes& shapes);

}  // namespace hllm::models
