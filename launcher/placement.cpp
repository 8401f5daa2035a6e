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

#include "common/error.h"
#include "parallel/comm/mpi_communicator.h"

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
  placement.device = "cpu";
#ifdef HLLM_WITH_CUDA
  // One GPU per local rank, round robin when there are more ranks than GPUs on the node.
  const int gpus = c10::cuda::device_count();
  if (gpus > 0) placement.device = "cuda:" + std::to_string(placement.local_rank % gpus);
#endif
  return placement;
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
