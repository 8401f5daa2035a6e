// Reading a Config: a JSON file, then `--set key.path=value` overrides, then every key, type and range
// checked at once. All problems are reported together in one InputError naming the file, line and key.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "common/config/config.h"

namespace hllm::config {

// Loads `path` and applies `overrides` ("a.b=c", applied in order; the value is JSON, or a plain string).
Config load_config_file(const std::string& path, const std::vector<std::string>& overrides = {});

// Same from JSON text; `origin` names the source in messages (a file name).
Config parse_config_text(const std::string& text, const std::string& origin,
                         const std::vector<std::string>& overrides = {});

// Every field with its resolved value (defaults included): what a run records as its config.
nlohmann::ordered_json config_to_json(const Config& config);

// Every key of the schema, depth first, for the reference and for "did you mean".
std::vector<KeyInfo> config_keys();

// 1-based line of the dotted key's first occurrence in JSON text, or 0 when it cannot be found.
int find_key_line(const std::string& text, const std::string& dotted_key);

}  // namespace hllm::config
