// MpiCommunicator: the Communicator over an MPI communicator, for CPU tensors. Every operation maps to
// MPI's non-blocking call (MPI_Iallreduce, MPI_Iallgatherv, ...) and returns a Work that owns the request
// and keeps the buffers alive. Errors are returned by MPI (MPI_ERRORS_RETURN) and thrown as hllm::Error
// naming the MPI call and the rank. MPI must be initialised (launcher/mpi_runtime.h) with
// MPI_THREAD_MULTIPLE if several threads use communicators.
#pragma once

#include <cstdint>
#include <memory>

#include "parallel/comm/communicator.h"

namespace hllm::parallel {

struct MpiOptions {
  // Reductions (all_reduce, reduce_scatter) larger than this are issued as several MPI requests of at most
  // this size, all in flight at once. Open MPI 4.1's shared-memory reductions fall off a cliff above
  // ~16 MiB (64 MiB all_reduce: 0.3 GB/s whole vs 3-4 GB/s in 4 MiB pieces, docs/BENCHMARKS.md).
  // 0 = never split.
  int64_t reduce_piece_bytes = 4 << 20;
};

// A duplicate of MPI_COMM_WORLD (so library traffic never matches user traffic).
std::unique_ptr<Communicator> make_mpi_world_communicator(const MpiOptions& options = {});

// The ranks of `comm` that share this node's memory (MPI_Comm_split_type with MPI_COMM_TYPE_SHARED);
// its rank is this process's local rank. `comm` must be an MPI communicator.
std::unique_ptr<Communicator> make_mpi_node_communicator(Communicator& comm);

}  // namespace hllm::parallel
