// The Engine's memory accounting: the plan of this rank (parallel/memory_plan.h) for the configured shapes,
// the first step's model states logged, and every rank's peak resident set over the run and per phase
// beside its plan, gathered at the end.
#include <ATen/ATen.h>
#include <glog/logging.h>

#include <algorithm>

#include "common/error.h"
#include "models/model_plan.h"
#include "runtime/engine.h"
#include "runtime/host_caching_allocator.h"
#include "runtime/memory_probe.h"

namespace hllm::runtime {

parallel::MemoryPlanOptions Engine::memory_plan_options() const {
  return parallel::memory_plan_options(config_, topology_.dp(), topology_.pp(), batch_.gradient_accumulation_steps,
                                      device_.is_cpu());
}

models::ModelShapes Engine::planned_shapes(int64_t prompt_tokens) const {
  return models::hllm_micro_batch_shapes(config_, batch_.micro_batch_per_rank, topology_.dp(), prompt_tokens);
}

void Engine::plan_phases(const std::vector<models::BlockCost>& costs, std::vector<models::BlockCost> evaluation_costs) {
  parallel::EvaluationWork work;
  work.costs = std::move(evaluation_costs);
  work.catalogue_items = static_cast<double>(dataset_.num_items());
  // HLLM's items are as wide as its token table; the ID models' as their first table.
  work.embedding_width = static_cast<double>(catalog_width_ > 0 ? catalog_width_ : model_->named_parameters().front().second.size(1));
  work.users = config_.train.eval_batch_size;
  parallel::MemoryPlanOptions options = memory_plan_options();
  options.stage = topology_.stage_id();
  const bool pipelined = topology_.pp() > 1;
  const size_t first = pipelined ? cut_.first[options.stage] : 0, end = pipelined ? cut_.end(options.stage) : costs.size();
  planned_phases_ = parallel::plan_phases(costs, first, end, options, work);
}

void Engine::end_phase(const char* phase) {
  phase_peaks_.push_back({phase, peak_resident_bytes(), peak_allocated_bytes(device_)});
  release_cached_host_memory();  // one phase's cache is not the next one's peak
  reset_peak_resident();
  reset_peak_allocated(device_);
}

double Engine::planned_for(const std::string& phase) const {
  if (phase == "start-up") return planned_phases_.start_up;
  if (phase == "evaluation") return planned_phases_.evaluation;
  if (phase == "saving") return planned_phases_.saving;
  // Training holds its validations too.
  return config_.train.eval_interval > 0 ? std::max(planned_phases_.training, planned_phases_.evaluation)
                                         : planned_phases_.training;
}

TrainReport::PeakMemory Engine::measure_peaks() const {
  int64_t highest = peak_resident_bytes(), most_tensors = peak_allocated_bytes(device_);  // since the last phase
  for (const PhasePeak& p : phase_peaks_) {
    highest = std::max(highest, p.resident);
    most_tensors = std::max(most_tensors, p.tensors);
  }
  std::vector<double> values{static_cast<double>(highest), static_cast<double>(baseline_rss_),
                             static_cast<double>(most_tensors), planned_phases_.most()};
  for (const PhasePeak& p : phase_peaks_) {
    values.push_back(static_cast<double>(p.resident));
    values.push_back(static_cast<double>(p.tensors));
    values.push_back(planned_for(p.phase));
  }
  at::Tensor mine = at::tensor(values, at::kDouble);
  parallel::Communicator& world = topology_.world();
  at::Tensor all = at::empty({world.size() * mine.numel()}, at::kDouble);
  world.all_gather(mine, all)->wait();
  TrainReport::PeakMemory peak;
  const at::Tensor rows = all.view({world.size(), -1});
  for (int r = 0; r < world.size(); ++r) {
    peak.peak_rss.push_back(rows[r][0].item<double>());
    peak.baseline_rss.push_back(rows[r][1].item<double>());
    peak.peak_tensors.push_back(rows[r][2].item<double>());
    peak.planned.push_back(rows[r][3].item<double>());
    for (size_t p = 0; p < phase_peaks_.size(); ++p) {
      const auto column = 4 + 3 * static_cast<int64_t>(p);
      peak.phase_rss[phase_peaks_[p].phase].push_back(rows[r][column].item<double>());
      peak.phase_tensors[phase_peaks_[p].phase].push_back(rows[r][column + 1].item<double>());
      peak.phase_planned[phase_peaks_[p].phase].push_back(rows[r][column + 2].item<double>());
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
      for (const PhasePeak& p : phase_peaks_) {
        table += detail::concat(" ", p.phase, " ", peak.phase_rss[p.phase][r] / gib, " (tensors ",
                                peak.phase_tensors[p.phase][r] / gib, ", plan ", peak.phase_planned[p.phase][r] / gib, ")");
      }
      if (peak.peak_tensors[r] >= 0) table += detail::concat(", tensors at most ", peak.peak_tensors[r] / gib, " GiB");
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
