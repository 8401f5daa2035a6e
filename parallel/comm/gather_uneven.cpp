#include "parallel/comm/gather_uneven.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace hllm::parallel {

std::vector<at::Tensor> all_gather_uneven(Communicator& comm, const at::Tensor& mine) {
  at::Tensor sizes = at::zeros({comm.size()}, at::kLong);
  comm.all_gather(at::full({1}, mine.numel(), at::kLong), sizes)->wait();
  std::vector<int64_t> counts(sizes.data_ptr<int64_t>(), sizes.data_ptr<int64_t>() + comm.size());
  int64_t total = 0;
  for (const int64_t c : counts) total += c;
  // Never an empty buffer: a communicator may refuse a null pointer.
  at::Tensor all = at::empty({std::max<int64_t>(total, 1)}, mine.options());
  comm.all_gather_v(mine.contiguous(), all.narrow(0, 0, total), counts)->wait();
  std::vector<at::Tensor> out;
  int64_t at = 0;
  for (const int64_t c : counts) {
    out.push_back(all.narrow(0, at, c));
    at += c;
  }
  return out;
}

std::vector<std::string> all_gather_strings(Communicator& comm, const std::string& mine) {
  at::Tensor bytes = at::empty({static_cast<int64_t>(mine.size())}, at::kByte);
  std::copy(mine.begin(), mine.end(), bytes.data_ptr<uint8_t>());
  std::vector<std::string> out;
  for (const at::Tensor& part : all_gather_uneven(comm, bytes)) {
    const char* begin = reinterpret_cast<const char*>(part.data_ptr<uint8_t>());
    out.emplace_back(begin, static_cast<size_t>(part.numel()));
  }
  return out;
}

std::vector<std::vector<int64_t>> all_gather_lists(Communicator& comm, const std::vector<int64_t>& mine) {
  std::vector<std::vector<int64_t>> out;
  for (const at::Tensor& part : all_gather_uneven(comm, at::tensor(mine, at::kLong))) {
    const int64_t* begin = part.data_ptr<int64_t>();
    out.emplace_back(begin, begin + part.numel());
  }
  return out;
}

}  // namespace hllm::parallel
