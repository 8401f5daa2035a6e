// all_gather with gradient: the forward concatenates every rank's rows, the backward hands each rank the
// sum over ranks of the gradient of its own rows (a reduce_scatter). HLLM gathers its negatives across the
// data-parallel group with it, so every rank's loss sees every rank's negatives and trains them.
#pragma once

#include <ATen/core/Tensor.h>

#include "parallel/comm/communicator.h"

namespace hllm::parallel {

// Collective over `comm`, in the forward and again in the backward. x: [N, ...] with the same shape on
// every rank. Returns [size() * N, ...], rank r's rows at [r N, (r + 1) N).
at::Tensor all_gather_with_grad(Communicator& comm, const at::Tensor& x);

}  // namespace hllm::parallel
