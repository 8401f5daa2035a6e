// hllm_embed: the item-embedding table of a finished run (mpirun -np N hllm_embed RUN_DIR [--out FILE]).
// Every catalogue item runs once through the run's Item LLM (an ID model: its table), the catalogue split
// across the model's replicas as evaluation splits it, and rank 0 writes the table with the items' external
// ids (data/item_embedding_file.h): what a service caches offline, so that only the User LLM runs online.
// With --items, new items (given by their text only, tokenized by hllm_prepare --new_items) run through the
// Item LLM alike and follow the dataset's rows: an ID model has nothing for them and refuses.
#include <ATen/ATen.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/exit_codes.h"
#include "data/item_embedding_file.h"
#include "data/item_token_reader.h"
#include "data/new_items_file.h"
#include "launcher/run_tool.h"
#include "runtime/evaluator.h"

namespace hllm::launcher {
namespace {

constexpr const char* kUsage =
    "Usage: mpirun -np N hllm_embed RUN_DIR [--items NEW_ITEMS.h5] [--out FILE] [--set key.path=value ...]\n\n"
    "Embeds every item of the run's dataset with RUN_DIR/model (the Item LLM; SASRec and HSTU: their item\n"
    "table) and writes FILE (default RUN_DIR/item_embeddings.h5), an HDF5 file readable by h5py:\n"
    "  embeddings     float32 [N, D]   as the model scores them (recommendations rank by cosine)\n"
    "  ids            string  [N]      external item ids\n"
    "  dataset_index  int64   [N]      the item's index in the dataset (1..N; 0 for a new item)\n"
    "hllm_recommend --embeddings FILE ranks over it. The catalogue is split across the ranks.\n"
    "--items adds new items, known only by their text, after the dataset's (HLLM only). Tokenize them first\n"
    "as the dataset's items (same formats as hllm_prepare's items file):\n"
    "  hllm_prepare --new_items items.csv --like DATASET --out NEW_ITEMS.h5\n\n"
    "Exit codes: 0 done, 1 a rank failed, 2 bad arguments, config, dataset, model or output path.\n";

int embed(const RunToolArgs& args, parallel::Communicator& world) {
  const std::string out = args.flag("--out", args.run_dir + "/item_embeddings.h5");
  check_output_path(out, "--out");
  TrainedRun run = load_trained_run(args, world);
  const data::Dataset& dataset = *run.plan.dataset;
  std::vector<std::string> new_ids;
  if (args.has("--items")) {
    if (!run.model->recommender().reads_item_tokens()) {
      throw InputError(std::string("--items: ") + config::enum_name(run.plan.config.model.type) +
                       " learns one vector per training item id and has none for new items (HLLM embeds their text)");
    }
    new_ids = data::check_new_items_file(args.flag("--items"), dataset);
  }
  runtime::Evaluator evaluator(run.plan.config, *run.plan.topology, dataset, *run.model);
  at::Tensor rows = evaluator.catalog_embeddings().slice(0, 1);  // [N, D] on every rank
  if (!new_ids.empty()) rows = at::cat({rows, evaluator.item_embeddings(data::ItemTokenReader(args.flag("--items"), dataset))}, 0);
  if (world.rank() != 0) return kExitOk;
  rows = rows.to(at::kCPU, at::kFloat).contiguous();
  data::ItemEmbeddingTable table;
  table.dim = rows.size(1);
  table.num_dataset_items = dataset.num_items();
  table.ids = dataset.read_item_ids();
  table.ids.erase(table.ids.begin());  // the padding
  for (int64_t i = 1; i <= dataset.num_items(); ++i) table.dataset_index.push_back(i);
  table.ids.insert(table.ids.end(), new_ids.begin(), new_ids.end());
  table.dataset_index.resize(table.ids.size(), 0);
  table.embeddings.assign(rows.data_ptr<float>(), rows.data_ptr<float>() + rows.numel());
  data::write_item_embeddings(out, table);
  std::printf("%s: %lld items x %lld (%s; %zu new)\n", out.c_str(), static_cast<long long>(table.rows()),
              static_cast<long long>(table.dim), config::enum_name(run.plan.config.model.type), new_ids.size());
  return kExitOk;
}

}  // namespace
}  // namespace hllm::launcher

int main(int argc, char** argv) {
  return hllm::launcher::run_tool_main(argc, argv, "hllm_embed", hllm::launcher::kUsage, {"--out", "--items"},
                                       hllm::launcher::embed);
}
