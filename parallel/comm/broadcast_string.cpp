#include "parallel/comm/broadcast_string.h"

#include <ATen/ATen.h>

#include <cstring>

namespace hllm::parallel {

std::string broadcast_string(Communicator& comm, const std::string& text, int root) {
  const bool is_root = comm.rank() == root;
  at::Tensor length = at::full({1}, is_root ? static_cast<int64_t>(text.size()) : 0, at::kLong);
  comm.broadcast(length, root)->wait();
  const int64_t n = length.item<int64_t>();
  at::Tensor bytes = at::empty({n}, at::kByte);
  if (is_root && n > 0) std::memcpy(bytes.data_ptr(), text.data(), n);
  comm.broadcast(bytes, root)->wait();
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr()), n);
}

}  // namespace hllm::parallel
