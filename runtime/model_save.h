// Saving a placed model: functions over a ModelPlacement, so no rank ever holds more than one block of it
// whole beyond what it keeps.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "runtime/model_placement.h"

namespace hllm::runtime {

// model.safetensors with every parameter, streamed block by block to rank 0, which writes it
// (ModelPlacement's `saved_model` reads it back). Collective.
void save_model(ModelPlacement& placement, const std::string& path);

// Host float32 copies of every parameter in the model's order: those this rank's stage holds (under ZeRO-3
// gathered block by block), empty tensors for another stage's. Collective. For tests and small models.
std::vector<at::Tensor> parameter_copies(ModelPlacement& placement);

}  // namespace hllm::runtime
