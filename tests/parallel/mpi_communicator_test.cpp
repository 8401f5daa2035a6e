// Run by ctest under `mpirun -np 2` and `-np 4`.
#include "parallel/comm/mpi_communicator.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "tests/parallel/collective_checks.h"
#include "tests/parallel/mpi_test_world.h"

namespace hllm::parallel {
namespace {

using testing::mpi_world;

TEST(MpiCommunicator, AllReduce) { testing::check_all_reduce(mpi_world()); }
TEST(MpiCommunicator, AllGather) { testing::check_all_gather(mpi_world()); }
TEST(MpiCommunicator, AllGatherUneven) { testing::check_all_gather_uneven(mpi_world()); }
TEST(MpiCommunicator, ReduceScatter) { testing::check_reduce_scatter(mpi_world()); }
TEST(MpiCommunicator, Broadcast) { testing::check_broadcast(mpi_world()); }
TEST(MpiCommunicator, SendRecv) { testing::check_send_recv(mpi_world()); }
TEST(MpiCommunicator, Barrier) { testing::check_barrier(mpi_world()); }
TEST(MpiCommunicator, Split) { testing::check_split(mpi_world()); }
TEST(MpiCommunicator, ManyInFlight) { testing::check_many_in_flight(mpi_world()); }
TEST(MpiCommunicator, ArgumentErrors) { testing::check_argument_errors(mpi_world()); }

TEST(MpiCommunicator, NodeCommunicatorCoversTheLocalRanks) {
  auto node = make_mpi_node_communicator(mpi_world());
  // mpirun in ctest starts every rank on this machine.
  EXPECT_EQ(node->size(), mpi_world().size());
  EXPECT_EQ(node->rank(), mpi_world().rank());
}

TEST(MpiCommunicator, TransportErrorNamesTheOperationAndRank) {
  Communicator& world = mpi_world();
  if (world.size() < 2) GTEST_SKIP() << "needs two ranks";
  // Rank 0 sends 10 elements; rank 1 posts a 5-element receive: MPI reports truncation.
  if (world.rank() == 0) world.send(at::ones({10}), 1, 77)->wait();
  if (world.rank() == 1) {
    try {
      world.recv(at::zeros({5}), 0, 77)->wait();
      ADD_FAILURE() << "a truncated receive did not throw";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("recv on rank 1 of"), std::string::npos) << message;
      EXPECT_NE(message.find("MPI_Waitall"), std::string::npos) << message;
    }
  }
  world.barrier()->wait();
}

}  // namespace
}  // namespace hllm::parallel
