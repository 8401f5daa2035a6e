// ParameterUnit: parameters become views of one flat buffer; a partitioned unit (ZeRO-3) gathers every
// rank's shard back into exactly the original values, on uneven sizes (numels not divisible by dp); its
// memory is freed while sharded; and the state machine refuses transitions out of order.
#include "parallel/zero/parameter_unit.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "parallel/comm/thread_communicator.h"

namespace hllm::parallel::zero {
namespace {

// Distinct values without the global generator, which thread ranks would race on.
std::vector<std::pair<std::string, at::Tensor>> uneven_parameters() {
  const auto values = [](std::vector<int64_t> shape, double start) {
    int64_t n = 1;
    for (const auto d : shape) n *= d;
    return (at::arange(n, at::kFloat) * 0.37 + start).sin().view(shape).requires_grad_();
  };
  return {{"a", values({7, 3}, 0.1)}, {"b", values({5}, 2.0)}, {"c", values({2, 11}, -1.0)}};
}

TEST(ParameterUnit, GathersTheOriginalValuesOnUnevenShards) {
  for (const int dp : {1, 2, 3, 4}) {
    run_thread_ranks(dp, [&](Communicator& comm) {
      const auto original = uneven_parameters();
      auto parameters = uneven_parameters();
      ParameterUnit unit("block", parameters, dp, comm.rank(), /*partitioned=*/true);
      EXPECT_EQ(unit.state(), UnitState::kSharded);
      EXPECT_EQ(unit.parameter_bytes(), unit.layout().shard_numel() * 4) << "the full buffer is freed";
      EXPECT_EQ(parameters[0].second.sizes(), original[0].second.sizes()) << "shapes survive sharding";
      unit.start_gather(comm);
      unit.finish_gather();
      for (size_t i = 0; i < original.size(); ++i) {
        EXPECT_TRUE(at::equal(parameters[i].second, original[i].second)) << parameters[i].first << " at dp " << dp;
      }
      // A gradient packs into the flat layout; a changed parameter written back survives a release.
      parameters[1].second.mutable_grad() = at::ones({5});
      const at::Tensor flat = unit.flat_gradient();
      EXPECT_EQ(flat.sum().item<float>(), 5.0f);
      EXPECT_EQ(flat.numel(), unit.layout().buffer_numel());
      {
        c10::NoGradGuard no_grad;
        parameters[2].second.fill_(0.5);
      }
      unit.release(/*keep_changes=*/true);
      unit.start_gather(comm);
      unit.finish_gather();
      EXPECT_TRUE(at::equal(parameters[2].second, at::full({2, 11}, 0.5)));
      EXPECT_TRUE(at::equal(parameters[0].second, original[0].second));
    });
  }
}

TEST(ParameterUnit, RefusesTransitionsOutOfOrder) {
  run_thread_ranks(1, [](Communicator& comm) {
    ParameterUnit unit("block", uneven_parameters(), 1, 0, /*partitioned=*/true);
    EXPECT_THROW(unit.release(), Error);        // sharded -> release
    EXPECT_THROW(unit.finish_gather(), Error);  // nothing being gathered
    unit.start_gather(comm);
    EXPECT_THROW(unit.start_gather(comm), Error);  // gathering twice
    EXPECT_THROW(unit.release(), Error);           // before the gather has arrived
    unit.finish_gather();
    unit.release();
    EXPECT_EQ(unit.state(), UnitState::kSharded);
  });
  // Stage 1-2 units keep the full buffer and are never released.
  ParameterUnit whole("block", uneven_parameters(), 2, 0, /*partitioned=*/false);
  EXPECT_EQ(whole.state(), UnitState::kGathered);
  EXPECT_THROW(whole.release(), Error);
}

}  // namespace
}  // namespace hllm::parallel::zero
