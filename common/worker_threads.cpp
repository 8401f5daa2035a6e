#include "common/worker_threads.h"

#include <exception>
#include <thread>
#include <vector>

namespace hllm {

void run_on_threads(size_t workers, const std::function<void(size_t worker)>& work) {
  std::vector<std::exception_ptr> failures(workers == 0 ? 1 : workers);
  const auto guarded = [&](size_t w) {
    try {
      work(w);
    } catch (...) {
      failures[w] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  std::exception_ptr start_failure;
  try {
    for (size_t w = 1; w < workers; ++w) pool.emplace_back(guarded, w);
  } catch (...) {
    start_failure = std::current_exception();  // joined below, then rethrown
  }
  if (!start_failure) guarded(0);
  for (auto& thread : pool) thread.join();
  if (start_failure) std::rethrow_exception(start_failure);
  for (const auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
}

}  // namespace hllm
