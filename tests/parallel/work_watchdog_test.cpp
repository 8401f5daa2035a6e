// WorkWatchdog (the deadline of NCCL operations): an operation that never completes is reported once with
// its context after the timeout (by default the process aborts saying so); completed ones and failed ones
// (which report themselves) never are.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "parallel/comm/work_watchdog.h"

namespace hllm::parallel {
namespace {

// A Work whose completion the test decides; is_completed() is called from the watchdog's thread.
class ScriptedWork : public Work {
 public:
  void wait() override {}
  bool is_completed() override {
    if (fail) throw Error("the transport failed");
    return done.load();
  }
  std::atomic<bool> done{false};
  std::atomic<bool> fail{false};
};

struct Reports {
  std::mutex mutex;
  std::vector<std::string> contexts;
  size_t count() {
    const std::lock_guard<std::mutex> lock(mutex);
    return contexts.size();
  }
};

// Waits (up to a generous bound, so a slow machine cannot fail it) until `done()` holds.
template <typename F>
bool eventually(F done) {
  for (int i = 0; i < 1000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

TEST(WorkWatchdog, AHungOperationIsReportedOnceWithItsContext) {
  Reports reports;
  WorkWatchdog dog(0.05, [&](const std::string& context, double seconds) {
    EXPECT_DOUBLE_EQ(seconds, 0.05);
    const std::lock_guard<std::mutex> lock(reports.mutex);
    reports.contexts.push_back(context);
  }, 0.01);
  auto hung = std::make_shared<ScriptedWork>();
  dog.watch("all_reduce on rank 1 of 4 (nccl)", hung);
  ASSERT_TRUE(eventually([&] { return reports.count() == 1; }));
  EXPECT_EQ(reports.contexts.front(), "all_reduce on rank 1 of 4 (nccl)");
  EXPECT_EQ(dog.pending(), 0u) << "reported once, then dropped";
}

TEST(WorkWatchdog, CompletedAndFailedOperationsAreNeverReported) {
  Reports reports;
  {
    WorkWatchdog dog(0.2, [&](const std::string& context, double) {
      const std::lock_guard<std::mutex> lock(reports.mutex);
      reports.contexts.push_back(context);
    }, 0.01);
    auto quick = std::make_shared<ScriptedWork>(), failed = std::make_shared<ScriptedWork>();
    quick->done = true;
    failed->fail = true;
    dog.watch("broadcast", quick);
    dog.watch("send", failed);
    auto later = std::make_shared<ScriptedWork>();
    dog.watch("recv", later);
    later->done = true;  // completes before its deadline
    ASSERT_TRUE(eventually([&] { return dog.pending() == 0; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past every deadline
  }  // the watchdog stops and joins its thread
  EXPECT_EQ(reports.count(), 0u);
}

// What the launcher uses: the process ends (mpirun then ends the job), saying which operation hung.
TEST(WorkWatchdogDeathTest, TheDefaultHandlerAbortsNamingTheOperation) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        WorkWatchdog dog(0.05);
        dog.watch("all_gather on rank 2 of 8 (nccl)", std::make_shared<ScriptedWork>());
        std::this_thread::sleep_for(std::chrono::seconds(30));
      },
      "all_gather on rank 2 of 8 \\(nccl\\): no progress for 0.05 s \\(comm.timeout_s\\)");
}

TEST(WorkWatchdog, RefusesANonPositiveTimeout) {
  EXPECT_THROW(WorkWatchdog(0.0, [](const std::string&, double) {}), Error);
}

}  // namespace
}  // namespace hllm::parallel
