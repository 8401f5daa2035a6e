#include "tests/parallel/collective_checks.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/error.h"

namespace hllm::parallel::testing {
namespace {

// Rank r's contribution: small integers, exact in bfloat16 and in any summation order.
at::Tensor rank_values(int rank, int64_t n, at::ScalarType dtype, const at::Device& device = at::kCPU) {
  return (at::arange(n, at::kLong).remainder(7) + 3 * rank + 1).to(device, dtype);
}

at::TensorOptions on(const at::Device& device, at::ScalarType dtype) {
  return at::TensorOptions().dtype(dtype).device(device);
}

void expect_equal(const at::Tensor& actual, const at::Tensor& expected, const std::string& what) {
  EXPECT_TRUE(actual.scalar_type() == expected.scalar_type()) << what;
  const bool equal = at::equal(actual.cpu().to(at::kDouble), expected.cpu().to(at::kDouble));
  EXPECT_TRUE(equal) << what << "\nactual:   " << actual.cpu().to(at::kDouble).flatten().slice(0, 0, 12)
                     << "\nexpected: " << expected.cpu().to(at::kDouble).flatten().slice(0, 0, 12);
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected, double rtol, const std::string& what) {
  EXPECT_TRUE(actual.scalar_type() == expected.scalar_type()) << what;
  const bool close = at::allclose(actual.cpu().to(at::kDouble), expected.cpu().to(at::kDouble), rtol, 0.0);
  EXPECT_TRUE(close) << what << "\nactual:   " << actual.cpu().to(at::kDouble).flatten().slice(0, 0, 12)
                     << "\nexpected: " << expected.cpu().to(at::kDouble).flatten().slice(0, 0, 12);
}

// op over every rank's rank_values, computed locally in float64.
at::Tensor expected_reduction(int size, int64_t n, ReduceOp op) {
  at::Tensor result = rank_values(0, n, at::kDouble);
  for (int r = 1; r < size; ++r) {
    const at::Tensor next = rank_values(r, n, at::kDouble);
    result = op == ReduceOp::kMax ? at::maximum(result, next) : result + next;
  }
  return op == ReduceOp::kAvg ? result / size : result;
}

std::string label(const char* op, ReduceOp reduce, at::ScalarType dtype, const Communicator& comm) {
  return detail::concat(op, " ", reduce_op_name(reduce), " ", dtype, " on rank ", comm.rank(), "/", comm.size());
}

}  // namespace

void check_all_reduce(Communicator& comm, const at::Device& device) {
  const int64_t n = 1000;
  for (const auto dtype : {at::kFloat, at::kBFloat16, at::kLong}) {
    for (const auto op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax}) {
      if (op == ReduceOp::kAvg && dtype == at::kLong) continue;
      at::Tensor tensor = rank_values(comm.rank(), n, dtype, device).reshape({10, 100});
      comm.all_reduce(tensor, op)->wait();
      const at::Tensor expected = expected_reduction(comm.size(), n, op).to(dtype).reshape({10, 100});
      expect_close(tensor, expected, dtype == at::kBFloat16 ? 1e-2 : 1e-6, label("all_reduce", op, dtype, comm));
    }
  }
}

void check_all_gather(Communicator& comm, const at::Device& device) {
  for (const auto dtype : {at::kFloat, at::kBFloat16, at::kLong}) {
    const int64_t n = 257;
    const at::Tensor input = rank_values(comm.rank(), n, dtype, device);
    at::Tensor output = at::zeros({comm.size(), n}, on(device, dtype));
    comm.all_gather(input, output)->wait();
    for (int r = 0; r < comm.size(); ++r) {
      expect_equal(output[r], rank_values(r, n, dtype), detail::concat("all_gather ", dtype, " part ", r));
    }
  }
}

void check_all_gather_uneven(Communicator& comm, const at::Device& device) {
  std::vector<int64_t> counts;
  for (int r = 0; r < comm.size(); ++r) counts.push_back(r == 1 ? 0 : 5 * r + 3);  // rank 1 sends nothing
  int64_t total = 0;
  for (auto c : counts) total += c;
  for (const auto dtype : {at::kFloat, at::kBFloat16, at::kLong}) {
    const at::Tensor input = rank_values(comm.rank(), counts[comm.rank()], dtype, device);
    at::Tensor output = at::full({total}, -1, on(device, dtype));
    comm.all_gather_v(input, output, counts)->wait();
    int64_t offset = 0;
    for (int r = 0; r < comm.size(); ++r) {
      expect_equal(output.narrow(0, offset, counts[r]), rank_values(r, counts[r], dtype),
                   detail::concat("all_gather_v ", dtype, " part ", r));
      offset += counts[r];
    }
  }
}

void check_reduce_scatter(Communicator& comm, const at::Device& device) {
  const int64_t chunk = 96;
  const int64_t n = chunk * comm.size();
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    for (const auto op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax}) {
      const at::Tensor input = rank_values(comm.rank(), n, dtype, device);
      at::Tensor output = at::zeros({chunk}, on(device, dtype));
      comm.reduce_scatter(input, output, op)->wait();
      const at::Tensor expected = expected_reduction(comm.size(), n, op).narrow(0, comm.rank() * chunk, chunk);
      expect_close(output, expected.to(dtype), dtype == at::kBFloat16 ? 1e-2 : 1e-6,
                   label("reduce_scatter", op, dtype, comm));
    }
  }
}

void check_broadcast(Communicator& comm, const at::Device& device) {
  for (int root = 0; root < comm.size(); ++root) {
    for (const auto dtype : {at::kLong, at::kBFloat16, at::kFloat}) {
      at::Tensor tensor = rank_values(comm.rank(), 33, dtype, device);
      comm.broadcast(tensor, root)->wait();
      expect_equal(tensor, rank_values(root, 33, dtype), detail::concat("broadcast from ", root, " ", dtype));
    }
  }
}

void check_send_recv(Communicator& comm, const at::Device& device) {
  if (comm.size() < 2) return;
  const int next = (comm.rank() + 1) % comm.size();
  const int previous = (comm.rank() + comm.size() - 1) % comm.size();
  // Three messages on tag 5 (must arrive in order) and one on tag 9, received before tag 5's.
  std::vector<WorkHandle> sends;
  for (int i = 0; i < 3; ++i) sends.push_back(comm.send(rank_values(comm.rank() * 10 + i, 64, at::kFloat, device), next, 5));
  sends.push_back(comm.send(rank_values(comm.rank(), 8, at::kLong, device), next, 9));
  at::Tensor tagged = at::zeros({8}, on(device, at::kLong));
  comm.recv(tagged, previous, 9)->wait();
  expect_equal(tagged, rank_values(previous, 8, at::kLong), "recv tag 9");
  std::vector<at::Tensor> received;
  std::vector<WorkHandle> recvs;
  for (int i = 0; i < 3; ++i) {
    received.push_back(at::zeros({64}, on(device, at::kFloat)));
    recvs.push_back(comm.recv(received.back(), previous, 5));
  }
  for (int i = 2; i >= 0; --i) recvs[i]->wait();  // waited out of order; matched in posting order
  for (int i = 0; i < 3; ++i) {
    expect_equal(received[i], rank_values(previous * 10 + i, 64, at::kFloat), detail::concat("recv message ", i));
  }
  wait_all(sends);
}

void check_barrier(Communicator& comm, const at::Device& /*device*/) {
  for (int i = 0; i < 3; ++i) comm.barrier()->wait();
}

void check_split(Communicator& comm, const at::Device& device) {
  // Even and odd ranks, keys reversed: new rank order is descending old rank.
  const int color = comm.rank() % 2;
  auto half = comm.split(color, comm.size() - comm.rank());
  ASSERT_TRUE(half != nullptr);
  std::vector<int> members;
  for (int r = comm.size() - 1; r >= 0; --r) {
    if (r % 2 == color) members.push_back(r);
  }
  EXPECT_EQ(half->size(), static_cast<int>(members.size()));
  EXPECT_EQ(members[half->rank()], comm.rank());
  at::Tensor ranks = at::full({1}, static_cast<int64_t>(comm.rank()), on(device, at::kLong));
  at::Tensor gathered = at::zeros({half->size()}, on(device, at::kLong));
  half->all_gather(ranks, gathered)->wait();
  for (int i = 0; i < half->size(); ++i) EXPECT_EQ(gathered[i].item<int64_t>(), members[i]);

  // Only rank 0 stays out of the second split.
  auto rest = comm.split(comm.rank() == 0 ? Communicator::kNoColor : 0, comm.rank());
  EXPECT_EQ(rest == nullptr, comm.rank() == 0);
  if (rest) {
    EXPECT_EQ(rest->size(), comm.size() - 1);
    at::Tensor one = at::ones({4}, on(device, at::kFloat));
    rest->all_reduce(one, ReduceOp::kSum)->wait();
    expect_equal(one, at::full({4}, comm.size() - 1, at::kFloat), "all_reduce in split");
  }
}

void check_many_in_flight(Communicator& comm, const at::Device& device) {
  const int count = 40;
  std::vector<at::Tensor> reduced;
  std::vector<at::Tensor> gathered;
  std::vector<WorkHandle> works;
  for (int i = 0; i < count; ++i) {
    reduced.push_back(rank_values(comm.rank() + i, 128 + i, at::kFloat, device));
    works.push_back(comm.all_reduce(reduced.back(), ReduceOp::kSum));
    gathered.push_back(at::zeros({comm.size() * 16}, on(device, at::kBFloat16)));
    works.push_back(comm.all_gather(rank_values(comm.rank() * i, 16, at::kBFloat16, device), gathered.back()));
  }
  for (auto it = works.rbegin(); it != works.rend(); ++it) (*it)->wait();
  for (int i = 0; i < count; ++i) {
    at::Tensor expected = at::zeros({128 + i}, at::kDouble);
    for (int r = 0; r < comm.size(); ++r) expected += rank_values(r + i, 128 + i, at::kDouble);
    expect_equal(reduced[i], expected.to(at::kFloat), detail::concat("in-flight all_reduce ", i));
    for (int r = 0; r < comm.size(); ++r) {
      expect_equal(gathered[i].narrow(0, r * 16, 16), rank_values(r * i, 16, at::kBFloat16),
                   detail::concat("in-flight all_gather ", i, " part ", r));
    }
  }
}

void check_argument_errors(Communicator& comm, const at::Device& device) {
  const at::Tensor input = at::zeros({4}, on(device, at::kFloat));
  EXPECT_THROW(comm.all_gather(input, at::zeros({4 * comm.size() + 1}, on(device, at::kFloat))), Error);
  EXPECT_THROW(comm.all_gather(input, at::zeros({4 * comm.size()}, on(device, at::kLong))), Error);
  EXPECT_THROW(comm.all_reduce(at::zeros({4}, on(device, at::kLong)), ReduceOp::kAvg), Error);
  EXPECT_THROW(comm.all_reduce(at::zeros({4, 4}, on(device, at::kFloat)).t(), ReduceOp::kSum), Error);
  EXPECT_THROW(comm.broadcast(input, comm.size()), Error);
  EXPECT_THROW(comm.send(input, -1, 0), Error);
  std::vector<int64_t> wrong_counts(comm.size(), 1);
  EXPECT_THROW(comm.all_gather_v(input, at::zeros({comm.size()}, on(device, at::kFloat)), wrong_counts), Error);
  try {
    comm.reduce_scatter(at::zeros({3}, on(device, at::kFloat)), at::zeros({4}, on(device, at::kFloat)), ReduceOp::kSum);
    ADD_FAILURE() << "reduce_scatter with a wrong input size did not throw";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("reduce_scatter on rank " + std::to_string(comm.rank())), std::string::npos) << message;
  }
}

void check_everything(Communicator& comm, const at::Device& device) {
  check_all_reduce(comm, device);
  check_all_gather(comm, device);
  check_all_gather_uneven(comm, device);
  check_reduce_scatter(comm, device);
  check_broadcast(comm, device);
  check_send_recv(comm, device);
  check_barrier(comm, device);
  check_split(comm, device);
  check_many_in_flight(comm, device);
  check_argument_errors(comm, device);
}

}  // namespace hllm::parallel::testing
