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

// Every communicator comes from the topology: the device groups (the host ones unless given), and named
// channels, each made once and kept, over the same ranks in the same order as its group.
TEST(Topology, DeviceGroupsAndNamedChannels) {
  run_thread_ranks(4, [](Communicator& world) {
    Topology topology(world, 2, fake_placement(world));
    EXPECT_EQ(&topology.device_group(Group::kDp), &topology.dp_group()) << "no device communicators given";
    EXPECT_EQ(&topology.device_group(Group::kWorld), &topology.world());
    Communicator& gather = topology.channel(Group::kDp, "zero.gather");
    Communicator& reduce = topology.channel(Group::kDp, "zero.reduce");
    Communicator& activations = topology.channel(Group::kPp, "pipeline.activations");
    EXPECT_EQ(&topology.channel(Group::kDp, "zero.gather"), &gather) << "a name is made once";
    EXPECT_NE(&gather, &reduce);
    EXPECT_NE(&gather, &topology.dp_group());
    EXPECT_EQ(gather.rank(), topology.dp_index());
    EXPECT_EQ(activations.rank(), topology.stage_id());
    EXPECT_EQ(activations.size(), 2);
    // A channel holds its group's ranks: the sum of world ranks over the pipeline {i, i + 2}.
    at::Tensor value = at::full({1}, static_cast<int64_t>(world.rank()), at::kLong);
    activations.all_reduce(value, ReduceOp::kSum)->wait();
    EXPECT_EQ(value.item<int64_t>(), 2 * topology.dp_index() + 2);
    // Given device communicators serve the device groups; the host ones stay.
    Topology with_device(world, 1, fake_placement(world));
    with_device.use_device_communicators(world.split(0, world.rank()), world.split(0, world.rank()), nullptr);
    EXPECT_NE(&with_device.device_group(Group::kWorld), &with_device.world());
    EXPECT_EQ(&with_device.device_group(Group::kPp), &with_device.pp_group()) << "pp = 1 needs none";
    EXPECT_NE(&with_device.channel(Group::kDp, "x"), &with_device.channel(Group::kDp, "x", /*on_device=*/false));
  });
}

TEST(Topology, BadPpFailsOnEveryRankBeforeAnyCollective) {
  EXPECT_THROW(run_thread_ranks(4, [](Communicator& world) { Topology(world, 3, fake_placement(world)); }),
               InputError);
}

}  // namespace
}  // namespace hllm::parallel
