// guard_bench: what the training guards (runtime/training_guard.h) and the balance meter
// (runtime/balance_meter.h) cost a step. HLLM's training step as
// the engine runs it (runtime/TrainingStep) is timed on the same batches, alternately, as the run without
// guards did it (run(): compute, then the update) and as the Trainer does now (compute; every rank's
// reading gathered and judged; then the update), on the ranks of one mpirun. The guards' own time
// (GuardReading::of + judge) is timed alone too.
//
//   mpirun -np 2 build/bin/guard_bench [--preset tiny] [--stage 0] [--rows 4] [--steps 20]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gflags/gflags.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/barrier_timing.h"
#include "bench/mpi_bench_main.h"
#include "bench/synthetic_batch.h"
#include "bench/synthetic_model.h"
#include "common/config/config_loader.h"
#include "runtime/model_placement.h"
#include "runtime/balance_meter.h"
#include "runtime/step_census.h"
#include "runtime/training_guard.h"
#include "runtime/training_step.h"

DEFINE_string(preset, "tiny", "Preset of both towers.");
DEFINE_int32(stage, 0, "ZeRO stage.");
DEFINE_int32(rows, 4, "Sequences per rank (the demo's micro batch).");
DEFINE_int32(window, 11, "Items per sequence.");
DEFINE_int32(text_tokens, 32, "Text tokens per item.");
DEFINE_int32(negatives, 64, "Negatives per rank.");
DEFINE_int32(steps, 20, "Timed steps of each variant (alternately), after 2 warm-up steps of each.");
DEFINE_int32(threads, 1, "LibTorch intra-op threads per rank.");

namespace hllm::bench {
namespace {

void run(parallel::Communicator& world) {
  at::set_num_threads(FLAGS_threads);
  const parallel::Topology group(world, 1, parallel::Placement{});
  const SyntheticBatchShape shape{FLAGS_rows, FLAGS_window, FLAGS_text_tokens, FLAGS_negatives, 500, 1000};
  const config::Config config = config::parse_config_text(
      "{}", "guard_bench",
      {"model.item=" + FLAGS_preset, "model.user=" + FLAGS_preset,
       "zero_optimization.stage=" + std::to_string(FLAGS_stage), "gradient_clipping=1.0"});
  runtime::ModelPlacement placement(config, group, runtime::Purpose::kTraining,
                                    synthetic_model(config, shape, {2, 3, 4, 5}));
  runtime::TrainingStep step(config, placement);
  runtime::TrainingGuard guard(config.train.guard);
  runtime::GuardHistory history;
  runtime::BalanceMeter balance;
  // What the Trainer adds to a computed step: the census, the verdict, the balance's count.
  const auto judge = [&](const runtime::StepResult& result) {
    const auto census = runtime::gather_step_census(runtime::RankStep::of(result, 1e9, 0.3, 0.01), world);
    const runtime::Trip trip = guard.judge(runtime::GuardReading::of(census), history);
    if (!trip) balance.add(census);
    return trip;
  };
  std::vector<double> plain, guarded, guards_alone;
  for (int round = 0; round < FLAGS_steps + 2; ++round) {
    const data::Batch batch = synthetic_batch(shape, static_cast<uint64_t>(1000 * world.rank() + round));
    const double a = timed_between_barriers(world, [&] { step.run([&] { return batch; }, 1, 1e-4); });
    runtime::StepResult result;
    const double b = timed_between_barriers(world, [&] {
      result = step.compute([&] { return batch; }, 1);
      if (judge(result)) {
        step.discard();
      } else {
        step.apply(1e-4);
      }
    });
    const double c = timed_between_barriers(world, [&] { judge(result); });
    if (round < 2) continue;
    plain.push_back(a);
    guarded.push_back(b);
    guards_alone.push_back(c);
  }
  if (world.rank() != 0) return;
  const double p = median(plain), g = median(guarded), alone = median(guards_alone);
  std::printf("HLLM %s + %s, ZeRO stage %d, %d ranks, %d x %d items per rank, %d thread(s) per rank, median of %d steps\n",
              FLAGS_preset.c_str(), FLAGS_preset.c_str(), FLAGS_stage, world.size(), FLAGS_rows, FLAGS_window,
              FLAGS_threads, FLAGS_steps);
  std::printf("  %-34s %10.2f ms\n", "step without guards (run)", p * 1e3);
  std::printf("  %-34s %10.2f ms   (%.4f x)\n", "step judged by the guards", g * 1e3, g / p);
  std::printf("  %-34s %10.1f us   (%.5f of a step)\n", "census + guards + balance alone", alone * 1e6, alone / p);
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) { return hllm::bench::mpi_bench_main(argc, argv, hllm::bench::run); }
