// Timing a call in one process: one warm-up call, then as many calls as fill `seconds` (at least three);
// the mean time of one.
#pragma once

#include <chrono>

namespace hllm::bench {

template <typename Fn>
double seconds_per_call(Fn fn, double seconds) {
  fn();  // warm-up
  int calls = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    fn();
    ++calls;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds || calls < 3);
  return elapsed / calls;
}

}  // namespace hllm::bench
