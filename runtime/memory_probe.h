// Memory of this process and its device, for the engine's reports: on CUDA the caching allocator's counts
// of tensor bytes; on the CPU the process heap in use (glibc's mallinfo2: small blocks plus mmapped large
// ones, where tensors live), which counts the whole process — in a one-rank-per-process run, the rank —
// and the kernel's resident-set counts from /proc/self/status.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace hllm::runtime {

// Bytes allocated now: CUDA's live tensor bytes, or the process heap in use on the CPU.
int64_t allocated_bytes(const at::Device& device);
// The largest allocated_bytes since the process started (CUDA's max allocated); -1 on the CPU, where the
// resident-set high-water mark below is the measure.
int64_t peak_allocated_bytes(const at::Device& device);

// The process's resident set now (VmRSS) and its high-water mark (VmHWM), in bytes; -1 where
// /proc/self/status cannot be read.
int64_t resident_bytes();
int64_t peak_resident_bytes();
// Starts the high-water mark again from the resident set now (Linux: /proc/self/clear_refs), so the peak
// of one phase of a run can be read on its own; false where it cannot.
bool reset_peak_resident();

}  // namespace hllm::runtime
