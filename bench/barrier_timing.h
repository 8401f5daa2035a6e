// Timing helpers of the multi-rank benchmarks: a span measured from a barrier to a barrier (so it is the
// slowest rank's), and the median of repeated measurements.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include "parallel/comm/communicator.h"

namespace hllm::bench {

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline double timed_between_barriers(parallel::Communicator& world, const std::function<void()>& fn) {
  world.barrier()->wait();
  const auto start = std::chrono::steady_clock::now();
  fn();
  world.barrier()->wait();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace hllm::bench
