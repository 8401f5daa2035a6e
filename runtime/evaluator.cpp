#include "runtime/evaluator.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "common/error.h"
#include "data/item_token_reader.h"
#include "data/user_reader.h"
#include "models/activation_keys.h"
#include "models/model_plan.h"
#include "runtime/ranking_metrics.h"

namespace hllm::runtime {

Evaluator::Evaluator(const config::Config& config, const parallel::Topology& topology, const data::Dataset& dataset,
                     ModelPlacement& model)
    : config_(config),
      topology_(topology),
      dataset_(dataset),
      model_(model),
      embedder_(topology, model),
      scorer_(topology, model),
      cold_(dataset.read_cold_items()) {}

int64_t Evaluator::cold_items() const { return std::count(cold_.begin(), cold_.end(), 1); }

std::string Evaluator::cold_items_note() const {
  if (cold_.empty()) return "";
  const std::string count = std::to_string(cold_items());
  if (model_.recommender().reads_item_tokens()) {
    return "the " + count + " cold items were never trained on: HLLM embeds them from their text with the trained Item LLM";
  }
  return "the " + count + " cold items were never trained on: " + config::enum_name(config_.model.type) +
         " ranks them with the initial, untrained embeddings of their ids (an ID model has nothing else for them)";
}

at::Tensor Evaluator::catalog_embeddings() {
  return embedder_.catalogue(data::ItemTokenReader(dataset_), dataset_.num_items());
}

CatalogueShard Evaluator::catalogue() {
  return embedder_.shard(data::ItemTokenReader(dataset_), dataset_.num_items(), sharded());
}

std::map<std::string, double> Evaluator::rank_users(
    data::EvalSplit split, const std::function<bool(const data::EvalBatch&, std::vector<int64_t>*)>& ranks_of) {
  c10::NoGradGuard no_grad;
  parallel::Communicator& world = topology_.world();
  const auto [mine, replicas] = CatalogueEmbedder::replica(topology_);
  const data::EvalLoader loader(dataset_, split, mine, replicas, config_.train.eval_batch_size,
                                config_.data.max_item_list_len);
  // With cold items, the users whose target is cold and those whose target is warm are also counted apart.
  RankingMetrics metrics, cold, warm;
  std::vector<int64_t> ranks, cold_targets, warm_targets;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const data::EvalBatch batch = loader.batch(b);
    if (!ranks_of(batch, &ranks)) continue;
    metrics.add_ranks(ranks, batch.targets);
    if (cold_.empty()) continue;
    cold_targets = warm_targets = batch.targets;  // a 0 target is a row the metrics skip
    for (size_t r = 0; r < batch.targets.size(); ++r) (cold_[batch.targets[r]] ? warm_targets : cold_targets)[r] = 0;
    cold.add_ranks(ranks, cold_targets);
    warm.add_ranks(ranks, warm_targets);
  }
  std::vector<double> sums = metrics.sums();
  for (const RankingMetrics* part : {&cold, &warm}) {
    const std::vector<double> more = part->sums();
    sums.insert(sums.end(), more.begin(), more.end());
  }
  at::Tensor summed = at::tensor(sums, at::kDouble);
  world.all_reduce(summed, parallel::ReduceOp::kSum)->wait();
  const double* total = summed.data_ptr<double>();
  const size_t width = metrics.sums().size();
  metrics.set_sums(std::vector<double>(total, total + width));
  std::map<std::string, double> out = metrics.averages();
  if (cold_.empty()) return out;
  for (const auto& [prefix, part] : {std::pair<const char*, RankingMetrics*>{"cold.", &cold}, {"warm.", &warm}}) {
    total += width;
    part->set_sums(std::vector<double>(total, total + width));
    for (const auto& [name, value] : part->averages()) out[prefix + name] = value;
    out[std::string(prefix) + "users"] = static_cast<double>(part->users());
  }
  return out;
}

std::map<std::string, double> Evaluator::evaluate(data::EvalSplit split) { return evaluate(catalogue(), split); }

std::map<std::string, double> Evaluator::evaluate(const CatalogueShard& catalogue, data::EvalSplit split) {
  c10::NoGradGuard no_grad;
  scorer_.keep_id_model_whole(true);  // one gather for all the batches
  auto metrics = rank_users(split, [&](const data::EvalBatch& batch, std::vector<int64_t>* ranks) {
    const at::Tensor users = scorer_.user_embeddings(catalogue, batch);
    if (!users.defined()) return false;
    *ranks = catalogue.target_ranks(users, batch);
    return true;
  });
  scorer_.keep_id_model_whole(false);
  return metrics;
}

std::map<std::string, double> Evaluator::evaluate_popularity(data::EvalSplit split) {
  // Training frequency of each item, over every user's training part (all but the last two items): each
  // rank counts a contiguous share of the users, the counts are summed.
  parallel::Communicator& world = topology_.world();
  const int64_t users = dataset_.num_users();
  at::Tensor popularity = at::zeros({dataset_.num_items() + 1}, at::kFloat);
  float* counts = popularity.data_ptr<float>();
  for (const auto& user : data::read_user_sequences(dataset_, users * world.rank() / world.size(),
                                                    users * (world.rank() + 1) / world.size())) {
    for (size_t i = 0; i + 2 < user.items.size(); ++i) counts[user.items[i]] += 1.0f;
  }
  world.all_reduce(popularity, parallel::ReduceOp::kSum)->wait();
  popularity = popularity.view({1, -1});
  const bool scores = topology_.is_last_stage();  // one stage of each pipeline counts
  return rank_users(split, [&](const data::EvalBatch& batch, std::vector<int64_t>* ranks) {
    if (!scores) return false;
    *ranks = RankingMetrics::ranks(popularity.expand({batch.rows, -1}), batch.targets, batch.history_offsets,
                                   batch.history_items);
    return true;
  });
}

}  // namespace hllm::runtime
