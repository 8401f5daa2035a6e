#include "data/dataset_keys.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "common/error.h"
#include "common/json_input.h"

namespace hllm::data {

void check_dataset_keys(const config::DataConfig& config, const Dataset& dataset) {
  const nlohmann::json& meta = dataset.meta();
  const std::string file = config.path + "/meta.json";
  std::vector<std::string> problems;
  const auto differs = [&](const char* key, const nlohmann::json& want, const nlohmann::json& have, const char* flag) {
    // The dataset's value is quoted at more length: it is what the user would copy.
    const std::string dataset_value = json_excerpt(have, 4 * kExcerptChars);
    problems.push_back(detail::concat("key 'data.", key, "' = ", json_excerpt(want), " but ", file, " says ",
                                      dataset_value, ": the items were tokenized with hllm_prepare ", flag, " ", dataset_value,
                                      "; leave the key out (the dataset's), set it so, or prepare the data again"));
  };
  if (config.max_text_len != 0 && config.max_text_len != dataset_text_tokens(dataset)) {
    differs("max_text_len", config.max_text_len, meta.at("max_text_len"), "--max_text_len");
  }
  if (!config.item_prompt.empty() && config.item_prompt != meta.at("item_prompt").get<std::string>()) {
    differs("item_prompt", config.item_prompt, meta.at("item_prompt"), "--item_prompt");
  }
  if (!config.text_keys.empty() && config.text_keys != meta.at("text_keys").get<std::vector<std::string>>()) {
    differs("text_keys", config.text_keys, meta.at("text_keys"), "--text_keys");
  }
  if (problems.empty()) return;
  std::string message;
  for (const auto& problem : problems) message += (message.empty() ? "" : "\n  ") + problem;
  throw InputError(message);
}

int64_t dataset_text_tokens(const Dataset& dataset) { return dataset.meta().at("max_text_len").get<int64_t>(); }

}  // namespace hllm::data
