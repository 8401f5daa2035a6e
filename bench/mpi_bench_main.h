// The main of the benchmarks that run under mpirun: the heap as hllm_launch keeps it, gflags, MPI, the
// world communicator (released before MPI_Finalize), then `run`.
#pragma once

#include <gflags/gflags.h>

#include "launcher/heap_tuning.h"
#include "launcher/mpi_runtime.h"
#include "parallel/comm/mpi_communicator.h"

namespace hllm::bench {

inline int mpi_bench_main(int argc, char** argv, void (*run)(parallel::Communicator&)) {
  launcher::keep_freed_memory_in_heap();
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  launcher::MpiRuntime mpi(&argc, &argv);
  auto world = parallel::make_mpi_world_communicator();
  run(*world);
  world.reset();
  return 0;
}

}  // namespace hllm::bench
