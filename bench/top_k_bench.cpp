// top_k_bench: hllm_recommend's ranking (runtime/top_k.h: scores chunk by chunk, history masked, top-K merged)
// in users/s over a table of a million items, beside the bound of the same shapes: the matrix products alone
// (users × D times D × items in the same chunks, and at once with at::mm), measured in the same run; and
// the score memory each holds.
//
//   build/bin/top_k_bench [--items 1000000] [--dim 128] [--users 64] [--k 10] [--history 50] [--threads 0]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "bench/seconds_per_call.h"
#include "runtime/top_k.h"

DEFINE_int64(items, 1000000, "Rows of the item table.");
DEFINE_int64(dim, 128, "Embedding width D.");
DEFINE_int64(users, 64, "Users per batch (hllm_recommend: train.eval_batch_size).");
DEFINE_int64(k, 10, "Items listed per user.");
DEFINE_int64(history, 50, "History items masked per user.");
DEFINE_int32(threads, 0, "LibTorch intra-op threads; 0 = LibTorch's default.");
DEFINE_double(seconds, 3.0, "Time per measurement.");

namespace hllm::bench {
namespace {

// The benchmark's own time per measurement.
template <typename Fn>
double seconds_per_call(Fn fn) {
  return bench::seconds_per_call(fn, FLAGS_seconds);
}

int run() {
  if (FLAGS_threads > 0) at::set_num_threads(FLAGS_threads);
  at::manual_seed(1);
  const at::Tensor table = at::randn({FLAGS_items, FLAGS_dim});
  const at::Tensor users = at::randn({FLAGS_users, FLAGS_dim});
  std::vector<int64_t> offsets{0}, history;
  for (int64_t u = 0; u < FLAGS_users; ++u) {
    for (int64_t h = 0; h < FLAGS_history; ++h) history.push_back(1 + (u * 7919 + h * 104729) % (FLAGS_items - 1));
    offsets.push_back(static_cast<int64_t>(history.size()));
  }
  const double rank_s = seconds_per_call([&] {
    runtime::top_k_over_table(users, table, FLAGS_k, offsets, history);
  });
  // The bound: the same products (runtime::scores_over_rows, chunk by chunk), without masking or selection.
  const double chunked_mm_s = seconds_per_call([&] {
    for (int64_t first = 0; first < FLAGS_items; first += runtime::kTopKChunkRows) {
      runtime::scores_over_rows(users, table, first, std::min(runtime::kTopKChunkRows, FLAGS_items - first));
    }
  });
  const double mm_s = seconds_per_call([&] { at::mm(users, table.t()); });
  std::printf("table %lld x %lld, %lld users per batch, k %lld, %lld history items each, %d threads\n",
              static_cast<long long>(FLAGS_items), static_cast<long long>(FLAGS_dim),
              static_cast<long long>(FLAGS_users), static_cast<long long>(FLAGS_k),
              static_cast<long long>(FLAGS_history), at::get_num_threads());
  // The last column is top-K's rate as a share of the line's rate (1.00 on its own line).
  std::printf("%-44s %12s %14s\n", "", "users/s", "top-K / this");
  std::printf("%-44s %12.0f %14.2f\n", "top-K over the table (chunks of 65,536 rows)", FLAGS_users / rank_s, 1.0);
  std::printf("%-44s %12.0f %14.2f\n", "the same products alone (the bound)", FLAGS_users / chunked_mm_s,
              chunked_mm_s / rank_s);
  std::printf("%-44s %12.0f %14.2f\n", "one product over the whole table (at::mm)", FLAGS_users / mm_s, mm_s / rank_s);
  std::printf("score matrix held: %.1f MiB per chunk, against %.1f MiB for the whole table at once\n",
              FLAGS_users * std::min<int64_t>(FLAGS_items, runtime::kTopKChunkRows) * 4.0 / (1 << 20),
              FLAGS_users * FLAGS_items * 4.0 / (1 << 20));
  return 0;
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) {
  gflags::SetUsageMessage("top_k_bench [--items N] [--dim D] [--users B] [--k K] [--history H]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  return hllm::bench::run();
}
