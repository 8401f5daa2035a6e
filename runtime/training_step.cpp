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
#include "runtime/zero_optimizer.h"

namespace hllm::runtime {
namespace {

// Which blocks recompute their activations in the backward: HLLM's decoder layers, every one or every
// k-th of each tower (the embedding, norms and the loss are cheap to keep; the loss also communicates).
std::vector<bool> recompute_flags(const models::Blocks& blocks, const config::ActivationCheckpointingConfig& c) {
  std::vector<bool> flags;
  for (const auto& block : blocks) {
    const std::string& name = block->name();
    const auto at = name.rfind("_layer.");
    bool recompute = false;
    if (at != std::string::npos && c.policy != "none") {
      const int layer = std::stoi(name.substr(at + 7));
      recompute = c.policy == "every_block" || layer % c.every == 0;
    }
    flags.push_back(recompute);
  }
  return flags;
}

int64_t bytes_of(const at::Tensor& t) { return t.defined() ? t.numel() * static_cast<int64_t>(t.element_size()) : 0; }

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
  if (stage_ > 0 || config.activation_checkpointing.policy != "none" || pipeline.active()) {
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
    if (stage_ > 0) zero_ = std::make_unique<ZeroOptimizer>(*runner_, adam, tensor_dp, pipeline_host_);
  }
  if (stage_ > 0) return;
  for (const auto& [name, p] : parameters_) models::materialize(name, p, initial_values);  // replicated: whole
  // Stage 0: what the optimizer updates are the parameters themselves in float32 training; with bf16,
  // float32 master copies of the bfloat16 ones, into which each micro-batch's gradients are added (so
  // accumulation is float32 too) and from which the parameters are rounded after each step.
  for (const auto& [name, p] : parameters_) {
    updated_.emplace_back(name, p.scalar_type() == at::kBFloat16 ? p.detach().to(at::kFloat) : p);
  }
  optimizer_ = std::make_unique<AdamW>(updated_, adam);
  // With several data-parallel ranks, buckets start reducing during the last micro-batch's backward. They
  // get a communicator of their own: the backward also runs the negatives' gather (a collective on
  // tensor_dp) at a point of the graph that differs between ranks (each has its own distinct items), and
  // collectives on one communicator must come in the same order on every rank. (One rank reduces
  // nothing: no communicator and no averager, whose flat buckets would hold every gradient once more.)
  if (dp > 1) {
    // (Overlap needs the gradients final as the backward produces them: not with bf16, where they are
    // still to be added into the masters.)
    averager_ = std::make_unique<GradientAverager>(topology.channel(parallel::Group::kDp, "gradient_buckets"), updated_,
                                                   25 << 20, /*overlap=*/!mixed_);
  }
}

TrainingStep::~TrainingStep() = default;

void TrainingStep::add_gradients_into_masters() {
  if (!mixed_ || stage_ > 0) return;  // float32: the parameters are their own masters; ZeRO has its own
  c10::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const at::Tensor& p = parameters_[i].second;
    if (p.scalar_type() != at::kBFloat16 || !p.grad().defined()) continue;
    at::Tensor& master = updated_[i].second;
    if (master.grad().defined()) {
      master.mutable_grad().add_(p.grad());
    } else {
      master.mutable_grad() = p.grad().to(at::kFloat);
    }
    p.mutable_grad().reset();
  }
}

void TrainingStep::measure_model_states() {
  MemoryReport& m = memory_;
  if (stage_ == 0) {
    for (const auto& [name, p] : parameters_) m.parameter_bytes += bytes_of(p);
    for (size_t i = 0; i < updated_.size(); ++i) {
      m.gradient_bytes += bytes_of(updated_[i].second.grad());
      if (!updated_[i].second.is_same(parameters_[i].second)) m.optimizer_bytes += bytes_of(updated_[i].second);
    }
    for (const auto& [name, moments] : optimizer_->state()) m.optimizer_bytes += bytes_of(moments.first) + bytes_of(moments.second);
    return;
  }
  for (const auto& unit : runner_->units()) m.parameter_bytes += unit.parameter_bytes();
  for (const auto& g : runner_->gradient_shards()) m.gradient_bytes += bytes_of(g);
  m.gradient_bytes += runner_->full_gradient_bytes();
  m.optimizer_bytes = zero_->optimizer_bytes();
}

void TrainingStep::run_pipeline(const std::function<data::Batch()>& next_batch, int64_t accumulation,
                                StepResult* result) {
  const int64_t before = first_ ? allocated_bytes(device_) : 0;
  parallel::MicroBatchHooks hooks;
  if (executor_->stage() == 0) {
    hooks.load = [&](int) {
      const data::Batch batch = next_batch();
      result->samples += batch.real_samples;
      result->tokens += static_cast<int64_t>(batch.tokens.size());
      return model_.block_inputs(batch);
    };
  }
  hooks.before_backward = [&](int, bool completes_step) {
    // What the stage holds for its backwards (under 1F1B, up to pp - stage micro-batches).
    if (first_) memory_.activation_bytes = std::max(memory_.activation_bytes, allocated_bytes(device_) - before);
    if (averager_ && completes_step) averager_->arm();
  };
  hooks.after_backward = [&](int, bool) { add_gradients_into_masters(); };
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
    if (averager_ && completes_step) averager_->arm();  // this backward completes the step's gradients
    if (runner_) runner_->begin_backward(completes_step);
    (loss / static_cast<double>(accumulation)).backward();
    if (runner_) runner_->end_backward(completes_step);
    add_gradients_into_masters();
    result->loss += loss.item<double>() / static_cast<double>(accumulation);
    result->samples += batch.real_samples;
    result->tokens += static_cast<int64_t>(batch.tokens.size());
  }
}

StepResult TrainingStep::run(const std::function<data::Batch()>& next_batch, int64_t accumulation, double lr) {
  StepResult result;
  if (executor_) {
    run_pipeline(next_batch, accumulation, &result);
  } else {
    run_micro_batches(next_batch, accumulation, &result);
  }
  if (averager_ && tensor_dp_.size() > 1) averager_->average();
  if (first_) measure_model_states();
  result.grad_norm = zero_ ? zero_->clip_gradient_norm(config_.gradient_clipping)
                           : clip_gradient_norm(updated_, config_.gradient_clipping, pipeline_host_);
  result.skipped = !(zero_ ? zero_->gradients_finite() : gradients_finite(updated_, pipeline_host_));
  if (!result.skipped) {
    if (zero_) {
      zero_->step(lr);
    } else {
      optimizer_->step(lr);
    }
    if (mixed_ && !zero_) {
      c10::NoGradGuard no_grad;
      for (size_t i = 0; i < parameters_.size(); ++i) {
        if (!updated_[i].second.is_same(parameters_[i].second)) parameters_[i].second.detach().copy_(updated_[i].second);
      }
    }
  }
  if (zero_) {
    zero_->zero_grad();
  } else {
    optimizer_->zero_grad();
  }
  if (first_ && runner_) {
    memory_.gathered_elements = runner_->communication().gathered;
    memory_.reduced_elements = runner_->communication().reduced;
  }
  first_ = false;
  return result;
}

// Stage 0: every rank holds every tensor whole. Saving: rank r of the group writes the r-th of dp equal
// slices of each; loading: the whole tensors.
std::vector<checkpoint::StatePiece> TrainingStep::stage0_pieces(bool whole) {
  const int dp = tensor_dp_.size(), rank = tensor_dp_.rank();
  std::vector<checkpoint::StatePiece> pieces;
  const auto add = [&](const std::string& name, const at::Tensor& t) {
    const at::Tensor flat = t.detach().view({-1});
    const int64_t n = flat.numel();
    const int64_t begin = whole ? 0 : n * rank / dp, end = whole ? n : n * (rank + 1) / dp;
    pieces.push_back({name, t.sizes().vec(), begin, flat.narrow(0, begin, end - begin)});
  };
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const std::string& name = parameters_[i].first;
    add("param." + name, parameters_[i].second);
    if (!updated_[i].second.is_same(parameters_[i].second)) add("master." + name, updated_[i].second);
    const auto& [m, v] = optimizer_->state().at(name);
    add("adam.m." + name, m);
    add("adam.v." + name, v);
  }
  return pieces;
}

checkpoint::CheckpointContent TrainingStep::state() {
  checkpoint::CheckpointContent content;
  content.pieces = zero_ ? zero_->state_pieces() : stage0_pieces(/*whole=*/false);
  content.scalars["optimizer_steps"] = zero_ ? zero_->adam().steps() : optimizer_->steps();
  return content;
}

void TrainingStep::load_state(const checkpoint::Checkpoint& checkpoint) {
  c10::NoGradGuard no_grad;
  bool masters_loaded = true;
  for (const auto& piece : zero_ ? zero_->state_pieces() : stage0_pieces(/*whole=*/true)) {
    if (piece.name.rfind("master.", 0) == 0 && !checkpoint.has(piece.name)) {
      checkpoint.read(piece, "param." + piece.name.substr(7));  // a float32 run saved no masters
      masters_loaded = false;
    } else {
      checkpoint.read(piece);
    }
  }
  const int64_t steps = checkpoint.scalars().at("optimizer_steps").get<int64_t>();
  if (zero_) {
    zero_->adam().set_steps(steps);
    zero_->after_load(masters_loaded);
  } else {
    optimizer_->set_steps(steps);
    for (size_t i = 0; i < parameters_.size(); ++i) {  // bf16: the parameters are their masters, rounded
      if (!updated_[i].second.is_same(parameters_[i].second)) parameters_[i].second.detach().copy_(updated_[i].second);
    }
  }
}

void TrainingStep::gather_parameters() {
  if (runner_) runner_->gather_all();
}

void TrainingStep::release_parameters() {
  if (runner_) runner_->release_all();
}

std::vector<checkpoint::StatePiece> TrainingStep::parameter_pieces() {
  std::vector<checkpoint::StatePiece> pieces;
  for (auto& piece : zero_ ? zero_->state_pieces() : stage0_pieces(/*whole=*/false)) {
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
  if (zero_) {
    runner_->refresh_parameters();  // stages 1-2: every rank's shard into the full buffers
    return;
  }
  // Stage 0: every rank restored its 1/dp slice of each parameter; the slices are gathered into the whole.
  const int dp = tensor_dp_.size();
  if (dp == 1) return;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    at::Tensor flat = parameters_[i].second.detach().view({-1});
    const int64_t n = flat.numel();
    std::vector<int64_t> counts;
    for (int r = 0; r < dp; ++r) counts.push_back(n * (r + 1) / dp - n * r / dp);
    const at::Tensor mine = flat.narrow(0, n * tensor_dp_.rank() / dp, counts[tensor_dp_.rank()]).clone();
    tensor_dp_.all_gather_v(mine, flat, counts)->wait();
  }
}

parallel::zero::CommunicationCount TrainingStep::communication() const {
  return runner_ ? runner_->communication() : parallel::zero::CommunicationCount{};
}

void TrainingStep::reset_communication() {
  if (runner_) runner_->reset_communication();
}

}  // namespace hllm::runtime
