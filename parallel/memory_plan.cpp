#include "parallel/memory_plan.h"

#include <algorithm>
#include <cmath>

#include "models/model_plan.h"
#include "parallel/zero/model_state_bytes.h"

namespace hllm::parallel {
namespace {

// Stage 3's prefetch window next to unit u: the following units (forward: +1, backward: -1) whose gathers are issued
// before u computes, as BlockRunner decides it.
double prefetched(const std::vector<double>& units, size_t u, int direction, const MemoryPlanOptions& o) {
  double ahead = 0;
  for (auto k = static_cast<int64_t>(u) + direction; k >= 0 && k < static_cast<int64_t>(units.size()); k += direction) {
    const double next = units[static_cast<size_t>(k)];
    if (ahead + next > o.prefetch_elements || units[u] + ahead + next > o.max_live_elements) break;
    ahead += next;
  }
  return ahead;
}

// The most elements of ZeRO's transient buffers at once: forward, unit u gathered with its window; backward,
// u gathered with its window downwards, u's gradients and their flattened copy, and the two reductions
// still pending (units u + 1 and u + 2). Stage 1 reduces after the backward from gradients counted in the
// model states: only the copies in flight. (Stage 0: see plan_stage_memory.)
double zero_buffer_elements(const std::vector<double>& units, int stage, const MemoryPlanOptions& o) {
  double most = 0;
  for (size_t u = 0; u < units.size(); ++u) {
    const double pending = (u + 1 < units.size() ? units[u + 1] : 0) + (u + 2 < units.size() ? units[u + 2] : 0);
    double forward = 0, backward = 0;
    if (stage == 3) {
      forward = units[u] + prefetched(units, u, +1, o);
      backward = units[u] + prefetched(units, u, -1, o) + 2 * units[u] + pending;
    } else if (stage == 2) {
      backward = 2 * units[u] + pending;
    } else if (stage == 1) {
      backward = units[u] + pending;
    }
    most = std::max({most, forward, backward});
  }
  return most;
}

// Elements of the largest unit with its forward window (stage 3), or of the largest unit.
double largest_gathered(const std::vector<double>& units, bool with_window, const MemoryPlanOptions& o) {
  double most = 0;
  for (size_t u = 0; u < units.size(); ++u) most = std::max(most, units[u] + (with_window ? prefetched(units, u, +1, o) : 0));
  return most;
}

std::vector<double> unit_sizes(const std::vector<models::BlockCost>& costs, size_t first, size_t end) {
  std::vector<double> units;  // ZeRO's units: the blocks with parameters
  for (size_t b = first; b < end; ++b) {
    if (costs[b].parameters > 0) units.push_back(static_cast<double>(costs[b].parameters));
  }
  return units;
}

}  // namespace

StageCut choose_stage_cut(const std::vector<models::BlockCost>& costs, int stages, const std::vector<int64_t>& manual) {
  std::vector<double> flops;
  std::vector<int64_t> parameters;
  for (const auto& cost : costs) {
    flops.push_back(cost.forward_flops);
    parameters.push_back(cost.parameters);
  }
  return choose_stage_cut(flops, parameters, stages, manual);
}

StageMemory plan_stage_memory(const std::vector<models::BlockCost>& costs, size_t first, size_t end,
                              const MemoryPlanOptions& o) {
  StageMemory m;
  for (size_t b = first; b < end; ++b) m.parameters += static_cast<double>(costs[b].parameters);
  m.model_states = zero::model_state_bytes(o.zero_stage, m.parameters, o.dp, o.bf16).total();
  const double value_bytes = o.bf16 ? 2 : 4, optimizer_bytes = o.bf16 ? 12 : 8;  // per element: masters + moments
  m.micro_batches_in_flight = o.pp == 1 ? 1.0
                              : o.gpipe ? static_cast<double>(o.micro_batches)
                                        : static_cast<double>(std::min<int64_t>(o.pp - o.stage, o.micro_batches));
  const models::StageActivations a = models::stage_activation_bytes(costs, first, end);
  m.activations = o.recompute ? a.checkpointed * m.micro_batches_in_flight + a.recomputing
                              : a.stored * m.micro_batches_in_flight;
  const std::vector<double> units = unit_sizes(costs, first, end);
  for (size_t b = first; b < end; ++b) m.backward = std::max(m.backward, static_cast<double>(costs[b].activation_bytes));
  // Stage 0 over several ranks averages the float32 gradients (of the masters under bf16) in flat buckets
  // that it keeps (runtime/gradient_sync.h): the gradients once more.
  m.zero_buffers = o.zero_stage == 0 ? (o.dp > 1 ? 4 * m.parameters : 0)
                                     : value_bytes * zero_buffer_elements(units, o.zero_stage, o);
  if (o.keeps_best_model) m.best_model = value_bytes * m.parameters / o.dp;
  // A checkpoint holds the parameters, the optimizer state and the best model, each rank its 1/dp.
  if (o.snapshots_checkpoints) m.snapshot = (value_bytes + optimizer_bytes) * m.parameters / o.dp + m.best_model;
  return m;
}

double PhaseMemory::most() const { return std::max({start_up, training, evaluation, saving}); }

double catalogue_rows_held(double items, int replicas) {
  if (items <= 0) return 0;
  const double chunk = static_cast<double>(models::kCatalogueChunkItems);
  const double chunks = std::ceil(items / chunk);
  return std::min(items, chunk * std::ceil(chunks / std::max(1, replicas))) + 1;
}

PhaseMemory plan_phases(const std::vector<models::BlockCost>& costs, size_t first, size_t end,
                        const MemoryPlanOptions& o, const EvaluationWork& evaluation) {
  const StageMemory m = plan_stage_memory(costs, first, end, o);
  const std::vector<double> units = unit_sizes(costs, first, end);
  const double value_bytes = o.bf16 ? 2 : 4, largest = largest_gathered(units, false, o);
  const double kept = m.model_states + m.best_model;
  PhaseMemory p;
  p.start_up = m.model_states + 4 * largest / (o.zero_stage == 3 ? o.dp : 1);
  p.training = m.total();
  double block_work = 0;
  for (size_t b = first; b < end && b < evaluation.costs.size(); ++b) {
    const models::BlockCost& c = evaluation.costs[b];
    block_work = std::max(block_work, static_cast<double>(c.inference_bytes > 0 ? c.inference_bytes : c.activation_bytes));
  }
  const double window = o.zero_stage == 3 ? value_bytes * largest_gathered(units, true, o) : 0;
  const int replicas = std::max(1, evaluation.table_replicas);
  const double held = catalogue_rows_held(evaluation.catalogue_items, replicas);
  const double catalogue = 2 * held * evaluation.embedding_width * value_bytes;
  const double scores = 3 * evaluation.users * held * 4;
  p.evaluation = kept + window + block_work + catalogue + scores;
  p.saving = kept + (value_bytes + 4) * largest;
  return p;
}

}  // namespace hllm::parallel
