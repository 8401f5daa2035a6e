// pipeline_bench: HLLM's training step under pipeline parallelism on the ranks of one mpirun (pp = world,
// dp = 1), as the engine runs it (runtime/TrainingStep with a PipelineStage), for m micro-batches per step
// under 1F1B and GPipe, beside pp = 1 (dp = world) on the same world and global batch. Per configuration:
// the step time, samples/s and its ratio to pp = 1, and the measured bubble — the share of a stage's step
// spent not computing (waiting for a neighbour, moving activations), averaged over the stages — beside
// the theory's (p - 1) / (m + p - 1) for stages of equal cost. The configurations run in turn, step after
// step, so every ratio comes from the same run.
//
//   mpirun -np 2 build/bin/pipeline_bench [--preset tiny] [--rows 4] [--steps 5]
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
#include "models/model_plan.h"
#include "parallel/pipeline/partition.h"
#include "runtime/model_placement.h"
#include "runtime/training_step.h"

DEFINE_string(preset, "tiny", "Preset of both towers.");
DEFINE_int32(rows, 4, "Sequences per micro-batch (the demo's micro batch).");
DEFINE_int32(window, 11, "Items per sequence.");
DEFINE_int32(text_tokens, 32, "Text tokens per item.");
DEFINE_int32(negatives, 64, "Negatives per micro-batch.");
DEFINE_int32(steps, 5, "Timed steps of each configuration (in turn), after one warm-up step of each.");
DEFINE_int32(threads, 1, "LibTorch intra-op threads per rank.");

namespace hllm::bench {
namespace {

struct Setup {
  std::string name;
  int micro_batches = 0;  // per step, over the whole pipeline / all data-parallel ranks
  bool pipelined = false;
  config::Config config;
  std::unique_ptr<runtime::ModelPlacement> placement;
  std::unique_ptr<runtime::TrainingStep> step;
  double theory = 0;  // bubble
  std::vector<double> times, bubbles;
};

void run(parallel::Communicator& world) {
  at::set_num_threads(FLAGS_threads);
  const int p = world.size();
  const parallel::Topology data_parallel(world, 1, parallel::Placement{});  // pp 1 x dp p
  const parallel::Topology pipeline(world, p, parallel::Placement{});       // pp p x dp 1
  const SyntheticBatchShape shape{FLAGS_rows, FLAGS_window, FLAGS_text_tokens, FLAGS_negatives, 500, 1000};
  const std::vector<int64_t> prompt = {2, 3, 4, 5};
  std::vector<Setup> setups;
  parallel::StageCut cut;
  for (const int m : {2, 4, 8}) {
    for (const std::string schedule : {"", "1f1b", "gpipe"}) {
      if (schedule.empty() && m % p != 0) continue;
      Setup s;
      s.micro_batches = m;
      s.pipelined = !schedule.empty();
      s.name = s.pipelined ? "pp " + std::to_string(p) + " x dp 1, " + schedule : "pp 1 x dp " + std::to_string(p);
      s.config = config::parse_config_text(
          "{}", "pipeline_bench",
          {"model.item=" + FLAGS_preset, "model.user=" + FLAGS_preset, "gradient_clipping=1.0",
           "parallel.pipeline_schedule=" + (schedule.empty() ? std::string("1f1b") : schedule),
           "data.max_item_list_len=" + std::to_string(FLAGS_window - 1), "data.max_text_len=" + std::to_string(FLAGS_text_tokens),
           "data.num_negatives=" + std::to_string(FLAGS_negatives)});
      // The run's placement for these shapes: under pp its cut, balanced by the blocks' estimated FLOPs.
      s.placement = std::make_unique<runtime::ModelPlacement>(s.config, s.pipelined ? pipeline : data_parallel,
                                                              runtime::Purpose::kTraining,
                                                              synthetic_model(s.config, shape, prompt, m));
      s.step = std::make_unique<runtime::TrainingStep>(s.config, *s.placement);
      if (s.pipelined) {
        cut = s.placement->stage_cut();
        s.theory = static_cast<double>(p - 1) / static_cast<double>(m + p - 1);
      }
      setups.push_back(std::move(s));
    }
  }
  for (int round = 0; round < FLAGS_steps + 1; ++round) {
    for (auto& s : setups) {
      // The step's m micro-batches: the pipeline's first stage reads them all; without a pipeline each
      // data-parallel rank reads its share.
      const int mine = s.pipelined ? s.micro_batches : s.micro_batches / p;
      int next = s.pipelined ? 0 : world.rank() * mine;
      const auto batches = [&] { return synthetic_batch(shape, static_cast<uint64_t>(1000 * round + next++)); };
      const double t = timed_between_barriers(world, [&] { s.step->run(batches, mine, 1e-4); });
      if (round == 0) continue;
      s.times.push_back(t);
      if (s.pipelined) {
        const auto& timing = s.step->pipeline()->timing();
        at::Tensor idle = at::full({1}, 1.0 - timing.compute_seconds / timing.step_seconds, at::kDouble);
        world.all_reduce(idle, parallel::ReduceOp::kAvg)->wait();
        s.bubbles.push_back(idle.item<double>());
      }
    }
  }
  if (world.rank() != 0) return;
  std::printf("HLLM %s + %s, %d ranks, micro-batch %d x %d items, %d thread(s) per rank, median of %d steps; "
              "stage cut imbalance %.3f (max / mean estimated FLOPs)\n",
              FLAGS_preset.c_str(), FLAGS_preset.c_str(), p, FLAGS_rows, FLAGS_window, FLAGS_threads, FLAGS_steps,
              cut.imbalance());
  std::printf("  %-22s %3s %9s %10s %9s %9s %9s\n", "configuration", "m", "step ms", "samples/s", "/pp 1", "bubble",
              "theory");
  double base = 0;
  for (const auto& s : setups) {
    const double t = median(s.times);
    const double rate = static_cast<double>(s.micro_batches * FLAGS_rows) / t;
    if (!s.pipelined) base = rate;
    if (!s.pipelined) {
      std::printf("  %-22s %3d %9.1f %10.1f %9.3f %9s %9s\n", s.name.c_str(), s.micro_batches, t * 1e3, rate, 1.0, "-", "-");
    } else {
      std::printf("  %-22s %3d %9.1f %10.1f %9.3f %8.1f%% %8.1f%%\n", s.name.c_str(), s.micro_batches, t * 1e3, rate,
                  base > 0 ? rate / base : 0.0, 100 * median(s.bubbles), 100 * s.theory);
    }
  }
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) { return hllm::bench::mpi_bench_main(argc, argv, hllm::bench::run); }
