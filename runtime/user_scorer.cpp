#include "runtime/user_scorer.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <utility>

namespace hllm::runtime {

UserScorer::UserScorer(const parallel::Topology& topology, ModelPlacement& model) : topology_(topology), model_(model) {}

at::Tensor UserScorer::unit_rows(const at::Tensor& rows) { return rows / rows.norm(2, {-1}, true).clamp_min(1e-12); }

void UserScorer::keep_id_model_whole(bool whole) {
  if (model_.recommender().reads_item_tokens() || whole == id_model_whole_) return;
  model_.gather_id_model(whole);
  id_model_whole_ = whole;
}

at::Tensor UserScorer::user_embeddings(const CatalogueShard& catalogue, const data::EvalBatch& batch) {
  c10::NoGradGuard no_grad;
  // An ID model (one block) whole for this batch, unless kept whole (HLLM gathers block by block: nothing).
  const bool gather = !id_model_whole_;
  if (gather) model_.gather_id_model(true);
  const models::RangeRunner run = [this](size_t first, size_t end, models::Activations inputs,
                                         const std::vector<std::string>& consumed) {
    return model_.forward(first, end, std::move(inputs), consumed);
  };
  const bool starts = topology_.stage_id() == model_.stage_of_block(model_.towers().user_begin);
  at::Tensor states;
  if (starts && model_.recommender().reads_item_tokens()) {  // the User LLM reads the history's rows
    const auto [rows, renumbered] = catalogue.rows_read_by(batch);
    states = model_.recommender().evaluation_user_states(renumbered, rows, run, starts);
  } else {  // an ID model reads its own table; later stages, the activations
    states = model_.recommender().evaluation_user_states(batch, catalogue.held(), run, starts);
  }
  if (gather) model_.gather_id_model(false);
  return states.defined() ? unit_rows(states) : states;
}

}  // namespace hllm::runtime
