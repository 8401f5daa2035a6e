#include "data/item_token_reader.h"

#include "common/error.h"
#include "data/csr_offsets.h"
#include "data/dataset_keys.h"

namespace hllm::data {

ItemTokenReader::ItemTokenReader(const Dataset& dataset)
    : ItemTokenReader(std::make_unique<Hdf5File>(dataset.path_of("items.h5"), Hdf5File::Mode::kRead), dataset) {
  if (num_items() != dataset.num_items()) {
    throw InputError(detail::concat(file_->path(), ": 'offsets' has ", offsets_.size(), " entries, expected ",
                                    dataset.num_items() + 2));
  }
}

ItemTokenReader::ItemTokenReader(const std::string& items_path, const Dataset& dataset)
    : ItemTokenReader(std::make_unique<Hdf5File>(items_path, Hdf5File::Mode::kRead), dataset) {}

ItemTokenReader::ItemTokenReader(std::unique_ptr<Hdf5File> file, const Dataset& dataset)
    : file_(std::move(file)),
      offsets_(file_->read_int64("offsets")),
      vocab_size_(dataset.vocab_size()),
      max_text_len_(dataset_text_tokens(dataset)) {
  if (offsets_.size() < 2) throw InputError(file_->path() + ": 'offsets' holds no item");
  check_csr_offsets(offsets_, file_->length("tokens"), file_->path(), "offsets");
}

void ItemTokenReader::read(const std::vector<int64_t>& items, std::vector<int64_t>* offsets,
                           std::vector<int64_t>* tokens) const {
  offsets->assign(1, 0);
  tokens->clear();
  size_t i = 0;
  while (i < items.size()) {
    // A run of items whose token ranges touch or nearly touch: one read.
    size_t j = i + 1;
    while (j < items.size() && offsets_[items[j]] - offsets_[items[j - 1] + 1] <= 256) ++j;
    HLLM_ASSERT(items[i] >= 0 && items[j - 1] <= num_items(), "item index out of range");
    const int64_t first = offsets_[items[i]];
    const int64_t last = offsets_[items[j - 1] + 1];
    const auto span = file_->read_int32("tokens", first, last - first);
    for (size_t k = i; k < j; ++k) {
      const int64_t begin = offsets_[items[k]] - first;
      const int64_t end = std::min(offsets_[items[k] + 1] - first, begin + max_text_len_);
      for (int64_t t = begin; t < end; ++t) {
        if (span[t] < 0 || span[t] >= vocab_size_) {
          throw InputError(detail::concat(file_->path(), ": item ", items[k], " has the token id ", span[t],
                                          ", outside the tokenizer's vocabulary [0, ", vocab_size_, ")"));
        }
      }
      tokens->insert(tokens->end(), span.begin() + begin, span.begin() + end);
      offsets->push_back(static_cast<int64_t>(tokens->size()));
    }
    i = j;
  }
}

}  // namespace hllm::data
