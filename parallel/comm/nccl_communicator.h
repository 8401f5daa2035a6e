// NcclCommunicator: the Communicator over NCCL, for CUDA tensors (built when HLLM_WITH_CUDA is on).
//
// Streams: each communicator owns one CUDA stream. An operation first makes that stream wait for the
// caller's current stream (so it sees the inputs as they are at the call), then enqueues the NCCL
// kernel. Work::wait() makes the caller's current stream wait for the kernel; it does not block the host
// (except barrier(), whose wait() blocks until every rank arrived). Tensors used by an operation are
// recorded on the NCCL stream, so the caching allocator does not reuse them early.
//
// Differences from MPI: send/recv match in call order per pair of ranks and take tag 0 only; a rank
// may not send to itself.
#pragma once

#ifdef HLLM_WITH_CUDA

#include <memory>

#include "parallel/comm/communicator.h"

namespace hllm::parallel {

// Collective over `bootstrap` (e.g. the MPI world): rank 0 creates the NCCL unique id and broadcasts it
// through `bootstrap`; every rank then joins the NCCL communicator on CUDA device `device_index`.
// The result has the same ranks and size as `bootstrap`.
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, int device_index);

// Every NCCL operation launched from now on must complete within `seconds`, else the process aborts with
// its operation and rank (parallel/comm/work_watchdog.h); 0 = no deadline (the default until the launcher
// sets comm.timeout_s). Process-wide.
void set_nccl_timeout_seconds(double seconds);

}  // namespace hllm::parallel

#endif  // HLLM_WITH_CUDA
