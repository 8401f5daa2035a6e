#include "models/layered_model.h"

#include <algorithm>

namespace hllm::models {

void run_blocks(const Blocks& blocks, Activations& activations, size_t first, size_t end) {
  end = std::min(end, blocks.size());
  for (size_t i = first; i < end; ++i) blocks[i]->forward(activations);
}

BlockCost total_cost(const Blocks& blocks, const ModelShapes& shapes) {
  BlockCost total;
  for (const auto& block : blocks) {
    const BlockCost c = block->cost(shapes);
    total.forward_flops += c.forward_flops;
    total.parameters += c.parameters;
    total.activation_bytes += c.activation_bytes;
  }
  return total;
}

}  // namespace hllm::models
