// Built when HLLM_WITH_CUDA is on; run by ctest on a machine with a GPU. One process drives one GPU
// (NCCL refuses two ranks on one device), so this checks the NCCL backend at world size 1 plus its
// argument checks; the multi-rank logic is covered by the thread and MPI tests of the same checks.
#include "parallel/comm/nccl_communicator.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "parallel/comm/thread_communicator.h"
#include "tests/parallel/collective_checks.h"

namespace hllm::parallel {
namespace {

TEST(NcclCommunicator, EveryCollectiveOnOneGpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  auto bootstrap = make_thread_communicators(1);
  auto nccl = make_nccl_communicator(*bootstrap[0], 0);
  EXPECT_EQ(nccl->backend_name(), "nccl");
  testing::check_everything(*nccl, at::Device(at::kCUDA, 0));
}

TEST(NcclCommunicator, RejectsCpuTensorsAndTags) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  auto bootstrap = make_thread_communicators(1);
  auto nccl = make_nccl_communicator(*bootstrap[0], 0);
  EXPECT_THROW(nccl->all_reduce(at::ones({4}), ReduceOp::kSum), Error);
  EXPECT_THROW(nccl->send(at::ones({4}, at::kCUDA), 0, 3), Error);
}

}  // namespace
}  // namespace hllm::parallel
