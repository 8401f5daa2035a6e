// hllm_recommend: top-K items for users of a finished run (mpirun -np N hllm_recommend RUN_DIR --k K).
// Users come from the run's dataset or from a file of histories; the item table from the run's model (the
// catalogue embedded as evaluation embeds it) or from hllm_embed's file, new items included, held as
// evaluation holds it (train.eval_catalogue: each replica its slice, by default). Each user's state is the
// run's User LLM (an ID model's own forward) after the history; every item of the table is scored by cosine,
// block by block, with the history masked, and the replicas' best merged exactly (runtime/catalogue_shard.h).
// Users are split across the model's replicas; each writes its part and rank 0 joins them in the users' order.
#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/exit_codes.h"
#include "common/json_input.h"
#include "data/eval_loader.h"
#include "data/item_embedding_file.h"
#include "data/user_histories_file.h"
#include "launcher/run_tool.h"
#include "runtime/catalogue_shard.h"
#include "runtime/evaluator.h"
#include "runtime/top_k.h"

namespace hllm::launcher {
namespace {

constexpr const char* kUsage =
    "Usage: mpirun -np N hllm_recommend RUN_DIR --k K [--split all|valid|test] [--users FILE]\n"
    "                                   [--embeddings FILE] [--out FILE] [--set key.path=value ...]\n\n"
    "Writes the top K items for each user as JSON lines to FILE (default RUN_DIR/recommendations.jsonl;\n"
    "'-' for standard output), in the users' order:\n"
    "  {\"user\": \"<id>\", \"items\": [\"<id>\", ...], \"scores\": [<cosine>, ...]}\n"
    "Every item of the table is scored; the items of the user's history are never recommended.\n"
    "  --split all     (default, serving) from each user's whole history\n"
    "  --split test    from the evaluation's test input: the history without its last item, so the share of\n"
    "                  users whose last item is listed is the run's test Recall@K; --split valid likewise\n"
    "  --users FILE    users from JSON lines {\"user\": ID, \"items\": [ID, ...], \"timestamps\": [s, ...]}\n"
    "                  (timestamps optional) instead of the dataset's users\n"
    "  --embeddings F  the item table written by hllm_embed (with its new items) instead of embedding the\n"
    "                  catalogue again\n\n"
    "Exit codes: 0 done, 1 a rank failed, 2 bad arguments, config, dataset, model or input file.\n";

data::EvalSplit parse_split(const std::string& text) {
  if (text == "all") return data::EvalSplit::kAll;
  if (text == "valid") return data::EvalSplit::kValid;
  if (text == "test") return data::EvalSplit::kTest;
  throw InputError("--split '" + text + "': expected all, valid or test");
}

int64_t parse_k(const std::string& text) {
  size_t used = 0;
  int64_t k = 0;
  try {
    k = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || k < 1) {
    throw InputError("--k '" + text_excerpt(text) + "': expected a positive integer");
  }
  return k;
}

// The item table: row 0 padding, rows 1..N the dataset's items, then new items; with their external ids.
struct ItemTable {
  at::Tensor catalog;  // [rows, D] as the User LLM reads it (the model's dtype and device); until it is held
  std::vector<std::string> ids;
  int64_t new_items = 0;
};

ItemTable table_from_file(const std::string& path, const data::Dataset& dataset, const runtime::ModelPlacement& model) {
  data::ItemEmbeddingTable file = data::read_item_embeddings(path);
  std::vector<std::string> dataset_ids = dataset.read_item_ids();
  if (file.num_dataset_items != dataset.num_items() || file.dim != model.item_embedding_width()) {
    throw InputError(detail::concat("'", path, "' holds ", file.num_dataset_items, " dataset items of dimension ",
                                    file.dim, "; the run's dataset has ", dataset.num_items(), " and its model ",
                                    model.item_embedding_width(), " (hllm_embed RUN_DIR writes the table of a run)"));
  }
  for (int64_t i = 0; i < file.num_dataset_items; ++i) {
    if (file.ids[i] != dataset_ids[i + 1] || file.dataset_index[i] != i + 1) {
      throw InputError(detail::concat("'", path, "': row ", i, " is item '", text_excerpt(file.ids[i]),
                                      "', the dataset's item ", i + 1, " is '", text_excerpt(dataset_ids[i + 1]),
                                      "' (the table of another dataset?)"));
    }
  }
  ItemTable table;
  const at::Tensor rows = at::from_blob(file.embeddings.data(), {file.rows(), file.dim}, at::kFloat);
  table.catalog = at::cat({at::zeros({1, file.dim}, at::kFloat), rows}, 0).to(model.item_embedding_options());
  table.ids = std::move(dataset_ids);
  table.ids.insert(table.ids.end(), file.ids.begin() + file.num_dataset_items, file.ids.end());
  table.new_items = file.rows() - file.num_dataset_items;
  return table;
}

std::string json_line(const std::string& user, const at::Tensor& indices, const at::Tensor& scores,
                      const std::vector<std::string>& ids) {
  nlohmann::ordered_json items = nlohmann::ordered_json::array(), values = nlohmann::ordered_json::array();
  const int64_t* index = indices.data_ptr<int64_t>();
  const float* score = scores.data_ptr<float>();
  for (int64_t j = 0; j < indices.numel() && index[j] >= 0; ++j) {
    items.push_back(ids[static_cast<size_t>(index[j])]);
    values.push_back(score[j]);
  }
  return nlohmann::ordered_json{{"user", user}, {"items", items}, {"scores", values}}.dump() + "\n";
}

// Joins the replicas' parts into `out` (or standard output) in replica order, then removes them.
void join_parts(const std::string& out, const std::vector<std::string>& parts) {
  const std::string temporary = out + ".tmp";
  std::ofstream file;
  if (out != "-") {
    file.open(temporary, std::ios::binary | std::ios::trunc);
    if (!file) throw InputError("cannot write '" + out + "'");
  }
  std::ostream& sink = out == "-" ? std::cout : file;
  for (const std::string& part : parts) {
    std::ifstream in(part, std::ios::binary);
    HLLM_CHECK(in, "cannot read the part '", part, "' a rank wrote (is the output on a shared file system?)");
    sink << in.rdbuf();
    in.close();
    std::filesystem::remove(part);
  }
  sink.flush();
  if (out != "-") {
    HLLM_CHECK(file.good(), "writing '", temporary, "' failed");
    file.close();
    std::filesystem::rename(temporary, out);
  }
}

int recommend(const RunToolArgs& args, parallel::Communicator& world) {
  if (!args.has("--k")) throw InputError("--k is required (hllm_recommend --help)");
  const int64_t k = parse_k(args.flag("--k"));
  const data::EvalSplit split = parse_split(args.flag("--split", "all"));
  const std::string out = args.flag("--out", args.run_dir + "/recommendations.jsonl");
  const std::string parts_base = out == "-" ? args.run_dir + "/recommendations.jsonl" : out;
  check_output_path(parts_base, "--out");
  TrainedRun run = load_trained_run(args, world);
  const config::Config& config = run.plan.config;
  const data::Dataset& dataset = *run.plan.dataset;
  runtime::Evaluator evaluator(config, *run.plan.topology, dataset, *run.model);
  const bool id_model = !run.model->recommender().reads_item_tokens();

  ItemTable table;
  std::unique_ptr<runtime::CatalogueShard> catalogue;
  if (args.has("--embeddings")) {
    table = table_from_file(args.flag("--embeddings"), dataset, *run.model);
    catalogue = std::make_unique<runtime::CatalogueShard>(evaluator.hold(table.catalog));
    table.catalog = at::Tensor();  // only the slice stays
  } else {
    catalogue = std::make_unique<runtime::CatalogueShard>(evaluator.catalogue());
    table.ids = dataset.read_item_ids();
  }
  const int64_t table_items = static_cast<int64_t>(table.ids.size()) - 1;
  if (k > table_items) {
    throw InputError(detail::concat("--k ", k, ": the item table holds ", table_items, " items (",
                                    table.new_items, " new); ask for at most that many"));
  }

  const int replica = evaluator.replica().first, replicas = evaluator.replica().second;
  const int batch_size = config.train.eval_batch_size, width = config.data.max_item_list_len;
  std::unique_ptr<data::EvalLoader> loader;
  if (args.has("--users")) {
    std::unordered_map<std::string, int64_t> row_of_item;
    for (size_t row = 1; row < table.ids.size(); ++row) row_of_item.emplace(table.ids[row], row);
    const std::vector<data::UserSequence> users = data::read_user_histories(args.flag("--users"), row_of_item);
    const size_t needed = split == data::EvalSplit::kAll ? 1 : split == data::EvalSplit::kTest ? 2 : 3;
    for (const auto& user : users) {
      if (user.items.size() < needed) {
        throw InputError(detail::concat("'", args.flag("--users"), "': user '", text_excerpt(user.id), "' has ", user.items.size(),
                                        " item(s); --split ", args.flag("--split", "all"), " needs ", needed));
      }
      for (int32_t item : user.items) {
        if (id_model && item > dataset.num_items()) {
          throw InputError(detail::concat("'", args.flag("--users"), "': user '", text_excerpt(user.id),
                                          "' has the new item '", text_excerpt(table.ids[item]), "'; ", config::enum_name(config.model.type),
                                          " learns one vector per training item id and has none for it"));
        }
      }
    }
    loader = std::make_unique<data::EvalLoader>(users, split, replica, replicas, batch_size, width);
  } else {
    loader = std::make_unique<data::EvalLoader>(dataset, split, replica, replicas, batch_size, width);
  }

  // The ranks that finish the User LLM (all of them without a pipeline) score and write a part each.
  const bool scorer =
      id_model || run.model->stage_of_block(run.model->towers().user_end - 1) == run.plan.topology->stage_id();
  auto part_name = [&](int r) { return parts_base + ".part-" + std::to_string(r) + "-of-" + std::to_string(replicas); };
  std::ofstream part_file;
  if (scorer) {
    part_file.open(part_name(replica), std::ios::binary | std::ios::trunc);
    HLLM_CHECK(part_file, "cannot write '", part_name(replica), "'");
  }
  int64_t users_ranked = 0;
  const auto start = std::chrono::steady_clock::now();
  evaluator.scorer().keep_id_model_whole(true);  // one gather for all the batches
  for (int64_t b = 0; b < loader->num_batches(); ++b) {
    const data::EvalBatch batch = loader->batch(b);
    const at::Tensor users = evaluator.scorer().user_embeddings(*catalogue, batch);  // collective
    if (!scorer) continue;
    const runtime::TopK top = catalogue->top_k(users, batch, k);  // collective over the scoring replicas
    const int64_t first_user = loader->user_range().first;
    for (int64_t r = 0; r < batch.real_samples; ++r) {
      const std::string& user = loader->user(batch.users[r] - first_user).id;
      part_file << json_line(user, top.indices[r], top.scores[r], table.ids);
    }
    users_ranked += batch.real_samples;
  }
  evaluator.scorer().keep_id_model_whole(false);
  if (scorer) {
    part_file.close();
    HLLM_CHECK(part_file.good(), "writing '", part_name(replica), "' failed");
  }
  at::Tensor seconds = at::full({1}, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                                at::kDouble);
  at::Tensor ranked = at::full({1}, static_cast<double>(users_ranked), at::kDouble);
  world.all_reduce(seconds, parallel::ReduceOp::kMax)->wait();
  world.all_reduce(ranked, parallel::ReduceOp::kSum)->wait();  // also: every part is written
  if (world.rank() != 0) return kExitOk;
  std::vector<std::string> parts;
  for (int r = 0; r < replicas; ++r) parts.push_back(part_name(r));
  join_parts(out, parts);
  std::fprintf(stderr, "hllm_recommend: top %lld of %lld items (%lld new) for %.0f users in %.2f s (%.0f users/s) -> %s\n",
               static_cast<long long>(k), static_cast<long long>(table.ids.size() - 1),
               static_cast<long long>(table.new_items), ranked.item<double>(), seconds.item<double>(),
               ranked.item<double>() / std::max(1e-9, seconds.item<double>()), out == "-" ? "standard output" : out.c_str());
  return kExitOk;
}

}  // namespace
}  // namespace hllm::launcher

int main(int argc, char** argv) {
  return hllm::launcher::run_tool_main(argc, argv, "hllm_recommend", hllm::launcher::kUsage,
                                       {"--k", "--split", "--users", "--embeddings", "--out"},
                                       hllm::launcher::recommend);
}
