// Cutting a chain of blocks into pipeline stages: contiguous ranges, each non-empty, chosen to make the
// most expensive stage as cheap as possible (the pipeline runs at the pace of its slowest stage). Pure.
// HLLM's Item LLM reads (window + negatives) x text-length tokens per sample and the User LLM only the
// window, so an "Item LLM | User LLM" cut is badly unbalanced; the costs come from the blocks' cost()
// for the configured shapes (models/layered_model.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hllm::parallel {

struct StageCut {
  std::vector<size_t> first;  // first block of each stage; stage s is [first[s], first[s + 1]) (last: to the end)
  std::vector<double> cost;   // each stage's total cost
  size_t blocks = 0;          // in the whole chain
  int stages() const { return static_cast<int>(first.size()); }
  size_t end(int stage) const;          // one past stage's last block
  int stage_of(size_t block) const;     // the stage that runs `block`
  double max_cost() const;
  double imbalance() const;  // max / mean stage cost (1 = perfect)
};

// The cut of `costs` (one per block, >= 0) into `stages` contiguous non-empty ranges minimising the largest
// stage cost (exact, by dynamic programming). Throws hllm::InputError when stages < 1 or > blocks.
StageCut balanced_cut(const std::vector<double>& costs, int stages);

// A cut given by hand: `first` lists each stage's first block (first[0] must be 0, strictly increasing, all
// below the block count). Throws InputError naming the bad index otherwise.
StageCut manual_cut(const std::vector<double>& costs, const std::vector<size_t>& first);

// The cut a run takes (the runtime and hllm_plan): with `manual` empty, balanced by `flops` over groups
// that each hold parameters (a parameter-free block joins the next one), so no stage is left without
// anything to train; otherwise `manual` (parallel.pipeline_cut) lists the first block of stages 1 ..
// stages - 1. Throws InputError naming parallel.pp / parallel.pipeline_cut when the cut is impossible or
// leaves a stage without parameters.
StageCut choose_stage_cut(const std::vector<double>& flops, const std::vector<int64_t>& parameters, int stages,
                          const std::vector<int64_t>& manual);

}  // namespace hllm::parallel
