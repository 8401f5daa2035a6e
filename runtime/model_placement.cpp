#include "runtime/model_placement.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <glog/logging.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "common/error.h"
#include "data/dataset_keys.h"
#include "models/model_plan.h"
#include "parallel/comm/differentiable_gather.h"
#include "parallel/pipeline/pipeline_forward.h"
#include "runtime/plan_options.h"

namespace hllm::runtime {
namespace {

// The values save() wrote, each parameter under its own name and shape (checked against the headers now).
std::unique_ptr<models::ParameterSource> saved_values(const std::string& directory, const models::Recommender& model) {
  auto saved = std::make_unique<models::HfSource>(directory);
  for (const auto& [name, t] : model.named_parameters()) saved->add(name, name, t.sizes().vec());
  return saved;
}

// Which blocks recompute their activations in the backward: HLLM's decoder layers, every one or every
// k-th of each tower (models::Block::decoder_layer).
std::vector<bool> recompute_flags(const models::Blocks& blocks, const config::ActivationCheckpointingConfig& c) {
  std::vector<bool> flags;
  for (const auto& block : blocks) {
    const int layer = block->decoder_layer();
    flags.push_back(layer >= 0 && (c.policy == config::RecomputePolicy::kEveryBlock ||
                                   (c.policy == config::RecomputePolicy::kEveryKthBlock && layer % c.every == 0)));
  }
  return flags;
}

}  // namespace

UnplacedModel model_for_dataset(const config::Config& config, const config::BatchSizes& batch,
                                const data::Dataset& dataset, const at::Device& device,
                                const std::string& saved_model) {
  std::vector<int64_t> prompt;
  for (const auto& id : dataset.meta().at("prompt_tokens")) prompt.push_back(id.get<int64_t>());
  UnplacedModel unplaced;
  unplaced.shapes.micro_batch_per_rank = batch.micro_batch_per_rank;
  unplaced.shapes.micro_batches = batch.gradient_accumulation_steps;
  unplaced.shapes.prompt_tokens = static_cast<int64_t>(prompt.size());
  unplaced.shapes.text_tokens = data::dataset_text_tokens(dataset);
  unplaced.shapes.catalogue_items = dataset.num_items();
  // Built without values (HLLM): a rank fills only what it keeps, so no rank ever holds the whole model.
  // With bf16 the LLMs compute in bfloat16 (training keeps float32 masters); logit_scale stays float32 (the
  // loss reads it in float32, and a bf16 exponent would round the temperature).
  models::RecommenderInputs inputs;
  inputs.seed = static_cast<uint64_t>(config.seed);
  inputs.num_items = dataset.num_items();
  inputs.vocab_size = dataset.vocab_size();
  inputs.prompt_tokens = prompt;
  inputs.max_item_list_len = config.data.max_item_list_len;
  unplaced.model = models::make_recommender_without_values(config.model, std::move(inputs), device,
                                                           config.bf16.enabled ? at::kBFloat16 : at::kFloat,
                                                           &unplaced.values);
  if (!saved_model.empty()) unplaced.values = saved_values(saved_model, *unplaced.model);
  return unplaced;
}

ModelPlacement::ModelPlacement(const config::Config& config, const config::BatchSizes& batch,
                               const parallel::Topology& topology, const data::Dataset& dataset, Purpose purpose,
                               const std::string& saved_model)
    : ModelPlacement(config, topology, purpose,
                     model_for_dataset(config, batch, dataset, topology.placement().device, saved_model)) {
  HLLM_CHECK(saved_model.empty() || purpose == Purpose::kEvaluation, "a saved model is read for evaluation only");
}

ModelPlacement::ModelPlacement(const config::Config& config, const parallel::Topology& topology, Purpose purpose,
                               UnplacedModel unplaced)
    : config_(config),
      topology_(topology),
      device_(topology.placement().device),
      model_(std::move(unplaced.model)),
      towers_(model_->tower_ranges()) {
  parallel::Communicator& dp = topology.device_group(parallel::Group::kDp);
  if (dp.size() > 1) gather_ = [&dp](const at::Tensor& x) { return parallel::all_gather_with_grad(dp, x); };
  // The chain, once; its blocks' costs for the run's shapes make the plan and the pipeline's cut.
  models::Blocks chain = model_->blocks(gather_);
  const RunShapes& shapes = unplaced.shapes;
  const models::ShapeSettings settings = shape_settings(config, /*fused_layer_ops=*/device_.is_cpu());
  const models::ModelShapes step_shapes = models::hllm_micro_batch_shapes(
      settings, shapes.micro_batch_per_rank, topology.dp(), shapes.prompt_tokens, shapes.text_tokens);
  const models::ModelShapes evaluation_shapes =
      models::hllm_evaluation_shapes(settings, shapes.prompt_tokens, shapes.text_tokens, shapes.catalogue_items);
  std::vector<models::BlockCost> costs, evaluation_costs;
  for (const auto& block : chain) {
    costs.push_back(block->cost(step_shapes));
    evaluation_costs.push_back(block->cost(evaluation_shapes));
  }
  if (topology.pp() > 1) {
    cut_pipeline(chain, costs, shapes);
  } else {
    planned_ = parallel::plan_stage_memory(costs, 0, costs.size(), memory_plan_options(shapes));
  }
  keep_stage_blocks(std::move(chain));
  plan_phases(costs, std::move(evaluation_costs), shapes);
  // The source (its files' mappings) goes once the values are filled.
  models::ParameterFill fill;
  if (unplaced.values) {
    fill = [&unplaced](const std::string& name, int64_t offset, const at::Tensor& out) {
      return unplaced.values->fill(name, offset, out);
    };
  }
  hold_parameters(purpose, fill);
}

ModelPlacement::~ModelPlacement() = default;

void ModelPlacement::cut_pipeline(const models::Blocks& chain, const std::vector<models::BlockCost>& costs,
                                  const RunShapes& shapes) {
  const int pp = topology_.pp(), stage = topology_.stage_id();
  cut_ = parallel::choose_stage_cut(costs, pp, config_.parallel.pipeline_cut);
  const bool balanced = config_.parallel.pipeline_cut.empty();
  std::string table = detail::concat("pipeline: ", pp, " stages, schedule ",
                                     config::enum_name(config_.parallel.pipeline_schedule), ", cut ",
                                     balanced ? "balanced by estimated FLOPs" : "by parallel.pipeline_cut",
                                     " (imbalance ", cut_.imbalance(), ")");
  const double total_flops = std::accumulate(cut_.cost.begin(), cut_.cost.end(), 0.0);
  parallel::MemoryPlanOptions plan = memory_plan_options(shapes);
  for (int s = 0; s < pp; ++s) {
    plan.stage = s;
    const parallel::StageMemory memory = parallel::plan_stage_memory(costs, cut_.first[s], cut_.end(s), plan);
    if (s == stage) planned_ = memory;
    table += detail::concat("\n  stage ", s, ": blocks ", cut_.first[s], " .. ", cut_.end(s) - 1, " (",
                            chain[cut_.first[s]]->name(), " .. ", chain[cut_.end(s) - 1]->name(), "), ",
                            cut_.cost[s] / 1e9, " GFLOP forward per micro-batch (",
                            static_cast<int>(100 * cut_.cost[s] / std::max(total_flops, 1.0)), "%), ",
                            static_cast<int64_t>(memory.parameters), " parameters, model states ",
                            memory.model_states / (1024.0 * 1024.0), " MiB per rank, activations ",
                            memory.activations / (1024.0 * 1024.0), " MiB per rank (",
                            memory.micro_batches_in_flight, " micro-batch(es) in flight)");
  }
  if (topology_.rank() == 0) LOG(INFO) << table;
  const int64_t m = shapes.micro_batches;
  if (topology_.rank() == 0 && m < 2 * pp) {
    LOG(WARNING) << "pipeline: " << m << " micro-batch(es) per step (gradient_accumulation_steps) on " << pp
                 << " stages: each stage idles " << 100 * (pp - 1) / (m + pp - 1)
                 << "% of the step (the bubble, (pp - 1) / (m + pp - 1)); raise gradient_accumulation_steps to "
                 << 4 * pp << " or more to keep the stages busy";
  }
}

void ModelPlacement::keep_stage_blocks(models::Blocks chain) {
  // Every parameter's shape, dtype, stage and block (a save streams them in this order), then only this
  // stage's blocks and parameters stay; the other stages' parameters are freed.
  const int stage = topology_.stage_id();
  const auto all = model_->named_parameters();
  std::map<std::string, at::Tensor> by_name(all.begin(), all.end());
  item_embedding_width_ = all.front().second.size(1);  // HLLM's token table [vocab, D]; an ID model's item table
  for (size_t b = 0; b < chain.size(); ++b) {
    const int s = stage_of_block(b);
    for (const auto& [name, t] : chain[b]->parameters()) {
      specs_.push_back({name, t.sizes().vec(), t.scalar_type(), s, b});
      if (s == stage) held_.emplace_back(name, t);
      by_name.erase(name);
    }
  }
  HLLM_ASSERT(by_name.empty(), "parameter '", by_name.empty() ? "" : by_name.begin()->first, "' is in no block");
  for (size_t b = 0; b < chain.size(); ++b) {
    if (stage_of_block(b) == stage) blocks_.push_back(std::move(chain[b]));
  }
  if (topology_.pp() == 1) {
    trained_ = all;
    return;
  }
  trained_ = held_;
  std::set<std::string> mine;
  for (const auto& [name, t] : held_) mine.insert(name);
  c10::NoGradGuard no_grad;
  for (const auto& [name, t] : all) {
    if (mine.count(name) == 0) t.set_data(at::empty({0}, t.options()));  // another stage's: its memory goes
  }
}

void ModelPlacement::hold_parameters(Purpose purpose, const models::ParameterFill& fill) {
  const int zero_stage = config_.zero_optimization.stage;
  const bool recompute = config_.activation_checkpointing.policy != config::RecomputePolicy::kNone;
  const bool training = purpose == Purpose::kTraining;
  // Training runs blocks for ZeRO, checkpointing or a pipeline; evaluation alone keeps ZeRO-3's shards of
  // HLLM (an ID model is one small block: held whole).
  const bool through_runner = training ? zero_stage > 0 || recompute || topology_.pp() > 1
                                       : zero_stage == 3 && model_->reads_item_tokens();
  if (through_runner) {
    parallel::zero::RunnerOptions options;
    options.stage = training ? zero_stage : 3;
    options.initial_values = fill;
    if (training) options.recompute = recompute_flags(blocks_, config_.activation_checkpointing);
    options.prefetch_elements = config_.zero_optimization.stage3_prefetch_bucket_size;
    options.max_live_elements = config_.zero_optimization.stage3_max_live_parameters;
    // ZeRO's gathers and reductions get communicators of their own (the dp group's channels), apart from
    // the negatives' gather.
    parallel::Communicator* zero_gather = nullptr;
    parallel::Communicator* zero_reduce = nullptr;
    if (options.stage > 0) {
      zero_gather = &topology_.channel(parallel::Group::kDp, "zero.gather");
      zero_reduce = &topology_.channel(parallel::Group::kDp, "zero.reduce");
      int64_t in_blocks = 0, in_model = 0;
      for (const auto& block : blocks_) {
        for (const auto& [name, t] : block->parameters()) in_blocks += t.numel();
      }
      for (const auto& [name, t] : trained_) in_model += t.numel();
      HLLM_ASSERT(in_blocks == in_model, "the model's blocks hold ", in_blocks, " parameters, the model ", in_model);
    }
    const parallel::Communicator& dp = topology_.device_group(parallel::Group::kDp);
    runner_ = std::make_unique<parallel::zero::BlockRunner>(blocks_, options, dp.size(), dp.rank(), zero_gather,
                                                            zero_reduce);
    zero_stage_ = options.stage;
    if (zero_stage_ > 0) return;
  }
  // What no ZeRO unit holds is whole: its values come from `fill`.
  c10::NoGradGuard no_grad;
  for (const auto& [name, t] : training ? trained_ : held_) {
    if (models::is_placeholder(t)) {
      models::materialize(name, t, fill);
    } else if (!training && fill && !fill(name, 0, t.detach().view({-1}))) {  // an ID model, built whole
      throw Error("no saved values for parameter '" + name + "'");
    }
  }
}

void ModelPlacement::run_stage_blocks(size_t first, size_t end, models::Activations& activations) {
  if (runner_) {  // the parameters as training holds them (ZeRO-3: gathered block by block)
    runner_->forward_without_grad(first, end, activations);
    return;
  }
  c10::NoGradGuard no_grad;
  models::run_blocks(blocks_, activations, first, end);
}

models::Activations ModelPlacement::forward(size_t first, size_t end, models::Activations inputs,
                                            const std::vector<std::string>& consumed) {
  const auto run = [this](size_t from, size_t to, models::Activations& a) { run_stage_blocks(from, to, a); };
  if (topology_.pp() > 1) {
    return parallel::pipeline_forward(topology_.device_group(parallel::Group::kPp), cut_, run, first, end,
                                      std::move(inputs), consumed, device_);
  }
  run(first, end, inputs);
  return inputs;
}

int ModelPlacement::stage_of_block(size_t block) const { return topology_.pp() > 1 ? cut_.stage_of(block) : 0; }

void ModelPlacement::gather_id_model(bool whole) {
  if (model_->reads_item_tokens() || !runner_) return;
  if (whole) {
    runner_->gather_all();
  } else {
    runner_->release_all();
  }
}

void ModelPlacement::gather_block(size_t b) {
  const int64_t unit = runner_ ? runner_->unit_of_block(b) : -1;
  if (unit >= 0) runner_->gather_unit(static_cast<size_t>(unit));
}

void ModelPlacement::release_block(size_t b) {
  const int64_t unit = runner_ ? runner_->unit_of_block(b) : -1;
  if (unit >= 0) runner_->release_unit(static_cast<size_t>(unit));
}

at::TensorOptions ModelPlacement::item_embedding_options() const {
  // This stage's first parameter: float32 or bf16 as the model computes, on its device.
  return held_.front().second.options().requires_grad(false);
}

parallel::MemoryPlanOptions ModelPlacement::memory_plan_options(const RunShapes& shapes) const {
  return runtime::memory_plan_options(config_, topology_.dp(), topology_.pp(), shapes.micro_batches,
                                     device_.is_cpu());
}

void ModelPlacement::plan_phases(const std::vector<models::BlockCost>& costs,
                                 std::vector<models::BlockCost> evaluation_costs, const RunShapes& shapes) {
  parallel::EvaluationWork work;
  work.costs = std::move(evaluation_costs);
  work.catalogue_items = static_cast<double>(shapes.catalogue_items);
  work.embedding_width = static_cast<double>(item_embedding_width_);
  work.users = config_.train.eval_batch_size;
  if (config_.train.eval_catalogue == config::CatalogueHolding::kSharded) work.table_replicas = topology_.dp();
  parallel::MemoryPlanOptions options = memory_plan_options(shapes);
  options.stage = topology_.stage_id();
  const bool pipelined = topology_.pp() > 1;
  const size_t first = pipelined ? cut_.first[options.stage] : 0, end = pipelined ? cut_.end(options.stage) : costs.size();
  planned_phases_ = parallel::plan_phases(costs, first, end, options, work);
}

}  // namespace hllm::runtime
