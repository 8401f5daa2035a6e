#include "runtime/memory_probe.h"

#include <malloc.h>

#include <fstream>
#include <sstream>
#include <string>

#include "runtime/host_caching_allocator.h"

#ifdef HLLM_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace hllm::runtime {
namespace {

// A "Key:   123 kB" line of /proc/self/status, in bytes.
int64_t status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, key.size(), key) != 0 || line.size() <= key.size() || line[key.size()] != ':') continue;
    std::istringstream fields(line.substr(key.size() + 1));
    int64_t kib = -1;
    fields >> kib;
    return kib < 0 ? -1 : kib * 1024;
  }
  return -1;
}

}  // namespace

int64_t allocated_bytes(const at::Device& device) {
#ifdef HLLM_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return stats.allocated_bytes[0].current;  // [0]: the aggregate over pool kinds
  }
#endif
  (void)device;
  if (host_caching_allocator_installed()) return host_memory_stats().allocated_bytes;
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks + info.hblkhd);
}

int64_t peak_allocated_bytes(const at::Device& device) {
#ifdef HLLM_WITH_CUDA
  if (device.is_cuda()) {
    return c10::cuda::CUDACachingAllocator::getDeviceStats(device.index()).allocated_bytes[0].peak;
  }
#endif
  (void)device;
  return host_caching_allocator_installed() ? host_memory_stats().peak_allocated_bytes : -1;
}

void reset_peak_allocated(const at::Device& device) {
#ifdef HLLM_WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
    return;
  }
#endif
  (void)device;
  reset_host_memory_peaks();
}

int64_t resident_bytes() { return status_bytes("VmRSS"); }
int64_t peak_resident_bytes() { return status_bytes("VmHWM"); }

bool reset_peak_resident() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";  // 5: reset the peak resident set size (proc(5))
  out.flush();
  return out.good();
}

}  // namespace hllm::runtime
