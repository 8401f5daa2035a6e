// hllm_embed: the item-embedding table of a finished run (mpirun -np N hllm_embed RUN_DIR [--out FILE]).
// Every catalogue item runs once through the run's Item LLM (an ID model: its table), the catalogue split
// across the model's replicas as evaluation splits it, and rank 0 writes the table with the items' external
// ids (data/item_embedding_file.h): what a service caches offline, so that only the User LLM runs online.
#include <ATen/ATen.h>

#include <cstdio>
#include <string>

#include "common/exit_codes.h"
#include "data/item_embedding_file.h"
#include "launcher/run_tool.h"
#include "runtime/evaluator.h"

namespace hllm::launcher {
namespace {

constexpr const char* kUsage =
    "Usage: mpirun -np N hllm_embed RUN_DIR [--out FILE] [--set key.path=value ...]\n\n"
    "Embeds every item of the run's dataset with RUN_DIR/model (the Item LLM; SASRec and HSTU: their item\n"
    "table) and writes FILE (default RUN_DIR/item_embeddings.h5), an HDF5 file readable by h5py:\n"
    "  embeddings     float32 [N, D]   as the model scores them (recommendations rank by cosine)\n"
    "  ids            string  [N]      external item ids\n"
    "  dataset_index  int64   [N]      the item's index in the dataset (1..N)\n"
    "hllm_recommend --embeddings FILE ranks over it. The catalogue is split across the ranks.\n\n"
    "Exit codes: 0 done, 1 a rank failed, 2 bad arguments, config, dataset, model or output path.\n";

int embed(const RunToolArgs& args, parallel::Communicator& world) {
  const std::string out = args.flag("--out", args.run_dir + "/item_embeddings.h5");
  check_output_path(out, "--out");
  TrainedRun run = load_trained_run(args, world);
  const data::Dataset& dataset = *run.plan.dataset;
  runtime::Evaluator evaluator(run.plan.config, *run.plan.topology, dataset, *run.model);
  const at::Tensor catalog = evaluator.catalog_embeddings();  // [N + 1, D], row 0 padding; on every rank
  if (world.rank() != 0) return kExitOk;
  const at::Tensor rows = catalog.slice(0, 1).to(at::kCPU, at::kFloat).contiguous();
  data::ItemEmbeddingTable table;
  table.dim = rows.size(1);
  table.num_dataset_items = dataset.num_items();
  table.ids = dataset.read_item_ids();
  table.ids.erase(table.ids.begin());  // the padding
  for (int64_t i = 1; i <= dataset.num_items(); ++i) table.dataset_index.push_back(i);
  table.embeddings.assign(rows.data_ptr<float>(), rows.data_ptr<float>() + rows.numel());
  data::write_item_embeddings(out, table);
  std::printf("%s: %lld items x %lld (%s)\n", out.c_str(), static_cast<long long>(table.rows()),
              static_cast<long long>(table.dim), run.plan.config.model.type.c_str());
  return kExitOk;
}

}  // namespace
}  // namespace hllm::launcher

int main(int argc, char** argv) {
  return hllm::launcher::run_tool_main(argc, argv, "hllm_embed", hllm::launcher::kUsage, {"--out"},
                                       hllm::launcher::embed);
}
