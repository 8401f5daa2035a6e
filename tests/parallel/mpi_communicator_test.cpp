// Run by ctest under `mpirun -np 2` and `-np 4`.
#include "parallel/comm/mpi_communicator.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "common/error.h"
#include "parallel/comm/broadcast_string.h"
#include "parallel/comm/flight_recorder.h"
#include "parallel/comm/recorded_communicator.h"
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

TEST(MpiCommunicator, AllReduceInPiecesGivesTheSameResults) {
  // 52-byte pieces: every all_reduce of the checks is split, with a short last piece.
  MpiOptions options;
  options.all_reduce_piece_bytes = 52;
  auto comm = make_mpi_world_communicator(options);
  testing::check_all_reduce(*comm);
  testing::check_many_in_flight(*comm);
}

TEST(MpiCommunicator, NodeCommunicatorCoversTheLocalRanks) {
  auto node = make_mpi_node_communicator(mpi_world());
  // mpirun in ctest starts every rank on this machine.
  EXPECT_EQ(node->size(), mpi_world().size());
  EXPECT_EQ(node->rank(), mpi_world().rank());
}

TEST(MpiCommunicator, MpiErrorNamesTheCallAndRank) {
  // A negative tag is rejected by MPI itself (MPI_ERR_TAG) before anything is sent. (A truncated
  // receive would be a better transport error, but MPI leaves the communicator undefined after it.)
  Communicator& world = mpi_world();
  try {
    world.send(at::ones({4}), (world.rank() + 1) % world.size(), -5);
    ADD_FAILURE() << "MPI accepted a negative tag";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("MPI_Isend failed on rank " + std::to_string(world.rank()) + " of "), std::string::npos)
        << message;
    EXPECT_NE(message.find("tag"), std::string::npos) << message;
  }
  world.barrier()->wait();
}

// A collective that one rank joins late fails on the others after comm.timeout_s, naming the operation
// and the rank, instead of waiting forever.
TEST(MpiCommunicator, ACollectiveWithoutProgressTimesOut) {
  Communicator& world = mpi_world();
  set_mpi_timeout_seconds(0.3);
  at::Tensor t = at::ones({4});
  if (world.rank() == world.size() - 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // late, but it comes
    world.all_reduce(t, ReduceOp::kSum)->wait();
  } else {
    auto work = world.all_reduce(t, ReduceOp::kSum);
    try {
      work->wait();
      ADD_FAILURE() << "a collective without progress did not time out";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("all_reduce on rank " + std::to_string(world.rank())), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("no progress for 0.3 s"), std::string::npos) << e.what();
    }
    set_mpi_timeout_seconds(testing::kCollectiveTimeoutSeconds);
    work->wait();  // the late rank arrives: the operation completes
  }
  set_mpi_timeout_seconds(testing::kCollectiveTimeoutSeconds);
  world.barrier()->wait();
}

// With every rank's flight recorder writing to a shared folder, the timeout also names the rank that held
// the others up: here the last one, running but not yet in the collective.
TEST(MpiCommunicator, ATimeoutNamesTheRankTheFlightRecordersPointTo) {
  Communicator& plain = mpi_world();
  std::string dir = plain.rank() == 0 ? std::filesystem::temp_directory_path() /
                                            ("hllm_mpi_flight_" + std::to_string(::getpid()))
                                      : std::filesystem::path();
  dir = broadcast_string(plain, dir, 0);
  auto recorder = std::make_shared<FlightRecorder>(plain.rank(), plain.size(), "host" + std::to_string(plain.rank()), 64);
  recorder->start_writing(dir, 0.1);
  auto world = record_world(plain, recorder);
  world->barrier()->wait();  // collective #0; the all_reduce below is #1
  const int late = plain.size() - 1;
  set_mpi_timeout_seconds(1.0);
  at::Tensor t = at::ones({4});
  if (plain.rank() == late) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3000));
    world->all_reduce(t, ReduceOp::kSum)->wait();
  } else {
    auto work = world->all_reduce(t, ReduceOp::kSum);
    try {
      work->wait();
      ADD_FAILURE() << "a collective without progress did not time out";
    } catch (const CommTimeoutError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("the flight recorder (" + dir + ") says:"), std::string::npos) << message;
      EXPECT_NE(message.find("rank " + std::to_string(late) + " on host" + std::to_string(late) +
                             ": running, but it has not started all_reduce #1 on world"),
                std::string::npos)
          << message;
    }
    set_mpi_timeout_seconds(testing::kCollectiveTimeoutSeconds);
    work->wait();
  }
  set_mpi_timeout_seconds(testing::kCollectiveTimeoutSeconds);
  world->barrier()->wait();
  world.reset();
  recorder.reset();  // its writer stops, after a last write
  plain.barrier()->wait();
  std::error_code ignored;
  if (plain.rank() == 0) std::filesystem::remove_all(dir, ignored);
}

// Run only by the mpi_fail_fast test (--gtest_also_run_disabled_tests), which expects the job to fail
// well before its timeout: rank 1 fails fatally while the others wait for it in a barrier that it never
// reaches; the test main ends every rank at once.
TEST(DISABLED_FailFast, AFatalFailureOnOneRankEndsTheJob) {
  if (mpi_world().rank() == 1) {
    ASSERT_TRUE(false) << "rank 1 fails on purpose";
  }
  mpi_world().barrier()->wait();
}

}  // namespace
}  // namespace hllm::parallel
