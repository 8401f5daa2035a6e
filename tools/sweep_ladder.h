// A scaling sweep's plan: a base config and a ladder of points, each point the base with some keys set
// (sizes through model.item / model.user shape objects, negatives, a data.path per data fraction, ...).
// The ladder is JSON ("set" at the top: keys set for every point, before the point's own):
//
//   {"set": {"checkpoint.interval_steps": 100},
//    "points": [{"name": "d64",  "set": {"model.item": {"hidden_size": 64, "num_layers": 2, "num_heads": 2},
//                                        "model.user": {"hidden_size": 64, "num_layers": 2, "num_heads": 2}}},
//               {"name": "d128", "set": {"model.item": "tiny", "model.user": "tiny"}}]}
//
// Every point's config is resolved and validated when the ladder is read (errors name the ladder file, the
// point and the key); its run directory is OUT/runs/<name> and its config OUT/configs/<name>.json.
#pragma once

#include <string>
#include <vector>

namespace hllm::tools {

struct SweepPoint {
  std::string name;
  std::string config_path;  // OUT/configs/<name>.json
  std::string run_dir;      // OUT/runs/<name>
  std::string config_text;  // the resolved config, as written to config_path
};

// Reads the ladder and builds each point from the base config; throws InputError naming the file and
// point. Paths are absolute, so the configs work from any directory (an sbatch job's too).
std::vector<SweepPoint> plan_sweep(const std::string& base_config, const std::string& ladder, const std::string& out);

// Writes the points' configs and OUT/sweep.json (the point list hllm_plot --sweep reads). A point whose
// run directory exists but whose config changed since is an InputError (its checkpoints would not fit).
void write_sweep(const std::vector<SweepPoint>& points, const std::string& out);

}  // namespace hllm::tools
