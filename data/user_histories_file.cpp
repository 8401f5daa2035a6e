#include "data/user_histories_file.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "common/error.h"

namespace hllm::data {

std::vector<UserSequence> read_user_histories(const std::string& path,
                                              const std::unordered_map<std::string, int64_t>& row_of_item) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot open '" + path + "' (--users: JSON lines of {\"user\", \"items\"})");
  std::vector<UserSequence> users;
  std::string text;
  for (int64_t line = 1; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line) + ": ";
    const nlohmann::json record = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object()) throw InputError(where + "not a JSON object");
    if (!record.contains("user") || !record["user"].is_string()) throw InputError(where + "'user' must be a string");
    if (!record.contains("items") || !record["items"].is_array() || record["items"].empty()) {
      throw InputError(where + "'items' must be a non-empty list of item ids");
    }
    UserSequence user;
    user.id = record["user"].get<std::string>();
    for (const auto& item : record["items"]) {
      if (!item.is_string()) throw InputError(where + "item ids are strings, got " + item.dump());
      const auto found = row_of_item.find(item.get<std::string>());
      if (found == row_of_item.end()) {
        throw InputError(where + "item '" + item.get<std::string>() +
                         "' is neither in the run's dataset nor a new item of the embeddings");
      }
      user.items.push_back(static_cast<int32_t>(found->second));
    }
    if (record.contains("timestamps")) {
      const auto& times = record["timestamps"];
      if (!times.is_array() || times.size() != user.items.size()) {
        throw InputError(where + "'timestamps' must list one number per item");
      }
      for (const auto& t : times) {
        if (!t.is_number_integer()) throw InputError(where + "timestamps are integer seconds, got " + t.dump());
        user.timestamps.push_back(t.get<int64_t>());
      }
    } else {
      user.timestamps.assign(user.items.size(), 0);
    }
    users.push_back(std::move(user));
  }
  if (users.empty()) throw InputError("'" + path + "' holds no users");
  return users;
}

}  // namespace hllm::data
