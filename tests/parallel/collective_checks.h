// Checks of every Communicator operation against an expectation computed locally, written once and run
// on every backend: on N threads (thread_communicator_test) and on N MPI ranks (mpi_communicator_test).
// They use non-fatal EXPECTs so that a failing rank still takes part in later collectives.
#pragma once

#include "parallel/comm/communicator.h"

namespace hllm::parallel::testing {

void check_all_reduce(Communicator& comm);           // sum, avg, max; float32, bfloat16, int64
void check_all_gather(Communicator& comm);           // equal sizes
void check_all_gather_uneven(Communicator& comm);    // counts differ by rank, including 0
void check_reduce_scatter(Communicator& comm);       // sum, avg, max; float32, bfloat16
void check_broadcast(Communicator& comm);            // every root; int64 and bfloat16
void check_send_recv(Communicator& comm);            // ring exchange, several tags and messages in order
void check_barrier(Communicator& comm);
void check_split(Communicator& comm);                // colors, key order, kNoColor, collectives inside
void check_many_in_flight(Communicator& comm);       // dozens of async operations, waited out of order
void check_argument_errors(Communicator& comm);      // bad calls throw before any communication

// All of the above in order.
void check_everything(Communicator& comm);

}  // namespace hllm::parallel::testing
