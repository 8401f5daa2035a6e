// Where this process runs: host, local rank (from OMPI_COMM_WORLD_LOCAL_RANK or SLURM_LOCALID, else
// from an MPI shared-memory split) and device. The launcher is the only layer that reads the environment.
#pragma once

#include "common/config/config_enums.h"
#include "parallel/comm/communicator.h"
#include "parallel/topology.h"

namespace hllm::launcher {

// Collective over `world` (an MPI communicator): splits it by node to count the ranks that share it.
parallel::Placement detect_placement(parallel::Communicator& world);

// The device of every rank for `parallel.device` ("auto", "cpu", "cuda"), given whether every rank of the
// job has a GPU of its own (`every_rank_has_a_gpu`: no node has more ranks than GPUs). Pure; throws
// InputError for "cuda" when some rank has none.
std::string choose_device(config::DeviceKind wanted, bool every_rank_has_a_gpu, int local_rank);

// Collective over `world`: this rank's device under `wanted`, the same choice on every rank. Warns (rank 0)
// when "auto" sees GPUs but not one per rank, and falls back to the CPU.
std::string agree_on_device(parallel::Communicator& world, config::DeviceKind wanted,
                            const parallel::Placement& placement);

// Cores this process may run on (its CPU affinity mask).
int available_cores();

// LibTorch intra-op threads for this rank: `configured` when > 0, else cores / ranks on the node.
int intra_op_threads(int configured, const parallel::Placement& placement);

}  // namespace hllm::launcher
