#include "parallel/comm/nccl_communicator.h"

#include <ATen/ATen.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "common/error.h"
#include "parallel/comm/tensor_checks.h"
#include "parallel/comm/work_watchdog.h"

namespace hllm::parallel {
namespace {

// The deadline of every NCCL operation (set_nccl_timeout_seconds); null: none.
std::mutex watchdog_mutex;
std::unique_ptr<WorkWatchdog> watchdog;

void watch(const std::string& context, const WorkHandle& work) {
  const std::lock_guard<std::mutex> lock(watchdog_mutex);
  if (watchdog) watchdog->watch(context, work);
}

#define HLLM_NCCL_CALL(context, expr)                                                                    \
  do {                                                                                                 \
    const ncclResult_t _result = (expr);                                                               \
    HLLM_CHECK(_result == ncclSuccess, context, ": ", #expr, " failed: ", ncclGetErrorString(_result), \
               " (", ncclGetLastError(nullptr), ")");                                                  \
  } while (false)

#define HLLM_CUDA_CALL(context, expr)                                                                      \
  do {                                                                                                     \
    const cudaError_t _error = (expr);                                                                     \
    HLLM_CHECK(_error == cudaSuccess, context, ": ", #expr, " failed: ", cudaGetErrorString(_error));      \
  } while (false)

ncclDataType_t nccl_type(const at::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case at::kFloat: return ncclFloat32;
    case at::kBFloat16: return ncclBfloat16;
    case at::kHalf: return ncclFloat16;
    case at::kDouble: return ncclFloat64;
    case at::kLong: return ncclInt64;
    case at::kInt: return ncclInt32;
    case at::kByte: return ncclUint8;
    default: break;
  }
  throw Error(detail::concat("no NCCL datatype for ", tensor.scalar_type()));
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return ncclSum;
    case ReduceOp::kAvg: return ncclAvg;
    case ReduceOp::kMax: return ncclMax;
  }
  return ncclSum;
}

// Completion of one operation: an event recorded on the NCCL stream after its kernels.
class NcclWork : public Work {
 public:
  NcclWork(std::string context, cudaEvent_t done, bool blocking)
      : context_(std::move(context)), done_(done), blocking_(blocking) {}
  ~NcclWork() override { cudaEventDestroy(done_); }

  void wait() override {
    if (waited_) return;
    // Later work on the caller's stream is ordered after the collective.
    HLLM_CUDA_CALL(context_, cudaStreamWaitEvent(c10::cuda::getCurrentCUDAStream().stream(), done_, 0));
    if (blocking_) HLLM_CUDA_CALL(context_, cudaEventSynchronize(done_));
    waited_ = true;
  }

  bool is_completed() override {
    const cudaError_t status = cudaEventQuery(done_);
    if (status == cudaErrorNotReady) return false;
    HLLM_CUDA_CALL(context_, status);
    return true;
  }

 private:
  std::string context_;
  cudaEvent_t done_;
  bool blocking_;
  bool waited_ = false;
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, int device_index) : comm_(comm), device_index_(device_index),
                                                        stream_(c10::cuda::getStreamFromPool(true, device_index)) {
    HLLM_NCCL_CALL("NCCL communicator", ncclCommUserRank(comm_, &rank_));
    HLLM_NCCL_CALL("NCCL communicator", ncclCommCount(comm_, &size_));
  }
  ~NcclCommunicator() override { ncclCommDestroy(comm_); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend_name() const override { return "nccl"; }

  WorkHandle all_reduce(const at::Tensor& tensor, ReduceOp op) override {
    check_cuda(tensor, "input", "all_reduce");
    check_reduce_dtype(tensor, op, "all_reduce", *this);
    return launch("all_reduce", {tensor}, false, [&](cudaStream_t s) {
      return ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(), nccl_type(tensor), nccl_op(op),
                           comm_, s);
    });
  }

  WorkHandle all_gather(const at::Tensor& input, const at::Tensor& output) override {
    check_cuda(input, "input", "all_gather");
    check_cuda(output, "output", "all_gather");
    check_same_dtype(input, output, "all_gather", *this);
    check_numel(output, input.numel() * size_, "output", "all_gather", *this);
    return launch("all_gather", {input, output}, false, [&](cudaStream_t s) {
      return ncclAllGather(input.data_ptr(), output.data_ptr(), input.numel(), nccl_type(input), comm_, s);
    });
  }

  WorkHandle all_gather_v(const at::Tensor& input, const at::Tensor& output,
                          const std::vector<int64_t>& counts) override {
    check_cuda(input, "input", "all_gather_v");
    check_cuda(output, "output", "all_gather_v");
    check_same_dtype(input, output, "all_gather_v", *this);
    check_numel(output, check_gather_counts(counts, input, "all_gather_v", *this), "output", "all_gather_v", *this);
    // NCCL has no all_gather_v: one broadcast per rank into its slice, fused in a group.
    return launch("all_gather_v", {input, output}, false, [&](cudaStream_t s) {
      ncclResult_t result = ncclGroupStart();
      int64_t offset = 0;
      const auto bytes = static_cast<int64_t>(output.element_size());
      for (int r = 0; r < size_ && result == ncclSuccess; ++r) {
        void* slice = static_cast<char*>(output.data_ptr()) + offset * bytes;
        const void* source = r == rank_ ? input.data_ptr() : slice;
        if (counts[r] > 0) result = ncclBroadcast(source, slice, counts[r], nccl_type(output), r, comm_, s);
        offset += counts[r];
      }
      const ncclResult_t end = ncclGroupEnd();
      return result != ncclSuccess ? result : end;
    });
  }

  WorkHandle reduce_scatter(const at::Tensor& input, const at::Tensor& output, ReduceOp op) override {
    check_cuda(input, "input", "reduce_scatter");
    check_cuda(output, "output", "reduce_scatter");
    check_same_dtype(input, output, "reduce_scatter", *this);
    check_reduce_dtype(input, op, "reduce_scatter", *this);
    check_numel(input, output.numel() * size_, "input", "reduce_scatter", *this);
    return launch("reduce_scatter", {input, output}, false, [&](cudaStream_t s) {
      return ncclReduceScatter(input.data_ptr(), output.data_ptr(), output.numel(), nccl_type(output), nccl_op(op),
                               comm_, s);
    });
  }

  WorkHandle broadcast(const at::Tensor& tensor, int root) override {
    check_cuda(tensor, "input", "broadcast");
    check_peer(root, "root", "broadcast", *this);
    return launch("broadcast", {tensor}, false, [&](cudaStream_t s) {
      return ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(), nccl_type(tensor), root, comm_, s);
    });
  }

  WorkHandle send(const at::Tensor& tensor, int dst, int tag) override {
    check_cuda(tensor, "input", "send");
    check_peer(dst, "destination", "send", *this);
    check_point_to_point(dst, tag, "send");
    return launch("send", {tensor}, false, [&](cudaStream_t s) {
      return ncclSend(tensor.data_ptr(), tensor.numel(), nccl_type(tensor), dst, comm_, s);
    });
  }

  WorkHandle recv(const at::Tensor& tensor, int src, int tag) override {
    check_cuda(tensor, "output", "recv");
    check_peer(src, "source", "recv", *this);
    check_point_to_point(src, tag, "recv");
    return launch("recv", {tensor}, false, [&](cudaStream_t s) {
      return ncclRecv(tensor.data_ptr(), tensor.numel(), nccl_type(tensor), src, comm_, s);
    });
  }

  WorkHandle barrier() override {
    const at::Tensor token = at::zeros({1}, at::TensorOptions().dtype(at::kFloat).device(at::kCUDA, device_index_));
    return launch("barrier", {token}, true, [&](cudaStream_t s) {
      return ncclAllReduce(token.data_ptr(), token.data_ptr(), 1, ncclFloat32, ncclSum, comm_, s);
    });
  }

  std::unique_ptr<Communicator> split(int color, int key) override {
    ncclComm_t child = nullptr;
    HLLM_NCCL_CALL(op_context("split", *this),
                   ncclCommSplit(comm_, color == kNoColor ? NCCL_SPLIT_NOCOLOR : color, key, &child, nullptr));
    if (child == nullptr) return nullptr;
    return std::make_unique<NcclCommunicator>(child, device_index_);
  }

 private:
  void check_cuda(const at::Tensor& tensor, const char* what, const char* op) const {
    check_comm_tensor(tensor, what, op, *this);
    HLLM_CHECK(tensor.is_cuda() && tensor.device().index() == device_index_, op_context(op, *this),
               ": the NCCL backend takes tensors on cuda:", device_index_, ", got ", what, " on ", tensor.device());
  }

  void check_point_to_point(int peer, int tag, const char* op) const {
    HLLM_CHECK(tag == 0, op_context(op, *this), ": NCCL matches messages by order, tag must be 0, got ", tag);
    HLLM_CHECK(peer != rank_, op_context(op, *this), ": NCCL cannot send to or receive from the same rank");
  }

  // Orders the NCCL stream after the caller's stream, enqueues `enqueue`, records completion.
  template <typename Enqueue>
  WorkHandle launch(const char* op, std::initializer_list<at::Tensor> tensors, bool blocking, Enqueue enqueue) {
    const std::string context = op_context(op, *this);
    const c10::cuda::CUDAGuard guard(device_index_);
    const cudaStream_t caller = c10::cuda::getCurrentCUDAStream(device_index_).stream();
    cudaEvent_t inputs_ready = nullptr;
    HLLM_CUDA_CALL(context, cudaEventCreateWithFlags(&inputs_ready, cudaEventDisableTiming));
    HLLM_CUDA_CALL(context, cudaEventRecord(inputs_ready, caller));
    HLLM_CUDA_CALL(context, cudaStreamWaitEvent(stream_.stream(), inputs_ready, 0));
    cudaEventDestroy(inputs_ready);
    for (const auto& tensor : tensors) {
      c10::cuda::CUDACachingAllocator::recordStream(tensor.storage().data_ptr(), stream_);
    }
    const ncclResult_t result = enqueue(stream_.stream());
    HLLM_CHECK(result == ncclSuccess, context, ": NCCL failed: ", ncclGetErrorString(result), " (",
               ncclGetLastError(comm_), ")");
    cudaEvent_t done = nullptr;
    HLLM_CUDA_CALL(context, cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    HLLM_CUDA_CALL(context, cudaEventRecord(done, stream_.stream()));
    WorkHandle work = std::make_shared<NcclWork>(context, done, blocking);
    watch(context, work);
    return work;
  }

  ncclComm_t comm_;
  int device_index_;
  c10::cuda::CUDAStream stream_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

void set_nccl_timeout_seconds(double seconds) {
  const std::lock_guard<std::mutex> lock(watchdog_mutex);
  watchdog.reset();
  if (seconds > 0) watchdog = std::make_unique<WorkWatchdog>(seconds);
}

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, int device_index) {
  const std::string context = detail::concat("NCCL start-up on rank ", bootstrap.rank(), " of ", bootstrap.size());
  HLLM_CUDA_CALL(context, cudaSetDevice(device_index));
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  if (bootstrap.rank() == 0) HLLM_NCCL_CALL(context, ncclGetUniqueId(&id));
  at::Tensor bytes = at::empty({static_cast<int64_t>(sizeof(id))}, at::kByte);
  std::memcpy(bytes.data_ptr(), &id, sizeof(id));
  bootstrap.broadcast(bytes, 0)->wait();
  std::memcpy(&id, bytes.data_ptr(), sizeof(id));
  ncclComm_t comm = nullptr;
  HLLM_NCCL_CALL(context, ncclCommInitRank(&comm, bootstrap.size(), id, bootstrap.rank()));
  return std::make_unique<NcclCommunicator>(comm, device_index);
}

}  // namespace hllm::parallel
