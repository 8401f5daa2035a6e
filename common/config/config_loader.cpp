#include "common/config/config_loader.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "common/closest_match.h"
#include "common/config/config_validate.h"
#include "common/error.h"
#include "common/json_input.h"

namespace hllm::config {
namespace {

std::vector<std::string> split_dotted(const std::string& dotted) {
  std::vector<std::string> parts;
  std::stringstream stream(dotted);
  std::string part;
  while (std::getline(stream, part, '.')) parts.push_back(part);
  return parts;
}

const KeyInfo* find_key(const std::vector<KeyInfo>& keys, const std::string& path) {
  for (const auto& key : keys) {
    if (key.path == path) return &key;
  }
  return nullptr;
}

// Applies one "a.b=c" override to the JSON tree, or records why it cannot.
void apply_override(const std::string& text, const std::vector<KeyInfo>& keys, nlohmann::json* root,
                    std::vector<ConfigProblem>* problems) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    problems->push_back({"", "--set " + text_excerpt(text) + ": expected key.path=value"});
    return;
  }
  const std::string path = text.substr(0, eq);
  const std::string value_text = text.substr(eq + 1);
  const KeyInfo* key = find_key(keys, path);
  if (key == nullptr) {
    std::vector<std::string> paths;
    for (const auto& k : keys) paths.push_back(k.path);
    std::string message = "--set " + text_excerpt(text) + ": unknown key '" + text_excerpt(path) + "'";
    const std::string suggestion = closest_match(path, paths);
    if (!suggestion.empty()) message += "; did you mean '" + suggestion + "'?";
    problems->push_back({"", message});
    return;
  }
  std::string not_json;
  // Not JSON (or nested too deep to be a config value): a bare word, a name or a path.
  nlohmann::json value = try_parse_json(value_text, &not_json).value_or(nlohmann::json(value_text));
  if (key->type == "string" && !value.is_string()) value = value_text;
  if (key->type == type_name<TowerSpec>() && !value.is_object() && !value.is_string()) value = value_text;  // a bare name
  nlohmann::json* node = root;
  const auto parts = split_dotted(path);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    nlohmann::json& child = (*node)[parts[i]];
    if (child.is_null()) child = nlohmann::json::object();
    if (!child.is_object()) {
      problems->push_back({"", "--set " + text_excerpt(text) + ": '" + parts[i] + "' is not an object in the config"});
      return;
    }
    node = &child;
  }
  (*node)[parts.back()] = std::move(value);
}

// The key given by `--set key=...` that `key` is, or lies under; "" when the file gave it.
std::string override_of(const std::string& key, const std::vector<std::string>& overrides) {
  std::string found;
  for (const auto& item : overrides) {
    const std::string path = item.substr(0, item.find('='));
    if (key == path || key.rfind(path + ".", 0) == 0) found = path;  // the last --set of a key wins
  }
  return found;
}

[[noreturn]] void throw_problems(const std::vector<ConfigProblem>& problems, const std::string& origin,
                                 const std::string& text, const std::vector<std::string>& overrides) {
  std::string message = origin + ": " + std::to_string(problems.size()) +
                        (problems.size() == 1 ? " problem" : " problems") + " in the config";
  // In file order: command-line problems (no line) first, then by line.
  std::vector<std::pair<int, std::string>> lines;
  for (const auto& problem : problems) {
    const std::string set_by = problem.key.empty() ? "" : override_of(problem.key, overrides);
    if (!set_by.empty()) {
      lines.emplace_back(0, "--set " + set_by + ": " + problem.message);
      continue;
    }
    const int line = problem.key.empty() ? 0 : find_key_line(text, problem.key);
    lines.emplace_back(line, (line > 0 ? origin + ":" + std::to_string(line) + ": " : "") + problem.message);
  }
  std::stable_sort(lines.begin(), lines.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& line : lines) message += "\n  " + line.second;
  message += "\n(configs/README.md lists every key)";
  throw InputError(message);
}

}  // namespace

int find_key_line(const std::string& text, const std::string& dotted_key) {
  // Walks the key's parts in order: each is searched after the previous one, which is right for the
  // usual layout of one key per line and good enough to point a person at the spot otherwise.
  size_t position = 0;
  for (const auto& part : split_dotted(dotted_key)) {
    const std::string quoted = "\"" + part + "\"";
    size_t found = text.find(quoted, position);
    while (found != std::string::npos) {
      size_t after = found + quoted.size();
      while (after < text.size() && std::isspace(static_cast<unsigned char>(text[after]))) ++after;
      if (after < text.size() && text[after] == ':') break;
      found = text.find(quoted, found + 1);
    }
    if (found == std::string::npos) return 0;
    position = found + quoted.size();
  }
  int line = 1;
  for (size_t i = 0; i < position && i < text.size(); ++i) line += text[i] == '\n' ? 1 : 0;
  return line;
}

std::vector<KeyInfo> config_keys() {
  std::vector<KeyInfo> keys;
  Config defaults;
  KeyCollector collector(&keys);
  defaults.visit(collector);
  return keys;
}

nlohmann::ordered_json config_to_json(const Config& config) {
  nlohmann::ordered_json root = nlohmann::ordered_json::object();
  JsonWriter writer(&root);
  const_cast<Config&>(config).visit(writer);  // JsonWriter only reads
  return root;
}

Config parse_config_text(const std::string& text, const std::string& origin,
                         const std::vector<std::string>& overrides) {
  nlohmann::json root = parse_json(text, origin);
  if (!root.is_object()) {
    throw InputError(origin + ": expected a JSON object at the top level, got " + json_excerpt(root));
  }

  std::vector<ConfigProblem> problems;
  const auto keys = config_keys();
  for (const auto& item : overrides) apply_override(item, keys, &root, &problems);

  Config config;
  JsonReader reader(root, "", &problems);
  config.visit(reader);
  reader.report_unknown_keys();
  // The rules between keys, reported with the keys' own problems.
  for (auto& problem : cross_field_problems(config)) problems.push_back(std::move(problem));
  if (!problems.empty()) throw_problems(problems, origin, text, overrides);
  return config;
}

Config load_config_file(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream file(path);
  if (!file) throw InputError("cannot open config file '" + path + "'");
  std::stringstream buffer;
  buffer << file.rdbuf();
  return parse_config_text(buffer.str(), path, overrides);
}

}  // namespace hllm::config
