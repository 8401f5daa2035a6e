// On a GPU: the rank's CUDA device made current, and NCCL communicators over the world, the data-parallel
// group and the pipeline (with pp > 1) given to the topology for its device tensors. On the CPU: nothing
// (the topology's MPI communicators serve CPU tensors).
#pragma once

#include "parallel/topology.h"

namespace hllm::launcher {

// Collective over the topology's world when its device is CUDA. `timeout_seconds` (comm.timeout_s; 0 =
// none): an NCCL operation still incomplete after it aborts the process, naming the operation and rank
// (parallel/comm/work_watchdog.h).
void use_device_communicators(parallel::Topology& topology, double timeout_seconds);

}  // namespace hllm::launcher
