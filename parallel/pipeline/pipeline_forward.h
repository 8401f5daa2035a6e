// A forward without gradients of a part of the block chain through the pipeline (evaluation: the Item
// LLM over catalogue chunks, the User LLM over users): each stage that holds blocks of the range runs
// them and passes the activations to the next. Every stage of the pipeline calls it the same number of
// times; stages outside the range return at once.
#pragma once

#include <c10/core/Device.h>

#include <functional>
#include <string>
#include <vector>

#include "models/layered_model.h"
#include "parallel/comm/communicator.h"
#include "parallel/pipeline/partition.h"

namespace hllm::parallel {

// Runs this stage's blocks [first, end) (indices within the stage) on the activations, without autograd:
// plainly, or through ZeRO-3's BlockRunner, which gathers each block's parameters for it.
using RunStageBlocks = std::function<void(size_t first, size_t end, models::Activations&)>;

// Runs the chain's blocks [begin, end) through the stages that hold them; this stage runs its part with
// `run_stage_blocks` (its blocks are [cut.first[stage], cut.end(stage)) of the chain). `inputs` are read on
// the stage that holds `begin`. `consumed`: names no later block reads, dropped before activations move
// on. Returns the activations after block end - 1 on the stage that holds it, an empty map elsewhere.
models::Activations pipeline_forward(Communicator& pipeline, const StageCut& cut, const RunStageBlocks& run_stage_blocks,
                                     size_t begin, size_t end, models::Activations inputs,
                                     const std::vector<std::string>& consumed, const c10::Device& device);

}  // namespace hllm::parallel
