#include "common/config/config_validate.h"

#include <nlohmann/json.hpp>

#include <string>

#include "common/error.h"
#include "common/json_input.h"
#include "common/path_names.h"

namespace hllm::config {

std::vector<ConfigProblem> cross_field_problems(const Config& config) {
  std::vector<ConfigProblem> problems;
  // Names that become paths, checked before anything touches the file system. The run directory's
  // default is runs/<name>, so the name is a path part as well.
  for (const auto& [key, path] : {std::pair<const char*, std::string>{"name", "runs/" + config.name},
                                  {"data.path", config.data.path},
                                  {"run.dir", config.run.dir},
                                  {"checkpoint.dir", config.checkpoint.dir}}) {
    const std::string problem = path_problem(path);
    if (!problem.empty()) {
      problems.push_back({key, detail::concat("key '", key, "' = '", text_excerpt(path, 60), "': ", problem)});
    }
  }
  const auto& betas = config.optimizer.params.betas;
  if (betas.size() != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1) {
    problems.push_back({"optimizer.params.betas",
                        "key 'optimizer.params.betas': expected two numbers in [0, 1), got " + json_excerpt(nlohmann::json(betas))});
  }
  const auto& schedule = config.scheduler.params;
  if (schedule.warmup_num_steps > 0 && schedule.warmup_ratio > 0) {
    problems.push_back({"scheduler.params.warmup_ratio",
                        detail::concat("key 'scheduler.params.warmup_ratio' = ", schedule.warmup_ratio,
                                       " and warmup_num_steps = ", schedule.warmup_num_steps,
                                       " both set the warmup: keep one")});
  }
  // SASRec and HSTU are small ID models that run as one block in float32: what cuts, recomputes or
  // narrows HLLM's LLMs has nothing to work on there.
  const std::string type = enum_name(config.model.type);
  if (config.model.type != ModelType::kHllm) {
    if (config.parallel.pp > 1) {
      problems.push_back({"parallel.pp", detail::concat("key 'parallel.pp' = ", config.parallel.pp,
                                                        ": pipeline parallelism cuts HLLM's chain of blocks; ", type,
                                                        " is small and runs as one block: use parallel.pp = 1")});
    }
    if (config.activation_checkpointing.policy != RecomputePolicy::kNone) {
      problems.push_back({"activation_checkpointing.policy",
                          std::string("key 'activation_checkpointing.policy' = ") +
                              enum_name(config.activation_checkpointing.policy) +
                              ": checkpointing recomputes HLLM's decoder layers; " + type +
                              " is small and runs as one block: use none"});
    }
    if (config.bf16.enabled) {
      problems.push_back({"bf16.enabled", "key 'bf16.enabled': " + type +
                                              " (a small ID model) trains in float32; bf16 is for HLLM's LLMs"});
    }
  }
  // A cut names the first block of stages 1 .. pp - 1; without a pipeline it would change nothing.
  const auto& cut = config.parallel.pipeline_cut;
  if (!cut.empty()) {
    if (static_cast<int>(cut.size()) != config.parallel.pp - 1) {
      problems.push_back({"parallel.pipeline_cut",
                          detail::concat("key 'parallel.pipeline_cut' lists ", cut.size(), " block(s); with parallel.pp = ",
                                         config.parallel.pp, " it needs ", config.parallel.pp - 1,
                                         " (the first block of stages 1 .. pp - 1), or none for a cut balanced by cost")});
    }
    for (size_t i = 0; i < cut.size(); ++i) {
      if (cut[i] <= (i == 0 ? 0 : cut[i - 1])) {
        problems.push_back({"parallel.pipeline_cut",
                            "key 'parallel.pipeline_cut' = " + json_excerpt(nlohmann::json(cut)) +
                                ": blocks must increase and be > 0 (stage 0 starts at block 0)"});
        break;
      }
    }
  }
  return problems;
}

}  // namespace hllm::config
