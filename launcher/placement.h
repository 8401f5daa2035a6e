// Where this process runs: host, local rank (from OMPI_COMM_WORLD_LOCAL_RANK or SLURM_LOCALID, else
// from an MPI shared-memory split) and device. The launcher is the only layer that reads the environment.
#pragma once

#include "parallel/comm/communicator.h"
#include "parallel/topology.h"

namespace hllm::launcher {

// Collective over `world` (an MPI communicator): splits it by node to count the ranks that share it.
parallel::Placement detect_placement(parallel::Communicator& world);

// Cores this process may run on (its CPU affinity mask).
int available_cores();

// LibTorch intra-op threads for this rank: `configured` when > 0, else cores / ranks on the node.
int intra_op_threads(int configured, const parallel::Placement& placement);

}  // namespace hllm::launcher
