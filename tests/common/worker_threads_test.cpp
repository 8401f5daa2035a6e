// run_on_threads: every worker runs once, all are joined before it returns, and a worker's exception
// reaches the caller instead of terminating the process.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <vector>

#include "common/worker_threads.h"

namespace hllm {
namespace {

TEST(WorkerThreads, EveryWorkerRunsOnceAndIsJoined) {
  for (const size_t workers : {size_t{0}, size_t{1}, size_t{7}}) {
    std::vector<int> ran(std::max<size_t>(workers, 1), 0);
    run_on_threads(workers, [&](size_t w) { ++ran[w]; });
    EXPECT_EQ(ran, std::vector<int>(std::max<size_t>(workers, 1), 1)) << workers;
  }
}

TEST(WorkerThreads, AWorkersExceptionReachesTheCallerAfterTheOthersFinish) {
  std::atomic<int> finished{0};
  EXPECT_THROW(run_on_threads(4,
                              [&](size_t w) {
                                if (w == 2) throw std::runtime_error("worker 2");
                                ++finished;
                              }),
               std::runtime_error);
  EXPECT_EQ(finished.load(), 3);
}

}  // namespace
}  // namespace hllm
