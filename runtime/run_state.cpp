#include "runtime/run_state.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "runtime/state_key.h"

namespace hllm::runtime {
namespace {

// The open log interval's sums, a row per rank: loss, samples, tokens; and the loss's health.
constexpr const char* kLogRankSums = "log.rank_sums";
constexpr const char* kLogRankHealth = "log.rank_health";
constexpr int64_t kHealthRow = 1 + models::kHealthFields;

// The best model's copy of the parameter that a "param." piece holds.
std::string best_key(const std::string& parameter_piece) {
  const std::optional<StateKey> key = StateKey::parse(parameter_piece);
  HLLM_ASSERT(key && key->kind == StateKind::kParameter, "'", parameter_piece, "' is not a parameter's piece");
  return StateKey{StateKind::kBestParameter, key->parameter}.name();
}

}  // namespace

void RunState::save_state(std::vector<checkpoint::StatePiece>* pieces, nlohmann::json* scalars) {
  const parallel::Topology& topology = topology_;
  nlohmann::json& s = *scalars;
  s["skipped_steps"] = skipped_steps;
  s["nan_in_a_row"] = nan_in_a_row;
  s["log"] = {{"logged", log.logged}, {"first_loss", log.first_loss}, {"grad_norm", log.grad_norm}, {"steps", log.steps},
              {"tower_grad_norms", log.tower_grad_norms}};
  // The open interval's sums of this rank's own losses, samples and tokens: a row per rank.
  pieces->push_back({kLogRankSums, {topology.world_size(), 3}, int64_t{3} * topology.rank(),
                     at::tensor({log.loss, static_cast<double>(log.samples), static_cast<double>(log.tokens)},
                                at::kDouble)});
  pieces->push_back({kLogRankHealth, {topology.world_size(), kHealthRow}, kHealthRow * topology.rank(), log.health.to_row()});
  s["best"] = {{"step", best.step}, {"valid", best.valid}};
  s["totals"] = totals.to_json();
  s["guard"] = guard.to_json();
  s["balance"] = balance.to_json();
  for (const auto& piece : best.parameters) {  // the parameters' pieces as best copies: each rank saves its own
    pieces->push_back({best_key(piece.name), piece.shape, piece.offset, piece.values});
  }
}

void RunState::load_state(const checkpoint::Checkpoint& from, const nlohmann::json& s) {
  const parallel::Topology& topology = topology_;
  skipped_steps = s.at("skipped_steps").get<int64_t>();
  nan_in_a_row = s.at("nan_in_a_row").get<int>();
  const auto& l = s.at("log");
  log.logged = l.at("logged").get<bool>();
  log.first_loss = l.at("first_loss").get<double>();
  log.grad_norm = l.at("grad_norm").get<double>();
  log.steps = l.at("steps").get<int64_t>();
  log.tower_grad_norms = l.value("tower_grad_norms", std::vector<double>{});  // none before they were logged
  const int64_t saved_world = from.info().at("world_size").get<int64_t>();
  at::Tensor sums = at::empty({saved_world * 3}, at::kDouble);
  from.read({kLogRankSums, {saved_world, 3}, 0, sums});
  const at::Tensor row = saved_world == topology.world_size() ? sums.view({-1, 3})[topology.rank()]
                                                              : sums.view({-1, 3}).mean(0);
  log.loss = row[0].item<double>();
  log.samples = static_cast<int64_t>(row[1].item<double>());
  log.tokens = static_cast<int64_t>(row[2].item<double>());
  // The health's sums, exactly as saved on the same world; on another, rank 0 takes every row's (the
  // interval's totals are what it reports). Checkpoints from before the health was logged have none.
  log.health = {};
  if (from.has(kLogRankHealth)) {
    at::Tensor health = at::empty({saved_world * kHealthRow}, at::kDouble);
    from.read({kLogRankHealth, {saved_world, kHealthRow}, 0, health});
    const at::Tensor rows = health.view({-1, kHealthRow});
    if (saved_world == topology.world_size()) {
      log.health = LossHealth::from_row(rows[topology.rank()]);
    } else if (topology.rank() == 0) {
      for (int64_t r = 0; r < saved_world; ++r) log.health.add(LossHealth::from_row(rows[r]));
    }
  }
  totals.from_json(s.contains("totals") ? s.at("totals") : nlohmann::json());
  guard = GuardHistory::from_json(s.value("guard", nlohmann::json()));  // none in checkpoints from before the guards
  balance.from_json(s.value("balance", nlohmann::json()), topology.world_size());
  best.step = s.at("best").at("step").get<int64_t>();
  best.valid = s.at("best").at("valid").get<std::map<std::string, double>>();
  best.parameters.clear();
  if (best.step == 0) return;
  for (const auto& piece : best_layout_()) {
    checkpoint::StatePiece mine = piece;
    mine.values = at::empty(piece.values.sizes(), piece.values.options().device(at::kCPU));  // kept on the host
    from.read(mine, best_key(piece.name));
    best.parameters.push_back(std::move(mine));
  }
}

}  // namespace hllm::runtime
