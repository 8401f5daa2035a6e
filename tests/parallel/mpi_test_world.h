// The world communicator of a test binary run under mpirun (see mpi_test_main.cpp).
#pragma once

#include "parallel/comm/communicator.h"

namespace hllm::parallel::testing {

Communicator& mpi_world();

// comm.timeout_s of these tests: a collective without progress this long fails, and the test main then
// ends the job (a test that changes the timeout puts this back).
inline constexpr double kCollectiveTimeoutSeconds = 60;

}  // namespace hllm::parallel::testing
