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
#include "runtime/top_k.h"

namespace hllm::runtime {

Evaluator::Evaluator(const config::Config& config, const parallel::Topology& topology, const data::Dataset& dataset,
                     ModelPlacement& model)
    : config_(config), topology_(topology), dataset_(dataset), model_(model), cold_(dataset.read_cold_items()) {}

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
  c10::NoGradGuard no_grad;
  if (!model_.recommender().reads_item_tokens()) return id_model_catalog();
  const at::Tensor all = item_llm_catalog(data::ItemTokenReader(dataset_), dataset_.num_items());
  return at::cat({at::zeros({1, all.size(1)}, all.options()), all}, 0);
}

at::Tensor Evaluator::id_model_catalog() {
  model_.gather_id_model(true);
  // The table is a view of the parameter: copied out (with row 0) before ZeRO-3 frees it again.
  const at::Tensor table = model_.recommender().item_embeddings(1, dataset_.num_items() + 1, {}, {});
  at::Tensor catalog = at::cat({at::zeros({1, table.size(1)}, table.options()), table}, 0);
  model_.gather_id_model(false);
  return catalog;
}

at::Tensor Evaluator::item_embeddings(const data::ItemTokenReader& reader) {
  c10::NoGradGuard no_grad;
  HLLM_CHECK(model_.recommender().reads_item_tokens(), "an ID model has no embedding for items it never saw");
  return item_llm_catalog(reader, reader.num_items());
}

at::Tensor Evaluator::item_llm_catalog(const data::ItemTokenReader& reader, int64_t items) {
  // The catalogue is cut into fixed chunks of items (the same for any world size, so every item's
  // embedding is computed the same way), each model replica (a rank; under pp, a pipeline) embeds a
  // contiguous run of chunks through the Item LLM's blocks (under ZeRO-3 each block gathered in turn), then
  // they gather them. Under pp the chunks pass through the stages that hold the Item LLM, and the stage
  // that finishes it shares the catalogue with the other stages.
  const bool pipelined = topology_.pp() > 1;
  parallel::Communicator& replicas = topology_.device_group(pipelined ? parallel::Group::kDp : parallel::Group::kWorld);
  const at::Device device = model_.device();
  const int stage = topology_.stage_id();
  const size_t item_end = model_.towers().item_end;
  const int embedder = model_.stage_of_block(item_end - 1);
  const int64_t chunk = models::kCatalogueChunkItems;
  const int64_t chunks = (items + chunk - 1) / chunk;
  const int R = replicas.size();
  auto first_item_of = [&](int r) { return 1 + std::min(items, chunk * (chunks * r / R)); };
  const int64_t first = first_item_of(replicas.rank());
  const int64_t end = first_item_of(replicas.rank() + 1);
  // Every replica runs as many chunks as the busiest one: ZeRO-3's gathers inside the blocks are collective
  // over the data-parallel group. A replica whose own chunks are done runs a one-item stand-in and drops it.
  const int64_t rounds = (chunks + R - 1) / R;
  std::vector<at::Tensor> parts;
  items_embedded_ = 0;
  for (int64_t round = 0; round < rounds; ++round) {
    const int64_t from = first + round * chunk;
    const bool real = from < end;
    const int64_t begin_item = real ? from : 1, count = real ? std::min(end, from + chunk) - from : 1;
    models::Activations inputs;
    if (stage == 0) {  // the only stage that reads item text
      std::vector<int64_t> ids(static_cast<size_t>(count)), offsets, tokens;
      std::iota(ids.begin(), ids.end(), begin_item);
      reader.read(ids, &offsets, &tokens);
      inputs = {{models::keys::kTokenOffsets, at::tensor(offsets, at::kLong).to(device)},
                {models::keys::kTokens, at::tensor(tokens, at::kLong).to(device)}};
    }
    if (real && stage == 0) items_embedded_ += count;
    models::Activations out = model_.forward(0, item_end, std::move(inputs));
    if (stage == embedder && real) parts.push_back(out.at(models::keys::kItemEmbeddings));
  }
  const int64_t hidden = model_.item_embedding_width();
  at::Tensor all;
  if (stage == embedder) {
    // A replica without a chunk still gathers, in the dtype and on the device of the others' embeddings.
    const at::Tensor mine =
        parts.empty() ? at::zeros({0, hidden}, model_.item_embedding_options()) : at::cat(parts, 0).contiguous();
    std::vector<int64_t> counts;
    for (int r = 0; r < replicas.size(); ++r) counts.push_back(hidden * (first_item_of(r + 1) - first_item_of(r)));
    all = mine.view({-1});
    if (replicas.size() > 1) {
      all = at::empty({items * hidden}, mine.options());
      replicas.all_gather_v(mine.view({-1}), all, counts)->wait();
    }
    all = all.view({items, hidden});
  }
  if (pipelined) {  // the other stages learn the dtype, then receive the table
    parallel::Communicator& stages = topology_.device_group(parallel::Group::kPp);
    at::Tensor dtype = at::full({1}, stage == embedder ? static_cast<int64_t>(all.scalar_type()) : 0,
                                at::TensorOptions(at::kLong).device(device));
    stages.broadcast(dtype, embedder)->wait();
    if (stage != embedder) {
      all = at::empty({items, hidden},
                      at::TensorOptions(static_cast<at::ScalarType>(dtype.cpu().item<int64_t>())).device(device));
    }
    stages.broadcast(all, embedder)->wait();
  }
  return all;
}

std::map<std::string, double> Evaluator::rank_users(data::EvalSplit split,
                                                    const std::function<at::Tensor(const data::EvalBatch&)>& score_rows) {
  c10::NoGradGuard no_grad;
  parallel::Communicator& world = topology_.world();
  const auto [mine, replicas] = replica();
  const data::EvalLoader loader(dataset_, split, mine, replicas, config_.train.eval_batch_size,
                                config_.data.max_item_list_len);
  // With cold items, the users whose target is cold and those whose target is warm are also counted apart.
  RankingMetrics metrics, cold, warm;
  std::vector<int64_t> cold_targets, warm_targets;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const data::EvalBatch batch = loader.batch(b);
    const at::Tensor scores = score_rows(batch);
    if (!scores.defined()) continue;
    metrics.add(scores, batch.targets, batch.history_offsets, batch.history_items);
    if (cold_.empty()) continue;
    cold_targets = warm_targets = batch.targets;  // a 0 target is a row the metrics skip
    for (size_t r = 0; r < batch.targets.size(); ++r) (cold_[batch.targets[r]] ? warm_targets : cold_targets)[r] = 0;
    cold.add(scores, cold_targets, batch.history_offsets, batch.history_items);
    warm.add(scores, warm_targets, batch.history_offsets, batch.history_items);
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

std::map<std::string, double> Evaluator::evaluate(data::EvalSplit split) { return evaluate(catalog_embeddings(), split); }

std::pair<int, int> Evaluator::replica() const {
  if (topology_.pp() > 1) return {topology_.dp_index(), topology_.dp()};
  return {topology_.world().rank(), topology_.world().size()};
}

at::Tensor Evaluator::unit_rows(const at::Tensor& rows) { return rows / rows.norm(2, {-1}, true).clamp_min(1e-12); }

void Evaluator::keep_id_model_whole(bool whole) {
  if (model_.recommender().reads_item_tokens() || whole == id_model_whole_) return;
  model_.gather_id_model(whole);
  id_model_whole_ = whole;
}

at::Tensor Evaluator::user_embeddings(const at::Tensor& catalog, const data::EvalBatch& batch) {
  c10::NoGradGuard no_grad;
  const models::Recommender& recommender = model_.recommender();
  if (!recommender.reads_item_tokens()) {  // an ID model: its own forward, whole (one block)
    if (!id_model_whole_) model_.gather_id_model(true);
    const at::Tensor states = recommender.user_states(batch, catalog);
    if (!id_model_whole_) model_.gather_id_model(false);
    return unit_rows(states);
  }
  // HLLM: the users pass through the User LLM's blocks (under pp, through the stages that hold them; the one
  // that finishes it returns them; under ZeRO-3 each block gathered in turn). Only the sequences cross stages.
  const models::TowerRanges& towers = model_.towers();
  models::Activations inputs;
  if (topology_.stage_id() == model_.stage_of_block(towers.user_begin)) {
    const at::Tensor items = at::tensor(batch.items, at::kLong).view({batch.rows, batch.width}).to(model_.device());
    inputs = {{models::keys::kItemEmbeddings, catalog}, {models::keys::kItemSlots, items}, {models::keys::kMask, items.ne(0)}};
  }
  const models::Activations out = model_.forward(towers.user_begin, towers.user_end, std::move(inputs),
                                                 {models::keys::kItemEmbeddings, models::keys::kUserSequences, models::keys::kUserSequenceMask});
  return out.empty() ? at::Tensor() : unit_rows(out.at(models::keys::kUserStates).select(1, batch.width - 1));
}

std::map<std::string, double> Evaluator::evaluate(const at::Tensor& catalog, data::EvalSplit split) {
  c10::NoGradGuard no_grad;
  const at::Tensor unit_catalog = unit_rows(catalog);
  keep_id_model_whole(true);  // one gather for all the batches
  auto metrics = rank_users(split, [&](const data::EvalBatch& batch) {
    const at::Tensor users = user_embeddings(catalog, batch);
    return users.defined() ? scores_over_table(users, unit_catalog) : at::Tensor();
  });
  keep_id_model_whole(false);
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
  return rank_users(split, [&](const data::EvalBatch& batch) {
    return scores ? popularity.expand({batch.rows, -1}) : at::Tensor();
  });
}

}  // namespace hllm::runtime
