// The offsets of a CSR array in an HDF5 file (items.h5's token offsets, a user shard's item offsets): row r is
// data[offsets[r] : offsets[r + 1]]. Checked before any row is read, so that a damaged or hand-made file is
// refused naming the file, instead of reading out of bounds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hllm::data {

// Offsets start at 0, never decrease and end at `total`, the data's length. Throws InputError naming
// `file`, the dataset `name` and the first index that breaks the rule.
void check_csr_offsets(const std::vector<int64_t>& offsets, int64_t total, const std::string& file,
                       const std::string& name);

}  // namespace hllm::data
