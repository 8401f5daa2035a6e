#include "data/dataset_keys.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "common/error.h"

namespace hllm::data {

void check_dataset_keys(const config::DataConfig& config, const Dataset& dataset) {
  const nlohmann::json& meta = dataset.meta();
  const std::string file = config.path + "/meta.json";
  std::vector<std::string> problems;
  const auto differs = [&](const char* key, const nlohmann::json& want, const nlohmann::json& have, const char* flag) {
    problems.push_back(detail::concat("key 'data.", key, "' = ", want.dump(), " but ", file, " says ", have.dump(),
                                      ": the items were tokenized with hllm_prepare ", flag, " ", have.dump(),
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
