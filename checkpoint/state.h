// What a checkpoint holds: named global tensors, each stored as pieces (runs of its flattened elements),
// plus JSON scalars. A component that has state describes it as StatePieces — views into its live
// tensors — so saving writes them and loading fills them in place, whatever the layout that wrote the
// checkpoint: ZeRO shards, whole replicas and pipeline stages are all just pieces of the same global
// tensors, and checkpoint/ needs no change when a component is added.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hllm::checkpoint {

struct StatePiece {
  std::string name;            // e.g. "param.item.model.layers.0.self_attn.q_proj.weight", "adam.m.<...>"
  std::vector<int64_t> shape;  // of the global tensor
  int64_t offset = 0;          // first element of the piece in the flattened global tensor
  at::Tensor values;           // 1-D, contiguous, on any device; float32, bfloat16 or float64
};

struct CheckpointContent {
  std::vector<StatePiece> pieces;  // this rank's
  nlohmann::json scalars;          // the same on every rank (rank 0's are stored)
};

}  // namespace hllm::checkpoint
