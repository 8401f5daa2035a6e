// Run by ctest under `mpirun -np 2` and `-np 3` on a dataset that the fixture test `prepare_loader_dataset`
// wrote with hllm_prepare (path in HLLM_TEST_DATASET): each rank loads its own share, and together they
// see every training window exactly once per epoch, in the same number of batches.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "data/sharded_loader.h"
#include "tests/parallel/mpi_test_world.h"

namespace hllm::data {
namespace {

using parallel::ReduceOp;

std::string dataset_path() {
  const char* path = std::getenv("HLLM_TEST_DATASET");
  return path ? path : "";
}

LoaderOptions options_for(const parallel::Communicator& world) {
  LoaderOptions options;
  options.max_item_list_len = 6;
  options.micro_batch = 5;
  options.num_negatives = 8;
  options.seed = 3;
  options.shuffle_block = 32;
  options.dp_rank = world.rank();
  options.dp_size = world.size();
  return options;
}

TEST(LoaderMpi, EveryWindowOnceAcrossRanksInEqualBatchCounts) {
  ASSERT_FALSE(dataset_path().empty()) << "HLLM_TEST_DATASET is not set";
  auto& world = parallel::testing::mpi_world();
  const auto dataset = Dataset::open(dataset_path());
  ShardedLoader loader(dataset, options_for(world));

  at::Tensor batches = at::tensor(std::vector<int64_t>{loader.batches_per_epoch(), -loader.batches_per_epoch()});
  world.all_reduce(batches, ReduceOp::kMax)->wait();
  EXPECT_EQ(batches[0].item<int64_t>(), -batches[1].item<int64_t>()) << "ranks disagree on batches per epoch";

  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<int64_t> mine;
    for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
      for (const auto w : loader.next().windows) {
        if (w >= 0) mine.push_back(w);
      }
    }
    at::Tensor count = at::full({world.size()}, 0, at::kLong);
    count[world.rank()] = static_cast<int64_t>(mine.size());
    world.all_reduce(count, ReduceOp::kSum)->wait();
    std::vector<int64_t> counts(count.data_ptr<int64_t>(), count.data_ptr<int64_t>() + world.size());
    int64_t total = 0;
    for (const auto c : counts) total += c;
    at::Tensor all = at::empty({total}, at::kLong);
    world.all_gather_v(at::tensor(mine, at::kLong), all, counts)->wait();
    std::vector<int> seen(loader.total_windows(), 0);
    for (int64_t i = 0; i < total; ++i) ++seen.at(all[i].item<int64_t>());
    for (int64_t w = 0; w < loader.total_windows(); ++w) EXPECT_EQ(seen[w], 1) << "window " << w << " epoch " << epoch;
  }
}

TEST(LoaderMpi, ResumedLoaderMatchesOnEveryRank) {
  auto& world = parallel::testing::mpi_world();
  const auto dataset = Dataset::open(dataset_path());
  ShardedLoader uninterrupted(dataset, options_for(world));
  const int64_t stop = uninterrupted.batches_per_epoch() / 2 + 1;
  std::vector<Batch> reference;
  for (int64_t i = 0; i < stop + uninterrupted.batches_per_epoch(); ++i) reference.push_back(uninterrupted.next());
  ShardedLoader resumed(dataset, options_for(world));
  resumed.restore({0, stop});
  for (size_t i = stop; i < reference.size(); ++i) {
    const Batch batch = resumed.next();
    EXPECT_EQ(batch.windows, reference[i].windows) << "batch " << i;
    EXPECT_EQ(batch.negatives, reference[i].negatives) << "batch " << i;
    EXPECT_EQ(batch.tokens, reference[i].tokens) << "batch " << i;
  }
}

}  // namespace
}  // namespace hllm::data
