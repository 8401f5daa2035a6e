#include "parallel/topology.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "parallel/comm/thread_communicator.h"

namespace hllm::parallel {
namespace {

Placement fake_placement(const Communicator& comm) {
  Placement p;
  p.hostname = comm.rank() < 2 ? "node-a" : "node-b";
  p.local_rank = comm.rank() % 2;
  p.local_size = 2;
  return p;
}

TEST(Topology, TwoByTwoGroupsAndTable) {
  run_thread_ranks(4, [](Communicator& world) {
    Topology topology(world, 2, fake_placement(world));
    EXPECT_EQ(topology.dp(), 2);
    EXPECT_EQ(topology.stage_id(), world.rank() / 2);
    EXPECT_EQ(topology.dp_index(), world.rank() % 2);
    EXPECT_EQ(topology.dp_group().size(), 2);
    EXPECT_EQ(topology.pp_group().size(), 2);
    EXPECT_EQ(topology.pp_group().rank(), topology.stage_id());
    EXPECT_EQ(topology.placements()[3].hostname, "node-b");
    EXPECT_EQ(topology.placements()[3].local_rank, 1);

    // The dp group of stage s really holds ranks {2s, 2s+1}: sum their world ranks.
    at::Tensor value = at::full({1}, static_cast<int64_t>(world.rank()), at::kLong);
    topology.dp_group().all_reduce(value, ReduceOp::kSum)->wait();
    EXPECT_EQ(value.item<int64_t>(), 4 * topology.stage_id() + 1);

    const std::string table = topology.table();
    EXPECT_NE(table.find("world_size 4 = pp 2 x dp 2"), std::string::npos) << table;
    EXPECT_NE(table.find("dp groups: {0,1} {2,3}"), std::string::npos) << table;
    EXPECT_NE(table.find("pp groups: {0,2} {1,3}"), std::string::npos) << table;
  });
}

TEST(Topology, BadPpFailsOnEveryRankBeforeAnyCollective) {
  EXPECT_THROW(run_thread_ranks(4, [](Communicator& world) { Topology(world, 3, fake_placement(world)); }),
               InputError);
}

}  // namespace
}  // namespace hllm::parallel
