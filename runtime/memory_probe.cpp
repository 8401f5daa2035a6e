#include "runtime/memory_probe.h"

#include <malloc.h>

#ifdef HLLM_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace hllm::runtime {

int64_t allocated_bytes(const at::Device& device) {
#ifdef HLLM_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return stats.allocated_bytes[0].current;  // [0]: the aggregate over pool kinds
  }
#endif
  (void)device;
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks + info.hblkhd);
}

}  // namespace hllm::runtime
