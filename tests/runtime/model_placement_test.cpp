// A ModelPlacement for evaluation alone (hllm_eval): a run's saved model/ read back in any layout, each
// rank filling from the file only what it holds.
#include "runtime/model_placement.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "models/parameter_source.h"
#include "parallel/comm/thread_communicator.h"
#include "runtime/evaluator.h"
#include "tests/runtime/trainer_fixture.h"

namespace hllm::runtime {
namespace {

struct Evaluated {
  std::map<std::string, double> test;
  int whole_parameters = 0;  // parameters of the model this rank holds whole
};

// On `world` thread ranks: the saved model in `directory` evaluated on the test split.
std::vector<Evaluated> evaluate_saved(int world, const config::Config& config, const std::string& directory) {
  const auto dataset = data::Dataset::open(dataset_path());
  std::vector<Evaluated> results(static_cast<size_t>(world));
  std::mutex mutex;
  parallel::run_thread_ranks(world, [&](parallel::Communicator& comm) {
    const parallel::Topology topology(comm, config.parallel.pp, parallel::Placement{});
    ModelPlacement model(config, config::resolve_batch_sizes(config, topology.dp()), topology, dataset,
                         Purpose::kEvaluation, directory);
    Evaluated mine;
    for (const auto& [name, t] : model.recommender().named_parameters()) {
      mine.whole_parameters += t.numel() > 0 && !models::is_placeholder(t);
    }
    mine.test = Evaluator(config, topology, dataset, model).evaluate(data::EvalSplit::kTest);
    std::lock_guard<std::mutex> lock(mutex);
    results[static_cast<size_t>(comm.rank())] = std::move(mine);
  });
  return results;
}

TEST(ModelPlacement, ASavedModelEvaluatesAsTrainedInEveryLayout) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const std::string run_dir = (std::filesystem::temp_directory_path() / "hllm_parallel_model_saved").string();
  std::filesystem::remove_all(run_dir);
  const auto trained_config = config_for("hllm", {"train.max_steps=4", "zero_optimization.stage=3"});
  const auto dataset = data::Dataset::open(dataset_path());
  TrainReport trained;
  parallel::run_thread_ranks(2, [&](parallel::Communicator& comm) {
    const parallel::Topology topology(comm, 1, parallel::Placement{});
    Trainer trainer(trained_config, config::resolve_batch_sizes(trained_config, 2), topology, dataset, run_dir);
    const TrainReport report = trainer.train();
    if (comm.rank() == 0) trained = report;
  });
  const std::string saved = run_dir + "/model";
  struct Layout {
    int world;
    std::vector<std::string> settings;
  };
  for (const auto& [world, settings] : std::vector<Layout>{{2, {"zero_optimization.stage=3"}},
                                                            {1, {"zero_optimization.stage=0"}},
                                                            {2, {"zero_optimization.stage=1"}},
                                                            {2, {"zero_optimization.stage=3", "parallel.pp=2"}}}) {
    const std::string what = "world " + std::to_string(world) + ", " + settings.front() + (settings.size() > 1 ? ", pp 2" : "");
    const auto ranks = evaluate_saved(world, config_for("hllm", settings), saved);
    for (const auto& [metric, value] : trained.test) EXPECT_NEAR(ranks.front().test.at(metric), value, 1e-9) << what << " " << metric;
    // Under ZeRO-3 a rank holds its shards only: no parameter is whole outside a block's gather.
    if (settings.front() == "zero_optimization.stage=3") {
      for (const auto& rank : ranks) EXPECT_EQ(rank.whole_parameters, 0) << what;
    } else {
      EXPECT_GT(ranks.front().whole_parameters, 0) << what;
    }
  }
  // A file without a parameter is refused before any values are read, naming the file's directory and tensor.
  const auto other = config_for("hllm", {"model.item=tiny", "model.user=tiny"});
  try {
    evaluate_saved(1, other, saved);
    ADD_FAILURE() << "a saved model of other shapes was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(saved), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(run_dir);
}

}  // namespace
}  // namespace hllm::runtime
