// On a GPU: the rank's CUDA device made current, and NCCL communicators over the world, the
// data-parallel group and the pipeline (with pp > 1) for the model's device tensors. On the CPU: none (the topology's MPI ones serve).
#pragma once

#include <memory>

#include "parallel/comm/communicator.h"
#include "parallel/topology.h"
#include "runtime/parallel_model.h"

namespace hllm::launcher {

struct DeviceCommunicators {
  std::unique_ptr<parallel::Communicator> world, dp, pp;
  runtime::DeviceGroups groups() const { return {world.get(), dp.get(), pp.get()}; }
};

// Collective over the topology's world when its device is CUDA. `timeout_seconds` (comm.timeout_s; 0 =
// none): an NCCL operation still incomplete after it aborts the process, naming the operation and rank
// (parallel/comm/work_watchdog.h).
DeviceCommunicators make_device_groups(const parallel::Topology& topology, double timeout_seconds);

}  // namespace hllm::launcher
