// ParameterUnit: parameters become views of one flat buffer; a partitioned unit (ZeRO-3) gathers every
// rank's shard back into exactly the original values, on uneven sizes (numels not divisible by dp); its
// memory is freed while sharded; and the state machine refuses transitions out of order.
#include "parallel/zero/parameter_unit.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "models/parameter_source.h"
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

// Built from placeholders (a model without values), a unit fills from its source only what it keeps: at
// stage 3 each rank asks for exactly its shard's pieces (every element of the model once over the ranks),
// and gathering gives the source's values; at stages 1-2 the full buffer is filled.
TEST(ParameterUnit, FillsOnlyItsShardFromASource) {
  for (const int dp : {1, 2, 3}) {
    std::vector<int64_t> asked(dp, 0);
    run_thread_ranks(dp, [&](Communicator& comm) {
      const auto original = uneven_parameters();
      std::vector<std::pair<std::string, at::Tensor>> placeholders;
      for (const auto& [name, t] : original) {
        placeholders.emplace_back(name, models::placeholder(t.sizes(), t.options()).requires_grad_());
      }
      const models::ParameterFill fill = [&](const std::string& name, int64_t offset, const at::Tensor& out) {
        for (const auto& [n, t] : original) {
          if (n != name) continue;
          at::Tensor(out).copy_(t.detach().reshape({-1}).narrow(0, offset, out.numel()));
          asked[comm.rank()] += out.numel();
          return true;
        }
        return false;
      };
      ParameterUnit unit("block", placeholders, dp, comm.rank(), /*partitioned=*/true, fill);
      EXPECT_EQ(unit.state(), UnitState::kSharded);
      EXPECT_EQ(unit.parameter_bytes(), unit.layout().shard_numel() * 4) << "only the shard is held";
      unit.start_gather(comm);
      unit.finish_gather();
      for (size_t i = 0; i < original.size(); ++i) {
        EXPECT_TRUE(at::equal(placeholders[i].second, original[i].second)) << original[i].first << " at dp " << dp;
      }
    });
    int64_t total = 0, elements = 0;
    for (const auto n : asked) total += n;
    for (const auto& [name, t] : uneven_parameters()) elements += t.numel();
    EXPECT_EQ(total, elements) << "dp " << dp << ": every element is asked for once, by the rank that keeps it";
  }
  std::vector<std::pair<std::string, at::Tensor>> placeholders;
  for (const auto& [name, t] : uneven_parameters()) placeholders.emplace_back(name, models::placeholder(t.sizes(), t.options()));
  const auto original = uneven_parameters();
  ParameterUnit whole("block", placeholders, 2, 0, /*partitioned=*/false,
                      [&](const std::string& name, int64_t offset, const at::Tensor& out) {
                        for (const auto& [n, t] : original) {
                          if (n == name) at::Tensor(out).copy_(t.detach().reshape({-1}).narrow(0, offset, out.numel()));
                        }
                        return true;
                      });
  for (size_t i = 0; i < original.size(); ++i) EXPECT_TRUE(at::equal(placeholders[i].second, original[i].second));
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
