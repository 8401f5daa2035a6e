#include "parallel/comm/thread_communicator.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <mutex>

#include "common/error.h"
#include "parallel/comm/gather_uneven.h"
#include "tests/parallel/collective_checks.h"

namespace hllm::parallel {
namespace {

class ThreadCommunicatorTest : public ::testing::TestWithParam<int> {};

TEST_P(ThreadCommunicatorTest, EveryCollectiveMatchesLocalExpectation) {
  run_thread_ranks(GetParam(), [](Communicator& comm) { testing::check_everything(comm); });
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, ThreadCommunicatorTest, ::testing::Values(1, 2, 3, 4));

TEST(ThreadCommunicator, MismatchedCollectivesAreReportedNotHung) {
  EXPECT_THROW(run_thread_ranks(2,
                                [](Communicator& comm) {
                                  at::Tensor t = at::ones({4});
                                  if (comm.rank() == 0) {
                                    comm.all_reduce(t, ReduceOp::kSum)->wait();
                                  } else {
                                    comm.broadcast(t, 0)->wait();
                                  }
                                }),
               Error);
}

// Ranks gathering different element types (a bf16 rank and a float32 one) is a bug that MPI and NCCL
// would turn into garbage bytes; the thread backend names it.
TEST(ThreadCommunicator, RanksWithDifferentDtypesAreReported) {
  try {
    run_thread_ranks(2, [](Communicator& comm) {
      const at::Tensor mine = at::ones({2}, comm.rank() == 0 ? at::kFloat : at::kBFloat16);
      at::Tensor all = at::empty({4}, mine.options());
      comm.all_gather_v(mine, all, {2, 2})->wait();
    });
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("BFloat16"), std::string::npos) << e.what();
  }
}

TEST(ThreadCommunicator, FailingRankAbortsPeersInsteadOfHanging) {
  try {
    run_thread_ranks(3, [](Communicator& comm) {
      if (comm.rank() == 1) throw Error("rank 1 failed on purpose");
      comm.barrier()->wait();  // ranks 0 and 2 would wait forever for rank 1
    });
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "rank 1 failed on purpose");
  }
}

TEST(ThreadCommunicator, IsCompletedBecomesTrueOnceAllRanksPosted) {
  run_thread_ranks(2, [](Communicator& comm) {
    at::Tensor t = at::ones({8});
    auto work = comm.all_reduce(t, ReduceOp::kSum);
    while (!work->is_completed()) {
    }
    work->wait();
    EXPECT_TRUE(at::equal(t, at::full({8}, 2.0f)));
  });
}

TEST(ThreadCommunicator, RecvOfWrongSizeNamesBothSizes) {
  try {
    run_thread_ranks(2, [](Communicator& comm) {
      if (comm.rank() == 0) comm.send(at::ones({10}), 1, 0)->wait();
      if (comm.rank() == 1) comm.recv(at::zeros({5}), 0, 0)->wait();
    });
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("recv on rank 1 of 2"), std::string::npos) << message;
    EXPECT_NE(message.find("10 elements"), std::string::npos) << message;
  }
}

}  // namespace
// Each rank's own amount, on every rank in rank order, an empty one included.
TEST(GatherUneven, StringsAndListsOfEveryLength) {
  std::vector<std::vector<std::string>> strings(3);
  std::vector<std::vector<std::vector<int64_t>>> lists(3);
  std::mutex mutex;
  run_thread_ranks(3, [&](Communicator& comm) {
    const int r = comm.rank();
    auto s = all_gather_strings(comm, std::string(static_cast<size_t>(r), static_cast<char>('a' + r)));
    auto l = all_gather_lists(comm, std::vector<int64_t>(static_cast<size_t>(2 - r), 10 * r));
    std::lock_guard<std::mutex> lock(mutex);
    strings[r] = std::move(s);
    lists[r] = std::move(l);
  });
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(strings[r], (std::vector<std::string>{"", "b", "cc"})) << "rank " << r;
    EXPECT_EQ(lists[r], (std::vector<std::vector<int64_t>>{{0, 0}, {10}, {}})) << "rank " << r;
  }
}

}  // namespace hllm::parallel
