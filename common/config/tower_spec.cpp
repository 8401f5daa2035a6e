#include "common/config/tower_spec.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "common/json_input.h"
#include "common/path_names.h"

namespace hllm::config {

template <>
std::string type_name<TowerSpec>() { return "string or object"; }

void TowerShape::resolve() {
  if (num_kv_heads == 0) num_kv_heads = num_heads;
  if (intermediate_size == 0) intermediate_size = (8 * hidden_size / 3 + 7) / 8 * 8;
}

std::vector<ConfigProblem> TowerShape::problems(const std::string& prefix) const {
  std::vector<ConfigProblem> out;
  const auto problem = [&](const std::string& name, const std::string& message) {
    out.push_back({prefix + name, "key '" + prefix + name + "': " + message});
  };
  if (hidden_size == 0) problem("hidden_size", "required in a shape");
  if (num_layers == 0) problem("num_layers", "required in a shape");
  if (num_heads == 0) problem("num_heads", "required in a shape");
  if (!out.empty()) return out;
  if (hidden_size % num_heads != 0) {
    problem("num_heads", "hidden_size " + std::to_string(hidden_size) + " is not a multiple of num_heads " +
                             std::to_string(num_heads));
  } else if ((hidden_size / num_heads) % 2 != 0) {
    problem("num_heads", "the head size hidden_size / num_heads = " + std::to_string(hidden_size / num_heads) +
                             " must be even (RoPE rotates pairs)");
  }
  if (num_kv_heads != 0 && num_heads % num_kv_heads != 0) {
    problem("num_kv_heads", "num_heads " + std::to_string(num_heads) + " is not a multiple of num_kv_heads " +
                                std::to_string(num_kv_heads));
  }
  return out;
}

std::string TowerSpec::describe() const {
  if (!shape) return source;
  std::ostringstream out;
  out << "hidden " << shape->hidden_size << ", " << shape->num_layers << " layers, " << shape->num_heads << " heads ("
      << shape->num_kv_heads << " kv), ffn " << shape->intermediate_size;
  return out.str();
}

void read_tower_spec(const nlohmann::json& value, const std::string& key, TowerSpec* out,
                     std::vector<ConfigProblem>* problems) {
  if (value.is_string()) {
    *out = TowerSpec(value.get<std::string>());
    const auto& presets = tower_presets();
    if (std::find(presets.begin(), presets.end(), out->source) != presets.end()) return;
    const std::string bad_path = path_problem(out->source);
    if (!bad_path.empty()) {
      problems->push_back({key, "key '" + key + "' = '" + text_excerpt(out->source, 60) + "': " + bad_path});
      return;
    }
    std::error_code error;  // any failure to look is "not a directory"
    if (!std::filesystem::is_directory(out->source, error)) {
      std::string names;
      for (const auto& name : presets) names += (names.empty() ? "" : ", ") + name;
      problems->push_back({key, "key '" + key + "': '" + text_excerpt(out->source) + "' is neither a preset (" + names +
                                    ") nor a model directory"});
    }
    return;
  }
  if (!value.is_object()) {
    problems->push_back({key, "key '" + key + "': expected a preset name, a model directory or a shape object "
                                  "{\"hidden_size\", \"num_layers\", \"num_heads\", ...}, got " + json_excerpt(value)});
    return;
  }
  const size_t before = problems->size();
  TowerShape shape;
  JsonReader reader(value, key + ".", problems);
  shape.visit(reader);
  reader.report_unknown_keys();
  if (problems->size() != before) return;
  for (auto& problem : shape.problems(key + ".")) problems->push_back(std::move(problem));
  if (problems->size() != before) return;
  shape.resolve();
  *out = TowerSpec(shape);
}

nlohmann::ordered_json tower_spec_json(const TowerSpec& spec) {
  if (!spec.shape) return spec.source;
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  JsonWriter writer(&object);
  TowerShape shape = *spec.shape;
  shape.visit(writer);
  return object;
}

void JsonReader::field(const char* name, TowerSpec& value, const char* /*doc*/, const Limits& /*limits*/) {
  known_.emplace_back(name);
  const auto it = object_.find(name);
  if (it != object_.end()) read_tower_spec(*it, prefix_ + name, &value, problems_);
}

}  // namespace hllm::config
