// The Engine's pipeline parallelism (parallel.pp > 1): the stage cut, this rank's stage, and freeing the
// other stages' parameters. Evaluation and saving under pp are in engine.cpp beside their pp = 1 forms.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <glog/logging.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "common/error.h"
#include "models/model_plan.h"
#include "parallel/zero/model_state_bytes.h"
#include "runtime/engine.h"

namespace hllm::runtime {

void Engine::set_up_pipeline(int64_t prompt_tokens) {
  const int pp = topology_.pp(), stage = topology_.stage_id();
  models::Blocks blocks = model_->blocks({});
  const models::ModelShapes shapes =
      models::hllm_micro_batch_shapes(config_, batch_.micro_batch_per_rank, topology_.dp(), prompt_tokens);
  std::vector<double> flops;
  std::vector<int64_t> parameters;
  std::vector<models::BlockCost> costs;
  for (size_t b = 0; b < blocks.size(); ++b) {
    costs.push_back(blocks[b]->cost(shapes));
    flops.push_back(costs.back().forward_flops);
    parameters.push_back(costs.back().parameters);
    const std::string& name = blocks[b]->name();
    if (name == "item_output") item_end_ = b + 1;
    if (name == "user_input") user_begin_ = b;
    if (name == "user_output") user_end_ = b + 1;
  }
  cut_ = parallel::choose_stage_cut(flops, parameters, pp, config_.parallel.pipeline_cut);
  const bool balanced = config_.parallel.pipeline_cut.empty();
  std::string table = detail::concat("pipeline: ", pp, " stages, schedule ", config_.parallel.pipeline_schedule, ", cut ",
                                     balanced ? "balanced by estimated FLOPs" : "by parallel.pipeline_cut",
                                     " (imbalance ", cut_.imbalance(), ")");
  const double total_flops = std::accumulate(flops.begin(), flops.end(), 0.0);
  const bool recompute = config_.activation_checkpointing.policy != "none";
  for (int s = 0; s < pp; ++s) {
    int64_t held = 0;
    for (size_t b = cut_.first[s]; b < cut_.end(s); ++b) held += costs[b].parameters;
    // As hllm_plan counts them: every block's kept tensors, or with checkpointing the layers' inputs.
    const models::StageActivations kept = models::stage_activation_bytes(costs, cut_.first[s], cut_.end(s));
    const double activation_bytes = recompute ? kept.checkpointed + kept.recomputing : kept.stored;
    const double states = parallel::zero::model_state_bytes(config_.zero_optimization.stage, static_cast<double>(held),
                                                            topology_.dp(), config_.bf16.enabled).total();
    table += detail::concat("\n  stage ", s, ": blocks ", cut_.first[s], " .. ", cut_.end(s) - 1, " (",
                            blocks[cut_.first[s]]->name(), " .. ", blocks[cut_.end(s) - 1]->name(), "), ",
                            cut_.cost[s] / 1e9, " GFLOP forward per micro-batch (",
                            static_cast<int>(100 * cut_.cost[s] / std::max(total_flops, 1.0)), "%), ", held,
                            " parameters, model states ", states / (1024.0 * 1024.0), " MiB per rank, ",
                            activation_bytes / (1024.0 * 1024.0), " MiB activations per micro-batch");
  }
  if (topology_.rank() == 0) LOG(INFO) << table;
  const int64_t m = batch_.gradient_accumulation_steps;
  if (topology_.rank() == 0 && m < 2 * pp) {
    LOG(WARNING) << "pipeline: " << m << " micro-batch(es) per step (gradient_accumulation_steps) on " << pp
                 << " stages: each stage idles " << 100 * (pp - 1) / (m + pp - 1)
                 << "% of the step (the bubble, (pp - 1) / (m + pp - 1)); raise gradient_accumulation_steps to "
                 << 4 * pp << " or more to keep the stages busy";
  }
  // Every parameter's shape, dtype and stage (rank 0 assembles the saved model from them), then only this
  // stage's blocks and parameters stay.
  const auto all = model_->named_parameters();
  std::map<std::string, at::Tensor> by_name(all.begin(), all.end());
  catalog_width_ = all.front().second.size(1);  // the token table: [vocab, D]
  owned_.clear();
  for (size_t b = 0; b < blocks.size(); ++b) {
    const int s = cut_.stage_of(b);
    for (const auto& [name, t] : blocks[b]->parameters()) {
      parameter_specs_.push_back({name, t.sizes().vec(), t.scalar_type(), s});
      if (s == stage) owned_.emplace_back(name, t);
      by_name.erase(name);
    }
  }
  HLLM_ASSERT(by_name.empty(), "parameter '", by_name.empty() ? "" : by_name.begin()->first, "' is in no block");
  for (size_t b = cut_.first[stage]; b < cut_.end(stage); ++b) stage_blocks_.push_back(std::move(blocks[b]));
  std::set<std::string> mine;
  for (const auto& [name, t] : owned_) mine.insert(name);
  c10::NoGradGuard no_grad;
  for (const auto& [name, t] : all) {
    if (mine.count(name) == 0) t.set_data(at::empty({0}, t.options()));  // another stage's: its memory goes
  }
}

PipelineStage Engine::pipeline_stage() {
  if (topology_.pp() == 1) return {};
  PipelineStage stage;
  stage.tensors = &tensor_pp_;
  stage.host = &topology_.pp_group();
  stage.first_block = cut_.first[topology_.stage_id()];
  stage.end_block = cut_.end(topology_.stage_id());
  stage.schedule =
      config_.parallel.pipeline_schedule == "gpipe" ? parallel::ScheduleKind::kGPipe : parallel::ScheduleKind::kOneFOneB;
  return stage;
}

}  // namespace hllm::runtime
