// ParallelModel's parameters as a whole: the final save streamed block by block to rank 0, and host
// copies gathered unit by unit.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <map>

#include "models/hf_weights.h"
#include "runtime/parallel_model.h"

namespace hllm::runtime {

void ParallelModel::save(const std::string& path) {
  // Streamed block after block in the chain's order, so no rank ever holds the whole model: under ZeRO-3
  // the ranks of the block's stage gather its unit, the stage's first data-parallel rank hands the
  // parameters over (rank 0 itself, or a send over the pipeline from a later stage), and the unit is freed
  // before the next. Rank 0 writes each tensor as it comes (models::save_safetensors_streaming).
  parallel::zero::BlockRunner* runner = this->runner();
  const int stage = topology_.stage_id();
  const size_t first_block = topology_.pp() > 1 ? cut_.first[stage] : 0;
  std::map<std::string, at::Tensor> mine(owned_.begin(), owned_.end());
  parallel::Communicator& stages = topology_.device_group(parallel::Group::kPp);
  const auto gather = [&](size_t block) {
    if (!runner) return;
    const int64_t unit = runner->unit_of_block(block - first_block);
    if (unit >= 0) runner->gather_unit(static_cast<size_t>(unit));
  };
  const auto release = [&](size_t block) {
    if (!runner) return;
    const int64_t unit = runner->unit_of_block(block - first_block);
    if (unit >= 0) runner->release_unit(static_cast<size_t>(unit));
  };
  const auto last_of_block = [&](size_t i) {
    return i + 1 == parameter_specs_.size() || parameter_specs_[i + 1].block != parameter_specs_[i].block;
  };
  if (topology_.rank() != 0) {
    const bool sender = stage != 0 && topology_.dp_index() == 0;  // pipeline 0's later stages send to rank 0
    for (size_t i = 0; i < parameter_specs_.size(); ++i) {
      const ParameterSpec& spec = parameter_specs_[i];
      if (spec.stage != stage) continue;
      if (i == 0 || parameter_specs_[i - 1].block != spec.block) gather(spec.block);
      if (sender) stages.send(mine.at(spec.name).detach().contiguous().view({-1}), 0)->wait();
      if (last_of_block(i)) release(spec.block);
    }
    return;
  }
  std::vector<models::TensorSpec> specs;
  for (const auto& spec : parameter_specs_) specs.push_back({spec.name, spec.shape, spec.dtype});
  models::save_safetensors_streaming(path, specs, [&](size_t i) {
    const ParameterSpec& spec = parameter_specs_[i];
    if (spec.stage != 0) {
      at::Tensor t = at::empty(spec.shape, at::TensorOptions(spec.dtype).device(device_));
      stages.recv(t.view({-1}), spec.stage)->wait();
      return t;
    }
    if (i == 0 || parameter_specs_[i - 1].block != spec.block) gather(spec.block);
    at::Tensor t = mine.at(spec.name).detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true);
    if (last_of_block(i)) release(spec.block);
    return t;
  });
}

std::vector<at::Tensor> ParallelModel::parameter_copies() {
  parallel::zero::BlockRunner* runner = this->runner();
  std::map<std::string, at::Tensor> copies;
  for (size_t b = 0; b < stage_blocks_.size(); ++b) {
    const int64_t unit = runner ? runner->unit_of_block(b) : -1;
    if (unit >= 0) runner->gather_unit(static_cast<size_t>(unit));
    for (const auto& [name, t] : stage_blocks_[b]->parameters()) {
      copies[name] = t.detach().to(at::kCPU, at::kFloat, /*non_blocking=*/false, /*copy=*/true);
    }
    if (unit >= 0) runner->release_unit(static_cast<size_t>(unit));
  }
  std::vector<at::Tensor> out;
  for (const auto& [name, t] : model_->named_parameters()) {
    const auto it = copies.find(name);
    out.push_back(it != copies.end() ? it->second : at::empty({0}, at::kFloat));
  }
  return out;
}

}  // namespace hllm::runtime
