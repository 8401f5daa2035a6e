#include "runtime/model_save.h"

#include <ATen/ATen.h>

#include <map>

#include "models/hf_weights.h"

namespace hllm::runtime {

void save_model(ModelPlacement& placement, const std::string& path) {
  // Streamed block after block in the chain's order, so no rank ever holds the whole model: under ZeRO-3
  // the ranks of the block's stage gather it, the stage's first data-parallel rank hands the parameters
  // over (rank 0 itself, or a send over the pipeline from a later stage), and the block is sharded again
  // before the next. Rank 0 writes each tensor as it comes (models::save_safetensors_streaming).
  const parallel::Topology& topology = placement.topology();
  const int stage = topology.stage_id();
  const size_t first_block = placement.first_block();
  const auto& specs = placement.parameter_specs();
  const std::map<std::string, at::Tensor> mine(placement.held_parameters().begin(), placement.held_parameters().end());
  parallel::Communicator& stages = topology.device_group(parallel::Group::kPp);
  const auto first_of_block = [&](size_t i) { return i == 0 || specs[i - 1].block != specs[i].block; };
  const auto last_of_block = [&](size_t i) { return i + 1 == specs.size() || specs[i + 1].block != specs[i].block; };
  if (topology.rank() != 0) {
    const bool sender = stage != 0 && topology.dp_index() == 0;  // pipeline 0's later stages send to rank 0
    for (size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].stage != stage) continue;
      if (first_of_block(i)) placement.gather_block(specs[i].block - first_block);
      if (sender) stages.send(mine.at(specs[i].name).detach().contiguous().view({-1}), 0)->wait();
      if (last_of_block(i)) placement.release_block(specs[i].block - first_block);
    }
    return;
  }
  std::vector<models::TensorSpec> tensors;
  for (const auto& spec : specs) tensors.push_back({spec.name, spec.shape, spec.dtype});
  models::save_safetensors_streaming(path, tensors, [&](size_t i) {
    const ModelPlacement::ParameterSpec& spec = specs[i];
    if (spec.stage != 0) {
      at::Tensor t = at::empty(spec.shape, at::TensorOptions(spec.dtype).device(placement.device()));
      stages.recv(t.view({-1}), spec.stage)->wait();
      return t;
    }
    if (first_of_block(i)) placement.gather_block(spec.block);
    at::Tensor t = mine.at(spec.name).detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true);
    if (last_of_block(i)) placement.release_block(spec.block);
    return t;
  });
}

std::vector<at::Tensor> parameter_copies(ModelPlacement& placement) {
  std::map<std::string, at::Tensor> copies;
  const models::Blocks& blocks = placement.blocks();
  for (size_t b = 0; b < blocks.size(); ++b) {
    placement.gather_block(b);
    for (const auto& [name, t] : blocks[b]->parameters()) {
      copies[name] = t.detach().to(at::kCPU, at::kFloat, /*non_blocking=*/false, /*copy=*/true);
    }
    placement.release_block(b);
  }
  std::vector<at::Tensor> out;
  for (const auto& [name, t] : placement.recommender().named_parameters()) {
    const auto it = copies.find(name);
    out.push_back(it != copies.end() ? it->second : at::empty({0}, at::kFloat));
  }
  return out;
}

}  // namespace hllm::runtime
