// BlockRunner on a toy layered model (no dataset): at ZeRO-3 the forward without autograd (evaluation)
// gives exactly the plain forward of whole parameters, holds at most the prefetch window whole while a
// block computes, issues the next unit's gather before the current block computes when the window allows,
// and leaves every unit sharded; one unit at a time can be gathered and freed (the streamed save).
#include "parallel/zero/block_runner.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "parallel/comm/thread_communicator.h"

namespace hllm::parallel::zero {
namespace {

constexpr int kBlocks = 4;
constexpr int64_t kWidth = 6;

// x <- tanh(x W_i): one parameter per block; `observe` runs inside each forward, while the block computes.
class LinearBlock : public models::Block {
 public:
  LinearBlock(int index, std::function<void(int)> observe)
      : name_("linear." + std::to_string(index)), index_(index), observe_(std::move(observe)) {
    const at::Tensor values = (at::arange(kWidth * kWidth, at::kFloat) * (0.31 + 0.1 * index)).sin() * 0.5;
    weight_ = values.view({kWidth, kWidth}).requires_grad_();
  }
  const std::string& name() const override { return name_; }
  std::vector<std::pair<std::string, at::Tensor>> parameters() const override { return {{name_ + ".weight", weight_}}; }
  models::BlockCost cost(const models::ModelShapes&) const override { return {0.0, kWidth * kWidth, 0}; }
  void forward(models::Activations& a) const override {
    if (observe_) observe_(index_);
    a["x"] = at::tanh(at::matmul(a.at("x"), weight_));
  }

 private:
  std::string name_;
  int index_;
  at::Tensor weight_;
  std::function<void(int)> observe_;
};

models::Blocks toy_blocks(const std::function<void(int)>& observe = {}) {
  models::Blocks blocks;
  for (int i = 0; i < kBlocks; ++i) blocks.push_back(std::make_unique<LinearBlock>(i, observe));
  return blocks;
}

at::Tensor toy_input() { return (at::arange(3 * kWidth, at::kFloat) * 0.7).cos().view({3, kWidth}); }

at::Tensor plain_forward() {
  const models::Blocks blocks = toy_blocks();
  models::Activations a{{"x", toy_input()}};
  c10::NoGradGuard no_grad;
  models::run_blocks(blocks, a);
  return a.at("x");
}

// Runs fn on each of `dp` thread ranks with a stage-3 runner over the toy blocks; `prefetch` elements
// ahead. `whole_while_computing[rank][block]`: units gathered or in flight while block computed.
struct Observed {
  at::Tensor output;
  std::vector<int> whole_while_computing;
  std::vector<bool> next_issued_before;  // per block: the next unit's gather was already issued
  bool all_sharded_after = false;
};

std::vector<Observed> run_stage3(int dp, double prefetch) {
  std::vector<Observed> out(static_cast<size_t>(dp));
  run_thread_ranks(dp, [&](Communicator& comm) {
    Observed& mine = out[static_cast<size_t>(comm.rank())];
    std::unique_ptr<BlockRunner> runner;
    const auto observe = [&](int block) {
      int whole = 0;
      for (const auto& unit : runner->units()) whole += unit.state() != UnitState::kSharded;
      mine.whole_while_computing.push_back(whole);
      const bool last = block + 1 == kBlocks;
      mine.next_issued_before.push_back(!last && runner->units()[block + 1].state() != UnitState::kSharded);
    };
    const models::Blocks blocks = toy_blocks(observe);
    auto gather = comm.split(1, comm.rank()), reduce = comm.split(2, comm.rank());
    RunnerOptions options;
    options.stage = 3;
    options.prefetch_elements = prefetch;
    runner = std::make_unique<BlockRunner>(blocks, options, dp, comm.rank(), gather.get(), reduce.get());
    models::Activations a{{"x", toy_input()}};
    runner->forward_without_grad(0, blocks.size(), a);
    mine.output = a.at("x");
    mine.all_sharded_after = true;
    for (const auto& unit : runner->units()) mine.all_sharded_after &= unit.state() == UnitState::kSharded;
  });
  return out;
}

TEST(BlockRunner, ForwardWithoutGradAtStage3IsThePlainForward) {
  const at::Tensor expected = plain_forward();
  for (const int dp : {1, 2, 3}) {
    for (const auto& rank : run_stage3(dp, /*prefetch=*/0)) {
      EXPECT_TRUE(at::equal(rank.output, expected)) << "dp " << dp;
      EXPECT_TRUE(rank.all_sharded_after) << "dp " << dp << ": evaluation leaves nothing whole";
    }
  }
}

TEST(BlockRunner, EvaluationHoldsOnlyThePrefetchWindowWhole) {
  // No prefetch: only the computing block's unit is whole, and the next gather waits for its turn.
  for (const auto& rank : run_stage3(2, /*prefetch=*/0)) {
    for (int b = 0; b < kBlocks; ++b) {
      EXPECT_EQ(rank.whole_while_computing[b], 1) << "block " << b;
      EXPECT_FALSE(rank.next_issued_before[b]) << "block " << b;
    }
  }
  // A window of one unit (its flat buffer: 36 elements padded to 64, a multiple of dp x 16): the next unit's
  // gather is issued before the current block computes, and no more.
  for (const auto& rank : run_stage3(2, /*prefetch=*/64)) {
    for (int b = 0; b < kBlocks; ++b) {
      const bool last = b + 1 == kBlocks;
      EXPECT_EQ(rank.whole_while_computing[b], last ? 1 : 2) << "block " << b;
      EXPECT_EQ(rank.next_issued_before[b], !last) << "block " << b;
    }
  }
}

TEST(BlockRunner, GathersAndFreesOneUnitAtATime) {
  run_thread_ranks(2, [&](Communicator& comm) {
    const models::Blocks blocks = toy_blocks();
    const models::Blocks reference = toy_blocks();
    auto gather = comm.split(1, comm.rank()), reduce = comm.split(2, comm.rank());
    RunnerOptions options;
    options.stage = 3;
    BlockRunner runner(blocks, options, 2, comm.rank(), gather.get(), reduce.get());
    for (size_t b = 0; b < blocks.size(); ++b) {
      const int64_t unit = runner.unit_of_block(b);
      ASSERT_EQ(unit, static_cast<int64_t>(b));
      runner.gather_unit(static_cast<size_t>(unit));
      for (const auto& u : runner.units()) {
        EXPECT_EQ(u.state() != UnitState::kSharded, &u == &runner.units()[unit]) << "only unit " << unit << " is whole";
      }
      EXPECT_TRUE(at::equal(blocks[b]->parameters()[0].second, reference[b]->parameters()[0].second)) << "block " << b;
      runner.release_unit(static_cast<size_t>(unit));
    }
  });
}

}  // namespace
}  // namespace hllm::parallel::zero
