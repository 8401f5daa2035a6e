// The trainer on thread ranks over a dataset written by hllm_prepare (the loader_dataset ctest fixture):
// evaluation gives the same metrics on 1, 2 and 3 ranks, and training lowers the loss.
#include "runtime/trainer.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/config/config_loader.h"
#include "common/error.h"
#include "data/dataset_writer.h"
#include "data/item_token_reader.h"
#include "models/model_plan.h"
#include "parallel/comm/thread_communicator.h"
#include "tests/runtime/trainer_fixture.h"

namespace hllm::runtime {
namespace {

TEST(Trainer, EvaluationIsTheSameOnOneTwoThreeRanks) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  for (const std::string model : {"sasrec", "hllm"}) {
    const auto config = config_for(model);
    using Metrics = std::map<std::string, double>;
    const auto evaluate = [](Trainer& e) { return e.evaluator().evaluate(data::EvalSplit::kTest); };
    const Metrics one = on_ranks<Metrics>(1, config, evaluate);
    for (int world : {2, 3}) {
      const Metrics many = on_ranks<Metrics>(world, config, evaluate);
      for (const auto& [name, value] : one) EXPECT_NEAR(many.at(name), value, 1e-9) << model << " " << name << " world " << world;
    }
    EXPECT_GT(one.at("recall@200"), 0.0);
  }
}

// train.eval_catalogue sharded (the default): each replica keeps only the rows it embedded (a catalogue of
// four chunks: one to four slices of real rows), the users travel instead, and the metrics equal the
// replicated table's to the last bit, on 1, 2 and 3 ranks and at pp 2 (each stage holding its pipeline's
// slice).
TEST(Trainer, AShardedCatalogueEvaluatesAsTheReplicatedOneBitForBit) {
  const std::string path = catalogue_dataset_path();
  ASSERT_FALSE(path.empty()) << "HLLM_TEST_CATALOGUE_DATASET is not set";
  const int64_t rows = data::Dataset::open(path).num_items() + 1;
  ASSERT_GT(rows - 1, 3 * models::kCatalogueChunkItems) << "four chunks";
  using Metrics = std::map<std::string, double>;
  using Result = std::pair<Metrics, int64_t>;
  const auto evaluate = [](Trainer& e) {
    const CatalogueShard catalogue = e.evaluator().catalogue();
    return Result{e.evaluator().evaluate(catalogue, data::EvalSplit::kTest), catalogue.held().size(0)};
  };
  for (const auto& [model, world, pp] : std::vector<std::tuple<std::string, int, int>>{
           {"sasrec", 3, 1}, {"hllm", 1, 1}, {"hllm", 2, 1}, {"hllm", 3, 1}, {"hllm", 4, 2}}) {
    auto with = [&, pp = pp, model = model](const std::string& holding) {
      return config_for(model, {"parallel.pp=" + std::to_string(pp), "train.eval_catalogue=" + holding});
    };
    const std::string where = model + " world " + std::to_string(world) + " pp " + std::to_string(pp);
    const auto replicated = on_each_rank<Result>(world, with("replicated"), evaluate, "cpu", path);
    const auto sharded = on_each_rank<Result>(world, with("sharded"), evaluate, "cpu", path);
    const CatalogueLayout layout = CatalogueLayout::of(rows - 1, world / pp);
    for (int rank = 0; rank < world; ++rank) {
      EXPECT_EQ(sharded[rank].first, replicated.front().first) << where << " rank " << rank;
      EXPECT_EQ(replicated[rank].second, rows) << where;
      const int replica = rank % (world / pp);  // rank = stage * dp + dp index (parallel/grid_layout.h)
      EXPECT_EQ(sharded[rank].second, layout.end(replica) - layout.begin(replica)) << where << " rank " << rank;
    }
    EXPECT_GT(sharded.front().first.at("recall@200"), 0.0) << where;
  }
}

// Each model replica embeds only its share of the catalogue (fixed chunks of models::kCatalogueChunkItems,
// a contiguous run of chunks per replica; under pp only the first stage reads item text): every item is
// embedded exactly once over all ranks, and no rank more than its replica's chunks. (The fixture's 120
// items are one chunk: one replica embeds it, the others run stand-ins.)
TEST(Trainer, EachReplicaEmbedsOnlyItsShareOfTheCatalogue) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const int64_t items = data::Dataset::open(dataset_path()).num_items();
  const int64_t chunks = (items + models::kCatalogueChunkItems - 1) / models::kCatalogueChunkItems;
  for (const auto& [world, pp] : std::vector<std::pair<int, std::string>>{{1, "1"}, {3, "1"}, {2, "2"}, {4, "2"}}) {
    const auto counts = on_each_rank<int64_t>(world, config_for("hllm", {"parallel.pp=" + pp}), [](Trainer& e) {
      e.evaluator().catalog_embeddings();
      return e.evaluator().items_embedded();
    });
    const int replicas = world / std::stoi(pp);
    int64_t total = 0;
    for (const int64_t n : counts) {
      total += n;
      EXPECT_LE(n, models::kCatalogueChunkItems * ((chunks + replicas - 1) / replicas)) << "world " << world << ", pp " << pp;
    }
    EXPECT_EQ(total, items) << "world " << world << ", pp " << pp << ": every item embedded once";
  }
}

// The same over several chunks per replica: 700 items (three chunks of 256) given as a new-items file whose
// item k repeats the tokens of dataset item 1 + k % 120. Each rank embeds at most its replica's chunks, every
// item is embedded once, and each row is the catalogue's row of the item whose tokens it repeats, on any layout.
TEST(Trainer, ReplicasSplitManyChunksAndNewItemsMatchTheCatalogue) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const data::Dataset dataset = data::Dataset::open(dataset_path());
  const std::vector<std::vector<int32_t>> tokens = dataset.read_item_tokens();
  const int64_t items = 700, source_items = dataset.num_items();
  std::vector<std::string> ids{""}, texts{""};
  for (int64_t k = 0; k < items; ++k) {
    ids.push_back("new" + std::to_string(k));
    std::string text;
    for (int32_t t : tokens[1 + k % source_items]) text += std::to_string(t) + " ";
    texts.push_back(text);
  }
  data::TokenizerFiles as_written;  // the "text" is the tokens themselves
  as_written.encode = [](const std::string& text) {
    std::vector<int32_t> out;
    std::istringstream in(text);
    for (int32_t t; in >> t;) out.push_back(t);
    return out;
  };
  const std::string path = (std::filesystem::temp_directory_path() / ("hllm-new-items-" + std::to_string(::getpid()) + ".h5")).string();
  data::write_item_tokens(path, ids, texts, as_written, 1 << 20);
  const int64_t chunks = (items + models::kCatalogueChunkItems - 1) / models::kCatalogueChunkItems;
  ASSERT_GE(chunks, 3);
  at::Tensor reference;
  for (const auto& [world, pp] : std::vector<std::pair<int, std::string>>{{1, "1"}, {2, "1"}, {3, "1"}, {4, "2"}}) {
    using Result = std::pair<int64_t, at::Tensor>;
    const auto results = on_each_rank<Result>(world, config_for("hllm", {"parallel.pp=" + pp}), [&](Trainer& e) {
      const at::Tensor rows = e.evaluator().item_embeddings(data::ItemTokenReader(path, dataset));
      const int64_t embedded = e.evaluator().items_embedded();
      const at::Tensor catalog = e.evaluator().catalog_embeddings();
      at::Tensor sources = at::arange(items, at::kLong).remainder(source_items) + 1;
      EXPECT_TRUE(at::allclose(rows, catalog.index_select(0, sources), 1e-4, 1e-5)) << "a row is not its item's";
      return Result{embedded, rows};
    });
    const int replicas = world / std::stoi(pp);
    int64_t total = 0;
    for (const auto& [embedded, rows] : results) {
      total += embedded;
      EXPECT_LE(embedded, models::kCatalogueChunkItems * ((chunks + replicas - 1) / replicas)) << "world " << world;
      if (!reference.defined()) reference = rows;
      EXPECT_TRUE(at::allclose(rows, reference, 1e-5, 1e-6)) << "world " << world << ", pp " << pp;
    }
    EXPECT_EQ(total, items) << "world " << world << ", pp " << pp << ": every item embedded once";
  }
  std::filesystem::remove(path);
}

TEST(Trainer, TrainingLowersTheLoss) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const auto config = config_for("sasrec", {"train.max_steps=80", "train.log_interval=20", "optimizer.params.lr=0.003",
                                            "scheduler.params.warmup_num_steps=5"});
  const TrainReport report = on_ranks<TrainReport>(2, config, [](Trainer& e) { return e.train(); });
  EXPECT_EQ(report.steps, 80);
  EXPECT_EQ(report.skipped_steps, 0);
  EXPECT_LT(report.last_loss, report.first_loss * 0.9) << "first " << report.first_loss << " last " << report.last_loss;
  EXPECT_GT(report.test.at("recall@10"), 0.0);
}

// One rank on a GPU trains like one rank on the CPU: the same losses (float32, TF32 off; the kernels sum in
// other orders, and 20 AdamW steps let that grow: 1e-3 relative on the first 10 steps' mean, 1e-2 on the
// last 10) and close final metrics. Skips without a CUDA device (CI).
TEST(Trainer, TrainsOnTheGpuAsOnTheCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device on this machine";
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  at::globalContext().setAllowTF32CuBLAS(false);
  for (const std::string model : {"hllm", "sasrec", "hstu"}) {
    const auto config = config_for(model, {"train.max_steps=20", "train.log_interval=10", "optimizer.params.lr=0.003"});
    const auto train = [](Trainer& e) { return e.train(); };
    const TrainReport cpu = on_ranks<TrainReport>(1, config, train, "cpu");
    const TrainReport gpu = on_ranks<TrainReport>(1, config, train, "cuda:0");
    EXPECT_NEAR(gpu.first_loss, cpu.first_loss, 1e-3 * std::abs(cpu.first_loss)) << model;
    EXPECT_NEAR(gpu.last_loss, cpu.last_loss, 1e-2 * std::abs(cpu.last_loss)) << model;
    EXPECT_NEAR(gpu.test.at("recall@200"), cpu.test.at("recall@200"), 0.05) << model;
    EXPECT_NEAR(gpu.valid.at("ndcg@10"), cpu.valid.at("ndcg@10"), 0.05) << model;
  }
}

// The tested model is the best by valid NDCG@200 among every validation (periodic and final), and it is
// the one saved for hllm_eval.
TEST(Trainer, TestsAndSavesTheBestValidatedModel) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const std::string run_dir = (std::filesystem::temp_directory_path() / "hllm_engine_best").string();
  std::filesystem::remove_all(run_dir);
  const auto config = config_for("sasrec", {"train.max_steps=60", "train.eval_interval=10", "optimizer.params.lr=0.05"});
  const auto dataset = data::Dataset::open(dataset_path());
  TrainReport report;
  parallel::run_thread_ranks(1, [&](parallel::Communicator& comm) {
    const parallel::Topology topology(comm, 1, parallel::Placement{});
    Trainer engine(config, config::resolve_batch_sizes(config, 1), topology, dataset, run_dir);
    report = engine.train();
  });
  double best = -1;
  int64_t best_step = 0;
  std::ifstream metrics(run_dir + "/metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record.value("split", "") != "valid") continue;
    if (record["ndcg@200"].get<double>() > best) {
      best = record["ndcg@200"].get<double>();
      best_step = record["step"].get<int64_t>();
    }
  }
  EXPECT_GT(best, 0);
  EXPECT_DOUBLE_EQ(report.valid.at("ndcg@200"), best);
  EXPECT_EQ(report.best_step, best_step);
  EXPECT_TRUE(std::filesystem::exists(run_dir + "/model/model.safetensors"));
  std::filesystem::remove_all(run_dir);
}

// The non-finite guard with nothing to roll back to: with a NaN parameter every step's gradients are NaN,
// so each step is skipped and counted, and train.max_nan_steps of them in a row stop the run, saying so and
// naming the key.
TEST(Trainer, NonFiniteGradientsAreSkippedThenStopTheRun) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const auto poison_and_train = [](Trainer& e) {
    for (const auto& [name, t] : e.model().recommender().named_parameters()) {
      if (name == "logit_scale") t.detach().fill_(std::nan(""));
    }
    return e.train();
  };
  const TrainReport skipped =
      on_ranks<TrainReport>(1, config_for("sasrec", {"train.max_steps=4", "train.max_nan_steps=10"}), poison_and_train);
  EXPECT_EQ(skipped.skipped_steps, 4);
  EXPECT_TRUE(skipped.stopped_by_guard.empty());
  EXPECT_EQ(skipped.guard.at("incidents").size(), 4u);
  const TrainReport stopped =
      on_ranks<TrainReport>(1, config_for("sasrec", {"train.max_steps=10", "train.max_nan_steps=3"}), poison_and_train);
  EXPECT_EQ(stopped.steps, 2) << "the third non-finite step in a row (step 2) stops the run";
  EXPECT_NE(stopped.stopped_by_guard.find("train.max_nan_steps"), std::string::npos) << stopped.stopped_by_guard;
  EXPECT_EQ(stopped.guard.at("incidents").back().at("action"), "stop");
}

// bf16 mixed precision follows float32 training: HLLM on 2 thread ranks (gathered negatives, averaged
// gradients), 30 steps. bf16 keeps 8 bits of mantissa, so the losses agree to a few percent (2e-2 relative
// on the first 10 steps' mean, 5e-2 on the last 10), and the parameters stay bfloat16 while AdamW works on
// float32 masters.
TEST(Trainer, Bfloat16TrainingFollowsFloat32) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  const std::vector<std::string> common = {"train.max_steps=30", "train.log_interval=10", "optimizer.params.lr=0.003",
                                           "gradient_accumulation_steps=2"};
  auto with_bf16 = common;
  with_bf16.push_back("bf16.enabled=true");
  const auto train = [](Trainer& e) { return e.train(); };
  const TrainReport fp32 = on_ranks<TrainReport>(2, config_for("hllm", common), train);
  const TrainReport bf16 = on_ranks<TrainReport>(2, config_for("hllm", with_bf16), train);
  EXPECT_EQ(bf16.skipped_steps, 0);
  EXPECT_NEAR(bf16.first_loss, fp32.first_loss, 2e-2 * fp32.first_loss);
  EXPECT_NEAR(bf16.last_loss, fp32.last_loss, 5e-2 * fp32.last_loss);
  EXPECT_LT(bf16.last_loss, bf16.first_loss) << "bf16 training does not learn";
  const auto types = on_ranks<std::vector<int>>(1, config_for("hllm", with_bf16), [](Trainer& e) {
    std::vector<int> out;
    for (const auto& [name, t] : e.model().recommender().named_parameters()) out.push_back(static_cast<int>(t.scalar_type()));
    return out;
  });
  EXPECT_EQ(std::count(types.begin(), types.end(), static_cast<int>(at::kFloat)), 1) << "only logit_scale is float32";
}

}  // namespace
}  // namespace hllm::runtime
