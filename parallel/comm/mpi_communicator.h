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
  // An all_reduce larger than this is issued as several MPI requests of at most this size, all in flight
  // at once (slices of the same buffer, no copy). Open MPI 4.1's shared-memory all_reduce can fall off a
  // cliff for one large message (docs/BENCHMARKS.md, "MPI all_reduce in pieces"). 0 = never split.
  int64_t all_reduce_piece_bytes = 4 << 20;
};

// How long wait() lets an MPI operation make no progress before it throws hllm::Error naming the
// operation, the rank and the group (the launcher then aborts the job): a rank that hangs or a node that
// is gone stops the job instead of holding every other rank forever. 0 = wait forever (the default until
// the launcher sets comm.timeout_s). Process-wide, like MPI itself; safe to call from any thread.
void set_mpi_timeout_seconds(double seconds);

// A duplicate of MPI_COMM_WORLD (so library traffic never matches user traffic).
std::unique_ptr<Communicator> make_mpi_world_communicator(const MpiOptions& options = {});

// The ranks of `comm` that share this node's memory (MPI_Comm_split_type with MPI_COMM_TYPE_SHARED);
// its rank is this process's local rank. `comm` must be an MPI communicator.
std::unique_ptr<Communicator> make_mpi_node_communicator(Communicator& comm);

}  // namespace hllm::parallel
