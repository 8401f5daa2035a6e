#include "data/new_items_file.h"

#include <memory>
#include <unordered_set>

#include "common/error.h"
#include "common/json_input.h"
#include "data/csr_offsets.h"
#include "data/hdf5_file.h"

namespace hllm::data {

int64_t tokenizer_crc32(const Dataset& dataset) {
  return std::stoll(dataset.meta().at("tokenizer").at("crc32").get<std::string>(), nullptr, 16);
}

std::vector<std::string> check_new_items_file(const std::string& path, const Dataset& dataset) {
  const std::string what = "'" + path + "'";
  const std::string make = " (hllm_prepare --new_items FILE --like " + dataset.directory() + " --out " + path +
                           " makes one from the items' text)";
  std::unique_ptr<Hdf5File> opened;
  try {
    opened = std::make_unique<Hdf5File>(path, Hdf5File::Mode::kRead);
  } catch (const InputError& e) {
    throw InputError(std::string(e.what()) + make);
  }
  const Hdf5File& file = *opened;
  if (!file.has("ids") || !file.has("offsets") || !file.has("tokens") || !file.has_attribute("new_items_format_version")) {
    throw InputError(what + " is not a new-items file" + make);
  }
  if (file.read_attribute("new_items_format_version") != kNewItemsFormatVersion) {
    throw InputError(detail::concat(what, " has format version ", file.read_attribute("new_items_format_version"),
                                    "; this build reads version ", kNewItemsFormatVersion));
  }
  if (file.read_attribute("tokenizer_crc32") != tokenizer_crc32(dataset)) {
    throw InputError(what + " was tokenized with another tokenizer than " + dataset.tokenizer_path() + make);
  }
  std::vector<std::string> ids = file.read_strings("ids");
  if (ids.size() < 2 || file.length("offsets") != static_cast<int64_t>(ids.size()) + 1) {
    throw InputError(detail::concat(what, ": ", ids.size(), " ids and ", file.length("offsets"),
                                    " offsets; a file of N new items holds N + 1 of each (row 0 is the padding)"));
  }
  // Everything the Item LLM will read, checked before any rank starts: the rows' bounds and every token id.
  const std::vector<int64_t> offsets = file.read_int64("offsets");
  const std::vector<int32_t> tokens = file.read_int32("tokens");
  check_csr_offsets(offsets, static_cast<int64_t>(tokens.size()), path, "offsets");
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= dataset.vocab_size()) {
      throw InputError(detail::concat(what, ": token ", i, " has the id ", tokens[i],
                                      ", outside the tokenizer's vocabulary [0, ", dataset.vocab_size(), ")"));
    }
  }
  ids.erase(ids.begin());  // the padding
  const std::vector<std::string> known = dataset.read_item_ids();
  const std::unordered_set<std::string> dataset_ids(known.begin() + 1, known.end());
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string& id = ids[i];
    if (id.empty()) throw InputError(detail::concat(what, ": new item ", i + 1, " has an empty id"));
    if (dataset_ids.count(id)) {
      throw InputError(what + ": item '" + text_excerpt(id) + "' is already an item of " + dataset.directory());
    }
    if (!seen.insert(id).second) throw InputError(what + ": item '" + text_excerpt(id) + "' is listed twice");
  }
  return ids;
}

}  // namespace hllm::data
