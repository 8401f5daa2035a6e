// Communicator: the narrow set of collective and point-to-point operations every parallel feature is
// built on. Backends: MPI (CPU tensors, always built), threads (N ranks in one process, for tests) and
// NCCL (CUDA tensors, HLLM_WITH_CUDA). Nothing above parallel/ calls MPI or NCCL directly.
//
// Contract shared by all operations:
//  - Every operation is asynchronous: it is started when called and returns a Work handle. Collectives
//    must be called by every rank of the communicator in the same order (as with MPI); point-to-point
//    operations match by (source, destination, tag) in call order.
//  - Tensors must be dense and contiguous, on the backend's device; input and output of an operation have
//    the same dtype. Supported dtypes: float32, bfloat16 and int64 everywhere; float16, float64, int32 and
//    uint8 too. Reductions on bfloat16/float16 accumulate in float32.
//  - Until wait() returns, the caller must not read the outputs nor write the inputs. After wait() the
//    outputs hold the result and the inputs may be reused.
//  - Operations interpret tensors as flat arrays of numel() elements; shapes are the caller's business.
//  - A failed operation throws hllm::Error naming the operation and the rank, either when called (bad
//    arguments) or from wait() (the transport failed). A wait() that gives up after comm.timeout_s without
//    progress throws CommTimeoutError.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace hllm::parallel {

// An operation made no progress for comm.timeout_s: a rank of the group is stuck, slow or gone.
class CommTimeoutError : public Error {
 public:
  using Error::Error;
};

enum class ReduceOp { kSum, kAvg, kMax };

const char* reduce_op_name(ReduceOp op);

// Handle to one started operation.
class Work {
 public:
  virtual ~Work() = default;

  // Blocks the calling thread until this rank's part of the operation is complete: outputs are written
  // and inputs may be reused. For CUDA backends "complete" means ordered before later work on the
  // caller's current stream. Calling wait() again returns at once. Throws hllm::Error on failure.
  virtual void wait() = 0;

  // Non-blocking: true when wait() would return without blocking. Also lets the transport progress.
  virtual bool is_completed() = 0;
};

using WorkHandle = std::shared_ptr<Work>;

// Waits for every handle in order; convenient when many operations are in flight.
void wait_all(const std::vector<WorkHandle>& works);

class Communicator {
 public:
  static constexpr int kNoColor = -1;  // split(): this rank joins no new communicator

  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend_name() const = 0;

  // In place: `tensor` becomes op over every rank's `tensor`. kAvg is the sum divided by size()
  // (floating-point dtypes only).
  virtual WorkHandle all_reduce(const at::Tensor& tensor, ReduceOp op) = 0;

  // output = concatenation over ranks of input; output.numel() == size() * input.numel().
  virtual WorkHandle all_gather(const at::Tensor& input, const at::Tensor& output) = 0;

  // Uneven all_gather: rank r contributes counts[r] elements (counts is the same on every rank and
  // counts[rank()] == input.numel()); output.numel() == sum(counts), rank r's part at offset
  // counts[0] + ... + counts[r-1].
  virtual WorkHandle all_gather_v(const at::Tensor& input, const at::Tensor& output,
                                  const std::vector<int64_t>& counts) = 0;

  // input.numel() == size() * output.numel(); rank r receives op over ranks of input chunk r.
  virtual WorkHandle reduce_scatter(const at::Tensor& input, const at::Tensor& output, ReduceOp op) = 0;

  // In place: every rank's `tensor` becomes the root's.
  virtual WorkHandle broadcast(const at::Tensor& tensor, int root) = 0;

  // Point to point. A send may complete before the matching recv is posted (it is buffered or eager);
  // the recv's tensor must have exactly the sent numel and dtype.
  virtual WorkHandle send(const at::Tensor& tensor, int dst, int tag = 0) = 0;
  virtual WorkHandle recv(const at::Tensor& tensor, int src, int tag = 0) = 0;

  virtual WorkHandle barrier() = 0;

  // Blocking collective, as MPI_Comm_split: ranks that pass the same color form a new communicator,
  // ordered by (key, old rank). Returns nullptr for color == kNoColor.
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;
};

}  // namespace hllm::parallel
