#include "launcher/device_groups.h"

#include <c10/core/Device.h>

#include <memory>

#include "parallel/comm/nccl_communicator.h"

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
  auto world = parallel::make_nccl_communicator(topology.world(), device.index());
  auto dp = parallel::make_nccl_communicator(topology.dp_group(), device.index());
  std::unique_ptr<parallel::Communicator> pp;
  if (topology.pp() > 1) pp = parallel::make_nccl_communicator(topology.pp_group(), device.index());
  topology.use_device_communicators(std::move(world), std::move(dp), std::move(pp));
#else
  (void)timeout_seconds;
#endif
}

}  // namespace hllm::launcher
