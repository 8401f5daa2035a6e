#include "tools/sweep_ladder.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/config/config_loader.h"
#include "common/error.h"
#include "common/json_input.h"
#include "common/path_names.h"
#include "models/presets.h"

namespace hllm::tools {
namespace fs = std::filesystem;
namespace {

std::string read_text(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) throw InputError(detail::concat("cannot open the ", what, " '", path, "'"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A point's name is a directory and a config file's name: short enough for any file system.
constexpr size_t kMaxPointName = 100;

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxPointName || name[0] == '.') return false;
  for (const char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace

std::vector<SweepPoint> plan_sweep(const std::string& base_config, const std::string& ladder, const std::string& out) {
  const std::string base_text = read_text(base_config, "base config");
  const nlohmann::json root = parse_json(read_text(ladder, "ladder"), ladder);
  if (!root.is_object() || !root.contains("points") || !root.at("points").is_array() || root.at("points").empty()) {
    throw InputError(ladder + ": expected {\"points\": [{\"name\": ..., \"set\": {...}}, ...]} with at least one point");
  }
  for (const auto& [key, value] : root.items()) {
    if (key != "points" && key != "set") {
      throw InputError(detail::concat(ladder, ": unknown key '", key, "' (a ladder has \"set\" and \"points\")"));
    }
  }
  // Keys set for every point (before the point's own).
  std::vector<std::string> common;
  if (root.contains("set")) {
    if (!root.at("set").is_object()) throw InputError(ladder + ": \"set\" must be an object of keys");
    for (const auto& [key, value] : root.at("set").items()) common.push_back(key + "=" + value.dump());
  }
  check_path(out, "--out");
  const fs::path root_dir = fs::absolute(out);
  std::vector<SweepPoint> points;
  std::set<std::string> names;
  size_t index = 0;
  for (const auto& entry : root.at("points")) {
    const std::string where = detail::concat(ladder, ": point ", index++);
    if (!entry.is_object() || !entry.contains("name") || !entry.at("name").is_string()) {
      throw InputError(where + ": expected {\"name\": \"...\", \"set\": {...}}, got " + json_excerpt(entry));
    }
    SweepPoint point;
    point.name = entry.at("name").get<std::string>();
    if (!valid_name(point.name)) {
      throw InputError(detail::concat(where, ": name '", text_excerpt(point.name, 40),
                                      "' must be letters, digits, '-', '_' or '.', not starting with '.', at most ",
                                      kMaxPointName, " (it names a directory)"));
    }
    if (!names.insert(point.name).second) throw InputError(where + ": name '" + point.name + "' is used twice");
    for (const auto& [key, value] : entry.items()) {
      if (key != "name" && key != "set") throw InputError(detail::concat(where, " ('", point.name, "'): unknown key '", key, "'"));
    }
    std::vector<std::string> overrides = common;
    if (entry.contains("set")) {
      if (!entry.at("set").is_object()) throw InputError(where + " ('" + point.name + "'): \"set\" must be an object of keys");
      for (const auto& [key, value] : entry.at("set").items()) overrides.push_back(key + "=" + value.dump());
    }
    point.config_path = (root_dir / "configs" / (point.name + ".json")).string();
    point.run_dir = (root_dir / "runs" / point.name).string();
    overrides.push_back("run.dir=" + point.run_dir);
    config::Config config;
    try {  // what hllm_launch would refuse at its start, refused before any point runs
      config = config::parse_config_text(base_text, base_config, overrides);
      if (config.model.type == config::ModelType::kHllm) models::check_tower_widths(config.model.item, config.model.user);
    } catch (const InputError& e) {
      throw InputError(where + " ('" + point.name + "'): " + e.what());
    }
    config.name = config.name + "-" + point.name;
    point.config_text = config::config_to_json(config).dump(2) + "\n";
    points.push_back(std::move(point));
  }
  return points;
}

void write_sweep(const std::vector<SweepPoint>& points, const std::string& out) {
  const fs::path root_dir = fs::absolute(out);
  fs::create_directories(root_dir / "configs");
  fs::create_directories(root_dir / "runs");
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& point : points) {
    if (fs::exists(point.run_dir) && fs::exists(point.config_path) &&
        read_text(point.config_path, "point config") != point.config_text) {
      throw InputError("point '" + point.name + "': its config changed since " + point.run_dir +
                       " was started (the base config or the ladder was edited); remove that run directory to "
                       "train the point again, or sweep into another --out");
    }
    std::ofstream(point.config_path) << point.config_text;
    list.push_back({{"name", point.name}, {"config", point.config_path}, {"run_dir", point.run_dir}});
  }
  std::ofstream(root_dir / "sweep.json") << nlohmann::ordered_json{{"points", list}}.dump(2) << "\n";
}

}  // namespace hllm::tools
