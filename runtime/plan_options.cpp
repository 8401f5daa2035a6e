#include "runtime/plan_options.h"

namespace hllm::runtime {

parallel::MemoryPlanOptions memory_plan_options(const config::Config& config, int dp, int pp, int64_t micro_batches,
                                                bool on_host) {
  parallel::MemoryPlanOptions o;
  o.zero_stage = config.zero_optimization.stage;
  o.dp = dp;
  o.bf16 = config.bf16.enabled;
  o.recompute = config.activation_checkpointing.policy != config::RecomputePolicy::kNone;
  o.pp = pp;
  o.gpipe = config.parallel.pipeline_schedule == config::PipelineSchedule::kGPipe;
  o.micro_batches = micro_batches;
  o.prefetch_elements = config.zero_optimization.stage3_prefetch_bucket_size;
  o.max_live_elements = config.zero_optimization.stage3_max_live_parameters;
  o.keeps_best_model = config.train.eval_interval > 0;
  o.snapshots_checkpoints = on_host && config.checkpoint.async_save == config::AsyncSave::kOn;
  return o;
}

models::ShapeSettings shape_settings(const config::Config& config, bool fused_layer_ops) {
  models::ShapeSettings s;
  s.max_item_list_len = config.data.max_item_list_len;
  s.num_negatives = config.data.num_negatives;
  s.eval_batch_size = config.train.eval_batch_size;
  s.bf16 = config.bf16.enabled;
  s.fused_layer_ops = fused_layer_ops;
  return s;
}

}  // namespace hllm::runtime
