// What crosses a pipeline stage boundary: one micro-batch's named activations forward, their gradients
// back. Shapes change from micro-batch to micro-batch (distinct items, length buckets), so each message
// carries its own description: the header's length (int64[1]), the header (text: per tensor its name,
// dtype, requires_grad and shape), then every non-empty tensor in name order. Gradients need no header:
// both sides know which tensors require them and their shapes.
//
// Sends are posted, not waited for (PostedSends::wait at the step's end): in 1F1B two neighbours send to
// each other at once (parallel/pipeline/schedule.h). Messages between two ranks match in call order (tag
// 0, which every backend takes). The executor gives activations and gradients communicators of their
// own: NCCL runs a communicator's operations in order on one stream, so on a shared one a send blocked
// on its receiver would hold back a receive in the other direction, and neighbours would deadlock.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <utility>
#include <vector>

#include "models/layered_model.h"
#include "parallel/comm/communicator.h"

namespace hllm::parallel {

// Sends in flight and the buffers they read (kept alive until the send completes).
class PostedSends {
 public:
  void add(WorkHandle work, at::Tensor buffer);
  // Drops the sends that have completed, and their buffers (so a stage does not hold every micro-batch's
  // boundary tensors until the step's end). Also lets the transport progress.
  void release_completed();
  void wait();  // every send complete; then the buffers go
  size_t in_flight() const { return sends_.size(); }

 private:
  std::vector<std::pair<WorkHandle, at::Tensor>> sends_;
};

// Posts every tensor of `activations` to `peer`. Floating tensors that require grad arrive as leaves that
// require grad; booleans travel as uint8.
void send_activations(Communicator& comm, int peer, const models::Activations& activations, PostedSends* posted);
// Blocks until the next micro-batch's activations from `peer` have arrived; tensors on `device`.
models::Activations recv_activations(Communicator& comm, int peer, const c10::Device& device);

// Posts the gradients of `received`'s tensors that require grad (zeros for one that got none).
void send_gradients(Communicator& comm, int peer, const models::Activations& received, PostedSends* posted);
// Receives the gradients for `sent`'s tensors that require grad: (tensor, its gradient) pairs, ready for
// torch::autograd::backward.
std::vector<std::pair<at::Tensor, at::Tensor>> recv_gradients(Communicator& comm, int peer,
                                                              const models::Activations& sent);

}  // namespace hllm::parallel
