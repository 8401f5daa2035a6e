// Bytes allocated now on a device, for the engine's memory report: on CUDA the caching allocator's count
// of live tensor bytes; on the CPU the process heap in use (glibc's mallinfo2: small blocks plus mmapped
// large ones, where tensors live), which counts the whole process — in a one-rank-per-process run, the rank.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace hllm::runtime {

int64_t allocated_bytes(const at::Device& device);

}  // namespace hllm::runtime
