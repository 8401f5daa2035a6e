#include "runtime/zero_optimizer.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <cmath>

#include "runtime/gradient_norm.h"
#include "runtime/gradient_sync.h"
#include "runtime/state_key.h"
#include "runtime/step_result.h"

namespace hllm::runtime {

ZeroOptimizer::ZeroOptimizer(parallel::zero::BlockRunner& runner, const AdamWOptions& options,
                             parallel::Communicator& dp, parallel::Communicator* pipeline)
    : runner_(runner), dp_(dp), pipeline_(pipeline) {
  c10::NoGradGuard no_grad;
  std::vector<std::pair<std::string, at::Tensor>> pieces;
  std::vector<bool> decay;
  auto& units = runner.units();
  for (size_t u = 0; u < units.size(); ++u) {
    const auto& unit = units[u];
    const at::Tensor& shard = unit.shard();
    masters_.push_back(shard.scalar_type() == at::kFloat ? shard : shard.to(at::kFloat));
    const int64_t begin = unit.layout().shard_range(unit.rank()).first;
    for (const auto& segment : unit.layout().segments_of(unit.rank())) {
      const auto& [name, parameter] = unit.parameters()[segment.parameter];
      at::Tensor piece = masters_[u].narrow(0, segment.buffer_offset - begin, segment.length);
      piece.mutable_grad() = runner.gradient_shards()[u].narrow(0, segment.buffer_offset - begin, segment.length);
      pieces.emplace_back(name, piece);
      decay.push_back(!no_weight_decay(name, parameter));
    }
  }
  adam_ = std::make_unique<AdamW>(std::move(pieces), options, std::move(decay));
}

double ZeroOptimizer::clip_gradient_norm(double max_norm) {
  if (towers_.size() < 2) return clip_gradients(runner_.gradient_shards(), max_norm, &dp_, pipeline_);
  // A unit is one block's parameters, all of one tower: its first parameter's.
  std::vector<int> tower;
  for (const auto& unit : runner_.units()) {
    tower.push_back(unit.parameters().empty() ? 0 : tower_of(unit.parameters().front().first, towers_));
  }
  tower_norms_.assign(towers_.size(), 0.0);
  return clip_gradients(runner_.gradient_shards(), max_norm, &dp_, pipeline_, &tower, &tower_norms_);
}

bool ZeroOptimizer::gradients_finite() { return runtime::gradients_finite(runner_.gradient_shards(), &dp_, pipeline_); }

std::vector<at::Tensor> ZeroOptimizer::gradients() { return runner_.gradient_shards(); }

void ZeroOptimizer::step(double lr) {
  adam_->step(lr);
  c10::NoGradGuard no_grad;
  auto& units = runner_.units();
  for (size_t u = 0; u < units.size(); ++u) {
    const at::Tensor& shard = units[u].shard();
    if (!masters_[u].is_same(shard)) shard.copy_(masters_[u]);
  }
  runner_.refresh_parameters();
}

void ZeroOptimizer::zero_grad() {
  for (auto& g : runner_.gradient_shards()) g.zero_();
}

int64_t ZeroOptimizer::optimizer_bytes() const {
  int64_t bytes = 0;
  const auto& units = runner_.units();
  for (size_t u = 0; u < units.size(); ++u) {
    if (!masters_[u].is_same(units[u].shard())) bytes += masters_[u].numel() * 4;
  }
  for (const auto& [name, moments] : adam_->state()) bytes += (moments.first.numel() + moments.second.numel()) * 4;
  return bytes;
}


std::vector<checkpoint::StatePiece> ZeroOptimizer::state_pieces(bool /*for_loading*/) {
  std::vector<checkpoint::StatePiece> pieces;
  auto& units = runner_.units();
  for (size_t u = 0; u < units.size(); ++u) {
    const auto& unit = units[u];
    const int64_t begin = unit.layout().shard_range(unit.rank()).first;
    const bool separate_master = !masters_[u].is_same(unit.shard());
    for (const auto& segment : unit.layout().segments_of(unit.rank())) {
      const auto& [name, parameter] = unit.parameters()[segment.parameter];
      const std::vector<int64_t> shape = parameter.sizes().vec();
      const int64_t at = segment.buffer_offset - begin;
      const auto piece = [&](StateKind kind, const at::Tensor& values) {
        pieces.push_back({StateKey{kind, name}.name(), shape, segment.parameter_offset, values});
      };
      piece(StateKind::kParameter, unit.shard().narrow(0, at, segment.length));
      if (separate_master) piece(StateKind::kMaster, masters_[u].narrow(0, at, segment.length));
      const auto& [m, v] = adam_->state().at(name);
      piece(StateKind::kAdamFirstMoment, m);
      piece(StateKind::kAdamSecondMoment, v);
    }
  }
  return pieces;
}

void ZeroOptimizer::after_load(bool masters_loaded) {
  c10::NoGradGuard no_grad;
  auto& units = runner_.units();
  for (size_t u = 0; u < units.size(); ++u) {
    if (masters_[u].is_same(units[u].shard())) continue;
    if (masters_loaded) {
      units[u].shard().copy_(masters_[u]);
    } else {
      masters_[u].copy_(units[u].shard());
    }
  }
  runner_.refresh_parameters();
}

void ZeroOptimizer::count_model_states(MemoryReport* m) const {
  for (const auto& unit : runner_.units()) m->parameter_bytes += unit.parameter_bytes();
  for (const auto& g : runner_.gradient_shards()) m->gradient_bytes += g.defined() ? g.numel() * static_cast<int64_t>(g.element_size()) : 0;
  m->gradient_bytes += runner_.full_gradient_bytes();
  m->optimizer_bytes = optimizer_bytes();
}

}  // namespace hllm::runtime
