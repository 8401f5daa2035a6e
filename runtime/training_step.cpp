#include "runtime/training_step.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <string>

#include "common/error.h"
#include "models/parameter_source.h"
#include "parallel/comm/differentiable_gather.h"
#include "parallel/zero/block_runner.h"
#include "runtime/adamw.h"
#include "runtime/gradient_sync.h"
#include "runtime/memory_probe.h"
#include "runtime/replicated_optimizer.h"
#include "runtime/zero_optimizer.h"

namespace hllm::runtime {
namespace {

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

AdamWOptions adam_options(const config::Config& config) {
  AdamWOptions adam;
  adam.lr = config.optimizer.params.lr;
  adam.beta1 = config.optimizer.params.betas[0];
  adam.beta2 = config.optimizer.params.betas[1];
  adam.eps = config.optimizer.params.eps;
  adam.weight_decay = config.optimizer.params.weight_decay;
  return adam;
}

}  // namespace

TrainingStep::TrainingStep(const config::Config& config, models::Recommender& model, const parallel::Topology& topology,
                           PipelineStage pipeline, const models::ParameterFill& initial_values)
    : config_(config),
      model_(model),
      tensor_dp_(topology.device_group(parallel::Group::kDp)),
      pipeline_host_(pipeline.active() ? &topology.pp_group() : nullptr),
      pipeline_stage_(pipeline),
      stage_(config.zero_optimization.stage),
      mixed_(config.bf16.enabled),
      parameters_(model.named_parameters()),
      device_(parameters_.front().second.device()) {
  parallel::Communicator& tensor_dp = tensor_dp_;
  const int dp = tensor_dp.size();
  if (dp > 1) gather_ = [&tensor_dp](const at::Tensor& x) { return parallel::all_gather_with_grad(tensor_dp, x); };
  const AdamWOptions adam = adam_options(config);

  // ZeRO (stage >= 1), activation checkpointing and pipeline stages run the model as blocks; plain data
  // parallel without checkpointing runs the model's own forward. ZeRO's gathers and reductions get
  // communicators of their own (the dp group's channels), apart from the negatives' gather.
  if (stage_ > 0 || config.activation_checkpointing.policy != config::RecomputePolicy::kNone || pipeline.active()) {
    blocks_ = model.blocks(gather_);
    if (pipeline.active()) {  // this stage's blocks, and the parameters they hold, are this rank's
      HLLM_CHECK(pipeline.first_block < pipeline.end_block && pipeline.end_block <= blocks_.size(),
                 "pipeline stage of blocks [", pipeline.first_block, ", ", pipeline.end_block, ") of ", blocks_.size());
      models::Blocks mine;
      for (size_t b = pipeline.first_block; b < pipeline.end_block; ++b) mine.push_back(std::move(blocks_[b]));
      blocks_ = std::move(mine);
      parameters_.clear();
      for (const auto& block : blocks_) {
        for (auto& named : block->parameters()) parameters_.push_back(std::move(named));
      }
    }
    parallel::zero::RunnerOptions options;
    options.stage = stage_;
    options.initial_values = initial_values;
    options.recompute = recompute_flags(blocks_, config.activation_checkpointing);
    options.prefetch_elements = config.zero_optimization.stage3_prefetch_bucket_size;
    options.max_live_elements = config.zero_optimization.stage3_max_live_parameters;
    parallel::Communicator* zero_gather = nullptr;
    parallel::Communicator* zero_reduce = nullptr;
    if (stage_ > 0) {
      zero_gather = &topology.channel(parallel::Group::kDp, "zero.gather");
      zero_reduce = &topology.channel(parallel::Group::kDp, "zero.reduce");
      int64_t in_blocks = 0, in_model = 0;
      for (const auto& block : blocks_) {
        for (const auto& [name, t] : block->parameters()) in_blocks += t.numel();
      }
      for (const auto& [name, t] : parameters_) in_model += t.numel();
      HLLM_ASSERT(in_blocks == in_model, "the model's blocks hold ", in_blocks, " parameters, the model ", in_model);
    }
    runner_ = std::make_unique<parallel::zero::BlockRunner>(blocks_, options, dp, tensor_dp.rank(), zero_gather,
                                                            zero_reduce);
    if (pipeline.active()) {  // a communicator per direction
      executor_ = std::make_unique<parallel::PipelineExecutor>(
          topology.channel(parallel::Group::kPp, "pipeline.activations"),
          topology.channel(parallel::Group::kPp, "pipeline.activation_gradients"), *runner_, pipeline.schedule, device_);
    }
    if (stage_ > 0) optimizer_ = std::make_unique<ZeroOptimizer>(*runner_, adam, tensor_dp, pipeline_host_);
  }
  if (stage_ > 0) return;
  for (const auto& [name, p] : parameters_) models::materialize(name, p, initial_values);  // replicated: whole
  parallel::Communicator* buckets = dp > 1 ? &topology.channel(parallel::Group::kDp, "gradient_buckets") : nullptr;
  optimizer_ = std::make_unique<ReplicatedOptimizer>(parameters_, adam, mixed_, tensor_dp, buckets, pipeline_host_);
}

TrainingStep::~TrainingStep() = default;

void TrainingStep::run_pipeline(const std::function<data::Batch()>& next_batch, int64_t accumulation,
                                StepResult* result) {
  const int64_t before = first_ ? allocated_bytes(device_) : 0;
  parallel::MicroBatchHooks hooks;
  if (executor_->stage() == 0) {
    hooks.load = [&](int) {
      const data::Batch batch = next_batch();
      count(batch, result);
      return model_.block_inputs(batch);
    };
  }
  hooks.before_backward = [&](int, bool completes_step) {
    // What the stage holds for its backwards (under 1F1B, up to pp - stage micro-batches).
    if (first_) memory_.activation_bytes = std::max(memory_.activation_bytes, allocated_bytes(device_) - before);
    if (completes_step) optimizer_->before_last_backward();
  };
  hooks.after_backward = [&](int, bool) { optimizer_->after_backward(); };
  double sum = 0;
  for (const double loss : executor_->run(static_cast<int>(accumulation), hooks)) sum += loss;
  // The last stage computed the losses; every stage reports them.
  result->loss = reduce_scalar(pipeline_host_, sum / static_cast<double>(accumulation), parallel::ReduceOp::kSum);
}

void TrainingStep::run_micro_batches(const std::function<data::Batch()>& next_batch, int64_t accumulation,
                                     StepResult* result) {
  for (int64_t micro = 0; micro < accumulation; ++micro) {
    const data::Batch batch = next_batch();
    const bool completes_step = micro + 1 == accumulation;
    const int64_t before_forward = first_ ? allocated_bytes(device_) : 0;
    at::Tensor loss;
    if (runner_) {
      models::Activations activations = model_.block_inputs(batch);
      runner_->forward(activations);
      loss = activations.at("loss");
    } else {
      loss = model_.loss(batch, gather_).loss;
    }
    if (first_) {  // what the forward keeps for the backward
      memory_.activation_bytes = std::max(memory_.activation_bytes, allocated_bytes(device_) - before_forward);
    }
    if (completes_step) optimizer_->before_last_backward();  // this backward completes the step's gradients
    if (runner_) runner_->begin_backward(completes_step);
    (loss / static_cast<double>(accumulation)).backward();
    if (runner_) runner_->end_backward(completes_step);
    optimizer_->after_backward();
    result->loss += loss.item<double>() / static_cast<double>(accumulation);
    count(batch, result);
  }
}

void TrainingStep::count(const data::Batch& batch, StepResult* result) const {
  result->samples += batch.real_samples;
  const std::vector<models::TowerWork> work = model_.batch_work(batch);
  result->work.resize(work.size());
  for (size_t t = 0; t < work.size(); ++t) result->work[t] += work[t];
  if (model_.reads_item_tokens()) result->tokens += work.front().tokens;
}

StepResult TrainingStep::run(const std::function<data::Batch()>& next_batch, int64_t accumulation, double lr) {
  StepResult result;
  if (executor_) {
    run_pipeline(next_batch, accumulation, &result);
  } else {
    run_micro_batches(next_batch, accumulation, &result);
  }
  optimizer_->average_gradients();
  if (first_) optimizer_->count_model_states(&memory_);
  result.grad_norm = optimizer_->clip_gradient_norm(config_.gradient_clipping);
  result.skipped = !optimizer_->gradients_finite();
  if (!result.skipped) optimizer_->step(lr);
  optimizer_->zero_grad();
  if (first_ && runner_) {
    memory_.gathered_elements = runner_->communication().gathered;
    memory_.reduced_elements = runner_->communication().reduced;
  }
  first_ = false;
  return result;
}

checkpoint::CheckpointContent TrainingStep::state() {
  checkpoint::CheckpointContent content;
  content.pieces = optimizer_->state_pieces(/*for_loading=*/false);
  content.scalars["optimizer_steps"] = optimizer_->steps();
  return content;
}

void TrainingStep::load_state(const checkpoint::Checkpoint& checkpoint) {
  c10::NoGradGuard no_grad;
  bool masters_loaded = true;
  for (const auto& piece : optimizer_->state_pieces(/*for_loading=*/true)) {
    if (piece.name.rfind("master.", 0) == 0 && !checkpoint.has(piece.name)) {
      checkpoint.read(piece, "param." + piece.name.substr(7));  // a float32 run saved no masters
      masters_loaded = false;
    } else {
      checkpoint.read(piece);
    }
  }
  optimizer_->set_steps(checkpoint.scalars().at("optimizer_steps").get<int64_t>());
  optimizer_->after_load(masters_loaded);
}

void TrainingStep::gather_parameters() {
  if (runner_) runner_->gather_all();
}

void TrainingStep::release_parameters() {
  if (runner_) runner_->release_all();
}

std::vector<checkpoint::StatePiece> TrainingStep::parameter_pieces() {
  std::vector<checkpoint::StatePiece> pieces;
  for (auto& piece : optimizer_->state_pieces(/*for_loading=*/false)) {
    if (piece.name.rfind("param.", 0) == 0) pieces.push_back(std::move(piece));
  }
  return pieces;
}

void TrainingStep::restore_parameters(const std::vector<checkpoint::StatePiece>& saved) {
  c10::NoGradGuard no_grad;
  const std::vector<checkpoint::StatePiece> live = parameter_pieces();
  HLLM_ASSERT(live.size() == saved.size(), "restore_parameters: ", saved.size(), " pieces for ", live.size());
  for (size_t i = 0; i < live.size(); ++i) {
    HLLM_ASSERT(live[i].name == saved[i].name && live[i].offset == saved[i].offset &&
                    live[i].values.numel() == saved[i].values.numel(),
                "restore_parameters: piece ", i, " is ", saved[i].name, "@", saved[i].offset, ", expected ", live[i].name,
                "@", live[i].offset);
    live[i].values.copy_(saved[i].values);
  }
  optimizer_->after_parameters_restored();
}

parallel::zero::CommunicationCount TrainingStep::communication() const {
  return runner_ ? runner_->communication() : parallel::zero::CommunicationCount{};
}

void TrainingStep::reset_communication() {
  if (runner_) runner_->reset_communication();
}

}  // namespace hllm::runtime
