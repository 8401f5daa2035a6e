#include "runtime/training_step.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <string>

#include "common/error.h"
#include "models/activation_keys.h"
#include "parallel/zero/block_runner.h"
#include "runtime/adamw.h"
#include "runtime/gradient_sync.h"
#include "runtime/memory_probe.h"
#include "runtime/replicated_optimizer.h"
#include "runtime/state_key.h"
#include "runtime/zero_optimizer.h"

namespace hllm::runtime {
namespace {

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

TrainingStep::TrainingStep(const config::Config& config, ModelPlacement& placement)
    : config_(config),
      placement_(placement),
      model_(placement.recommender()),
      tensor_dp_(placement.topology().device_group(parallel::Group::kDp)),
      pipeline_host_(placement.topology().pp() > 1 ? &placement.topology().pp_group() : nullptr),
      runner_(placement.runner()),
      device_(placement.device()) {
  const parallel::Topology& topology = placement.topology();
  const AdamWOptions adam = adam_options(config);
  if (topology.pp() > 1) {  // a communicator per direction
    const auto schedule = config.parallel.pipeline_schedule == config::PipelineSchedule::kGPipe
                              ? parallel::ScheduleKind::kGPipe
                              : parallel::ScheduleKind::kOneFOneB;
    executor_ = std::make_unique<parallel::PipelineExecutor>(
        topology.channel(parallel::Group::kPp, "pipeline.activations"),
        topology.channel(parallel::Group::kPp, "pipeline.activation_gradients"), *runner_, schedule, device_);
  }
  if (placement.zero_stage() > 0) {
    optimizer_ = std::make_unique<ZeroOptimizer>(*runner_, adam, tensor_dp_, pipeline_host_);
  } else {
    parallel::Communicator* buckets =
        tensor_dp_.size() > 1 ? &topology.channel(parallel::Group::kDp, "gradient_buckets") : nullptr;
    optimizer_ = std::make_unique<ReplicatedOptimizer>(placement.trained_parameters(), adam, config.bf16.enabled,
                                                       tensor_dp_, buckets, pipeline_host_);
  }
  optimizer_->set_towers(models::tower_names(placement.recommender().tower_sizes()));
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
  for (const at::Tensor& health : executor_->loss_health()) result->health.add(health);
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
      loss = activations.at(models::keys::kLoss);
      const auto health = activations.find(models::keys::kLossHealth);
      if (health != activations.end()) result->health.add(health->second);
    } else {
      const models::HllmOutput out = model_.loss(batch, placement_.negative_gather());
      loss = out.loss;
      if (out.health.defined()) result->health.add(out.health);
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
  const StepResult result = compute(next_batch, accumulation);
  if (result.skipped) {
    discard();
  } else {
    apply(lr);
  }
  return result;
}

StepResult TrainingStep::compute(const std::function<data::Batch()>& next_batch, int64_t accumulation,
                                 double loss_factor) {
  StepResult result;
  if (executor_) {
    run_pipeline(next_batch, accumulation, &result);
  } else {
    run_micro_batches(next_batch, accumulation, &result);
  }
  optimizer_->average_gradients();
  if (loss_factor != 1.0) {  // as if the loss had been scaled: every gradient scales with it
    c10::NoGradGuard no_grad;
    for (const at::Tensor& gradient : optimizer_->gradients()) gradient.mul_(loss_factor);
    result.loss *= loss_factor;
  }
  if (first_) optimizer_->count_model_states(&memory_);
  result.grad_norm = optimizer_->clip_gradient_norm(config_.gradient_clipping);
  result.tower_grad_norms = optimizer_->tower_gradient_norms();
  result.skipped = !optimizer_->gradients_finite();
  return result;
}

void TrainingStep::apply(double lr) {
  optimizer_->step(lr);
  end_step();
}

void TrainingStep::discard() { end_step(); }

void TrainingStep::end_step() {
  optimizer_->zero_grad();
  if (first_ && runner_) {  // the first step's collectives, the update's gathers (stages 1-2) included
    memory_.gathered_elements = runner_->communication().gathered;
    memory_.reduced_elements = runner_->communication().reduced;
  }
  first_ = false;
}

void TrainingStep::save_state(std::vector<checkpoint::StatePiece>* pieces, nlohmann::json* scalars) {
  for (auto& piece : optimizer_->state_pieces(/*for_loading=*/false)) pieces->push_back(std::move(piece));
  (*scalars)["optimizer_steps"] = optimizer_->steps();
}

void TrainingStep::load_state(const checkpoint::Checkpoint& checkpoint, const nlohmann::json& scalars) {
  c10::NoGradGuard no_grad;
  bool masters_loaded = true;
  for (const auto& piece : optimizer_->state_pieces(/*for_loading=*/true)) {
    const std::optional<StateKey> key = StateKey::parse(piece.name);
    if (key && key->kind == StateKind::kMaster && !checkpoint.has(piece.name)) {
      checkpoint.read(piece, StateKey{StateKind::kParameter, key->parameter}.name());  // a float32 run saved no masters
      masters_loaded = false;
    } else {
      checkpoint.read(piece);
    }
  }
  optimizer_->set_steps(scalars.at("optimizer_steps").get<int64_t>());
  optimizer_->after_load(masters_loaded);
}

std::vector<checkpoint::StatePiece> TrainingStep::parameter_pieces() {
  std::vector<checkpoint::StatePiece> pieces;
  for (auto& piece : optimizer_->state_pieces(/*for_loading=*/false)) {
    const std::optional<StateKey> key = StateKey::parse(piece.name);
    if (key && key->kind == StateKind::kParameter) pieces.push_back(std::move(piece));
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
