#include "runtime/run_state.h"

#include <ATen/ATen.h>

namespace hllm::runtime {

void RunState::save(checkpoint::CheckpointContent* content, const parallel::Topology& topology,
                    const std::vector<std::pair<std::string, at::Tensor>>& parameters) const {
  content->scalars["skipped_steps"] = skipped_steps;
  content->scalars["nan_in_a_row"] = nan_in_a_row;
  content->scalars["log"] = {{"logged", log.logged}, {"first_loss", log.first_loss}, {"grad_norm", log.grad_norm},
                             {"steps", log.steps}};
  // The open interval's sums of this rank's own losses, samples and tokens: a row per rank.
  content->pieces.push_back({"log.rank_sums", {topology.world_size(), 3}, int64_t{3} * topology.rank(),
                             at::tensor({log.loss, static_cast<double>(log.samples), static_cast<double>(log.tokens)},
                                        at::kDouble)});
  content->scalars["best"] = {{"step", best.step}, {"valid", best.valid}};
  const int rank = topology.dp_index(), ranks = topology.dp();
  for (size_t i = 0; i < best.parameters.size(); ++i) {  // every rank of the stage holds them: each saves a slice
    const at::Tensor flat = best.parameters[i].view({-1});
    const int64_t n = flat.numel(), from = n * rank / ranks, to = n * (rank + 1) / ranks;
    content->pieces.push_back({"best." + parameters[i].first, best.parameters[i].sizes().vec(), from,
                               flat.narrow(0, from, to - from)});
  }
}

void RunState::load(const checkpoint::Checkpoint& from, const parallel::Topology& topology,
                    const std::vector<std::pair<std::string, at::Tensor>>& parameters) {
  const auto& s = from.scalars();
  skipped_steps = s.at("skipped_steps").get<int64_t>();
  nan_in_a_row = s.at("nan_in_a_row").get<int>();
  const auto& l = s.at("log");
  log.logged = l.at("logged").get<bool>();
  log.first_loss = l.at("first_loss").get<double>();
  log.grad_norm = l.at("grad_norm").get<double>();
  log.steps = l.at("steps").get<int64_t>();
  const int64_t saved_world = from.info().at("world_size").get<int64_t>();
  at::Tensor sums = at::empty({saved_world * 3}, at::kDouble);
  from.read({"log.rank_sums", {saved_world, 3}, 0, sums});
  const at::Tensor row = saved_world == topology.world_size() ? sums.view({-1, 3})[topology.rank()]
                                                              : sums.view({-1, 3}).mean(0);
  log.loss = row[0].item<double>();
  log.samples = static_cast<int64_t>(row[1].item<double>());
  log.tokens = static_cast<int64_t>(row[2].item<double>());
  best.step = s.at("best").at("step").get<int64_t>();
  best.valid = s.at("best").at("valid").get<std::map<std::string, double>>();
  best.parameters.clear();
  if (best.step == 0) return;
  for (const auto& [name, p] : parameters) {
    at::Tensor whole = at::empty(p.sizes(), p.options().device(at::kCPU));
    from.read({"best." + name, p.sizes().vec(), 0, whole.view({-1})});
    best.parameters.push_back(whole);
  }
}

}  // namespace hllm::runtime
