// Argument checks shared by every backend, so all of them reject bad calls with the same message.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "parallel/comm/communicator.h"

namespace hllm::parallel {

// "all_reduce on rank 2 of 4 (mpi)": the start of every error message.
std::string op_context(const char* op, const Communicator& comm);

void check_comm_tensor(const at::Tensor& tensor, const char* what, const char* op, const Communicator& comm);
void check_same_dtype(const at::Tensor& a, const at::Tensor& b, const char* op, const Communicator& comm);
void check_numel(const at::Tensor& tensor, int64_t expected, const char* what, const char* op,
                 const Communicator& comm);
void check_peer(int peer, const char* what, const char* op, const Communicator& comm);
void check_reduce_dtype(const at::Tensor& tensor, ReduceOp reduce, const char* op, const Communicator& comm);
// Checks counts (size() entries, non-negative, counts[rank] == input numel); returns their sum.
int64_t check_gather_counts(const std::vector<int64_t>& counts, const at::Tensor& input, const char* op,
                            const Communicator& comm);

// True for dtypes reduced in a float32 accumulator (bfloat16, float16).
bool reduces_in_float32(const at::Tensor& tensor);

}  // namespace hllm::parallel
