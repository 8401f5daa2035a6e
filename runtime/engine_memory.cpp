// The Engine's memory accounting: the plan of this rank (parallel/memory_plan.h) for the configured shapes,
// the first step's model states logged, and every rank's peak resident set over the run and per phase
// beside its plan, gathered at the end.
#include <ATen/ATen.h>
#include <glog/logging.h>

#include <algorithm>

#include "common/error.h"
#include "models/model_plan.h"
#include "runtime/engine.h"
#include "runtime/memory_probe.h"

namespace hllm::runtime {

parallel::MemoryPlanOptions Engine::memory_plan_options() const {
  parallel::MemoryPlanOptions plan;
  plan.zero_stage = config_.zero_optimization.stage;
  plan.dp = topology_.dp();
  plan.bf16 = config_.bf16.enabled;
  plan.recompute = config_.activation_checkpointing.policy != "none";
  plan.pp = topology_.pp();
  plan.gpipe = config_.parallel.pipeline_schedule == "gpipe";
  plan.micro_batches = batch_.gradient_accumulation_steps;
  return plan;
}

models::ModelShapes Engine::planned_shapes(int64_t prompt_tokens) const {
  return models::hllm_micro_batch_shapes(config_, batch_.micro_batch_per_rank, topology_.dp(), prompt_tokens);
}

void Engine::end_phase(const char* phase) {
  phase_peaks_.emplace_back(phase, peak_resident_bytes());
  reset_peak_resident();
}

TrainReport::PeakMemory Engine::measure_peaks() const {
  int64_t highest = peak_resident_bytes();  // since the last phase ended
  for (const auto& [phase, bytes] : phase_peaks_) highest = std::max(highest, bytes);
  std::vector<double> values{static_cast<double>(highest), static_cast<double>(baseline_rss_),
                             static_cast<double>(peak_allocated_bytes(device_)), planned_.total()};
  for (const auto& [phase, bytes] : phase_peaks_) values.push_back(static_cast<double>(bytes));
  at::Tensor mine = at::tensor(values, at::kDouble);
  parallel::Communicator& world = topology_.world();
  at::Tensor all = at::empty({world.size() * mine.numel()}, at::kDouble);
  world.all_gather(mine, all)->wait();
  TrainReport::PeakMemory peak;
  const at::Tensor rows = all.view({world.size(), -1});
  for (int r = 0; r < world.size(); ++r) {
    peak.peak_rss.push_back(rows[r][0].item<double>());
    peak.baseline_rss.push_back(rows[r][1].item<double>());
    peak.peak_device.push_back(rows[r][2].item<double>());
    peak.planned.push_back(rows[r][3].item<double>());
    for (size_t p = 0; p < phase_peaks_.size(); ++p) {
      peak.phase_rss[phase_peaks_[p].first].push_back(rows[r][4 + static_cast<int64_t>(p)].item<double>());
    }
  }
  if (world.rank() == 0) {
    const double gib = 1024.0 * 1024.0 * 1024.0;
    std::string table = "peak memory per rank over the run (host resident set; the plan: model states + activations, "
                        "as hllm_plan; the process before the model):";
    for (int r = 0; r < world.size(); ++r) {
      const double budget = peak.planned[r] + peak.baseline_rss[r];
      table += detail::concat("\n  rank ", r, ": peak ", peak.peak_rss[r] / gib, " GiB, plan ", peak.planned[r] / gib,
                              " GiB + process ", peak.baseline_rss[r] / gib, " GiB = ", budget / gib, " GiB (",
                              peak.peak_rss[r] / std::max(budget, 1.0), "x); by phase:");
      for (const auto& [phase, bytes] : phase_peaks_) table += detail::concat(" ", phase, " ", peak.phase_rss[phase][r] / gib);
      if (peak.peak_device[r] >= 0) table += detail::concat(", device max allocated ", peak.peak_device[r] / gib, " GiB");
    }
    LOG(INFO) << table;
  }
  return peak;
}

void Engine::log_memory(const MemoryReport& m) const {
  const double mib = 1024.0 * 1024.0;
  LOG(INFO) << "memory per rank (ZeRO stage " << config_.zero_optimization.stage << ", checkpointing "
            << config_.activation_checkpointing.policy << "): parameters " << m.parameter_bytes / mib
            << " MiB, gradients " << m.gradient_bytes / mib << " MiB, optimizer " << m.optimizer_bytes / mib
            << " MiB, model states " << m.model_state_bytes() / mib << " MiB; activations of a micro-batch "
            << m.activation_bytes / mib << " MiB";
}

}  // namespace hllm::runtime
