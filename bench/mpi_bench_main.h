// The main of the benchmarks that run under mpirun: host memory as hllm_launch allocates it, gflags, MPI, the
// world communicator (released before MPI_Finalize), then `run`.
#pragma once

#include <gflags/gflags.h>

#include "runtime/host_caching_allocator.h"
#include "launcher/mpi_runtime.h"
#include "parallel/comm/mpi_communicator.h"

namespace hllm::bench {

inline int mpi_bench_main(int argc, char** argv, void (*run)(parallel::Communicator&)) {
  runtime::install_host_caching_allocator();
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  launcher::MpiRuntime mpi(&argc, &argv);
  auto world = parallel::make_mpi_world_communicator();
  run(*world);
  world.reset();
  return 0;
}

}  // namespace hllm::bench
