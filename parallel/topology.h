// Topology: this rank's place in the pp x dp grid and every communicator of its groups, host and device.
// Built once at start (a collective over the world) and passed explicitly; code that needs a group's
// communicator asks it by group and, for one of its own, by name.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
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

// The groups of the grid a rank belongs to.
enum class Group {
  kWorld,
  kDp,  // the ranks of this pipeline stage
  kPp,  // the stages of this rank's pipeline
};

// "world", "dp", "pp".
const char* group_name(Group group);

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

  // Host communicators (MPI, or threads in tests): host tensors, scalars and flags.
  Communicator& world() const { return world_; }
  Communicator& dp_group() const { return *dp_group_; }  // ranks of this stage
  Communicator& pp_group() const { return *pp_group_; }  // stages of this pipeline
  Communicator& group(Group group) const;
  // A group's members as world ranks, in their order in its communicator.
  std::vector<int> group_ranks(Group group) const;

  // Communicators for tensors on this rank's device: the ones given to use_device_communicators (NCCL on
  // GPUs, made by the launcher), else the host ones (CPU tensors). A null one is not needed (pp = 1).
  void use_device_communicators(std::unique_ptr<Communicator> world, std::unique_ptr<Communicator> dp,
                                std::unique_ptr<Communicator> pp);
  Communicator& device_group(Group group) const;

  // A duplicate of a group's communicator kept under `name`, for traffic whose order must not mix with
  // the group's other collectives: ZeRO's gathers and reductions, the gradient buckets, the pipeline's
  // activations each way, the background checkpoint. Made the first time a name is asked for — a
  // collective over the group, so its members ask for the same names in the same order — and kept as
  // long as the topology. `on_device`: a duplicate of device_group(), else of group().
  Communicator& channel(Group group, const std::string& name, bool on_device = true) const;

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
  std::unique_ptr<Communicator> device_world_, device_dp_, device_pp_;
  mutable std::mutex channels_mutex_;
  mutable std::map<std::tuple<Group, std::string, bool>, std::unique_ptr<Communicator>> channels_;
};

}  // namespace hllm::parallel
