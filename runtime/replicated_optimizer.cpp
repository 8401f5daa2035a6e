#include "runtime/replicated_optimizer.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "runtime/state_key.h"
#include "runtime/step_result.h"

namespace hllm::runtime {
namespace {

int64_t bytes_of(const at::Tensor& t) { return t.defined() ? t.numel() * static_cast<int64_t>(t.element_size()) : 0; }

}  // namespace

ReplicatedOptimizer::ReplicatedOptimizer(NamedTensors parameters, const AdamWOptions& options, bool mixed,
                                         parallel::Communicator& dp, parallel::Communicator* buckets,
                                         parallel::Communicator* pipeline)
    : parameters_(std::move(parameters)), mixed_(mixed), dp_(dp), pipeline_(pipeline) {
  for (const auto& [name, p] : parameters_) {
    updated_.emplace_back(name, p.scalar_type() == at::kBFloat16 ? p.detach().to(at::kFloat) : p);
  }
  adam_ = std::make_unique<AdamW>(updated_, options);
  // With several data-parallel ranks, buckets start reducing during the last micro-batch's backward. They
  // get a communicator of their own: the backward also runs the negatives' gather (a collective on the
  // dp group) at a point of the graph that differs between ranks (each has its own distinct items), and
  // collectives on one communicator must come in the same order on every rank. (One rank reduces
  // nothing: no averager, whose flat buckets would hold every gradient once more.) Overlap needs the
  // gradients final as the backward produces them: not with bf16, where they are still to be added into
  // the masters.
  if (dp.size() > 1) averager_ = std::make_unique<GradientAverager>(*buckets, updated_, 25 << 20, /*overlap=*/!mixed_);
}

ReplicatedOptimizer::~ReplicatedOptimizer() = default;

void ReplicatedOptimizer::before_last_backward() {
  if (averager_) averager_->arm();
}

void ReplicatedOptimizer::after_backward() {
  if (!mixed_) return;  // float32: the parameters are their own masters
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

void ReplicatedOptimizer::average_gradients() {
  if (averager_) averager_->average();
}

double ReplicatedOptimizer::clip_gradient_norm(double max_norm) {
  if (towers_.size() < 2) return runtime::clip_gradient_norm(updated_, max_norm, pipeline_);
  std::vector<int> tower;
  for (const auto& named : updated_) tower.push_back(tower_of(named.first, towers_));
  tower_norms_.assign(towers_.size(), 0.0);
  return clip_gradients(gradients_of(updated_), max_norm, nullptr, pipeline_, &tower, &tower_norms_);
}

bool ReplicatedOptimizer::gradients_finite() { return runtime::gradients_finite(updated_, pipeline_); }

std::vector<at::Tensor> ReplicatedOptimizer::gradients() { return gradients_of(updated_); }

void ReplicatedOptimizer::step(double lr) {
  adam_->step(lr);
  if (mixed_) copy_masters_into_parameters();
}

void ReplicatedOptimizer::zero_grad() { adam_->zero_grad(); }

void ReplicatedOptimizer::copy_masters_into_parameters() {
  c10::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    if (!updated_[i].second.is_same(parameters_[i].second)) parameters_[i].second.detach().copy_(updated_[i].second);
  }
}

std::vector<checkpoint::StatePiece> ReplicatedOptimizer::state_pieces(bool for_loading) {
  // Every rank holds every tensor whole. Saving: rank r of the group writes the r-th of dp equal slices of
  // each; loading: the whole tensors.
  const int dp = dp_.size(), rank = dp_.rank();
  std::vector<checkpoint::StatePiece> pieces;
  const auto add = [&](StateKind kind, const std::string& name, const at::Tensor& t) {
    const at::Tensor flat = t.detach().view({-1});
    const int64_t n = flat.numel();
    const int64_t begin = for_loading ? 0 : n * rank / dp, end = for_loading ? n : n * (rank + 1) / dp;
    pieces.push_back({StateKey{kind, name}.name(), t.sizes().vec(), begin, flat.narrow(0, begin, end - begin)});
  };
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const std::string& name = parameters_[i].first;
    add(StateKind::kParameter, name, parameters_[i].second);
    if (!updated_[i].second.is_same(parameters_[i].second)) add(StateKind::kMaster, name, updated_[i].second);
    const auto& [m, v] = adam_->state().at(name);
    add(StateKind::kAdamFirstMoment, name, m);
    add(StateKind::kAdamSecondMoment, name, v);
  }
  return pieces;
}

void ReplicatedOptimizer::after_load(bool /*masters_loaded*/) {
  // bf16: the parameters are their masters, rounded (masters a float32 run saved none of are read from
  // its float32 parameters).
  copy_masters_into_parameters();
}

void ReplicatedOptimizer::after_parameters_restored() {
  // Every rank restored its 1/dp slice of each parameter; the slices are gathered into the whole.
  const int dp = dp_.size();
  if (dp == 1) return;
  for (const auto& [name, p] : parameters_) {
    at::Tensor flat = p.detach().view({-1});
    const int64_t n = flat.numel();
    std::vector<int64_t> counts;
    for (int r = 0; r < dp; ++r) counts.push_back(n * (r + 1) / dp - n * r / dp);
    const at::Tensor mine = flat.narrow(0, n * dp_.rank() / dp, counts[dp_.rank()]).clone();
    dp_.all_gather_v(mine, flat, counts)->wait();
  }
}

void ReplicatedOptimizer::count_model_states(MemoryReport* m) const {
  for (const auto& [name, p] : parameters_) m->parameter_bytes += bytes_of(p);
  for (size_t i = 0; i < updated_.size(); ++i) {
    m->gradient_bytes += bytes_of(updated_[i].second.grad());
    if (!updated_[i].second.is_same(parameters_[i].second)) m->optimizer_bytes += bytes_of(updated_[i].second);
  }
  for (const auto& [name, moments] : adam_->state()) m->optimizer_bytes += bytes_of(moments.first) + bytes_of(moments.second);
}

}  // namespace hllm::runtime
