#include "parallel/comm/mpi_communicator.h"

#include <ATen/ATen.h>
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <functional>
#include <thread>
#include <vector>

#include "common/error.h"
#include "parallel/comm/tensor_checks.h"

namespace hllm::parallel {
namespace {

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, length);
}

// The MPI datatype that moves `tensor`'s elements bit for bit.
MPI_Datatype transfer_type(const at::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kLong: return MPI_INT64_T;
    case at::kInt: return MPI_INT32_T;
    case at::kByte: return MPI_UINT8_T;
    case at::kBFloat16:
    case at::kHalf: return MPI_UINT16_T;
    default: break;
  }
  throw Error(detail::concat("no MPI datatype for ", tensor.scalar_type()));
}

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::kMax ? MPI_MAX : MPI_SUM; }

std::atomic<double> timeout_seconds{0.0};
// Set once any operation timed out: the job is being aborted, and an operation still in flight may never
// complete, so no destructor waits for one any more (the unwinding to main's abort would hang there).
std::atomic<bool> gave_up{false};

class MpiWork : public Work {
 public:
  MpiWork(std::string context, std::vector<at::Tensor> buffers) : context_(std::move(context)),
                                                                   buffers_(std::move(buffers)) {}
  ~MpiWork() override {
    // A request must not outlive its buffers: finish it, but never throw from a destructor. One that timed
    // out, or any still in flight after another timed out, is left to MPI with its buffers (the job is
    // being aborted; waiting would hang again).
    if (abandoned_ || (!done_ && gave_up.load())) {
      new std::vector<at::Tensor>(std::move(buffers_));  // deliberately leaked: MPI may still write into them
      return;
    }
    if (!done_ && !requests_.empty()) {
      MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
    }
  }

  MPI_Request* add_request() {
    requests_.emplace_back(MPI_REQUEST_NULL);
    return &requests_.back();
  }
  void on_complete(std::function<void()> fn) { on_complete_ = std::move(fn); }
  std::vector<int>& int_storage() { return ints_; }

  void wait() override {
    if (done_) return;
    const double timeout = timeout_seconds.load();
    if (timeout <= 0) {
      const int rc = MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
      HLLM_CHECK(rc == MPI_SUCCESS, context_, ": MPI_Waitall failed: ", mpi_error_text(rc));
      finish();
      abandoned_ = false;  // waited for after all
      return;
    }
    // Polled, as MPI_Waitall polls too, against a deadline.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
    while (!is_completed()) {
      if (std::chrono::steady_clock::now() > deadline) {
        abandoned_ = true;
        gave_up.store(true);
        throw CommTimeoutError(detail::concat(context_, ": no progress for ", timeout, " s (comm.timeout_s); a rank of the group ",
                                   "is stuck, slow or gone"));
      }
      std::this_thread::yield();
    }
  }

  bool is_completed() override {
    if (done_) return true;
    int flag = 0;
    const int rc = MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag, MPI_STATUSES_IGNORE);
    HLLM_CHECK(rc == MPI_SUCCESS, context_, ": MPI_Testall failed: ", mpi_error_text(rc));
    if (flag) finish();
    return done_;
  }

 private:
  void finish() {
    done_ = true;
    if (on_complete_) on_complete_();
    buffers_.clear();
  }

  std::string context_;
  bool abandoned_ = false;  // timed out: never waited for again
  std::vector<at::Tensor> buffers_;  // kept alive until the requests complete
  std::vector<MPI_Request> requests_;
  std::vector<int> ints_;  // counts and displacements of v-collectives, alive until completion
  std::function<void()> on_complete_;
  bool done_ = false;
};

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, const MpiOptions& options) : comm_(comm), options_(options) {
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  MPI_Comm handle() const { return comm_; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend_name() const override { return "mpi"; }

  WorkHandle all_reduce(const at::Tensor& tensor, ReduceOp op) override {
    check_cpu(tensor, "all_reduce");
    check_reduce_dtype(tensor, op, "all_reduce", *this);
    const at::Tensor buffer = reduce_buffer(tensor).view({-1});
    auto work = start("all_reduce", {tensor, buffer});
    const int64_t piece = piece_elements(buffer);
    for (int64_t offset = 0; offset < buffer.numel(); offset += piece) {
      const at::Tensor part = buffer.narrow(0, offset, std::min(piece, buffer.numel() - offset));
      call("MPI_Iallreduce", MPI_Iallreduce(MPI_IN_PLACE, part.data_ptr(), count(part, "all_reduce"),
                                            reduce_type(part), mpi_op(op), comm_, work->add_request()));
    }
    work->on_complete(finish_reduce(tensor, buffer, op));
    return work;
  }

  WorkHandle all_gather(const at::Tensor& input, const at::Tensor& output) override {
    check_cpu(input, "all_gather");
    check_comm_tensor(output, "output", "all_gather", *this);
    check_same_dtype(input, output, "all_gather", *this);
    check_numel(output, input.numel() * size_, "output", "all_gather", *this);
    auto work = start("all_gather", {input, output});
    const int n = count(input, "all_gather");
    call("MPI_Iallgather", MPI_Iallgather(input.data_ptr(), n, transfer_type(input), output.data_ptr(), n,
                                          transfer_type(output), comm_, work->add_request()));
    return work;
  }

  WorkHandle all_gather_v(const at::Tensor& input, const at::Tensor& output,
                          const std::vector<int64_t>& counts) override {
    check_cpu(input, "all_gather_v");
    check_comm_tensor(output, "output", "all_gather_v", *this);
    check_same_dtype(input, output, "all_gather_v", *this);
    const int64_t total = check_gather_counts(counts, input, "all_gather_v", *this);
    check_numel(output, total, "output", "all_gather_v", *this);
    HLLM_CHECK(total <= INT_MAX, op_context("all_gather_v", *this), ": ", total,
               " elements exceed MPI's int displacements; gather in pieces");
    auto work = start("all_gather_v", {input, output});
    auto& ints = work->int_storage();  // [counts..., displacements...]
    ints.resize(2 * size_);
    int64_t offset = 0;
    for (int r = 0; r < size_; ++r) {
      ints[r] = static_cast<int>(counts[r]);
      ints[size_ + r] = static_cast<int>(offset);
      offset += counts[r];
    }
    call("MPI_Iallgatherv", MPI_Iallgatherv(input.data_ptr(), count(input, "all_gather_v"), transfer_type(input),
                                            output.data_ptr(), ints.data(), ints.data() + size_,
                                            transfer_type(output), comm_, work->add_request()));
    return work;
  }

  WorkHandle reduce_scatter(const at::Tensor& input, const at::Tensor& output, ReduceOp op) override {
    check_cpu(input, "reduce_scatter");
    check_comm_tensor(output, "output", "reduce_scatter", *this);
    check_same_dtype(input, output, "reduce_scatter", *this);
    check_reduce_dtype(input, op, "reduce_scatter", *this);
    check_numel(input, output.numel() * size_, "input", "reduce_scatter", *this);
    const at::Tensor send = reduces_in_float32(input) ? input.to(at::kFloat) : input;
    const at::Tensor receive = reduce_buffer(output);
    auto work = start("reduce_scatter", {input, output, send, receive});
    call("MPI_Ireduce_scatter_block",
         MPI_Ireduce_scatter_block(send.data_ptr(), receive.data_ptr(), count(receive, "reduce_scatter"),
                                   reduce_type(receive), mpi_op(op), comm_, work->add_request()));
    work->on_complete(finish_reduce(output, receive, op));
    return work;
  }

  WorkHandle broadcast(const at::Tensor& tensor, int root) override {
    check_cpu(tensor, "broadcast");
    check_peer(root, "root", "broadcast", *this);
    auto work = start("broadcast", {tensor});
    call("MPI_Ibcast", MPI_Ibcast(tensor.data_ptr(), count(tensor, "broadcast"), transfer_type(tensor), root, comm_,
                                  work->add_request()));
    return work;
  }

  WorkHandle send(const at::Tensor& tensor, int dst, int tag) override {
    check_cpu(tensor, "send");
    check_peer(dst, "destination", "send", *this);
    auto work = start("send", {tensor});
    call("MPI_Isend", MPI_Isend(tensor.data_ptr(), count(tensor, "send"), transfer_type(tensor), dst, tag, comm_,
                                work->add_request()));
    return work;
  }

  WorkHandle recv(const at::Tensor& tensor, int src, int tag) override {
    check_cpu(tensor, "recv");
    check_peer(src, "source", "recv", *this);
    auto work = start("recv", {tensor});
    call("MPI_Irecv", MPI_Irecv(tensor.data_ptr(), count(tensor, "recv"), transfer_type(tensor), src, tag, comm_,
                                work->add_request()));
    return work;
  }

  WorkHandle barrier() override {
    auto work = start("barrier", {});
    call("MPI_Ibarrier", MPI_Ibarrier(comm_, work->add_request()));
    return work;
  }

  std::unique_ptr<Communicator> split(int color, int key) override {
    MPI_Comm child = MPI_COMM_NULL;
    call("MPI_Comm_split", MPI_Comm_split(comm_, color == kNoColor ? MPI_UNDEFINED : color, key, &child));
    if (child == MPI_COMM_NULL) return nullptr;
    return std::make_unique<MpiCommunicator>(child, options_);
  }

  std::unique_ptr<Communicator> split_shared_memory() {
    MPI_Comm child = MPI_COMM_NULL;
    call("MPI_Comm_split_type",
         MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &child));
    return std::make_unique<MpiCommunicator>(child, options_);
  }

 private:
  void call(const char* function, int rc) const {
    HLLM_CHECK(rc == MPI_SUCCESS, function, " failed on rank ", rank_, " of ", size_, ": ", mpi_error_text(rc));
  }

  void check_cpu(const at::Tensor& tensor, const char* op) const {
    check_comm_tensor(tensor, "input", op, *this);
    HLLM_CHECK(tensor.device().is_cpu(), op_context(op, *this), ": the MPI backend takes CPU tensors, got one on ",
               tensor.device());
  }

  int count(const at::Tensor& tensor, const char* op) const {
    HLLM_CHECK(tensor.numel() <= INT_MAX, op_context(op, *this), ": ", tensor.numel(),
               " elements exceed MPI's int count; split the message");
    return static_cast<int>(tensor.numel());
  }

  std::shared_ptr<MpiWork> start(const char* op, std::vector<at::Tensor> buffers) const {
    auto work = std::make_shared<MpiWork>(op_context(op, *this), std::move(buffers));
    return work;
  }

  // bfloat16/float16 are reduced in a float32 copy; other dtypes in place.
  static at::Tensor reduce_buffer(const at::Tensor& tensor) {
    return reduces_in_float32(tensor) ? tensor.to(at::kFloat) : tensor;
  }

  // Elements per MPI request of an all_reduce (MpiOptions::all_reduce_piece_bytes), at least 1.
  int64_t piece_elements(const at::Tensor& buffer) const {
    if (options_.all_reduce_piece_bytes <= 0) return std::max<int64_t>(1, buffer.numel());
    return std::max<int64_t>(1, options_.all_reduce_piece_bytes / static_cast<int64_t>(buffer.element_size()));
  }

  static MPI_Datatype reduce_type(const at::Tensor& buffer) { return transfer_type(buffer); }

  // After the reduction: average, and copy a float32 accumulator back into the caller's tensor.
  std::function<void()> finish_reduce(const at::Tensor& target, const at::Tensor& buffer, ReduceOp op) const {
    const int n = size_;
    return [target, buffer, op, n] {
      if (op == ReduceOp::kAvg) buffer.div_(static_cast<double>(n));
      if (!buffer.is_same(target)) target.copy_(buffer.view(target.sizes()));
    };
  }

  MPI_Comm comm_;
  MpiOptions options_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

void set_mpi_timeout_seconds(double seconds) { timeout_seconds.store(seconds); }

std::unique_ptr<Communicator> make_mpi_world_communicator(const MpiOptions& options) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  HLLM_CHECK(initialized, "MPI is not initialised: create launcher::MpiRuntime before the world communicator");
  MPI_Comm world = MPI_COMM_NULL;
  const int rc = MPI_Comm_dup(MPI_COMM_WORLD, &world);
  HLLM_CHECK(rc == MPI_SUCCESS, "MPI_Comm_dup(MPI_COMM_WORLD) failed: ", mpi_error_text(rc));
  return std::make_unique<MpiCommunicator>(world, options);
}

std::unique_ptr<Communicator> make_mpi_node_communicator(Communicator& comm) {
  auto* mpi = dynamic_cast<MpiCommunicator*>(&comm);
  HLLM_CHECK(mpi != nullptr, "make_mpi_node_communicator needs an MPI communicator, got ", comm.backend_name());
  return mpi->split_shared_memory();
}

}  // namespace hllm::parallel
