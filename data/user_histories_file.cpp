#include "data/user_histories_file.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "common/error.h"
#include "common/json_input.h"
#include "data/input_formats.h"

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
    std::string why;
    const std::optional<nlohmann::json> parsed = try_parse_json(text, &why);
    if (!parsed) throw InputError(where + "not a JSON object (" + why + ")");
    const nlohmann::json& record = *parsed;
    if (!record.is_object()) throw InputError(where + "not a JSON object");
    if (!record.contains("user") || !record["user"].is_string()) throw InputError(where + "'user' must be a string");
    if (!record.contains("items") || !record["items"].is_array() || record["items"].empty()) {
      throw InputError(where + "'items' must be a non-empty list of item ids");
    }
    UserSequence user;
    user.id = record["user"].get<std::string>();
    for (const auto& item : record["items"]) {
      if (!item.is_string()) throw InputError(where + "item ids are strings, got " + json_excerpt(item));
      const auto found = row_of_item.find(item.get<std::string>());
      if (found == row_of_item.end()) {
        throw InputError(where + "item '" + text_excerpt(item.get<std::string>()) +
                         "' is neither in the run's dataset nor a new item of the embeddings");
      }
      user.items.push_back(static_cast<int32_t>(found->second));
    }
    if (record.contains("timestamps")) {
      const auto& times = record["timestamps"];
      if (!times.is_array() || times.size() != user.items.size()) {
        throw InputError(where + "'timestamps' must list one number per item");
      }
      for (size_t i = 0; i < times.size(); ++i) {
        const int64_t t = json_timestamp(times[i], where + "item " + std::to_string(i), "timestamps");
        // The items are the history in time order (what HSTU's time buckets assume, and how hllm_prepare
        // sorts a dataset's): a timestamp going backwards means the list is out of order.
        if (i > 0 && t < user.timestamps.back()) {
          throw InputError(detail::concat(where, "'timestamps' go backwards at item ", i, " (", t, " after ",
                                          user.timestamps.back(), "): list a user's items in time order"));
        }
        user.timestamps.push_back(t);
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
