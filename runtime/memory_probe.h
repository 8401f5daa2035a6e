// Memory of this process and its device, for the run's reports: on CUDA the caching allocator's counts
// of tensor bytes; on the CPU the host caching allocator's (runtime/host_caching_allocator.h), or without
// it the process heap in use (glibc's mallinfo2), which counts the whole process — in a
// one-rank-per-process run, the rank — and the kernel's resident-set counts from /proc/self/status.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace hllm::runtime {

// Bytes allocated now: CUDA's live tensor bytes, or the process heap in use on the CPU.
int64_t allocated_bytes(const at::Device& device);
// The largest allocated_bytes since the process started or the last reset_peak_allocated (CUDA's max
// allocated, or the host caching allocator's peak); -1 on the CPU without that allocator.
int64_t peak_allocated_bytes(const at::Device& device);

// Starts peak_allocated_bytes again from the bytes allocated now (CUDA: resetPeakStats).
void reset_peak_allocated(const at::Device& device);

// The process's resident set now (VmRSS) and its high-water mark (VmHWM), in bytes; -1 where
// /proc/self/status cannot be read.
int64_t resident_bytes();
int64_t peak_resident_bytes();
// Starts the high-water mark again from the resident set now (Linux: /proc/self/clear_refs), so the peak
// of one phase of a run can be read on its own; false where it cannot.
bool reset_peak_resident();

}  // namespace hllm::runtime
