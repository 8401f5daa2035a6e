#include "launcher/device_groups.h"

#include <c10/core/Device.h>

#include "parallel/comm/nccl_communicator.h"

#ifdef HLLM_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace hllm::launcher {

DeviceCommunicators make_device_groups(const parallel::Topology& topology, double timeout_seconds) {
  DeviceCommunicators out;
  const c10::Device device(topology.placement().device);
  if (!device.is_cuda()) return out;
#ifdef HLLM_WITH_CUDA
  parallel::set_nccl_timeout_seconds(timeout_seconds);
  c10::cuda::set_device(device.index());
  out.world = parallel::make_nccl_communicator(topology.world(), device.index());
  out.dp = parallel::make_nccl_communicator(topology.dp_group(), device.index());
  if (topology.pp() > 1) out.pp = parallel::make_nccl_communicator(topology.pp_group(), device.index());
#else
  (void)timeout_seconds;
#endif
  return out;
}

}  // namespace hllm::launcher
