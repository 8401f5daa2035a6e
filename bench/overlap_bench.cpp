// overlap_bench: a data-parallel HLLM training step with the gradient all_reduce started during the
// backward (GradientAverager with overlap, as the engine runs it) against the same step reducing after
// the backward, alternated step by step in one run. Prints the median step time of each and their ratio.
//
//   mpirun -np 2 build/bin/overlap_bench [--preset tiny] [--rows 4] [--steps 20] [--bucket_mib 4]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "bench/mpi_bench_main.h"
#include "bench/synthetic_batch.h"
#include "models/hllm_model.h"
#include "parallel/comm/differentiable_gather.h"
#include "runtime/adamw.h"
#include "runtime/gradient_sync.h"

DEFINE_string(preset, "tiny", "Preset of both towers.");
DEFINE_int32(rows, 4, "Sequences per rank (the demo's micro batch).");
DEFINE_int32(window, 11, "Items per sequence.");
DEFINE_int32(text_tokens, 32, "Text tokens per item.");
DEFINE_int32(negatives, 64, "Negatives per rank.");
DEFINE_int32(steps, 20, "Timed steps of each kind (alternating), after 2 warm-up steps of each.");
DEFINE_int32(bucket_mib, 4, "Gradient bucket size in MiB (Open MPI here is slow above 4 MiB).");
DEFINE_int32(threads, 1, "LibTorch intra-op threads per rank.");

namespace hllm::bench {
namespace {

using Clock = std::chrono::steady_clock;

data::Batch make_batch(int rank, int step) {
  return synthetic_batch({FLAGS_rows, FLAGS_window, FLAGS_text_tokens, FLAGS_negatives, 500, 1000},
                         static_cast<uint64_t>(1000 * rank + step));
}

void run(parallel::Communicator& world) {
  at::set_num_threads(FLAGS_threads);
  const auto model = models::HllmModel::from_presets(FLAGS_preset, FLAGS_preset, 1000, {2, 3, 4, 5}, 1);
  const auto parameters = model.named_parameters();
  runtime::AdamW adamw(parameters, runtime::AdamWOptions{});
  // As the engine: buckets on their own communicator, negatives gathered on the group's.
  const auto gradient_comm = world.split(0, world.rank());
  const int64_t bucket = int64_t{FLAGS_bucket_mib} << 20;
  runtime::GradientAverager overlapped(*gradient_comm, parameters, bucket, /*overlap=*/true);
  runtime::GradientAverager after(*gradient_comm, parameters, bucket, /*overlap=*/false);
  const models::NegativeGather gather = [&world](const at::Tensor& x) { return parallel::all_gather_with_grad(world, x); };

  std::vector<double> times[2];
  size_t early = 0;
  for (int s = 0; s < 2 * (FLAGS_steps + 2); ++s) {
    const bool overlap = s % 2 == 0;
    const data::Batch batch = make_batch(world.rank(), s);
    world.barrier()->wait();
    const auto start = Clock::now();
    const auto out = model.forward(batch, gather);
    if (overlap) overlapped.arm();
    out.loss.backward();
    (overlap ? overlapped : after).average();
    runtime::clip_gradient_norm(parameters, 1.0);
    adamw.step(1e-4);
    adamw.zero_grad();
    world.barrier()->wait();
    if (s >= 4) times[overlap ? 0 : 1].push_back(std::chrono::duration<double>(Clock::now() - start).count());
    if (overlap) early += overlapped.buckets_started_early();
  }
  for (auto& t : times) std::sort(t.begin(), t.end());
  const double with = times[0][times[0].size() / 2], without = times[1][times[1].size() / 2];
  if (world.rank() == 0) {
    std::printf("%s, %d ranks, %d x %d items, %zu buckets of <= %d MiB, %d thread(s) per rank\n", FLAGS_preset.c_str(),
                world.size(), FLAGS_rows, FLAGS_window, overlapped.buckets(), FLAGS_bucket_mib, FLAGS_threads);
    std::printf("  reduce during the backward: step %8.2f ms (median of %zu; %.1f buckets a step started early)\n",
                with * 1e3, times[0].size(), static_cast<double>(early) / (FLAGS_steps + 2));
    std::printf("  reduce after the backward:  step %8.2f ms (median of %zu)\n", without * 1e3, times[1].size());
    std::printf("  during / after: %.3f\n", with / without);
  }
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) { return hllm::bench::mpi_bench_main(argc, argv, hllm::bench::run); }
