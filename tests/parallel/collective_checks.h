// Checks of every Communicator operation against an expectation computed locally, written once and run
// on every backend: on N threads (thread_communicator_test) and on N MPI ranks (mpi_communicator_test).
// Tensors are made on `device` (CPU for MPI and threads, CUDA for NCCL).
// They use non-fatal EXPECTs so that a failing rank still takes part in later collectives.
#pragma once

#include <c10/core/Device.h>

#include "parallel/comm/communicator.h"

namespace hllm::parallel::testing {

void check_all_reduce(Communicator& comm, const at::Device& device = at::kCPU);           // sum, avg, max; float32, bfloat16, int64
void check_all_gather(Communicator& comm, const at::Device& device = at::kCPU);           // equal sizes
void check_all_gather_uneven(Communicator& comm, const at::Device& device = at::kCPU);    // counts differ by rank, including 0
void check_reduce_scatter(Communicator& comm, const at::Device& device = at::kCPU);       // sum, avg, max; float32, bfloat16
void check_broadcast(Communicator& comm, const at::Device& device = at::kCPU);            // every root; int64 and bfloat16
void check_send_recv(Communicator& comm, const at::Device& device = at::kCPU);            // ring exchange, several tags and messages in order
void check_barrier(Communicator& comm, const at::Device& device = at::kCPU);
void check_split(Communicator& comm, const at::Device& device = at::kCPU);                // colors, key order, kNoColor, collectives inside
void check_many_in_flight(Communicator& comm, const at::Device& device = at::kCPU);       // dozens of async operations, waited out of order
void check_argument_errors(Communicator& comm, const at::Device& device = at::kCPU);      // bad calls throw before any communication

// All of the above in order.
void check_everything(Communicator& comm, const at::Device& device = at::kCPU);

}  // namespace hllm::parallel::testing
