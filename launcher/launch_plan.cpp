#include "launcher/launch_plan.h"

#include <fstream>
#include <sstream>

#include "common/config/config_loader.h"
#include "common/error.h"
#include "launcher/placement.h"
#include "parallel/comm/broadcast_string.h"

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

}  // namespace

LaunchPlan make_launch_plan(const LaunchOptions& options, parallel::Communicator& world,
                            const parallel::Placement& placement) {
  const std::string message =
      parallel::broadcast_string(world, world.rank() == 0 ? read_config_message(options.config_path) : "", 0);
  if (message.empty() || message[0] != '+') throw InputError(message.empty() ? "empty config message" : message.substr(1));

  LaunchPlan plan;
  plan.config = config::parse_config_text(message.substr(1), options.config_path, options.overrides);
  plan.topology = std::make_unique<parallel::Topology>(world, plan.config.parallel.pp, placement);
  plan.batch = config::resolve_batch_sizes(plan.config, plan.topology->dp());
  plan.intra_op_threads = intra_op_threads(plan.config.parallel.intra_op_threads, placement);
  return plan;
}

std::string describe_plan(const LaunchPlan& plan) {
  std::ostringstream out;
  out << plan.topology->table() << "\n";
  out << "batch: train_batch_size " << plan.batch.train_batch_size << " = micro batch "
      << plan.batch.micro_batch_per_rank << " x accumulation " << plan.batch.gradient_accumulation_steps << " x dp "
      << plan.topology->dp() << "\n";
  out << "intra-op threads per rank: " << plan.intra_op_threads << "\n";
  out << "config (resolved):\n" << config::config_to_json(plan.config).dump(2) << "\n";
  return out.str();
}

}  // namespace hllm::launcher
