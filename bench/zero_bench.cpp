// zero_bench: the training step of HLLM under ZeRO stages 0-3, each with and without activation
// checkpointing, on the ranks of one mpirun, as the engine runs it (runtime/TrainingStep). The
// configurations are timed in turn, step after step, on the same batches, so that each ratio to stage 0
// comes from the same run. Also per step: the elements ZeRO moves against its theory (2Ψ for stages
// 1-2, 3Ψ for stage 3; stage 0's all_reduce counts as 2Ψ), and how much of ZeRO's communication is hidden
// behind compute: 1 - (time the rank blocked waiting for ZeRO's collectives) / (time of the same
// collectives run alone, back to back). Each configuration also runs on a group of one rank (no
// communication at all) for comparison.
//
//   mpirun -np 2 build/bin/zero_bench [--preset tiny] [--rows 4] [--steps 10]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/barrier_timing.h"
#include "bench/mpi_bench_main.h"
#include "bench/synthetic_batch.h"
#include "bench/synthetic_model.h"
#include "common/config/config_loader.h"
#include "parallel/zero/block_runner.h"
#include "runtime/model_placement.h"
#include "runtime/training_step.h"

DEFINE_string(preset, "tiny", "Preset of both towers.");
DEFINE_int32(rows, 4, "Sequences per rank (the demo's micro batch).");
DEFINE_int32(window, 11, "Items per sequence.");
DEFINE_int32(text_tokens, 32, "Text tokens per item.");
DEFINE_int32(negatives, 64, "Negatives per rank.");
DEFINE_int32(steps, 10, "Timed steps of each configuration (in turn), after 2 warm-up steps of each.");
DEFINE_int32(threads, 1, "LibTorch intra-op threads per rank.");

namespace hllm::bench {
namespace {

struct Setup {
  std::string name;
  config::Config config;
  std::unique_ptr<runtime::ModelPlacement> placement, solo_placement;  // on the group / on this rank alone
  std::unique_ptr<runtime::TrainingStep> step, solo;
  std::vector<double> times, solo_times;
  int64_t elements = 0;  // ZeRO's elements moved in one step
  std::vector<double> waits;  // seconds blocked on ZeRO's collectives, per step
};

// The collectives of one step of `setup` alone: per unit a reduce-scatter and one all_gather (stages
// 1-2) or two (stage 3); stage 0 all_reduces every gradient.
double communication_alone(parallel::Communicator& world, const Setup& setup, int64_t psi) {
  const auto* runner = setup.placement->runner();
  const int stage = setup.config.zero_optimization.stage;
  return timed_between_barriers(world, [&] {
    if (stage == 0) {
      at::Tensor all = at::zeros({psi});
      world.all_reduce(all, parallel::ReduceOp::kAvg)->wait();
      return;
    }
    for (const auto& unit : runner->units()) {
      const int64_t n = unit.layout().buffer_numel();
      at::Tensor full = at::zeros({n}), shard = at::zeros({n / world.size()});
      for (int g = 0; g < (stage == 3 ? 2 : 1); ++g) world.all_gather(shard, full)->wait();
      world.reduce_scatter(full, shard, parallel::ReduceOp::kAvg)->wait();
    }
  });
}

void run(parallel::Communicator& world) {
  at::set_num_threads(FLAGS_threads);
  const parallel::Topology group(world, 1, parallel::Placement{});
  const auto alone_world = world.split(world.rank(), 0);  // a group of one: the same step without communication
  const parallel::Topology alone(*alone_world, 1, parallel::Placement{});
  const SyntheticBatchShape shape{FLAGS_rows, FLAGS_window, FLAGS_text_tokens, FLAGS_negatives, 500, 1000};
  std::vector<Setup> setups;
  for (const int stage : {0, 1, 2, 3}) {
    for (const std::string policy : {"none", "every_block"}) {
      Setup s;
      s.name = "stage " + std::to_string(stage) + (policy == "none" ? "" : " + checkpointing");
      s.config = config::parse_config_text(
          "{}", "zero_bench",
          {"model.item=" + FLAGS_preset, "model.user=" + FLAGS_preset, "zero_optimization.stage=" + std::to_string(stage),
           "activation_checkpointing.policy=" + policy, "gradient_clipping=1.0"});
      s.placement = std::make_unique<runtime::ModelPlacement>(s.config, group, runtime::Purpose::kTraining,
                                                              synthetic_model(s.config, shape, {2, 3, 4, 5}));
      s.solo_placement = std::make_unique<runtime::ModelPlacement>(s.config, alone, runtime::Purpose::kTraining,
                                                                   synthetic_model(s.config, shape, {2, 3, 4, 5}));
      s.step = std::make_unique<runtime::TrainingStep>(s.config, *s.placement);
      s.solo = std::make_unique<runtime::TrainingStep>(s.config, *s.solo_placement);
      setups.push_back(std::move(s));
    }
  }
  int64_t psi = 0;
  for (const auto& [name, t] : setups.front().placement->recommender().named_parameters()) psi += t.numel();

  for (int round = 0; round < FLAGS_steps + 2; ++round) {
    const data::Batch batch = synthetic_batch(shape, static_cast<uint64_t>(1000 * world.rank() + round));
    for (auto& s : setups) {
      s.step->reset_communication();
      const double t = timed_between_barriers(world, [&] { s.step->run([&] { return batch; }, 1, 1e-4); });
      const double solo = timed_between_barriers(world, [&] { s.solo->run([&] { return batch; }, 1, 1e-4); });
      if (round < 2) continue;
      s.times.push_back(t);
      s.solo_times.push_back(solo);
      const auto count = s.step->communication();
      s.elements = count.gathered + count.reduced;
      s.waits.push_back(count.wait_seconds);
    }
  }
  std::vector<double> comm;
  for (const auto& s : setups) {
    std::vector<double> t;
    for (int i = 0; i < 5; ++i) t.push_back(communication_alone(world, s, psi));
    comm.push_back(median(t));
  }
  if (world.rank() != 0) return;
  const double base = median(setups.front().times);
  std::printf("HLLM %s + %s, Ψ = %lld parameters, %d ranks, %d x %d items per rank, %d thread(s) per rank, median of %d steps\n",
              FLAGS_preset.c_str(), FLAGS_preset.c_str(), static_cast<long long>(psi), world.size(), FLAGS_rows,
              FLAGS_window, FLAGS_threads, FLAGS_steps);
  std::printf("  %-26s %9s %9s %16s %8s %9s %9s %9s %7s\n", "configuration", "step ms", "/stage 0", "elements/step",
              "/theory", "1 rank ms", "comm ms", "waited ms", "hidden");
  for (size_t i = 0; i < setups.size(); ++i) {
    const Setup& s = setups[i];
    const int stage = s.config.zero_optimization.stage;
    const double t = median(s.times), solo = median(s.solo_times);
    const int64_t elements = stage == 0 ? 2 * psi : s.elements;  // stage 0: the all_reduce of Ψ, counted as 2Ψ
    const double theory = (stage == 3 ? 3.0 : 2.0) * static_cast<double>(psi);
    if (stage == 0) {  // GradientAverager's waits are not instrumented
      std::printf("  %-26s %9.2f %9.3f %16lld %8.3f %9.2f %9.2f %9s %7s\n", s.name.c_str(), t * 1e3, t / base,
                  static_cast<long long>(elements), elements / theory, solo * 1e3, comm[i] * 1e3, "-", "-");
      continue;
    }
    const double waited = median(s.waits);
    std::printf("  %-26s %9.2f %9.3f %16lld %8.3f %9.2f %9.2f %9.2f %7.2f\n", s.name.c_str(), t * 1e3, t / base,
                static_cast<long long>(elements), elements / theory, solo * 1e3, comm[i] * 1e3, waited * 1e3,
                std::max(0.0, 1.0 - waited / comm[i]));
  }
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) { return hllm::bench::mpi_bench_main(argc, argv, hllm::bench::run); }
