#include "data/csr_offsets.h"

#include "common/error.h"

namespace hllm::data {

void check_csr_offsets(const std::vector<int64_t>& offsets, int64_t total, const std::string& file,
                       const std::string& name) {
  const std::string where = file + ": '" + name + "'";
  if (offsets.empty() || offsets.front() != 0) throw InputError(where + " must start at 0");
  for (size_t i = 1; i < offsets.size(); ++i) {
    if (offsets[i] < offsets[i - 1]) {
      throw InputError(detail::concat(where, " decrease at index ", i, " (", offsets[i - 1], " then ", offsets[i], ")"));
    }
  }
  if (offsets.back() != total) {
    throw InputError(detail::concat(where, " end at ", offsets.back(), " but the data holds ", total, " elements"));
  }
}

}  // namespace hllm::data
