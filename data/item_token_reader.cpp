#include "data/item_token_reader.h"

#include "common/error.h"

namespace hllm::data {

ItemTokenReader::ItemTokenReader(const Dataset& dataset)
    : file_(std::make_unique<Hdf5File>(dataset.path_of("items.h5"), Hdf5File::Mode::kRead)),
      offsets_(file_->read_int64("offsets")) {
  if (static_cast<int64_t>(offsets_.size()) != dataset.num_items() + 2) {
    throw InputError(detail::concat(file_->path(), ": 'offsets' has ", offsets_.size(), " entries, expected ",
                                    dataset.num_items() + 2));
  }
}

ItemTokenReader::ItemTokenReader(const std::string& items_path)
    : file_(std::make_unique<Hdf5File>(items_path, Hdf5File::Mode::kRead)), offsets_(file_->read_int64("offsets")) {
  if (offsets_.size() < 2) throw InputError(items_path + ": 'offsets' holds no item");
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
      const int64_t end = offsets_[items[k] + 1] - first;
      tokens->insert(tokens->end(), span.begin() + begin, span.begin() + end);
      offsets->push_back(static_cast<int64_t>(tokens->size()));
    }
    i = j;
  }
}

}  // namespace hllm::data
