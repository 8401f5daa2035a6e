// hllm_eval: evaluates the model a training run saved, on its own (mpirun -np N hllm_eval RUN_DIR).
// Reads RUN_DIR/config.json (the resolved config hllm_launch wrote) and RUN_DIR/model/model.safetensors
// (the parameters train() tested), opens the dataset of the config, and prints valid and test Recall@K /
// NDCG@K with the popularity baseline — the paper's protocol, as at the end of training, on any number of
// ranks. `--set key.path=value` overrides config keys (e.g. data.path when the dataset moved). Writes
// nothing. Exit codes as hllm_launch: 0, 1 (a rank failed), 2 (bad arguments, config, dataset or model).
#include <cstdio>
#include <map>
#include <string>

#include "common/exit_codes.h"
#include "launcher/metrics_table.h"
#include "launcher/run_tool.h"
#include "runtime/evaluator.h"

namespace hllm::launcher {
namespace {

constexpr const char* kUsage =
    "Usage: mpirun -np N hllm_eval RUN_DIR [--set key.path=value ...]\n\n"
    "Evaluates RUN_DIR/model (written by hllm_launch at the end of training) with RUN_DIR/config.json:\n"
    "valid and test Recall@K / NDCG@K (K = 5, 10, 50, 200) over every item, history masked, and the\n"
    "popularity baseline. --set overrides config keys, e.g. --set data.path=DIR when the dataset moved.\n\n"
    "Exit codes: 0 done, 1 a rank failed, 2 bad arguments, config, dataset or model.\n";

int evaluate(const RunToolArgs& args, parallel::Communicator& world) {
  TrainedRun run = load_trained_run(args, world);
  const LaunchPlan& plan = run.plan;
  std::map<std::string, std::map<std::string, double>> splits;
  runtime::Evaluator evaluator(plan.config, *plan.topology, *plan.dataset, *run.model);
  const runtime::CatalogueShard catalogue = evaluator.catalogue();  // embedded once for both splits
  splits["valid"] = evaluator.evaluate(catalogue, data::EvalSplit::kValid);
  splits["test"] = evaluator.evaluate(catalogue, data::EvalSplit::kTest);
  splits["test (popularity baseline)"] = evaluator.evaluate_popularity(data::EvalSplit::kTest);
  if (world.rank() == 0) {
    std::printf("%s (%s, %d rank(s))\n", args.run_dir.c_str(), config::enum_name(plan.config.model.type), world.size());
    std::fputs(metrics_table({{"valid", &splits.at("valid")},
                              {"test", &splits.at("test")},
                              {"test (popularity baseline)", &splits.at("test (popularity baseline)")}},
                             {10, 50, 200})
                   .c_str(),
               stdout);
  }
  return kExitOk;
}

}  // namespace
}  // namespace hllm::launcher

int main(int argc, char** argv) {
  return hllm::launcher::run_tool_main(argc, argv, "hllm_eval", hllm::launcher::kUsage, {},
                                       hllm::launcher::evaluate);
}
