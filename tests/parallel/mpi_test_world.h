// The world communicator of a test binary run under mpirun (see mpi_test_main.cpp).
#pragma once

#include "parallel/comm/communicator.h"

namespace hllm::parallel::testing {

Communicator& mpi_world();

}  // namespace hllm::parallel::testing
