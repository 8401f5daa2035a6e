// Checkpoints through the trainer, on thread ranks: a run resumed from an intermediate checkpoint gives
// the uninterrupted run's losses and parameters bit for bit (ZeRO stages 0 and 3); a stop request commits
// a checkpoint at the next step boundary; a checkpoint saved at dp = 2 or 1 loads at other dp sizes, pp
// sizes and ZeRO stages into exactly the same state; a run continues across pipeline sizes; a damaged
// newest checkpoint is skipped for the previous one.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/committed_steps.h"
#include "runtime/hf_export.h"
#include "common/error.h"
#include "tests/runtime/trainer_fixture.h"

namespace hllm::runtime {
namespace {
namespace fs = std::filesystem;

struct Outcome {
  TrainReport report;
  std::vector<at::Tensor> parameters;
};

Outcome train_with(int world, std::vector<std::string> settings, const std::string& resume = "",
                   const std::atomic<int>* stop = nullptr, const std::string& device = "cpu") {
  settings.insert(settings.begin(), {"train.max_steps=8", "train.log_interval=2", "optimizer.params.lr=0.003"});
  const auto ranks = on_each_rank<Outcome>(world, config_for("hllm", settings), [&](Trainer& engine) {
    if (!resume.empty()) engine.resume_from(resume);
    if (stop) engine.stop_when(stop);
    Outcome out;
    out.report = engine.train();
    out.parameters = parameter_copies(engine);
    return out;
  }, device);
  Outcome out = ranks.front();
  std::vector<std::vector<at::Tensor>> copies;
  for (const auto& r : ranks) copies.push_back(r.parameters);
  out.parameters = whole_model(copies);  // under pp, each stage's parameters from its ranks
  return out;
}

std::string scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("hllm_resume_test_" + name);
  fs::remove_all(dir);
  return dir.string();
}

void expect_identical(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << what << ": parameter " << i;
}

TEST(Resume, ContinuesBitForBitFromAnIntermediateCheckpoint) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  // On 2 ranks: dp 2 at ZeRO stages 0 and 3, and pp 2 (its stages' state saved and loaded by name); saved
  // from the training tensors while training waits (the CPU's default) and from a snapshot in the background.
  struct Layout {
    std::string pp, stage, async_save;
  };
  for (const auto& [pp, stage, async_save] :
       std::vector<Layout>{{"1", "0", "off"}, {"1", "3", "on"}, {"2", "0", "on"}, {"2", "3", "auto"}}) {
    const std::string what = "pp " + pp + ", stage " + stage + ", async_save " + async_save;
    const std::string dir = scratch("bitwise" + pp + stage);
    const std::vector<std::string> settings = {"zero_optimization.stage=" + stage, "parallel.pp=" + pp,
                                               "checkpoint.interval_steps=3", "checkpoint.keep_last=0",
                                               "checkpoint.async_save=" + async_save, "checkpoint.dir=" + dir};
    const Outcome whole = train_with(2, settings);
    EXPECT_EQ(checkpoint::committed_steps(dir), (std::vector<int64_t>{3, 6})) << what;
    const Outcome resumed = train_with(2, settings, dir + "/" + checkpoint::step_directory_name(3));
    EXPECT_EQ(resumed.report.resumed_from, 3);
    ASSERT_EQ(resumed.report.local_losses.size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(resumed.report.local_losses[i], whole.report.local_losses[i + 3]) << what << ", step " << i + 3;
    }
    EXPECT_EQ(resumed.report.last_loss, whole.report.last_loss) << what;
    expect_identical(whole.parameters, resumed.parameters, what);
    EXPECT_EQ(resumed.report.test, whole.report.test) << what << ": the same model tests the same";
  }
}

// A checkpoint written before the parts' scalars were namespaced (format version 1: one flat object) still
// resumes, bit for bit: the manifest of a version-2 checkpoint is written back as version 1 would have it.
TEST(Resume, AVersionOneCheckpointStillResumes) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const std::string dir = scratch("version1");
  const std::vector<std::string> settings = {"zero_optimization.stage=3", "checkpoint.interval_steps=3",
                                             "checkpoint.keep_last=0", "checkpoint.dir=" + dir};
  const Outcome whole = train_with(2, settings);
  const std::string step3 = dir + "/" + checkpoint::step_directory_name(3);
  const std::string path = step3 + "/manifest.json";
  nlohmann::json manifest = nlohmann::json::parse(std::ifstream(path));
  ASSERT_EQ(manifest.at("version"), 2);
  nlohmann::json flat = nlohmann::json::object();
  for (const auto& [part, scalars] : manifest.at("scalars").items()) {
    for (const auto& [key, value] : scalars.items()) {
      ASSERT_FALSE(flat.contains(key)) << "parts '" << part << "' share the key '" << key << "'";
      flat[key] = value;
    }
  }
  manifest["scalars"] = flat;
  manifest["version"] = 1;
  std::ofstream(path) << manifest.dump(1);
  EXPECT_EQ(checkpoint::Checkpoint(step3).version(), 1);
  const Outcome resumed = train_with(2, settings, step3);
  EXPECT_EQ(resumed.report.resumed_from, 3);
  EXPECT_EQ(resumed.report.last_loss, whole.report.last_loss);
  expect_identical(whole.parameters, resumed.parameters, "resumed from version 1");
  manifest["version"] = 3;  // a version this build does not know is refused, naming it
  std::ofstream(path) << manifest.dump(1);
  try {
    checkpoint::Checkpoint{step3};
    ADD_FAILURE() << "version 3 was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("version 3, this build reads 'hllm-checkpoint' versions 1 to 2"),
              std::string::npos)
        << e.what();
  }
}

TEST(Resume, ContinuesBitForBitOnTheGpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device on this machine";
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  for (const std::string stage : {"0", "3"}) {
    const std::string dir = scratch("gpu" + stage);
    const std::vector<std::string> settings = {"zero_optimization.stage=" + stage, "bf16.enabled=true",
                                               "checkpoint.interval_steps=3", "checkpoint.dir=" + dir};
    const Outcome whole = train_with(1, settings, "", nullptr, "cuda:0");
    const Outcome resumed =
        train_with(1, settings, dir + "/" + checkpoint::step_directory_name(6), nullptr, "cuda:0");
    ASSERT_EQ(resumed.report.local_losses.size(), 2u);
    EXPECT_EQ(resumed.report.local_losses[0], whole.report.local_losses[6]) << "stage " << stage;
    for (size_t i = 0; i < whole.parameters.size(); ++i) {
      EXPECT_TRUE(at::allclose(whole.parameters[i].to(at::kFloat), resumed.parameters[i].to(at::kFloat), 1e-2, 1e-2))
          << "stage " << stage << ", parameter " << i;
    }
  }
}

TEST(Resume, AStopRequestCommitsACheckpointAtTheNextStepBoundary) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  for (const std::string pp : {"1", "2"}) {
    const std::string dir = scratch("stop" + pp);
    const std::vector<std::string> settings = {"checkpoint.dir=" + dir, "parallel.pp=" + pp};
    std::atomic<int> stop{1};  // already asked: the first boundary (after step 1) stops
    const Outcome stopped = train_with(2, settings, "", &stop);
    EXPECT_TRUE(stopped.report.preempted) << "pp " << pp;
    EXPECT_EQ(stopped.report.steps, 1) << "pp " << pp;
    std::vector<std::string> skipped;
    const std::string latest = checkpoint::latest_valid_checkpoint(dir, &skipped);
    EXPECT_EQ(latest, stopped.report.last_checkpoint) << "pp " << pp;
    EXPECT_TRUE(skipped.empty());
    const Outcome resumed = train_with(2, settings, latest);
    const Outcome whole = train_with(2, {"parallel.pp=" + pp});
    expect_identical(whole.parameters, resumed.parameters, "stopped and resumed at pp " + pp);
  }
}

// Every tensor of two checkpoints, read whole.
void expect_same_state(const std::string& a_dir, const std::string& b_dir, const std::vector<std::string>& names,
                       const std::vector<std::vector<int64_t>>& shapes, const std::string& what) {
  const checkpoint::Checkpoint a(a_dir), b(b_dir);
  for (size_t i = 0; i < names.size(); ++i) {
    for (const std::string kind : {"param.", "adam.m.", "adam.v."}) {
      int64_t n = 1;
      for (const auto d : shapes[i]) n *= d;
      at::Tensor x = at::empty({n}), y = at::empty({n});
      a.read({kind + names[i], shapes[i], 0, x});
      b.read({kind + names[i], shapes[i], 0, y});
      EXPECT_TRUE(at::equal(x, y)) << what << ": " << kind << names[i];
    }
  }
  EXPECT_EQ(a.scalars_of("model").at("optimizer_steps"), b.scalars_of("model").at("optimizer_steps")) << what;
}

TEST(Resume, LoadsOnOtherDataParallelSizesAndZeroStages) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const std::vector<std::string> at_four = {"train.max_steps=4", "checkpoint.interval_steps=4"};
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  on_ranks<int>(1, config_for("hllm"), [&](Trainer& engine) {
    for (const auto& [name, t] : engine.model().recommender().named_parameters()) {
      names.push_back(name);
      shapes.push_back(t.sizes().vec());
    }
    return 0;
  });
  struct Layout {
    int world, pp, stage;
  };
  // Saved at dp 2 and at dp 1 (stage 0), resumed at its last step, each layout (world, pp, ZeRO stage)
  // trains no further and saves what it loaded.
  const std::vector<std::pair<int, std::vector<Layout>>> plans = {
      {2, {{1, 1, 0}, {1, 1, 3}, {2, 1, 3}, {4, 1, 2}, {4, 1, 1}, {2, 2, 0}, {4, 2, 3}, {4, 4, 1}}},
      {1, {{2, 1, 0}, {4, 1, 3}, {4, 2, 0}}}};
  for (const auto& [saved_world, layouts] : plans) {
    const std::string saved = scratch("reshard_saved_" + std::to_string(saved_world));
    auto first = at_four;
    first.push_back("checkpoint.dir=" + saved);
    const Outcome original = train_with(saved_world, first);  // stage 0
    const std::string checkpoint_dir = saved + "/" + checkpoint::step_directory_name(4);
    for (const auto& [world, pp, stage] : layouts) {
      const std::string what = "saved at dp " + std::to_string(saved_world) + ", loaded at world " +
                               std::to_string(world) + ", pp " + std::to_string(pp) + ", stage " + std::to_string(stage);
      const std::string again =
          scratch("reshard_" + std::to_string(world) + "_" + std::to_string(pp) + "_" + std::to_string(stage));
      auto settings = at_four;
      settings.push_back("checkpoint.dir=" + again);
      settings.push_back("zero_optimization.stage=" + std::to_string(stage));
      settings.push_back("parallel.pp=" + std::to_string(pp));
      const Outcome loaded = train_with(world, settings, checkpoint_dir);
      expect_identical(original.parameters, loaded.parameters, what);
      expect_same_state(checkpoint_dir, again + "/" + checkpoint::step_directory_name(4), names, shapes, what);
    }
  }
}

// Across pipeline sizes at the same data-parallel size (so the same batches): a run saved at pp = 1
// continues at pp = 2 and one saved at pp = 2 at pp = 1, with the uninterrupted run's losses and
// parameters up to the order of float32 sums (tests/runtime/pipeline_test.cpp's tolerance).
TEST(Resume, ContinuesAcrossPipelineSizes) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  for (const auto& [saved_pp, resumed_pp] : std::vector<std::pair<int, int>>{{1, 2}, {2, 1}}) {
    const std::string what = "pp " + std::to_string(saved_pp) + " -> " + std::to_string(resumed_pp);
    const std::string dir = scratch("pp" + std::to_string(saved_pp));
    const std::vector<std::string> common = {"checkpoint.interval_steps=4", "checkpoint.keep_last=0",
                                             "gradient_accumulation_steps=2", "zero_optimization.stage=3"};
    auto first = common;
    first.insert(first.end(), {"checkpoint.dir=" + dir, "parallel.pp=" + std::to_string(saved_pp)});
    const Outcome whole = train_with(saved_pp, first);
    auto second = common;
    second.insert(second.end(), {"checkpoint.dir=" + scratch("pp_again"), "parallel.pp=" + std::to_string(resumed_pp)});
    const Outcome resumed = train_with(resumed_pp, second, dir + "/" + checkpoint::step_directory_name(4));
    EXPECT_EQ(resumed.report.resumed_from, 4) << what;
    ASSERT_EQ(resumed.report.local_losses.size(), 4u) << what;
    for (size_t i = 0; i < 4; ++i) {
      EXPECT_NEAR(resumed.report.local_losses[i], whole.report.local_losses[i + 4],
                  2e-5 * std::abs(whole.report.local_losses[i + 4]))
          << what << ", step " << i + 4;
    }
    ASSERT_EQ(resumed.parameters.size(), whole.parameters.size());
    for (size_t i = 0; i < whole.parameters.size(); ++i) {
      EXPECT_TRUE(at::allclose(resumed.parameters[i], whole.parameters[i], 0, 2e-5)) << what << ", parameter " << i;
    }
  }
}

TEST(Resume, ADamagedNewestCheckpointFallsBackToThePreviousOne) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const std::string dir = scratch("damaged");
  train_with(2, {"train.max_steps=4", "checkpoint.interval_steps=2", "checkpoint.keep_last=0", "checkpoint.dir=" + dir});
  const std::string newest = dir + "/" + checkpoint::step_directory_name(4);
  const std::string previous = dir + "/" + checkpoint::step_directory_name(2);
  std::vector<std::string> skipped;
  EXPECT_EQ(checkpoint::latest_valid_checkpoint(dir, &skipped), newest);
  {  // one byte changed in a rank's file
    std::fstream f(newest + "/rank_1.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('\x7f');
  }
  EXPECT_EQ(checkpoint::latest_valid_checkpoint(dir, &skipped), previous);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("rank_1.safetensors: CRC-32"), std::string::npos) << skipped[0];
  fs::resize_file(newest + "/rank_0.safetensors", 100);  // truncated
  skipped.clear();
  EXPECT_EQ(checkpoint::latest_valid_checkpoint(dir, &skipped), previous);
  EXPECT_NE(skipped.at(0).find("truncated"), std::string::npos) << skipped[0];
  // A save that died before its commit leaves step_<N>.tmp: never a candidate.
  fs::create_directories(dir + "/step_00000006.tmp");
  EXPECT_EQ(checkpoint::committed_steps(dir), (std::vector<int64_t>{2, 4}));
  // Loading the damaged one directly is refused, naming the file.
  try {
    checkpoint::Checkpoint(newest).verify();
    ADD_FAILURE() << "a truncated checkpoint verified";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("rank_0.safetensors"), std::string::npos) << e.what();
  }
}

// hllm_export's directories start a new run (model.item / model.user) that evaluates exactly as the run
// that saved the checkpoint.
TEST(Resume, ExportedTowersEvaluateAsTheCheckpoint) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const std::string dir = scratch("export"), out = scratch("export_out"), sharded = scratch("export_sharded");
  const Outcome trained = train_with(2, {"train.max_steps=4", "checkpoint.interval_steps=4", "checkpoint.dir=" + dir,
                                         "zero_optimization.stage=3"});  // the checkpoint holds shards: export joins them
  const std::string step = dir + "/" + checkpoint::step_directory_name(4);
  runtime::export_hf(step, out);
  EXPECT_THROW(runtime::export_hf(step, out), InputError) << "an existing output directory is refused";
  // Shards of at most 20 kB (the debug towers' layers are ~6 kB each): several files and their index.
  runtime::export_hf(step, sharded, runtime::parse_byte_size("20KB"));
  EXPECT_FALSE(fs::exists(sharded + "/item/model.safetensors"));
  const auto index = nlohmann::json::parse(std::ifstream(sharded + "/item/model.safetensors.index.json"));
  std::set<std::string> files;
  for (const auto& [tensor, file] : index.at("weight_map").items()) files.insert(file.get<std::string>());
  EXPECT_GE(files.size(), 3u);
  for (const auto& file : files) {
    EXPECT_TRUE(fs::exists(sharded + "/item/" + file)) << file;
    EXPECT_NE(file.find("-of-"), std::string::npos) << file;
  }
  EXPECT_GT(index.at("metadata").at("total_size").get<int64_t>(), 0);
  for (const std::string& towers : {out, sharded}) {
    const auto exported = on_ranks<std::map<std::string, double>>(  // 2 ranks, as the metric sums were reduced
        2, config_for("hllm", {"model.item=" + towers + "/item", "model.user=" + towers + "/user"}),
        [](Trainer& engine) { return engine.evaluator().evaluate(data::EvalSplit::kTest); });
    EXPECT_EQ(exported, trained.report.test) << towers;
  }
}

TEST(Resume, ExportSizesAreReadAsHuggingFaceWritesThem) {
  EXPECT_EQ(runtime::parse_byte_size("5GB"), 5'000'000'000);
  EXPECT_EQ(runtime::parse_byte_size("2GiB"), int64_t{2} << 30);
  EXPECT_EQ(runtime::parse_byte_size("500MB"), 500'000'000);
  EXPECT_EQ(runtime::parse_byte_size("1.5KiB"), 1536);
  EXPECT_EQ(runtime::parse_byte_size("4096"), 4096);
  for (const std::string bad : {"", "GB", "5XB", "-1GB", "0"}) EXPECT_THROW(runtime::parse_byte_size(bad), InputError) << bad;
}

// checkpoint.interval_minutes: rank 0's clock decides for all (here: due at every step boundary).
TEST(Resume, SavesByTheClock) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const std::string dir = scratch("clock");
  train_with(2, {"train.max_steps=3", "checkpoint.interval_minutes=1e-7", "checkpoint.keep_last=0", "checkpoint.dir=" + dir});
  EXPECT_EQ(checkpoint::committed_steps(dir), (std::vector<int64_t>{1, 2, 3}));
}

// A save that fails (here: the checkpoint directory cannot be created) is reported and never committed;
// training goes on and finishes.
TEST(Resume, AFailedSaveIsReportedAndTrainingGoesOn) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const std::string blocker = scratch("blocker");
  std::ofstream(blocker) << "a file where a directory should be";
  for (const std::string async_save : {"on", "off"}) {
    const Outcome run = train_with(2, {"train.max_steps=4", "checkpoint.interval_steps=2", "checkpoint.async_save=" + async_save,
                                       "checkpoint.dir=" + blocker + "/checkpoints"});
    EXPECT_EQ(run.report.steps, 4) << async_save;
    EXPECT_TRUE(run.report.last_checkpoint.empty()) << async_save;
    EXPECT_FALSE(run.report.test.empty()) << async_save << ": the run finished with its evaluation";
  }
  fs::remove(blocker);
}

}  // namespace
}  // namespace hllm::runtime
