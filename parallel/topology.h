// Topology: this rank's place in the pp x dp grid and the communicators of its groups. Built once at
// start (a collective over the world) and passed explicitly.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "parallel/comm/communicator.h"
#include "parallel/grid_layout.h"

namespace hllm::parallel {

// Where a process runs; the launcher fills it from the environment and MPI.
struct Placement {
  std::string hostname;
  int local_rank = 0;  // index among the ranks of this node
  int local_size = 1;  // ranks on this node
  int gpus = 0;        // GPUs this process can see (0 in CPU builds)
  std::string device = "cpu";  // "cpu" or "cuda:<index>" (launcher/placement.h chooses)
};

class Topology {
 public:
  // Collective over `world`: validates pp, splits the dp and pp communicators, gathers every rank's
  // placement (for the table). `world` must outlive the Topology.
  Topology(Communicator& world, int pp, const Placement& placement);

  const GridLayout& layout() const { return layout_; }
  int rank() const { return world_.rank(); }
  int world_size() const { return layout_.world_size; }
  int pp() const { return layout_.pp; }
  int dp() const { return layout_.dp; }
  int stage_id() const { return layout_.stage_id(rank()); }
  int dp_index() const { return layout_.dp_index(rank()); }
  bool is_first_stage() const { return stage_id() == 0; }
  bool is_last_stage() const { return stage_id() == pp() - 1; }

  Communicator& world() const { return world_; }
  Communicator& dp_group() const { return *dp_group_; }  // ranks of this stage
  Communicator& pp_group() const { return *pp_group_; }  // stages of this pipeline

  const Placement& placement() const { return placements_[rank()]; }
  const std::vector<Placement>& placements() const { return placements_; }  // indexed by rank

  // One line per rank: rank, host, local rank, device, stage, dp index; then the groups.
  std::string table() const;

 private:
  Communicator& world_;
  GridLayout layout_;
  std::unique_ptr<Communicator> dp_group_;
  std::unique_ptr<Communicator> pp_group_;
  std::vector<Placement> placements_;
};

}  // namespace hllm::parallel
