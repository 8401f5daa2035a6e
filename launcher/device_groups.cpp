#include "launcher/device_groups.h"

#include <c10/core/Device.h>

#include <memory>

#include "parallel/comm/nccl_communicator.h"
#include "parallel/comm/recorded_communicator.h"

#ifdef HLLM_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace hllm::launcher {

void use_device_communicators(parallel::Topology& topology, double timeout_seconds) {
  const c10::Device device(topology.placement().device);
  if (!device.is_cuda()) return;
#ifdef HLLM_WITH_CUDA
  parallel::set_nccl_timeout_seconds(timeout_seconds);
  c10::cuda::set_device(device.index());
  // Recorded like the host groups they are made over (parallel/comm/flight_recorder.h).
  auto on_device = [&](parallel::Communicator& host, const char* label) {
    return parallel::record_like(host, parallel::make_nccl_communicator(host, device.index()), label);
  };
  auto world = on_device(topology.world(), "world (nccl)");
  auto dp = on_device(topology.dp_group(), "dp (nccl)");
  std::unique_ptr<parallel::Communicator> pp;
  if (topology.pp() > 1) pp = on_device(topology.pp_group(), "pp (nccl)");
  topology.use_device_communicators(std::move(world), std::move(dp), std::move(pp));
#else
  (void)timeout_seconds;
#endif
}

}  // namespace hllm::launcher
