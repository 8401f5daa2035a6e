#include "parallel/pipeline/pipeline_forward.h"

#include <c10/core/GradMode.h>

#include <algorithm>

#include "common/error.h"
#include "parallel/pipeline/activation_transfer.h"

namespace hllm::parallel {

models::Activations pipeline_forward(Communicator& pipeline, const StageCut& cut, const RunStageBlocks& run_stage_blocks,
                                     size_t begin, size_t end, models::Activations inputs,
                                     const std::vector<std::string>& consumed, const c10::Device& device) {
  HLLM_ASSERT(begin < end && end <= cut.blocks, "pipeline_forward of blocks [", begin, ", ", end, ")");
  const int stage = pipeline.rank();
  const int first_stage = cut.stage_of(begin), last_stage = cut.stage_of(end - 1);
  if (stage < first_stage || stage > last_stage) return {};
  c10::NoGradGuard no_grad;
  models::Activations a = stage == first_stage ? std::move(inputs) : recv_activations(pipeline, stage - 1, device);
  const size_t mine = cut.first[static_cast<size_t>(stage)];
  const size_t from = std::max(begin, mine), to = std::min(end, cut.end(stage));
  run_stage_blocks(from - mine, to - mine, a);
  for (const auto& name : consumed) a.erase(name);
  if (stage == last_stage) return a;
  PostedSends posted;
  send_activations(pipeline, stage + 1, a, &posted);
  posted.wait();
  return {};
}

}  // namespace hllm::parallel
