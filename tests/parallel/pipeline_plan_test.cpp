// The pipeline's pure parts: the balanced cut (exact against brute force; HLLM's 1b and 7b presets cut
// within 15 %) and the GPipe / 1F1B instruction streams (every send meets its receive in order, no
// deadlock with posted sends — GPipe even when sends wait — each micro-batch once per stage, 1F1B's
// memory bound).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <random>

#include "common/error.h"
#include "models/hllm_blocks.h"
#include "models/model_plan.h"
#include "models/presets.h"
#include "parallel/pipeline/partition.h"
#include "parallel/pipeline/schedule.h"

namespace hllm::parallel {
namespace {

// The smallest largest-stage cost over every cut, by enumeration.
double brute_force(const std::vector<double>& costs, int stages) {
  double best = 1e300;
  std::function<void(size_t, int, double)> go = [&](size_t from, int left, double worst) {
    if (left == 1) {
      double rest = 0;
      for (size_t i = from; i < costs.size(); ++i) rest += costs[i];
      best = std::min(best, std::max(worst, rest));
      return;
    }
    double sum = 0;
    for (size_t end = from + 1; end + static_cast<size_t>(left - 1) <= costs.size(); ++end) {
      sum += costs[end - 1];
      go(end, left - 1, std::max(worst, sum));
    }
  };
  go(0, stages, 0);
  return best;
}

TEST(PipelineCut, IsTheBestContiguousCut) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> cost(0, 10);
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = 1 + rng() % 9;
    std::vector<double> costs(n);
    for (auto& c : costs) c = trial % 5 == 0 ? 0 : cost(rng);  // zero-cost blocks too
    for (int p = 1; p <= static_cast<int>(std::min<size_t>(n, 4)); ++p) {
      const StageCut cut = balanced_cut(costs, p);
      ASSERT_EQ(cut.first.size(), static_cast<size_t>(p));
      EXPECT_EQ(cut.first[0], 0u);
      for (size_t s = 1; s < cut.first.size(); ++s) EXPECT_LT(cut.first[s - 1], cut.first[s]) << "an empty stage";
      EXPECT_NEAR(cut.max_cost(), brute_force(costs, p), 1e-9);
    }
  }
  EXPECT_EQ(balanced_cut({1, 1, 1, 1}, 2).first, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(balanced_cut({5, 1, 1, 1, 1, 1}, 2).first, (std::vector<size_t>{0, 1}));
}

TEST(PipelineCut, RefusesImpossibleCuts) {
  EXPECT_THROW(balanced_cut({1, 2}, 3), InputError);
  EXPECT_THROW(balanced_cut({1, 2}, 0), InputError);
  EXPECT_THROW(manual_cut({1, 2, 3}, {1}), InputError);      // must start at block 0
  EXPECT_THROW(manual_cut({1, 2, 3}, {0, 2, 2}), InputError);  // an empty stage
  EXPECT_THROW(manual_cut({1, 2, 3}, {0, 3}), InputError);     // past the last block
  EXPECT_EQ(manual_cut({1, 2, 3}, {0, 2}).cost, (std::vector<double>{3, 3}));
}

// HLLM's blocks for the presets at the 7b config's shapes: the Item LLM encodes B W + N items of T tokens,
// the User LLM only B sequences of W items; the cut must still balance within 15 %.
TEST(PipelineCut, BalancesHllmPresetsWithinFifteenPercent) {
  models::ModelShapes shapes;
  shapes.sequences = 1;
  shapes.sequence_length = 51;
  shapes.items = 51 + 512;
  shapes.item_tokens = 12 + 256 + 1;
  shapes.negatives = 512 * 64;
  shapes.bytes_per_value = 2;
  for (const std::string preset : {"1b", "7b"}) {
    const auto item = models::preset_config(preset, 32000), user = models::preset_config(preset, 32000);
    std::vector<double> costs;
    for (const auto& [name, cost] : models::hllm_block_costs(item, user, shapes)) costs.push_back(cost.forward_flops);
    for (const int p : {2, 4}) {
      const StageCut cut = balanced_cut(costs, p);
      EXPECT_LE(cut.imbalance(), 1.15) << preset << " at pp " << p;
    }
    // The naive cut at the tower boundary is far off.
    const size_t user_input = static_cast<size_t>(item.num_hidden_layers) + 2;
    EXPECT_GT(manual_cut(costs, {0, user_input}).imbalance(), 1.8) << preset;
  }
}

// The formulas the planner cuts and sizes by are the blocks' own cost().
TEST(PipelineCut, BlockCostsFromShapesAreTheBlocksCosts) {
  const auto model = models::HllmModel::from_presets("debug", "debug", 100, {2, 3}, 1);
  const auto blocks = models::hllm_blocks(model);
  models::ModelShapes shapes;
  shapes.items = 30, shapes.item_tokens = 9, shapes.sequences = 4, shapes.sequence_length = 6, shapes.negatives = 16;
  const auto costs = models::hllm_block_costs(model.item_llm().decoder().config(), model.user_llm().decoder().config(), shapes);
  ASSERT_EQ(costs.size(), blocks.size());
  for (size_t b = 0; b < blocks.size(); ++b) {
    const models::BlockCost mine = blocks[b]->cost(shapes);
    EXPECT_EQ(costs[b].first, blocks[b]->name());
    EXPECT_DOUBLE_EQ(costs[b].second.forward_flops, mine.forward_flops) << costs[b].first;
    EXPECT_EQ(costs[b].second.parameters, mine.parameters) << costs[b].first;
    EXPECT_EQ(costs[b].second.activation_bytes, mine.activation_bytes) << costs[b].first;
    EXPECT_EQ(costs[b].second.input_bytes, mine.input_bytes) << costs[b].first;
    EXPECT_EQ(costs[b].second.inference_bytes, mine.inference_bytes) << costs[b].first;
  }
}

// The cut the engine and the planner take: balanced without leaving a stage nothing to train, or by hand
// with every mistake named.
TEST(PipelineCut, ChosenCutsGiveEveryStageParameters) {
  // Block 2 holds no parameters and costs nothing: a balanced cut of 4 would happily isolate it.
  const std::vector<double> flops = {1, 1, 0, 1, 1};
  const std::vector<int64_t> parameters = {5, 5, 0, 5, 5};
  for (int pp = 1; pp <= 4; ++pp) {
    const StageCut cut = choose_stage_cut(flops, parameters, pp, {});
    for (int s = 0; s < pp; ++s) {
      int64_t held = 0;
      for (size_t b = cut.first[s]; b < cut.end(s); ++b) held += parameters[b];
      EXPECT_GT(held, 0) << "pp " << pp << ", stage " << s;
    }
  }
  EXPECT_THROW(choose_stage_cut(flops, parameters, 5, {}), InputError) << "4 blocks hold parameters";
  EXPECT_EQ(choose_stage_cut(flops, parameters, 2, {3}).first, (std::vector<size_t>{0, 3}));
  EXPECT_THROW(choose_stage_cut(flops, parameters, 3, {3}), InputError) << "pp - 1 entries";
  EXPECT_THROW(choose_stage_cut(flops, parameters, 2, {0}), InputError) << "stage 1 at block 0";
  EXPECT_THROW(choose_stage_cut(flops, parameters, 3, {2, 3}), InputError) << "stage 1 is block 2 alone";
  const StageCut cut = choose_stage_cut(flops, parameters, 3, {1, 3});
  EXPECT_EQ(cut.stage_of(0), 0);
  EXPECT_EQ(cut.stage_of(2), 1);
  EXPECT_EQ(cut.stage_of(4), 2);
  EXPECT_EQ(cut.end(2), 5u);
}

// Runs the stages' streams. `rendezvous`: a send waits for its receive (the strictest semantics);
// otherwise a send is posted and the stage goes on (the executor's isend, waited for at the step's end)
// while a receive waits for its send. Messages between two stages arrive in order (MPI and NCCL do not
// overtake): a receive that meets another micro-batch's message is a mismatch. Returns false on a
// deadlock or a mismatch.
bool runs_to_completion(const std::vector<std::vector<PipeInstruction>>& streams, bool rendezvous) {
  const size_t p = streams.size();
  std::vector<size_t> at(p, 0);
  std::map<std::pair<size_t, size_t>, std::vector<int>> in_flight;  // (from, to) -> micro-batches, in order
  const auto head = [&](size_t s) -> const PipeInstruction* { return at[s] < streams[s].size() ? &streams[s][at[s]] : nullptr; };
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t s = 0; s < p; ++s) {
      const PipeInstruction* i = head(s);
      if (!i) continue;
      const bool send = i->op == PipeOp::kSendActivation || i->op == PipeOp::kSendGradient;
      const bool recv = i->op == PipeOp::kRecvActivation || i->op == PipeOp::kRecvGradient;
      if (send) {
        const size_t peer = i->op == PipeOp::kSendActivation ? s + 1 : s - 1;
        const PipeOp wanted = i->op == PipeOp::kSendActivation ? PipeOp::kRecvActivation : PipeOp::kRecvGradient;
        if (rendezvous) {
          const PipeInstruction* r = head(peer);
          if (!r || r->op != wanted) continue;
          if (r->micro != i->micro) return false;
          ++at[peer];
        } else {
          in_flight[{s, peer}].push_back(i->micro);
        }
        ++at[s];
        progress = true;
      } else if (recv) {
        if (rendezvous) continue;  // completed by the sender's turn
        const size_t peer = i->op == PipeOp::kRecvActivation ? s - 1 : s + 1;
        auto& queue = in_flight[{peer, s}];
        if (queue.empty()) continue;
        if (queue.front() != i->micro) return false;
        queue.erase(queue.begin());
        ++at[s];
        progress = true;
      } else {
        ++at[s];  // compute, load, and the stage's own data-parallel collectives
        progress = true;
      }
    }
  }
  for (size_t s = 0; s < p; ++s) {
    if (at[s] != streams[s].size()) return false;
  }
  return true;
}

TEST(PipelineSchedule, EverySendMeetsItsReceiveWithoutDeadlock) {
  for (const auto kind : {ScheduleKind::kGPipe, ScheduleKind::kOneFOneB}) {
    for (int p = 1; p <= 5; ++p) {
      for (int m = 1; m <= 9; ++m) {
        const auto streams = pipeline_schedule(p, m, kind);
        const std::string what = (kind == ScheduleKind::kGPipe ? "GPipe" : "1F1B") + std::string(" p=") +
                                 std::to_string(p) + " m=" + std::to_string(m);
        EXPECT_TRUE(runs_to_completion(streams, /*rendezvous=*/false)) << what;
        // GPipe runs even when every send waits for its receive; 1F1B's steady state has neighbours send
        // to each other at once (an activation one way, a gradient the other), so its sends must not wait.
        if (kind == ScheduleKind::kGPipe || p == 1 || m == 1) {
          EXPECT_TRUE(runs_to_completion(streams, /*rendezvous=*/true)) << what << " with waiting sends";
        }
        std::map<std::pair<int, int>, int> sends, receives;  // (stage boundary and direction, micro) -> count
        for (int s = 0; s < p; ++s) {
          int forwards = 0, backwards = 0;
          for (const auto& i : streams[static_cast<size_t>(s)]) {
            forwards += i.op == PipeOp::kForward;
            backwards += i.op == PipeOp::kBackward;
            if (i.op == PipeOp::kSendActivation) ++sends[{2 * s, i.micro}];
            if (i.op == PipeOp::kRecvActivation) ++receives[{2 * (s - 1), i.micro}];
            if (i.op == PipeOp::kSendGradient) ++sends[{2 * (s - 1) + 1, i.micro}];
            if (i.op == PipeOp::kRecvGradient) ++receives[{2 * s + 1, i.micro}];
          }
          EXPECT_EQ(forwards, m) << what;
          EXPECT_EQ(backwards, m) << what;
          EXPECT_EQ(streams[static_cast<size_t>(s)].back().op, PipeOp::kOptimizerStep) << what;
          const int peak = peak_live_micro_batches(streams[static_cast<size_t>(s)]);
          if (kind == ScheduleKind::kOneFOneB) {
            EXPECT_LE(peak, std::min(p - s, m)) << what << " stage " << s;
          } else {
            EXPECT_EQ(peak, m) << what;
          }
        }
        EXPECT_EQ(sends, receives) << what;
      }
    }
  }
  EXPECT_THROW(pipeline_schedule(0, 4, ScheduleKind::kGPipe), InputError);
}

}  // namespace
}  // namespace hllm::parallel
