// Model-state bytes per rank for each ZeRO stage, as this trainer holds them (so the planner's estimate and
// the run's measurement can be compared): compute-dtype parameters (4 bytes float32, 2 bfloat16),
// float32 gradients where they are accumulated, float32 master weights under bf16, and Adam's two float32
// moments. Per parameter, with v the compute bytes, m = 4 under bf16 (masters) else 0, and N = dp:
//   stage 0  v + 4 + (8 + m)                 (bf16: gradients are added into float32 master gradients)
//   stage 1  v + v + 4/N + (8 + m)/N         (full gradients accumulate in the compute dtype over the
//                                             micro-batches, then are reduce-scattered into float32 shards)
//   stage 2  v + 4/N + (8 + m)/N
//   stage 3  v/N + 4/N + (8 + m)/N
// ZeRO's paper (fp16 gradients, no float32 gradient shard) has 16Ψ, 4Ψ + 12Ψ/N, 2Ψ + 14Ψ/N and 16Ψ/N;
// this trainer's float32 gradient shards cost 2Ψ/N more (exact accumulation over micro-batches). Padding
// of the flat buffers (alignment, a multiple of N) is not counted.
#pragma once

#include <cstdint>

namespace hllm::parallel::zero {

struct ModelStateBytes {
  double parameters = 0;
  double gradients = 0;
  double optimizer = 0;  // master weights + Adam moments
  double total() const { return parameters + gradients + optimizer; }
};

ModelStateBytes model_state_bytes(int stage, double parameters, int dp, bool bf16);

}  // namespace hllm::parallel::zero
