// The rules between a config's keys (each key's own type and range are the schema's): what a run would
// refuse once it starts, refused when the config is read — by hllm_launch (--dry_run too), hllm_eval
// and hllm_plan alike — with the file, line and key.
#pragma once

#include <vector>

#include "common/config/config.h"
#include "common/config/config_schema.h"

namespace hllm::config {

// Every cross-field problem of `config`; empty when it is consistent.
std::vector<ConfigProblem> cross_field_problems(const Config& config);

}  // namespace hllm::config
