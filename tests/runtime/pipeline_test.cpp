// Pipeline parallelism against the plain computation, on thread ranks over the loader_dataset fixture:
// pp = 2 and 4 (dp 1 and 2; ZeRO stages 0, 1 and 3; stored and recomputed activations; 1F1B and GPipe; bf16)
// train to the losses and parameters of pp = 1 at the same dp and global batch, evaluate alike, and bad
// cuts are refused.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "tests/runtime/trainer_fixture.h"

namespace hllm::runtime {
namespace {

struct PipelineRun {
  std::vector<double> losses;  // rank 0's, the pipeline's (every stage reports the last stage's)
  std::vector<at::Tensor> parameters;  // the whole model, each parameter from a rank that holds it
  std::map<std::string, double> test;
};

// 4 optimizer steps of 4 micro-batches (so 1F1B has a steady state at pp = 2 and 4), then valid and test.
PipelineRun train_run(int world, std::vector<std::string> settings) {
  settings.insert(settings.end(), {"train.max_steps=4", "train.log_interval=2", "optimizer.params.lr=0.003",
                                   "gradient_accumulation_steps=4", "train.eval_interval=0"});
  struct Mine {
    TrainReport report;
    std::vector<at::Tensor> parameters;
  };
  const auto ranks = on_each_rank<Mine>(world, config_for("hllm", settings), [](Trainer& engine) {
    Mine mine;
    mine.report = engine.train();
    mine.parameters = parameter_copies(engine);
    return mine;
  });
  PipelineRun run;
  run.losses = ranks.front().report.local_losses;
  run.test = ranks.front().report.test;
  std::vector<std::vector<at::Tensor>> copies;
  for (const auto& r : ranks) copies.push_back(r.parameters);
  run.parameters = whole_model(copies);
  return run;
}

// Losses within `tolerance` relative; parameters within 5 x `tolerance` absolute: Adam divides by the root
// of the second moment, so a gradient element near zero turns a last-bit difference into a visible one
// in its update.
void expect_same_training(const PipelineRun& expected, const PipelineRun& actual, double tolerance, const std::string& what) {
  runtime::expect_same_training(expected.losses, expected.parameters, actual.losses, actual.parameters, tolerance,
                                5 * tolerance, what);
  // Rankings of near-identical models: a user whose target sits at a cut-off may move.
  for (const auto& [metric, value] : expected.test) EXPECT_NEAR(actual.test.at(metric), value, 0.02) << what << ", " << metric;
}

// The same arithmetic; only the order of some sums differs (an activation's gradient arriving from two
// stages is added in another order), so float32 rounding (the first loss is ~4, parameters move ~1e-2).
constexpr double kTolerance = 2e-5;

TEST(Pipeline, TrainsAsWithoutPipeline) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  // pp x dp in {2 x 1, 4 x 1, 2 x 2} x ZeRO stage {0, 3} x {stored, recomputed}, against pp = 1 at the same dp;
  // 1F1B, with GPipe and stage 1 once each.
  const std::map<int, PipelineRun> plain = {{1, train_run(1, {})}, {2, train_run(2, {})}};
  struct Layout {
    int pp, dp;
  };
  for (const auto& [pp, dp] : std::vector<Layout>{{2, 1}, {4, 1}, {2, 2}}) {
    for (const int stage : {0, 3}) {
      for (const std::string policy : {"none", "every_block"}) {
        const std::vector<std::string> settings = {"parallel.pp=" + std::to_string(pp),
                                                   "zero_optimization.stage=" + std::to_string(stage),
                                                   "activation_checkpointing.policy=" + policy};
        std::string what = "dp " + std::to_string(dp);
        for (const auto& s : settings) what += ", " + s;
        expect_same_training(plain.at(dp), train_run(pp * dp, settings), kTolerance, what);
      }
    }
  }
  expect_same_training(plain.at(1), train_run(4, {"parallel.pp=4", "parallel.pipeline_schedule=gpipe"}), kTolerance,
                       "pp 4, GPipe");
  expect_same_training(plain.at(2),
                       train_run(4, {"parallel.pp=2", "zero_optimization.stage=1", "parallel.pipeline_schedule=gpipe"}),
                       kTolerance, "pp 2 x dp 2, stage 1, GPipe");
}

TEST(Pipeline, Bfloat16TrainsAsWithoutPipeline) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  // bfloat16 activations cross the stage boundary as they are; only sums' order differs, as in float32,
  // but each difference is a bf16 rounding of the parameters' updates.
  const PipelineRun one = train_run(1, {"bf16.enabled=true"});
  expect_same_training(one, train_run(2, {"bf16.enabled=true", "parallel.pp=2", "zero_optimization.stage=3"}), 1e-2,
                       "bf16, pp 2, stage 3");
}

TEST(Pipeline, EvaluatesAsWithoutPipeline) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  // The same initial parameters: the catalogue chunks and the users pass through the stages and give
  // pp = 1's metrics.
  const auto valid = [](int world, const std::vector<std::string>& settings) {
    return on_ranks<std::map<std::string, double>>(world, config_for("hllm", settings),
                                                   [](Trainer& engine) { return engine.evaluator().evaluate(data::EvalSplit::kValid); });
  };
  const auto plain = valid(1, {});
  for (const auto& [world, pp] : std::vector<std::pair<int, int>>{{2, 2}, {4, 4}, {4, 2}}) {
    const auto piped = valid(world, {"parallel.pp=" + std::to_string(pp)});
    for (const auto& [metric, value] : plain) {
      EXPECT_NEAR(piped.at(metric), value, 1e-9) << "world " << world << ", pp " << pp << ", " << metric;
    }
  }
}

TEST(Pipeline, HoldsOnlyItsStagesParameters) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  // Stage s's ranks hold the parameters of its blocks; every other parameter's memory is freed.
  const auto held = on_each_rank<std::vector<int64_t>>(2, config_for("hllm", {"parallel.pp=2"}), [](Trainer& engine) {
    std::vector<int64_t> numels;
    for (const auto& [name, t] : engine.model().recommender().named_parameters()) numels.push_back(t.numel());
    return numels;
  });
  const auto whole = on_ranks<std::vector<int64_t>>(1, config_for("hllm"), [](Trainer& engine) {
    std::vector<int64_t> numels;
    for (const auto& [name, t] : engine.model().recommender().named_parameters()) numels.push_back(t.numel());
    return numels;
  });
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ((held[0][i] > 0) + (held[1][i] > 0), 1) << "parameter " << i << " is held by exactly one stage";
    EXPECT_EQ(std::max(held[0][i], held[1][i]), whole[i]) << "parameter " << i;
  }
}

TEST(Pipeline, BadCutsAndModelsAreRefused) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const auto construct = [](int world, const std::vector<std::string>& settings, const std::string& model = "hllm") {
    on_ranks<int>(world, config_for(model, settings), [](Trainer&) { return 0; });
  };
  // debug towers: item_embedding, item_layer.0-1, item_output, user_input (no parameters), user_layer.0-1, ...
  EXPECT_THROW(construct(2, {"parallel.pp=2", "parallel.pipeline_cut=[2, 5]"}), InputError) << "pp - 1 entries";
  EXPECT_THROW(construct(2, {"parallel.pp=2", "parallel.pipeline_cut=[0]"}), InputError) << "stage 1 from block 0";
  EXPECT_THROW(construct(2, {"parallel.pp=2", "parallel.pipeline_cut=[99]"}), InputError) << "past the last block";
  EXPECT_THROW(construct(4, {"parallel.pp=4", "parallel.pipeline_cut=[2, 4, 5]"}), InputError)
      << "a stage of user_input alone has nothing to train";
  EXPECT_THROW(construct(2, {"parallel.pp=2"}, "sasrec"), InputError) << "one block";
  EXPECT_NO_THROW(construct(2, {"parallel.pp=2", "parallel.pipeline_cut=[4]"})) << "the Item LLM | User LLM cut";
}

}  // namespace
}  // namespace hllm::runtime
