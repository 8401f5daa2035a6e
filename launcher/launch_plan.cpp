#include "launcher/launch_plan.h"

#include <fstream>
#include <sstream>

#include "common/config/config_loader.h"
#include "common/error.h"
#include "launcher/placement.h"
#include "data/dataset_keys.h"
#include "data/skipped_windows.h"
#include "data/training_windows.h"
#include "data/user_reader.h"
#include "models/model_plan.h"
#include "models/presets.h"
#include "parallel/comm/broadcast_string.h"
#include "parallel/memory_plan.h"
#include "runtime/fault_injection.h"
#include "runtime/lr_schedule.h"
#include "runtime/plan_options.h"

#include <ATen/ATen.h>
#include <glog/logging.h>

namespace hllm::launcher {
namespace {

// Rank 0's view of the file: '+' then the text, or '-' then why it could not be read.
std::string read_config_message(const std::string& path) {
  std::ifstream file(path);
  if (!file) return "-cannot open config file '" + path + "'";
  std::stringstream text;
  text << file.rdbuf();
  if (file.bad()) return "-cannot read config file '" + path + "'";
  return "+" + text.str();
}

// Every rank opens the dataset (a file missing on one node fails there only); then all agree, so either
// every rank goes on or every rank reports an InputError.
void open_dataset(parallel::Communicator& world, LaunchPlan* plan) {
  std::string error;
  try {
    plan->dataset = data::Dataset::open(plan->config.data.path);
    data::check_dataset_keys(plan->config.data, *plan->dataset);
    const data::TrainingWindows windows(data::read_user_lengths(*plan->dataset), plan->config.data.max_item_list_len);
    plan->training_windows = windows.size();
    data::check_windows_exist(data::SkippedWindows::parse(plan->config.data.skip_windows, "data.skip_windows"),
                              windows.size(), plan->dataset->directory());
    const int64_t per_rank = (windows.size() + plan->topology->dp() - 1) / plan->topology->dp();
    plan->batches_per_epoch = (per_rank + plan->batch.micro_batch_per_rank - 1) / plan->batch.micro_batch_per_rank;
    runtime::check_fault_step(plan->config.debug, runtime::run_steps(plan->config.train, plan->batches_per_epoch,
                                                                     plan->batch.gradient_accumulation_steps));
  } catch (const InputError& e) {
    error = e.what();
  }
  at::Tensor failed = at::full({1}, error.empty() ? 0 : 1, at::kLong);
  world.all_reduce(failed, parallel::ReduceOp::kSum)->wait();
  const int64_t failures = failed.item<int64_t>();
  if (failures == 0) return;
  if (!error.empty()) {
    if (world.rank() != 0) LOG(ERROR) << "data.path: " << error;  // rank 0 reports its own
    throw InputError("data.path: " + error);
  }
  throw InputError(detail::concat("data.path: the dataset could not be opened on ", failures,
                                  " other rank(s); their logs say why"));
}

// HLLM's towers as the model will read them: the item embedding is the User LLM's input, so their widths must
// match, and the pipeline cut follows their blocks' costs. Both are decided here so that --dry_run refuses what
// the run would.
void plan_hllm_towers(LaunchPlan* plan) {
  const config::Config& config = plan->config;
  // Without a dataset: a LLaMA vocabulary, HLLM's prompt, and the text length the config states (else 64).
  int64_t vocab = 32000, prompt_tokens = 12, text_tokens = config.data.max_text_len > 0 ? config.data.max_text_len : 64;
  if (plan->dataset) {
    vocab = plan->dataset->vocab_size();
    prompt_tokens = static_cast<int64_t>(plan->dataset->meta().at("prompt_tokens").size());
    text_tokens = data::dataset_text_tokens(*plan->dataset);
  }
  const models::LlamaConfig item = models::tower_config(config.model.item, vocab);
  const models::LlamaConfig user = models::tower_config(config.model.user, vocab);
  // A pretrained Item LLM reads the dataset's token ids as rows of its own table: every id must have one.
  if (plan->dataset && item.vocab_size < vocab) {
    throw InputError(detail::concat("model.item: ", config.model.item.source, "/config.json has vocab_size ",
                                    item.vocab_size, " but ", config.data.path, "/meta.json's tokenizer has ", vocab,
                                    " ids: the dataset was tokenized with another tokenizer; prepare it with "
                                    "hllm_prepare --tokenizer ", config.model.item.source));
  }
  models::check_tower_widths(config.model.item, config.model.user);
  if (plan->topology->pp() == 1) return;
  const models::ModelShapes shapes =
      models::hllm_micro_batch_shapes(runtime::shape_settings(config, config.parallel.device == config::DeviceKind::kCpu),
                                      plan->batch.micro_batch_per_rank, plan->topology->dp(), prompt_tokens, text_tokens);
  std::vector<models::BlockCost> costs;
  for (const auto& [name, cost] : models::hllm_block_costs(item, user, shapes)) {
    plan->block_names.push_back(name);
    costs.push_back(cost);
  }
  plan->pipeline_cut = parallel::choose_stage_cut(costs, plan->topology->pp(), config.parallel.pipeline_cut);
}

}  // namespace

LaunchPlan make_launch_plan(const LaunchOptions& options, parallel::Communicator& world,
                            const parallel::Placement& placement) {
  const std::string message =
      parallel::broadcast_string(world, world.rank() == 0 ? read_config_message(options.config_path) : "", 0);
  if (message.empty() || message[0] != '+') throw InputError(message.empty() ? "empty config message" : message.substr(1));

  LaunchPlan plan;
  plan.config = config::parse_config_text(message.substr(1), options.config_path, options.overrides);
  parallel::Placement placed = placement;
  placed.device = agree_on_device(world, plan.config.parallel.device, placement);
  plan.topology = std::make_unique<parallel::Topology>(world, plan.config.parallel.pp, placed);
  plan.batch = config::resolve_batch_sizes(plan.config, plan.topology->dp());
  plan.intra_op_threads = intra_op_threads(plan.config.parallel.intra_op_threads, placement);
  if (!plan.config.data.path.empty()) open_dataset(world, &plan);
  if (plan.config.model.type == config::ModelType::kHllm) plan_hllm_towers(&plan);
  return plan;
}

std::string describe_plan(const LaunchPlan& plan, bool with_config) {
  std::ostringstream out;
  out << plan.topology->table() << "\n";
  out << "batch: train_batch_size " << plan.batch.train_batch_size << " = micro batch "
      << plan.batch.micro_batch_per_rank << " x accumulation " << plan.batch.gradient_accumulation_steps << " x dp "
      << plan.topology->dp() << "\n";
  out << "intra-op threads per rank: " << plan.intra_op_threads << "\n";
  const parallel::StageCut& cut = plan.pipeline_cut;
  for (int s = 0; s < cut.stages(); ++s) {
    out << (s == 0 ? "pipeline cut (" : "") << (s ? ", " : "") << "stage " << s << ": blocks " << cut.first[s] << " .. "
        << cut.end(s) - 1 << " (" << plan.block_names[cut.first[s]] << " .. " << plan.block_names[cut.end(s) - 1] << ")"
        << (s + 1 == cut.stages() ? ")\n" : "");
  }
  if (plan.config.model.type == config::ModelType::kHllm) {
    // Whether the towers start from pretrained weights is the first thing to get right in a paper run.
    const auto weights = [](const config::TowerSpec& spec) {
      return spec.describe() + (models::is_model_directory(spec) ? " (pretrained weights)" : " (random weights)");
    };
    out << "towers: Item LLM " << weights(plan.config.model.item) << ", User LLM " << weights(plan.config.model.user)
        << "\n";
  }
  if (plan.dataset) {
    const auto& meta = plan.dataset->meta();
    out << "data: " << plan.dataset->directory() << ": " << meta.at("num_users") << " users, " << meta.at("num_items")
        << " items, " << meta.at("num_interactions") << " interactions; " << plan.training_windows
        << " training windows of " << plan.config.data.max_item_list_len + 1 << " items; " << plan.batches_per_epoch
        << " batches per epoch on each data-parallel rank\n";
  }
  if (with_config) out << "config (resolved):\n" << config::config_to_json(plan.config).dump(2) << "\n";
  return out.str();
}

}  // namespace hllm::launcher
