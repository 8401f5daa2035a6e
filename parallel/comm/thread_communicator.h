// ThreadCommunicator: N ranks as N threads of one process, sharing memory. It implements the whole
// Communicator contract (asynchronous handles, call-order matching, sub-communicators) so that ZeRO and
// pipeline logic can be tested in one process, fast and under a debugger, beside the real mpirun tests.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "parallel/comm/communicator.h"

namespace hllm::parallel {

// world_size communicators over one in-process group; element i is rank i. Each must be driven by its
// own thread (a rank that waits blocks until its peers arrive).
std::vector<std::unique_ptr<Communicator>> make_thread_communicators(int world_size);

// Runs fn(comm) for every rank on its own thread and joins them. If a rank throws, the group is aborted
// (peers blocked in an operation throw instead of hanging) and the first failing rank's exception is
// rethrown here.
void run_thread_ranks(int world_size, const std::function<void(Communicator&)>& fn);

}  // namespace hllm::parallel
