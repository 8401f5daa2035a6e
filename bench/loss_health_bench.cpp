// loss_health_bench: what the loss's health metrics (models/info_nce.h, README "Training health") cost
// beside the loss they come from: InfoNCE's forward and backward at HLLM's shapes, with and without them,
// timed alternately in one run.
//
//   build/bin/loss_health_bench [--positions 80] [--negatives 512] [--dims 64,512,2048]
//
// positions: predicted positions per micro-batch (micro-batch x window); negatives: the gathered pool
// (HLLM's recipe: 512 on 16 GPUs). The last column is the health's share of the loss's time; the loss is
// itself a small part of a step, so this bounds the share of the step from above.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gflags/gflags.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>

#include "bench/seconds_per_call.h"
#include "models/info_nce.h"

DEFINE_int64(positions, 80, "Predicted positions per micro-batch.");
DEFINE_int64(negatives, 512, "Negatives in the gathered pool.");
DEFINE_string(dims, "64,512,2048", "Embedding widths, comma-separated.");
DEFINE_double(seconds, 0.5, "Time spent timing each variant per round.");

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  std::printf("loss_health_bench: %lld positions, %lld negatives, float32, %d intra-op threads\n",
              static_cast<long long>(FLAGS_positions), static_cast<long long>(FLAGS_negatives), at::get_num_threads());
  std::printf("%6s %16s %16s %12s\n", "dim", "loss (us)", "with health (us)", "health share");
  std::stringstream dims(FLAGS_dims);
  for (std::string item; std::getline(dims, item, ',');) {
    const int64_t dim = std::stoll(item);
    at::manual_seed(0);
    const at::Tensor users = at::randn({FLAGS_positions, dim}).requires_grad_(true);
    const at::Tensor positives = at::randn({FLAGS_positions, dim}).requires_grad_(true);
    const at::Tensor negatives = at::randn({FLAGS_negatives, dim}).requires_grad_(true);
    const at::Tensor scale = at::full({}, hllm::models::initial_logit_scale()).requires_grad_(true);
    auto step = [&](bool health) {
      return [&, health] {
        const auto out = hllm::models::info_nce(users, positives, negatives, scale, hllm::models::kNceThreshold,
                                                {1, 5, 10}, health);
        out.loss.backward();
        if (health) (void)out.health.data_ptr<float>();  // computed, on the host
      };
    };
    // Best of three alternating rounds of each: the machine's noise hits both alike.
    double plain = 1e30, with_health = 1e30;
    for (int round = 0; round < 3; ++round) {
      plain = std::min(plain, hllm::bench::seconds_per_call(step(false), FLAGS_seconds));
      with_health = std::min(with_health, hllm::bench::seconds_per_call(step(true), FLAGS_seconds));
    }
    std::printf("%6lld %16.1f %16.1f %11.1f%%\n", static_cast<long long>(dim), plain * 1e6, with_health * 1e6,
                100 * (with_health - plain) / plain);
  }
  return 0;
}
