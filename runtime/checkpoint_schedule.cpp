#include "runtime/checkpoint_schedule.h"

#include <ATen/ATen.h>
#include <glog/logging.h>

#include <utility>

#include "common/config/config_loader.h"

namespace hllm::runtime {

CheckpointSchedule::CheckpointSchedule(const config::Config& config, const parallel::Topology& topology,
                                       std::string root, bool in_background, const std::atomic<int>* stop_flag)
    : config_(config),
      topology_(topology),
      root_(std::move(root)),
      in_background_(in_background),
      stop_flag_(stop_flag),
      saver_(topology.channel(parallel::Group::kWorld, "checkpoint", /*on_device=*/false), in_background) {}

CheckpointSchedule::Decision CheckpointSchedule::at_boundary(int64_t steps_done) {
  const config::CheckpointConfig& every = config_.checkpoint;
  Decision decision;
  bool timed = false;
  if (stop_flag_ != nullptr || every.interval_minutes > 0) {  // rank-local signals: every rank learns them
    const double minutes = std::chrono::duration<double>(Clock::now() - last_save_).count() / 60;
    at::Tensor flags = at::tensor({stop_flag_ && stop_flag_->load() != 0 ? 1.0 : 0.0,
                                   every.interval_minutes > 0 && topology_.rank() == 0 &&
                                           minutes >= every.interval_minutes ? 1.0 : 0.0},
                                  at::kDouble);
    topology_.world().all_reduce(flags, parallel::ReduceOp::kMax)->wait();
    decision.stop = flags[0].item<double>() > 0;
    timed = flags[1].item<double>() > 0;
  }
  const bool by_steps = every.interval_steps > 0 && steps_done % every.interval_steps == 0;
  decision.save = decision.stop || timed || by_steps;
  return decision;
}

void CheckpointSchedule::save(checkpoint::CheckpointContent content, int64_t steps_done) {
  finish();  // the previous save, before the next snapshot
  checkpoint::SaveOptions options;
  options.root = root_;
  options.step = steps_done;
  options.keep_last = config_.checkpoint.keep_last;
  options.info = {{"world_size", topology_.world_size()}, {"dp", topology_.dp()}, {"pp", topology_.pp()},
                  {"zero_stage", config_.zero_optimization.stage}, {"config", config::config_to_json(config_)}};
  saver_.save(content, options);
  if (!in_background_) finish();  // committed already: said now
  last_save_ = Clock::now();
}

void CheckpointSchedule::finish() {
  const std::string committed = saver_.wait();
  const std::string error = saver_.take_error();
  if (!error.empty()) LOG(ERROR) << "checkpoint not committed: " << error;
  if (committed.empty()) return;
  last_committed_ = committed;
  LOG(INFO) << "checkpoint committed: " << committed;
}

}  // namespace hllm::runtime
