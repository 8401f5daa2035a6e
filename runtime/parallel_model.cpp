#include "runtime/parallel_model.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "common/error.h"
#include "data/dataset_keys.h"
#include "models/model_plan.h"
#include "models/parameter_source.h"
#include "parallel/pipeline/pipeline_forward.h"

namespace hllm::runtime {
namespace {

// The values save() wrote, each parameter under its own name and shape (checked against the headers now).
std::unique_ptr<models::ParameterSource> saved_values(const std::string& directory, const models::Recommender& model) {
  auto saved = std::make_unique<models::HfSource>(directory);
  for (const auto& [name, t] : model.named_parameters()) saved->add(name, name, t.sizes().vec());
  return saved;
}

}  // namespace

ParallelModel::ParallelModel(const config::Config& config, const config::BatchSizes& batch,
                             const parallel::Topology& topology, const data::Dataset& dataset,
                             ModelUse use, const std::string& saved_model)
    : config_(config),
      batch_(batch),
      topology_(topology),
      dataset_(dataset),
      device_(topology.placement().device) {
  std::vector<int64_t> prompt;
  for (const auto& id : dataset.meta().at("prompt_tokens")) prompt.push_back(id.get<int64_t>());
  const int64_t vocab = dataset.vocab_size();
  // Built without values (HLLM): a rank fills only what it keeps, below, so no rank ever holds the whole
  // model. With bf16 the LLMs compute in bfloat16 (training keeps float32 masters); logit_scale stays
  // float32 (the loss reads it in float32, and a bf16 exponent would round the temperature).
  std::unique_ptr<models::ParameterSource> source;
  model_ = models::make_recommender_without_values(config, dataset.num_items(), vocab, prompt, device_,
                                                   config.bf16.enabled ? at::kBFloat16 : at::kFloat, &source);
  HLLM_CHECK(saved_model.empty() || use == ModelUse::kEvaluate, "a saved model is read for evaluation only");
  if (!saved_model.empty()) source = saved_values(saved_model, *model_);
  towers_ = model_->tower_ranges();
  // The blocks' costs for the configured shapes: the plan and the pipeline's cut.
  models::Blocks blocks = model_->blocks({});
  const auto prompt_tokens = static_cast<int64_t>(prompt.size());
  const int64_t text_tokens = data::dataset_text_tokens(dataset);
  models::ModelShapes shapes =
      models::hllm_micro_batch_shapes(config, batch_.micro_batch_per_rank, topology.dp(), prompt_tokens, text_tokens);
  models::ModelShapes evaluation_shapes =
      models::hllm_evaluation_shapes(config, prompt_tokens, text_tokens, dataset.num_items());
  shapes.fused_layer_ops = evaluation_shapes.fused_layer_ops = device_.is_cpu();  // what the layers run here
  std::vector<models::BlockCost> costs, evaluation_costs;
  for (const auto& block : blocks) {
    costs.push_back(block->cost(shapes));
    evaluation_costs.push_back(block->cost(evaluation_shapes));
  }
  if (topology.pp() > 1) {
    set_up_pipeline(blocks, costs);
  } else {
    planned_ = parallel::plan_stage_memory(costs, 0, costs.size(), memory_plan_options());
  }
  keep_stage_blocks(std::move(blocks));
  plan_phases(costs, std::move(evaluation_costs));
  // This rank's parameters get their values as training holds them (ZeRO-3: only this rank's shards are
  // ever filled; stages 0-2: this stage's parameters whole), through TrainingStep or, for evaluation
  // alone, without an optimizer. The source (its files' mappings) goes once they are filled.
  models::ParameterFill fill;
  if (source) {
    fill = [&source](const std::string& name, int64_t offset, const at::Tensor& out) {
      return source->fill(name, offset, out);
    };
  }
  if (use == ModelUse::kTrain) {
    training_ = std::make_unique<TrainingStep>(config_, *model_, topology_, pipeline_stage(), fill);
  } else {
    hold_for_evaluation(fill);
  }
}

ParallelModel::~ParallelModel() = default;

void ParallelModel::hold_for_evaluation(const models::ParameterFill& fill) {
  if (config_.zero_optimization.stage == 3 && model_->reads_item_tokens()) {
    parallel::zero::RunnerOptions options;
    options.stage = 3;
    options.initial_values = fill;
    options.prefetch_elements = config_.zero_optimization.stage3_prefetch_bucket_size;
    options.max_live_elements = config_.zero_optimization.stage3_max_live_parameters;
    const int dp = topology_.dp(), dp_rank = topology_.dp_index();
    evaluation_runner_ = std::make_unique<parallel::zero::BlockRunner>(
        stage_blocks_, options, dp, dp_rank, &topology_.channel(parallel::Group::kDp, "zero.gather"),
        &topology_.channel(parallel::Group::kDp, "zero.reduce"));
    return;
  }
  c10::NoGradGuard no_grad;
  for (const auto& [name, t] : owned_) {
    if (models::is_placeholder(t)) {
      models::materialize(name, t, fill);
    } else if (fill && !fill(name, 0, t.detach().view({-1}))) {  // an ID model, built whole: values replaced
      throw Error("no saved values for parameter '" + name + "'");
    }
  }
}

parallel::zero::BlockRunner* ParallelModel::runner() {
  return training_ ? training_->runner() : evaluation_runner_.get();
}

StepResult ParallelModel::train_step(const std::function<data::Batch()>& next_batch, int64_t accumulation, double lr) {
  HLLM_CHECK(training_, "this model was made for evaluation (ModelUse::kEvaluate); it does not train");
  return training_->run(next_batch, accumulation, lr);
}

const MemoryReport& ParallelModel::memory() const {
  static const MemoryReport none;
  return training_ ? training_->memory() : none;
}

void ParallelModel::run_stage_blocks(size_t first, size_t end, models::Activations& activations) {
  parallel::zero::BlockRunner* runner = this->runner();
  if (runner) {  // the parameters as training holds them (ZeRO-3: gathered block by block)
    runner->forward_without_grad(first, end, activations);
    return;
  }
  c10::NoGradGuard no_grad;
  models::run_blocks(stage_blocks_, activations, first, end);
}

models::Activations ParallelModel::forward(size_t first, size_t end, models::Activations inputs,
                                           const std::vector<std::string>& consumed) {
  const auto run = [this](size_t from, size_t to, models::Activations& a) { run_stage_blocks(from, to, a); };
  if (topology_.pp() > 1) {
    return parallel::pipeline_forward(topology_.device_group(parallel::Group::kPp), cut_, run, first, end,
                                      std::move(inputs), consumed, device_);
  }
  run(first, end, inputs);
  return inputs;
}

void ParallelModel::gather_id_model(bool whole) {
  if (model_->reads_item_tokens() || !training_) return;
  if (whole) {
    training_->gather_parameters();
  } else {
    training_->release_parameters();
  }
}

at::TensorOptions ParallelModel::item_embedding_options() const {
  // This stage's first parameter: float32 or bf16 as the model computes, on its device.
  return owned_.front().second.options().requires_grad(false);
}

void ParallelModel::save_state(checkpoint::CheckpointContent* content) {
  HLLM_CHECK(training_, "a model made for evaluation has no training state");
  checkpoint::CheckpointContent mine = training_->state();
  for (auto& piece : mine.pieces) content->pieces.push_back(std::move(piece));
  for (auto& [key, value] : mine.scalars.items()) content->scalars[key] = std::move(value);
}

void ParallelModel::load_state(const checkpoint::Checkpoint& checkpoint) {
  HLLM_CHECK(training_, "a model made for evaluation has no training state");
  training_->load_state(checkpoint);
}

std::vector<checkpoint::StatePiece> ParallelModel::parameter_pieces() {
  HLLM_CHECK(training_, "a model made for evaluation keeps no best model");
  return training_->parameter_pieces();
}

void ParallelModel::restore_parameters(const std::vector<checkpoint::StatePiece>& pieces) {
  HLLM_CHECK(training_, "a model made for evaluation keeps no best model");
  training_->restore_parameters(pieces);
}

parallel::MemoryPlanOptions ParallelModel::memory_plan_options() const {
  return parallel::memory_plan_options(config_, topology_.dp(), topology_.pp(), batch_.gradient_accumulation_steps,
                                      device_.is_cpu());
}

void ParallelModel::plan_phases(const std::vector<models::BlockCost>& costs,
                                std::vector<models::BlockCost> evaluation_costs) {
  parallel::EvaluationWork work;
  work.costs = std::move(evaluation_costs);
  work.catalogue_items = static_cast<double>(dataset_.num_items());
  work.embedding_width = static_cast<double>(item_embedding_width_);
  work.users = config_.train.eval_batch_size;
  parallel::MemoryPlanOptions options = memory_plan_options();
  options.stage = topology_.stage_id();
  const bool pipelined = topology_.pp() > 1;
  const size_t first = pipelined ? cut_.first[options.stage] : 0, end = pipelined ? cut_.end(options.stage) : costs.size();
  planned_phases_ = parallel::plan_phases(costs, first, end, options, work);
}

}  // namespace hllm::runtime
