// main() of tests that run under mpirun: MPI up before the tests, down after; only rank 0 prints the
// usual gtest report, other ranks print their failures. Each rank exits non-zero if any test failed on
// it, which makes mpirun (and so ctest) fail. Failing fast: a fatal failure (ASSERT_*) on any rank ends the
// whole job at once (its peers may wait in a collective that rank left), and a collective that makes no
// progress for kCollectiveTimeoutSeconds aborts the job instead of waiting for ctest's timeout.
#include <gtest/gtest.h>

#include <iostream>

#include "launcher/mpi_runtime.h"
#include "parallel/comm/mpi_communicator.h"
#include "tests/parallel/mpi_test_world.h"

namespace hllm::parallel::testing {
namespace {

Communicator* g_world = nullptr;

class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  FailurePrinter(int rank, bool print_all) : rank_(rank), print_all_(print_all) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    if (print_all_ || result.fatally_failed()) {
      std::cerr << "[rank " << rank_ << "] " << (result.file_name() ? result.file_name() : "?") << ":"
                << result.line_number() << ": " << result.summary() << std::endl;
    }
    if (result.fatally_failed()) {
      std::cerr << "[rank " << rank_ << "] a fatal failure: ending every rank now" << std::endl;
      hllm::launcher::MpiRuntime::abort_job(1);
    }
  }

 private:
  int rank_;
  bool print_all_;  // rank 0's gtest printer reports its failures itself
};

}  // namespace

Communicator& mpi_world() { return *g_world; }

}  // namespace hllm::parallel::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  hllm::launcher::MpiRuntime mpi(&argc, &argv);
  hllm::parallel::set_mpi_timeout_seconds(hllm::parallel::testing::kCollectiveTimeoutSeconds);
  auto world = hllm::parallel::make_mpi_world_communicator();
  hllm::parallel::testing::g_world = world.get();
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (world->rank() != 0) delete listeners.Release(listeners.default_result_printer());
  listeners.Append(new hllm::parallel::testing::FailurePrinter(world->rank(), world->rank() != 0));
  const int result = RUN_ALL_TESTS();
  world->barrier()->wait();
  world.reset();
  return result;
}
