#include "parallel/memory_plan.h"

#include <algorithm>

#include "models/model_plan.h"
#include "parallel/zero/model_state_bytes.h"

namespace hllm::parallel {

StageMemory plan_stage_memory(const std::vector<models::BlockCost>& costs, size_t first, size_t end,
                              const MemoryPlanOptions& o) {
  StageMemory m;
  for (size_t b = first; b < end; ++b) m.parameters += static_cast<double>(costs[b].parameters);
  m.model_states = zero::model_state_bytes(o.zero_stage, m.parameters, o.dp, o.bf16).total();
  m.micro_batches_in_flight = o.pp == 1 ? 1.0
                              : o.gpipe ? static_cast<double>(o.micro_batches)
                                        : static_cast<double>(std::min<int64_t>(o.pp - o.stage, o.micro_batches));
  const models::StageActivations a = models::stage_activation_bytes(costs, first, end);
  m.activations = o.recompute ? a.checkpointed * m.micro_batches_in_flight + a.recomputing
                              : a.stored * m.micro_batches_in_flight;
  return m;
}

}  // namespace hllm::parallel
