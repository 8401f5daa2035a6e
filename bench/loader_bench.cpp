// loader_bench: training batches per second from ShardedLoader on each rank, beside the raw HDF5 read
// rate of the same files measured in the same run. (Once the training engine exists, the rate a training
// step consumes goes beside it.)
//
//   build/bin/hllm_prepare --synthetic users=5000,items=2000,seed=1 --out /tmp/bench_data --train_tokenizer 2000
//   mpirun -np 2 build/bin/loader_bench --data /tmp/bench_data
#include <gflags/gflags.h>

#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>

#include "data/dataset.h"
#include "data/hdf5_file.h"
#include "data/sharded_loader.h"
#include "launcher/mpi_runtime.h"
#include "parallel/comm/mpi_communicator.h"

DEFINE_string(data, "", "Dataset directory written by hllm_prepare (required).");
DEFINE_int32(micro_batch, 4, "Rows per batch (demo config: train_micro_batch_size_per_gpu).");
DEFINE_int32(max_item_list_len, 10, "S (demo config: data.max_item_list_len).");
DEFINE_int32(num_negatives, 64, "Negatives per batch (demo config: data.num_negatives).");
DEFINE_double(seconds, 3.0, "Time each measurement runs.");

namespace hllm::bench {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double sum_over_ranks(parallel::Communicator& comm, double value) {
  at::Tensor t = at::full({1}, value, at::kDouble);
  comm.all_reduce(t, parallel::ReduceOp::kSum)->wait();
  return t.item<double>();
}

// Bytes per second of reading every token and every user item, whole datasets at a time.
double raw_read_rate(const data::Dataset& dataset) {
  int64_t bytes = 0;
  const auto start = Clock::now();
  do {
    const data::Hdf5File items(dataset.path_of("items.h5"), data::Hdf5File::Mode::kRead);
    bytes += static_cast<int64_t>(items.read_int32("tokens").size()) * 4;
    for (int s = 0; s < dataset.num_shards(); ++s) {
      const data::Hdf5File shard(dataset.shard_path(s), data::Hdf5File::Mode::kRead);
      bytes += static_cast<int64_t>(shard.read_int32("items").size()) * 4;
    }
  } while (since(start) < FLAGS_seconds);
  return bytes / since(start);
}

void run(parallel::Communicator& world) {
  const auto dataset = data::Dataset::open(FLAGS_data);
  data::LoaderOptions options;
  options.micro_batch = FLAGS_micro_batch;
  options.max_item_list_len = FLAGS_max_item_list_len;
  options.num_negatives = FLAGS_num_negatives;
  options.dp_rank = world.rank();
  options.dp_size = world.size();
  data::ShardedLoader loader(dataset, options);

  world.barrier()->wait();
  int64_t samples = 0, token_bytes = 0, batches = 0;
  const auto start = Clock::now();
  while (since(start) < FLAGS_seconds) {
    const auto batch = loader.next();
    samples += batch.real_samples;
    token_bytes += static_cast<int64_t>(batch.tokens.size()) * 4;
    ++batches;
  }
  const double seconds = since(start);
  const double total_samples = sum_over_ranks(world, samples / seconds);
  const double total_tokens = sum_over_ranks(world, token_bytes / seconds);
  world.barrier()->wait();
  const double raw = sum_over_ranks(world, raw_read_rate(dataset));
  if (world.rank() == 0) {
    std::printf("loader_bench: %d rank(s), %s (%lld users, %lld items), micro batch %d, S %d, %d negatives\n",
                world.size(), FLAGS_data.c_str(), static_cast<long long>(dataset.num_users()),
                static_cast<long long>(dataset.num_items()), FLAGS_micro_batch, FLAGS_max_item_list_len,
                FLAGS_num_negatives);
    std::printf("loader:        %10.0f samples/s  %10.0f batches/s  %8.1f MB/s of item tokens (all ranks)\n",
                total_samples, sum_over_ranks(world, batches / seconds), total_tokens / 1e6);
    std::printf("raw HDF5 read: %10.1f MB/s (whole datasets, all ranks)\n", raw / 1e6);
    std::printf("loader token MB/s / raw HDF5 MB/s: %.3f\n", total_tokens / raw);
  } else {
    sum_over_ranks(world, batches / seconds);
  }
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) {
  gflags::SetUsageMessage("mpirun -np N loader_bench --data DIR");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_data.empty()) {
    std::fprintf(stderr, "loader_bench: --data DIR is required (a dataset written by hllm_prepare)\n");
    return 2;
  }
  hllm::launcher::MpiRuntime mpi(&argc, &argv);
  auto world = hllm::parallel::make_mpi_world_communicator();
  try {
    hllm::bench::run(*world);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loader_bench: %s\n", e.what());
    hllm::launcher::MpiRuntime::abort_job(1);
  }
  world.reset();
  return 0;
}
