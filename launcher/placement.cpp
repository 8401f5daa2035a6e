#include "launcher/placement.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#ifdef HLLM_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

#include <ATen/ATen.h>

#include "common/error.h"
#include "parallel/comm/mpi_communicator.h"

#include <glog/logging.h>  // last: pip LibTorch defines LOG/CHECK of its own (docs/GPU.md)

namespace hllm::launcher {
namespace {

std::optional<int> int_from_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  HLLM_CHECK(*end == '\0' && parsed >= 0, "environment variable ", name, "='", value,
             "' is not a non-negative integer");
  return static_cast<int>(parsed);
}

}  // namespace

parallel::Placement detect_placement(parallel::Communicator& world) {
  parallel::Placement placement;
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) placement.hostname = host;
  const auto node = parallel::make_mpi_node_communicator(world);
  placement.local_size = node->size();
  placement.local_rank = node->rank();
  // The launcher's own numbering wins where it exists (it matches the GPU binding the scheduler chose).
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"}) {
    if (const auto value = int_from_env(name)) {
      placement.local_rank = *value;
      break;
    }
  }
  placement.device = "cpu";  // until the config says otherwise (agree_on_device)
#ifdef HLLM_WITH_CUDA
  placement.gpus = c10::cuda::device_count();
#endif
  return placement;
}

std::string choose_device(config::DeviceKind wanted, bool every_rank_has_a_gpu, int local_rank) {
  if (wanted == config::DeviceKind::kCpu) return "cpu";
  if (wanted == config::DeviceKind::kCuda && !every_rank_has_a_gpu) {
    throw InputError(
        "parallel.device = cuda: every rank needs a GPU of its own (NCCL refuses two ranks on one GPU), but some node "
        "has more ranks than GPUs, or this build has no CUDA (HLLM_WITH_CUDA off); start fewer ranks per node or set "
        "parallel.device = cpu");
  }
  return every_rank_has_a_gpu ? "cuda:" + std::to_string(local_rank) : "cpu";
}

std::string agree_on_device(parallel::Communicator& world, config::DeviceKind wanted,
                            const parallel::Placement& placement) {
  const bool mine = placement.gpus > 0 && placement.local_size <= placement.gpus;
  at::Tensor counts = at::tensor({mine ? 0.0 : 1.0, placement.gpus > 0 ? 1.0 : 0.0}, at::kDouble);
  world.all_reduce(counts, parallel::ReduceOp::kSum)->wait();
  const bool every_rank = counts[0].item<double>() == 0;
  const bool some_gpus = counts[1].item<double>() > 0;
  if (wanted == config::DeviceKind::kAuto && !every_rank && some_gpus && world.rank() == 0) {
    LOG(WARNING) << "parallel.device = auto: GPUs are present but not one per rank (this node: " << placement.local_size
                 << " ranks, " << placement.gpus << " GPUs); training on the CPU";
  }
  return choose_device(wanted, every_rank, placement.local_rank);
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

int intra_op_threads(int configured, const parallel::Placement& placement) {
  if (configured > 0) return configured;
  return std::max(1, available_cores() / std::max(1, placement.local_size));
}

}  // namespace hllm::launcher
