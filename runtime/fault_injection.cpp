#include "runtime/fault_injection.h"

#include <algorithm>
#include <limits>

#include "common/error.h"

namespace hllm::runtime {

bool FaultInjection::due(config::InjectedFault fault, int64_t step) const {
  if (debug_.inject != fault || journal_.has_incident_from(debug_.inject_step)) return false;
  return fault == config::InjectedFault::kCollapse ? step >= debug_.inject_step : step == debug_.inject_step;
}

double FaultInjection::loss_factor(int64_t step) const {
  if (due(config::InjectedFault::kNan, step)) return std::numeric_limits<double>::quiet_NaN();
  if (due(config::InjectedFault::kSpike, step)) return kSpikeFactor;
  return 1.0;
}

bool FaultInjection::collapses(int64_t step) const { return due(config::InjectedFault::kCollapse, step); }

void check_fault_step(const config::DebugConfig& debug, int64_t run_steps) {
  if (debug.inject == config::InjectedFault::kNone || debug.inject_step < run_steps) return;
  throw InputError(detail::concat("debug.inject_step = ", debug.inject_step, " is not below the run's ", run_steps,
                                  " steps: the fault would never happen"));
}

void collapse_items(data::Batch* batch) {
  if (batch->unique_items.empty()) return;  // nothing to predict, no negatives
  // The same item on every rank: item 1 for the ID models, and for the Item LLM every text emptied, so that
  // every item is its prompt and [ITEM] alone. The negatives gathered from other ranks are that item too.
  constexpr int64_t kItem = 1;
  for (size_t i = 0; i < batch->items.size(); ++i) {
    if (batch->items[i] == 0) continue;
    batch->items[i] = kItem;
    batch->item_slots[i] = 0;
  }
  for (auto& negative : batch->negatives) negative = kItem;
  for (auto& slot : batch->negative_slots) slot = 0;
  std::fill(batch->token_offsets.begin(), batch->token_offsets.end(), 0);
  batch->tokens.clear();
}

}  // namespace hllm::runtime
