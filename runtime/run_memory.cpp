#include "runtime/run_memory.h"

#include <ATen/ATen.h>
#include <glog/logging.h>

#include <algorithm>

#include "common/error.h"
#include "runtime/host_caching_allocator.h"
#include "runtime/memory_probe.h"

namespace hllm::runtime {

RunMemory::RunMemory(const c10::Device& device) : device_(device) {
  reset_peak_resident();
  reset_peak_allocated(device_);
  baseline_rss_ = resident_bytes();
}

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::kStartUp: return "start-up";
    case Phase::kTraining: return "training";
    case Phase::kEvaluation: return "evaluation";
    case Phase::kSaving: return "saving";
  }
  return "?";
}

void RunMemory::end_phase(Phase phase, double planned) {
  phases_.push_back({phase_name(phase), peak_resident_bytes(), peak_allocated_bytes(device_), planned});
  release_cached_host_memory();  // one phase's cache is not the next one's peak
  reset_peak_resident();
  reset_peak_allocated(device_);
}

PeakMemory RunMemory::gather(parallel::Communicator& world, double planned_most) const {
  int64_t highest = peak_resident_bytes(), most_tensors = peak_allocated_bytes(device_);  // since the last phase
  for (const PhasePeak& p : phases_) {
    highest = std::max(highest, p.resident);
    most_tensors = std::max(most_tensors, p.tensors);
  }
  std::vector<double> values{static_cast<double>(highest), static_cast<double>(baseline_rss_),
                             static_cast<double>(most_tensors), planned_most};
  for (const PhasePeak& p : phases_) {
    values.push_back(static_cast<double>(p.resident));
    values.push_back(static_cast<double>(p.tensors));
    values.push_back(p.planned);
  }
  at::Tensor mine = at::tensor(values, at::kDouble);
  at::Tensor all = at::empty({world.size() * mine.numel()}, at::kDouble);
  world.all_gather(mine, all)->wait();
  PeakMemory peak;
  const at::Tensor rows = all.view({world.size(), -1});
  for (int r = 0; r < world.size(); ++r) {
    peak.peak_rss.push_back(rows[r][0].item<double>());
    peak.baseline_rss.push_back(rows[r][1].item<double>());
    peak.peak_tensors.push_back(rows[r][2].item<double>());
    peak.planned.push_back(rows[r][3].item<double>());
    for (size_t p = 0; p < phases_.size(); ++p) {
      const auto column = 4 + 3 * static_cast<int64_t>(p);
      peak.phase_rss[phases_[p].phase].push_back(rows[r][column].item<double>());
      peak.phase_tensors[phases_[p].phase].push_back(rows[r][column + 1].item<double>());
      peak.phase_planned[phases_[p].phase].push_back(rows[r][column + 2].item<double>());
    }
  }
  if (world.rank() == 0) {
    const double gib = 1024.0 * 1024.0 * 1024.0;
    std::string table = "peak memory per rank over the run (host resident set; the plan of its largest phase, as "
                        "hllm_plan; the process before the model), and per phase (its tensors' peak and plan):";
    for (int r = 0; r < world.size(); ++r) {
      const double budget = peak.planned[r] + peak.baseline_rss[r];
      table += detail::concat("\n  rank ", r, ": peak ", peak.peak_rss[r] / gib, " GiB, plan ", peak.planned[r] / gib,
                              " GiB + process ", peak.baseline_rss[r] / gib, " GiB = ", budget / gib, " GiB (",
                              peak.peak_rss[r] / std::max(budget, 1.0), "x); by phase:");
      for (const PhasePeak& p : phases_) {
        table += detail::concat(" ", p.phase, " ", peak.phase_rss[p.phase][r] / gib, " (tensors ",
                                peak.phase_tensors[p.phase][r] / gib, ", plan ", peak.phase_planned[p.phase][r] / gib, ")");
      }
      if (peak.peak_tensors[r] >= 0) table += detail::concat(", tensors at most ", peak.peak_tensors[r] / gib, " GiB");
    }
    LOG(INFO) << table;
  }
  return peak;
}

void log_model_states(const MemoryReport& m, int zero_stage, config::RecomputePolicy checkpointing) {
  const double mib = 1024.0 * 1024.0;
  LOG(INFO) << "memory per rank (ZeRO stage " << zero_stage << ", checkpointing "
            << config::enum_name(checkpointing) << "): parameters " << m.parameter_bytes / mib
            << " MiB, gradients " << m.gradient_bytes / mib << " MiB, optimizer " << m.optimizer_bytes / mib
            << " MiB, model states " << m.model_state_bytes() / mib << " MiB; activations of a micro-batch "
            << m.activation_bytes / mib << " MiB";
}

}  // namespace hllm::runtime
