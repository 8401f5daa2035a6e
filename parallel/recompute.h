// Activation checkpointing of one block: its forward runs without recording a graph, so nothing of it is
// kept but its inputs (the activations it read, which the previous block produced anyway) and its
// outputs; the backward runs the forward again with the graph on, then differentiates it. The result is
// the gradient of the stored-activation path, at the price of a second forward.
#pragma once

#include <functional>

#include "models/layered_model.h"

namespace hllm::parallel {

// Runs `block` on `activations` with recomputation. `before_recompute` runs at the start of the backward,
// before the forward is run again (ZeRO-3 gathers the block's parameters there); may be empty.
void recomputed_forward(const models::Block& block, models::Activations& activations,
                        std::function<void()> before_recompute);

}  // namespace hllm::parallel
