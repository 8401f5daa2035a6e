// ParallelModel's pipeline parallelism (parallel.pp > 1): the stage cut and its log, this rank's stage,
// and keeping this stage's blocks (every block at pp = 1) while the other stages' parameters are freed.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <glog/logging.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "common/error.h"
#include "models/model_plan.h"
#include "parallel/memory_plan.h"
#include "runtime/parallel_model.h"

namespace hllm::runtime {

void ParallelModel::set_up_pipeline(const models::Blocks& blocks, const std::vector<models::BlockCost>& costs) {
  const int pp = topology_.pp(), stage = topology_.stage_id();
  cut_ = parallel::choose_stage_cut(costs, pp, config_.parallel.pipeline_cut);
  const bool balanced = config_.parallel.pipeline_cut.empty();
  std::string table = detail::concat("pipeline: ", pp, " stages, schedule ", config::enum_name(config_.parallel.pipeline_schedule), ", cut ",
                                     balanced ? "balanced by estimated FLOPs" : "by parallel.pipeline_cut",
                                     " (imbalance ", cut_.imbalance(), ")");
  const double total_flops = std::accumulate(cut_.cost.begin(), cut_.cost.end(), 0.0);
  parallel::MemoryPlanOptions plan = memory_plan_options();
  for (int s = 0; s < pp; ++s) {
    plan.stage = s;
    const parallel::StageMemory memory = parallel::plan_stage_memory(costs, cut_.first[s], cut_.end(s), plan);
    if (s == stage) planned_ = memory;
    table += detail::concat("\n  stage ", s, ": blocks ", cut_.first[s], " .. ", cut_.end(s) - 1, " (",
                            blocks[cut_.first[s]]->name(), " .. ", blocks[cut_.end(s) - 1]->name(), "), ",
                            cut_.cost[s] / 1e9, " GFLOP forward per micro-batch (",
                            static_cast<int>(100 * cut_.cost[s] / std::max(total_flops, 1.0)), "%), ",
                            static_cast<int64_t>(memory.parameters), " parameters, model states ",
                            memory.model_states / (1024.0 * 1024.0), " MiB per rank, activations ",
                            memory.activations / (1024.0 * 1024.0), " MiB per rank (",
                            memory.micro_batches_in_flight, " micro-batch(es) in flight)");
  }
  if (topology_.rank() == 0) LOG(INFO) << table;
  const int64_t m = batch_.gradient_accumulation_steps;
  if (topology_.rank() == 0 && m < 2 * pp) {
    LOG(WARNING) << "pipeline: " << m << " micro-batch(es) per step (gradient_accumulation_steps) on " << pp
                 << " stages: each stage idles " << 100 * (pp - 1) / (m + pp - 1)
                 << "% of the step (the bubble, (pp - 1) / (m + pp - 1)); raise gradient_accumulation_steps to "
                 << 4 * pp << " or more to keep the stages busy";
  }
}

void ParallelModel::keep_stage_blocks(models::Blocks blocks) {
  // Every parameter's shape, dtype, stage and block (the final save streams them in this order), then only
  // this stage's blocks and parameters stay; the other stages' parameters are freed.
  const int stage = topology_.stage_id();
  const auto all = model_->named_parameters();
  std::map<std::string, at::Tensor> by_name(all.begin(), all.end());
  item_embedding_width_ = all.front().second.size(1);  // HLLM's token table [vocab, D]; an ID model's item table
  owned_.clear();
  for (size_t b = 0; b < blocks.size(); ++b) {
    const int s = stage_of_block(b);
    for (const auto& [name, t] : blocks[b]->parameters()) {
      parameter_specs_.push_back({name, t.sizes().vec(), t.scalar_type(), s, b});
      if (s == stage) owned_.emplace_back(name, t);
      by_name.erase(name);
    }
  }
  HLLM_ASSERT(by_name.empty(), "parameter '", by_name.empty() ? "" : by_name.begin()->first, "' is in no block");
  for (size_t b = 0; b < blocks.size(); ++b) {
    if (stage_of_block(b) == stage) stage_blocks_.push_back(std::move(blocks[b]));
  }
  if (topology_.pp() == 1) return;
  std::set<std::string> mine;
  for (const auto& [name, t] : owned_) mine.insert(name);
  c10::NoGradGuard no_grad;
  for (const auto& [name, t] : all) {
    if (mine.count(name) == 0) t.set_data(at::empty({0}, t.options()));  // another stage's: its memory goes
  }
}

int ParallelModel::stage_of_block(size_t block) const { return topology_.pp() > 1 ? cut_.stage_of(block) : 0; }

PipelineStage ParallelModel::pipeline_stage() {
  if (topology_.pp() == 1) return {};
  PipelineStage stage;
  stage.first_block = cut_.first[topology_.stage_id()];
  stage.end_block = cut_.end(topology_.stage_id());
  stage.schedule =
      config_.parallel.pipeline_schedule == config::PipelineSchedule::kGPipe ? parallel::ScheduleKind::kGPipe : parallel::ScheduleKind::kOneFOneB;
  return stage;
}

}  // namespace hllm::runtime
