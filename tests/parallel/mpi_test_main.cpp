// main() of tests that run under mpirun: MPI up before the tests, down after; only rank 0 prints the
// usual gtest report, other ranks print their failures. Each rank exits non-zero if any test failed on
// it, which makes mpirun (and so ctest) fail.
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
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (result.failed()) {
      std::cerr << "[rank " << rank_ << "] " << (result.file_name() ? result.file_name() : "?") << ":"
                << result.line_number() << ": " << result.summary() << std::endl;
    }
  }

 private:
  int rank_;
};

}  // namespace

Communicator& mpi_world() { return *g_world; }

}  // namespace hllm::parallel::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  hllm::launcher::MpiRuntime mpi(&argc, &argv);
  auto world = hllm::parallel::make_mpi_world_communicator();
  hllm::parallel::testing::g_world = world.get();
  if (world->rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new hllm::parallel::testing::FailurePrinter(world->rank()));
  }
  const int result = RUN_ALL_TESTS();
  world->barrier()->wait();
  world.reset();
  return result;
}
