#include "parallel/zero/block_runner.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include "common/error.h"
#include "parallel/recompute.h"

namespace hllm::parallel::zero {

// What the activations' gradient hooks reach the runner through: cleared when the runner goes (the
// autograd graph may outlive it).
struct BlockRunner::HookTarget {
  BlockRunner* owner = nullptr;
};

namespace {

// Runs fn, adding the seconds it blocked to *seconds.
template <typename F>
void timed_wait(double* seconds, F&& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

BlockRunner::BlockRunner(const models::Blocks& blocks, RunnerOptions options, int dp, int dp_rank,
                         Communicator* gather, Communicator* reduce)
    : blocks_(blocks), options_(std::move(options)), gather_(gather), reduce_(reduce) {
  HLLM_CHECK(options_.stage >= 0 && options_.stage <= 3, "ZeRO stage ", options_.stage, " does not exist");
  if (options_.recompute.empty()) options_.recompute.assign(blocks.size(), false);
  HLLM_CHECK(options_.recompute.size() == blocks.size(), "recompute flags for ", options_.recompute.size(),
             " blocks, the model has ", blocks.size());
  if (options_.stage > 0) {
    HLLM_CHECK(gather && reduce && gather != reduce && gather->size() == dp && reduce->size() == dp,
               "ZeRO needs two distinct communicators over the ", dp, " data-parallel ranks");
  }
  units_.reserve(blocks.size());
  for (const auto& block : blocks) {
    auto parameters = block->parameters();
    if (options_.stage == 0 || parameters.empty()) {
      unit_of_block_.push_back(-1);
      continue;
    }
    unit_of_block_.push_back(static_cast<int64_t>(units_.size()));
    units_.emplace_back(block->name(), std::move(parameters), dp, dp_rank, /*partitioned=*/options_.stage == 3,
                        options_.initial_values);
  }
  for (const auto& unit : units_) {
    gradient_shards_.push_back(at::zeros({unit.layout().shard_numel()}, unit.shard().options().dtype(at::kFloat)));
  }
  next_reduction_ = static_cast<int64_t>(units_.size()) - 1;
  hook_target_ = std::make_shared<HookTarget>();
  hook_target_->owner = this;
  if (options_.stage < 2) return;  // stage 1 reduces once per step, after the backward
  // A unit whose every gradient is in can be reduced (in order, from the last unit down).
  std::vector<std::pair<std::string, at::Tensor>> parameters;
  std::vector<size_t> unit_of;
  for (size_t u = 0; u < units_.size(); ++u) {
    for (const auto& named : units_[u].parameters()) {
      parameters.push_back(named);
      unit_of.push_back(u);
    }
  }
  readiness_ = std::make_unique<GradientReadiness>(parameters, std::move(unit_of), [this](size_t unit) {
    if (readiness_->waiting(unit) == 0) launch_ready_reductions();
  }, "ZeRO");
}

BlockRunner::~BlockRunner() { hook_target_->owner = nullptr; }

void BlockRunner::forward(models::Activations& activations) {
  next_forward_gather_ = 0;
  forward_end_unit_ = static_cast<int64_t>(units_.size());
  for (size_t b = 0; b < blocks_.size(); ++b) run_block(b, activations);
}

void BlockRunner::forward_without_grad(size_t first, size_t end, models::Activations& activations) {
  HLLM_ASSERT(first <= end && end <= blocks_.size(), "blocks [", first, ", ", end, ") of ", blocks_.size());
  c10::NoGradGuard no_grad;
  if (options_.stage != 3) {
    models::run_blocks(blocks_, activations, first, end);
    return;
  }
  // The units of the range: those of its blocks, which are consecutive.
  int64_t begin_unit = static_cast<int64_t>(units_.size()), end_unit = 0;
  for (size_t b = first; b < end; ++b) {
    if (unit_of_block_[b] < 0) continue;
    begin_unit = std::min(begin_unit, unit_of_block_[b]);
    end_unit = std::max(end_unit, unit_of_block_[b] + 1);
  }
  next_forward_gather_ = begin_unit;
  forward_end_unit_ = end_unit;
  for (size_t b = first; b < end; ++b) {
    const int64_t u = unit_of_block_[b];
    if (u >= 0) before_forward(static_cast<size_t>(u));
    blocks_[b]->forward(activations);
    if (u >= 0) units_[u].release();
  }
}

void BlockRunner::run_block(size_t b, models::Activations& activations) {
  const models::Block& block = *blocks_[b];
  const int64_t u = unit_of_block_[b];
  const bool sharded = options_.stage == 3 && u >= 0;
  if (sharded) before_forward(static_cast<size_t>(u));
  if (options_.recompute[b]) {
    std::function<void()> before_recompute;
    if (sharded) before_recompute = [target = hook_target_, u] {
      if (target->owner) target->owner->before_backward(static_cast<size_t>(u));
    };
    recomputed_forward(block, activations, std::move(before_recompute));
  } else if (sharded) {
    const models::Activations before = activations;
    block.forward(activations);
    // The first gradient to reach one of the block's outputs starts its backward: gather it again then.
    for (const auto& [name, t] : activations) {
      const auto it = before.find(name);
      if ((it != before.end() && it->second.is_same(t)) || !t.requires_grad()) continue;
      t.register_hook([target = hook_target_, u](const at::Tensor&) {
        if (target->owner) target->owner->before_backward(static_cast<size_t>(u));
      });
    }
  } else {
    block.forward(activations);
  }
  // The last unit's backward comes right after: it stays gathered.
  if (sharded && static_cast<size_t>(u) + 1 < units_.size()) units_[u].release();
}

void BlockRunner::issue_gather(size_t unit) {
  if (units_[unit].state() != UnitState::kSharded) return;
  units_[unit].start_gather(*gather_);
  communication_.gathered += units_[unit].layout().buffer_numel();
}

void BlockRunner::wait_gathered(size_t unit) {
  if (units_[unit].state() == UnitState::kGathering) {
    timed_wait(&communication_.wait_seconds, [&] { units_[unit].finish_gather(); });
  }
  HLLM_ASSERT(units_[unit].state() == UnitState::kGathered, "ZeRO unit '", units_[unit].name(), "' is ",
              to_string(units_[unit].state()), " when its block runs");
}

void BlockRunner::before_forward(size_t unit) {
  const auto u = static_cast<int64_t>(unit);
  while (next_forward_gather_ <= u) issue_gather(static_cast<size_t>(next_forward_gather_++));
  // Prefetch: the next units' gathers go out now and arrive while this block computes. The decision
  // depends on sizes and positions only, so every rank issues the same gathers.
  const auto numel = [&](int64_t k) { return static_cast<double>(units_[k].layout().buffer_numel()); };
  double ahead = 0;
  for (int64_t k = u + 1; k < next_forward_gather_; ++k) ahead += numel(k);
  while (next_forward_gather_ < forward_end_unit_) {
    const double next = numel(next_forward_gather_);
    if (ahead + next > options_.prefetch_elements || numel(u) + ahead + next > options_.max_live_elements) break;
    issue_gather(static_cast<size_t>(next_forward_gather_++));
    ahead += next;
  }
  wait_gathered(unit);
}

void BlockRunner::before_backward(size_t unit) {
  const auto u = static_cast<int64_t>(unit);
  while (next_backward_gather_ >= u) issue_gather(static_cast<size_t>(next_backward_gather_--));
  const auto numel = [&](int64_t k) { return static_cast<double>(units_[k].layout().buffer_numel()); };
  double ahead = 0;
  for (int64_t k = u - 1; k > next_backward_gather_; --k) ahead += numel(k);
  while (next_backward_gather_ >= 0) {
    const double next = numel(next_backward_gather_);
    if (ahead + next > options_.prefetch_elements || numel(u) + ahead + next > options_.max_live_elements) break;
    issue_gather(static_cast<size_t>(next_backward_gather_--));
    ahead += next;
  }
  wait_gathered(unit);
}

void BlockRunner::begin_backward(bool /*completes_step*/) {
  if (options_.stage == 0) return;
  next_backward_gather_ = static_cast<int64_t>(units_.size()) - 1;
  next_reduction_ = static_cast<int64_t>(units_.size()) - 1;
  if (readiness_) readiness_->start_round(/*armed=*/true);
}

void BlockRunner::launch_ready_reductions() {
  while (next_reduction_ >= 0 && readiness_->waiting(static_cast<size_t>(next_reduction_)) == 0) {
    launch_reduction(static_cast<size_t>(next_reduction_--));
  }
  for (const auto& pending : pending_) pending.work->is_completed();  // progress for transports that need calls
}

void BlockRunner::launch_reduction(size_t u) {
  c10::NoGradGuard no_grad;
  ParameterUnit& unit = units_[u];
  at::Tensor input = unit.flat_gradient();
  unit.clear_gradients();
  if (options_.stage == 3) {  // its backward is over: the full parameters go
    if (unit.state() == UnitState::kGathering) unit.finish_gather();
    if (unit.state() == UnitState::kGathered) unit.release();
  }
  at::Tensor output = at::empty({unit.layout().shard_numel()}, input.options());
  pending_.push_back({u, reduce_->reduce_scatter(input, output, ReduceOp::kAvg), input, output});
  communication_.reduced += unit.layout().buffer_numel();
  // At most two reductions in flight: their full-size inputs are what stage 2 saves memory on.
  while (pending_.size() > 2) finish_reduction();
}

void BlockRunner::finish_reduction() {
  PendingReduce& front = pending_.front();
  timed_wait(&communication_.wait_seconds, [&] { front.work->wait(); });
  gradient_shards_[front.unit].add_(front.output);
  pending_.pop_front();
}

void BlockRunner::end_backward(bool completes_step) {
  if (options_.stage == 0) return;
  if (readiness_) readiness_->disarm();
  if (options_.stage == 1 && !completes_step) return;  // full gradients keep accumulating
  if (options_.stage == 3) {
    // Units this rank's backward skipped are still gathered in their turn, as on the ranks that reached them.
    while (next_backward_gather_ >= 0) issue_gather(static_cast<size_t>(next_backward_gather_--));
  }
  // What is left (stage 1: everything), in order; a parameter without a gradient counts as zero.
  if (options_.stage == 1) {
    full_gradient_bytes_ = 0;  // what stage 1 holds between micro-batches, for the memory report
    for (const auto& unit : units_) {
      for (const auto& [name, p] : unit.parameters()) {
        if (p.grad().defined()) full_gradient_bytes_ += p.grad().numel() * static_cast<int64_t>(p.grad().element_size());
      }
    }
  }
  while (next_reduction_ >= 0) launch_reduction(static_cast<size_t>(next_reduction_--));
  while (!pending_.empty()) finish_reduction();
  release_all();  // stage 3: nothing stays gathered between steps
  next_reduction_ = static_cast<int64_t>(units_.size()) - 1;
}

void BlockRunner::gather_all() {
  if (options_.stage != 3) return;
  for (size_t u = 0; u < units_.size(); ++u) issue_gather(u);
  for (size_t u = 0; u < units_.size(); ++u) wait_gathered(u);
}

void BlockRunner::release_all(bool keep_changes) {
  if (options_.stage != 3) return;
  for (auto& unit : units_) {
    if (unit.state() == UnitState::kGathering) unit.finish_gather();
    if (unit.state() == UnitState::kGathered) unit.release(keep_changes);
  }
}

void BlockRunner::gather_unit(size_t unit) {
  if (options_.stage != 3) return;
  issue_gather(unit);
  wait_gathered(unit);
}

void BlockRunner::release_unit(size_t unit) {
  if (options_.stage != 3) return;
  units_[unit].release();
}

void BlockRunner::refresh_parameters() {
  if (options_.stage == 0 || options_.stage == 3) return;
  for (auto& unit : units_) {
    timed_wait(&communication_.wait_seconds, [&] { unit.refresh(*gather_); });
    communication_.gathered += unit.layout().buffer_numel();
  }
}

}  // namespace hllm::parallel::zero
