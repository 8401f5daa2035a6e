// Gathering what each rank has in its own amount (a checkpoint's index, a batch's row ids) onto every rank:
// the lengths first, then one all_gather_v.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "parallel/comm/communicator.h"

namespace hllm::parallel {

// Every rank's 1-D CPU tensor `mine` (the same dtype on every rank), by rank. Collective.
std::vector<at::Tensor> all_gather_uneven(Communicator& comm, const at::Tensor& mine);
// The same for strings and for lists of integers.
std::vector<std::string> all_gather_strings(Communicator& comm, const std::string& mine);
std::vector<std::vector<int64_t>> all_gather_lists(Communicator& comm, const std::vector<int64_t>& mine);

}  // namespace hllm::parallel
