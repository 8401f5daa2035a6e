// The global gradient norm, clipping and the finite check, once for both optimizers. `grads` are this
// rank's gradient tensors: either whole gradients, the same on every data-parallel rank after averaging
// (ReplicatedOptimizer; `shards` null), or this rank's ZeRO shards (ZeroOptimizer; `shards` the
// data-parallel group whose shards together make the gradients: squares and flags are summed over it).
// `pipeline`, when given, adds the other stages'. Each reads the device once per call (one host
// synchronisation per step, not one per tensor). Collective over `shards` and `pipeline`.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "parallel/comm/communicator.h"

namespace hllm::runtime {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// L2 norm of all gradients together. When max_norm > 0 and the norm exceeds it, the gradients are scaled
// in place to max_norm. Returns the norm before clipping. A stage whose rank holds no gradient still joins
// the pipeline's sum. With `group_of` (an index below `group_norms->size()` per gradient), the norm of
// each group's gradients too, before clipping, in the same reductions.
double clip_gradients(const std::vector<at::Tensor>& grads, double max_norm, parallel::Communicator* shards,
                      parallel::Communicator* pipeline, const std::vector<int>* group_of = nullptr,
                      std::vector<double>* group_norms = nullptr);

// The tower a parameter belongs to, among `towers` (models::TowerSize names): the one its name starts
// with ("item.…"), else the last (HLLM's logit_scale counts in the user tower; a one-tower model has all).
int tower_of(const std::string& parameter, const std::vector<std::string>& towers);
// True when every gradient is finite on every rank of `shards` and every stage of `pipeline`.
bool gradients_finite(const std::vector<at::Tensor>& grads, parallel::Communicator* shards,
                      parallel::Communicator* pipeline);

// Replicated parameters: the gradients they have (a parameter without one counts as zero).
std::vector<at::Tensor> gradients_of(const NamedTensors& parameters);
inline double clip_gradient_norm(const NamedTensors& parameters, double max_norm,
                                 parallel::Communicator* pipeline = nullptr) {
  return clip_gradients(gradients_of(parameters), max_norm, nullptr, pipeline);
}
inline bool gradients_finite(const NamedTensors& parameters, parallel::Communicator* pipeline = nullptr) {
  return gradients_finite(gradients_of(parameters), nullptr, pipeline);
}

}  // namespace hllm::runtime
