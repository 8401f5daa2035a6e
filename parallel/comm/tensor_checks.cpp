#include "parallel/comm/tensor_checks.h"

#include "common/error.h"

namespace hllm::parallel {

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kAvg: return "avg";
    case ReduceOp::kMax: return "max";
  }
  return "?";
}

void wait_all(const std::vector<WorkHandle>& works) {
  for (const auto& work : works) {
    if (work) work->wait();
  }
}

std::string op_context(const char* op, const Communicator& comm) {
  return detail::concat(op, " on rank ", comm.rank(), " of ", comm.size(), " (", comm.backend_name(), ")");
}

void check_comm_tensor(const at::Tensor& tensor, const char* what, const char* op, const Communicator& comm) {
  HLLM_CHECK(tensor.defined(), op_context(op, comm), ": ", what, " tensor is undefined");
  HLLM_CHECK(tensor.layout() == at::kStrided, op_context(op, comm), ": ", what, " tensor must be dense");
  HLLM_CHECK(tensor.is_contiguous(), op_context(op, comm), ": ", what, " tensor must be contiguous, got strides ",
             tensor.strides());
  const auto dtype = tensor.scalar_type();
  const bool supported = dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kLong ||
                         dtype == at::kHalf || dtype == at::kDouble || dtype == at::kInt || dtype == at::kByte;
  HLLM_CHECK(supported, op_context(op, comm), ": unsupported dtype ", dtype, " for ", what,
             " (float32, bfloat16, float16, float64, int64, int32, uint8)");
}

void check_same_dtype(const at::Tensor& a, const at::Tensor& b, const char* op, const Communicator& comm) {
  HLLM_CHECK(a.scalar_type() == b.scalar_type(), op_context(op, comm), ": input dtype ", a.scalar_type(),
             " differs from output dtype ", b.scalar_type());
  HLLM_CHECK(a.device() == b.device(), op_context(op, comm), ": input on ", a.device(), ", output on ",
             b.device());
}

void check_numel(const at::Tensor& tensor, int64_t expected, const char* what, const char* op,
                 const Communicator& comm) {
  HLLM_CHECK(tensor.numel() == expected, op_context(op, comm), ": ", what, " has ", tensor.numel(),
             " elements, expected ", expected);
}

void check_peer(int peer, const char* what, const char* op, const Communicator& comm) {
  HLLM_CHECK(peer >= 0 && peer < comm.size(), op_context(op, comm), ": ", what, " ", peer,
             " is not a rank of this communicator (size ", comm.size(), ")");
}

void check_reduce_dtype(const at::Tensor& tensor, ReduceOp reduce, const char* op, const Communicator& comm) {
  HLLM_CHECK(reduce != ReduceOp::kAvg || at::isFloatingType(tensor.scalar_type()), op_context(op, comm),
             ": avg needs a floating-point tensor, got ", tensor.scalar_type());
  HLLM_CHECK(tensor.scalar_type() != at::kByte, op_context(op, comm), ": uint8 tensors cannot be reduced");
}

int64_t check_gather_counts(const std::vector<int64_t>& counts, const at::Tensor& input, const char* op,
                            const Communicator& comm) {
  HLLM_CHECK(static_cast<int>(counts.size()) == comm.size(), op_context(op, comm), ": ", counts.size(),
             " counts for ", comm.size(), " ranks");
  int64_t total = 0;
  for (const auto count : counts) {
    HLLM_CHECK(count >= 0, op_context(op, comm), ": negative count ", count);
    total += count;
  }
  HLLM_CHECK(counts[comm.rank()] == input.numel(), op_context(op, comm), ": counts[", comm.rank(), "] = ",
             counts[comm.rank()], " but the input has ", input.numel(), " elements");
  return total;
}

bool reduces_in_float32(const at::Tensor& tensor) {
  return tensor.scalar_type() == at::kBFloat16 || tensor.scalar_type() == at::kHalf;
}

}  // namespace hllm::parallel
