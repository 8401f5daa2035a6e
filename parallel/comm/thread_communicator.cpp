#include "parallel/comm/thread_communicator.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include "common/error.h"
#include "parallel/comm/tensor_checks.h"

namespace hllm::parallel {
namespace {

// Shared by a root group and every group split from it: once set, every blocked wait throws.
struct AbortFlag {
  std::atomic<bool> aborted{false};
};

// State shared by the ranks of one thread group. Collectives are matched by a per-rank sequence number
// (all ranks call them in the same order); each rank posts a snapshot of its input into the slot of
// that number and, in wait(), computes its own output once all ranks have posted.
struct GroupState {
  struct Slot {
    const char* op = nullptr;
    std::vector<at::Tensor> inputs;
    std::vector<std::pair<int, int>> colors;  // split(): (color, key) per rank
    std::map<int, std::shared_ptr<GroupState>> children;
    int posted = 0;
    int consumed = 0;
  };
  // Point-to-point: messages of one (src, dst, tag) are numbered in send order; the n-th recv posted for
  // that triple takes message n, as MPI's non-overtaking rule.
  using Channel = std::tuple<int, int, int>;
  struct Mailbox {
    std::map<int64_t, at::Tensor> messages;
    int64_t sends = 0;
    int64_t recvs = 0;
  };

  GroupState(int size_, std::shared_ptr<AbortFlag> abort_) : size(size_), abort(std::move(abort_)) {}

  const int size;
  const std::shared_ptr<AbortFlag> abort;
  std::mutex mutex;
  std::condition_variable changed;
  std::map<uint64_t, Slot> slots;
  std::map<Channel, Mailbox> mailboxes;

  // Waits on `changed` until ready() holds; throws if the group was aborted meanwhile.
  template <typename Ready>
  void wait_until(std::unique_lock<std::mutex>& lock, const char* op, Ready ready) {
    while (!ready()) {
      if (abort->aborted.load()) throw Error(std::string(op) + ": aborted because another thread rank failed");
      changed.wait_for(lock, std::chrono::milliseconds(50));
    }
  }
};

class ThreadWork : public Work {
 public:
  ThreadWork(std::function<bool()> ready, std::function<void()> finish)
      : ready_(std::move(ready)), finish_(std::move(finish)) {}

  void wait() override {
    if (done_) return;
    finish_();
    done_ = true;
  }
  bool is_completed() override { return done_ || ready_(); }

 private:
  std::function<bool()> ready_;
  std::function<void()> finish_;
  bool done_ = false;
};

at::Tensor flat(const at::Tensor& tensor) { return tensor.view({-1}); }

// op over the inputs, in rank order; bfloat16/float16 accumulate in float32.
at::Tensor reduce_inputs(const std::vector<at::Tensor>& inputs, ReduceOp op) {
  const auto accumulate_type = reduces_in_float32(inputs[0]) ? at::kFloat : inputs[0].scalar_type();
  at::Tensor result = inputs[0].to(accumulate_type, /*non_blocking=*/false, /*copy=*/true);
  for (size_t i = 1; i < inputs.size(); ++i) {
    const at::Tensor next = inputs[i].to(accumulate_type);
    if (op == ReduceOp::kMax) {
      result = at::maximum(result, next);
    } else {
      result.add_(next);
    }
  }
  if (op == ReduceOp::kAvg) result.div_(static_cast<double>(inputs.size()));
  return result;
}

class ThreadCommunicator : public Communicator {
 public:
  ThreadCommunicator(std::shared_ptr<GroupState> group, int rank) : group_(std::move(group)), rank_(rank) {}

  int rank() const override { return rank_; }
  int size() const override { return group_->size; }
  std::string backend_name() const override { return "threads"; }

  WorkHandle all_reduce(const at::Tensor& tensor, ReduceOp op) override {
    check_comm_tensor(tensor, "input", "all_reduce", *this);
    check_reduce_dtype(tensor, op, "all_reduce", *this);
    const uint64_t seq = post("all_reduce", tensor.clone());
    return make_work(seq, [=](const std::vector<at::Tensor>& inputs) {
      tensor.copy_(reduce_inputs(inputs, op));
    });
  }

  WorkHandle all_gather(const at::Tensor& input, const at::Tensor& output) override {
    check_comm_tensor(input, "input", "all_gather", *this);
    check_comm_tensor(output, "output", "all_gather", *this);
    check_same_dtype(input, output, "all_gather", *this);
    check_numel(output, input.numel() * size(), "output", "all_gather", *this);
    const uint64_t seq = post("all_gather", flat(input).clone());
    return make_work(seq, [=](const std::vector<at::Tensor>& inputs) {
      for (size_t r = 0; r < inputs.size(); ++r) {
        HLLM_CHECK(inputs[r].numel() == input.numel(), op_context("all_gather", *this), ": rank ", r, " sent ",
                   inputs[r].numel(), " elements, this rank ", input.numel(), " (use all_gather_v for uneven sizes)");
      }
      flat(output).copy_(at::cat(inputs));
    });
  }

  WorkHandle all_gather_v(const at::Tensor& input, const at::Tensor& output,
                          const std::vector<int64_t>& counts) override {
    check_comm_tensor(input, "input", "all_gather_v", *this);
    check_comm_tensor(output, "output", "all_gather_v", *this);
    check_same_dtype(input, output, "all_gather_v", *this);
    check_numel(output, check_gather_counts(counts, input, "all_gather_v", *this), "output", "all_gather_v", *this);
    const uint64_t seq = post("all_gather_v", flat(input).clone());
    return make_work(seq, [=](const std::vector<at::Tensor>& inputs) {
      for (size_t r = 0; r < inputs.size(); ++r) {
        HLLM_CHECK(inputs[r].numel() == counts[r], op_context("all_gather_v", *this), ": rank ", r, " sent ",
                   inputs[r].numel(), " elements but counts[", r, "] = ", counts[r]);
      }
      flat(output).copy_(at::cat(inputs));
    });
  }

  WorkHandle reduce_scatter(const at::Tensor& input, const at::Tensor& output, ReduceOp op) override {
    check_comm_tensor(input, "input", "reduce_scatter", *this);
    check_comm_tensor(output, "output", "reduce_scatter", *this);
    check_same_dtype(input, output, "reduce_scatter", *this);
    check_reduce_dtype(input, op, "reduce_scatter", *this);
    check_numel(input, output.numel() * size(), "input", "reduce_scatter", *this);
    const uint64_t seq = post("reduce_scatter", flat(input).clone());
    const int64_t chunk = output.numel();
    return make_work(seq, [=](const std::vector<at::Tensor>& inputs) {
      std::vector<at::Tensor> parts;
      for (const auto& in : inputs) parts.push_back(in.narrow(0, rank_ * chunk, chunk));
      flat(output).copy_(reduce_inputs(parts, op));
    });
  }

  WorkHandle broadcast(const at::Tensor& tensor, int root) override {
    check_comm_tensor(tensor, "input", "broadcast", *this);
    check_peer(root, "root", "broadcast", *this);
    const uint64_t seq = post("broadcast", rank_ == root ? flat(tensor).clone() : at::Tensor());
    return make_work(seq, [=](const std::vector<at::Tensor>& inputs) {
      HLLM_CHECK(inputs[root].numel() == tensor.numel(), op_context("broadcast", *this), ": root sent ",
                 inputs[root].numel(), " elements, this rank expects ", tensor.numel());
      if (rank_ != root) flat(tensor).copy_(inputs[root]);
    });
  }

  WorkHandle send(const at::Tensor& tensor, int dst, int tag) override {
    check_comm_tensor(tensor, "input", "send", *this);
    check_peer(dst, "destination", "send", *this);
    {
      std::lock_guard<std::mutex> lock(group_->mutex);
      auto& box = group_->mailboxes[{rank_, dst, tag}];
      box.messages[box.sends++] = flat(tensor).clone();
    }
    group_->changed.notify_all();
    return std::make_shared<ThreadWork>([] { return true; }, [] {});
  }

  WorkHandle recv(const at::Tensor& tensor, int src, int tag) override {
    check_comm_tensor(tensor, "output", "recv", *this);
    check_peer(src, "source", "recv", *this);
    const GroupState::Channel channel{src, rank_, tag};
    int64_t ticket = 0;
    {
      std::lock_guard<std::mutex> lock(group_->mutex);
      ticket = group_->mailboxes[channel].recvs++;
    }
    auto group = group_;
    auto ready = [group, channel, ticket] {
      std::lock_guard<std::mutex> lock(group->mutex);
      return group->mailboxes[channel].messages.count(ticket) > 0;
    };
    auto finish = [this, group, channel, ticket, tensor, src] {
      at::Tensor message;
      {
        std::unique_lock<std::mutex> lock(group->mutex);
        auto& box = group->mailboxes[channel];
        group->wait_until(lock, "recv", [&] { return box.messages.count(ticket) > 0; });
        message = box.messages[ticket];
        box.messages.erase(ticket);
      }
      HLLM_CHECK(message.numel() == tensor.numel() && message.scalar_type() == tensor.scalar_type(),
                 op_context("recv", *this), ": rank ", src, " sent ", message.numel(), " elements of ",
                 message.scalar_type(), ", the receive buffer holds ", tensor.numel(), " of ", tensor.scalar_type());
      flat(tensor).copy_(message);
    };
    return std::make_shared<ThreadWork>(ready, finish);
  }

  WorkHandle barrier() override {
    const uint64_t seq = post("barrier", at::Tensor());
    return make_work(seq, [](const std::vector<at::Tensor>&) {});
  }

  std::unique_ptr<Communicator> split(int color, int key) override {
    const uint64_t seq = next_seq_++;
    std::unique_lock<std::mutex> lock(group_->mutex);
    auto& slot = claim_slot(seq, "split");
    slot.colors[rank_] = {color, key};
    ++slot.posted;
    group_->changed.notify_all();
    group_->wait_until(lock, "split", [&] { return slot.posted == size(); });
    std::vector<int> members;  // old ranks with this rank's color, by (key, old rank)
    for (int r = 0; r < size(); ++r) {
      if (slot.colors[r].first == color) members.push_back(r);
    }
    std::stable_sort(members.begin(), members.end(),
                     [&](int a, int b) { return slot.colors[a].second < slot.colors[b].second; });
    std::shared_ptr<GroupState> child;
    if (color != kNoColor) {
      auto& entry = slot.children[color];
      if (!entry) entry = std::make_shared<GroupState>(static_cast<int>(members.size()), group_->abort);
      child = entry;
    }
    release_slot(seq, slot);
    if (!child) return nullptr;
    const int new_rank = static_cast<int>(std::find(members.begin(), members.end(), rank_) - members.begin());
    return std::make_unique<ThreadCommunicator>(child, new_rank);
  }

 private:
  GroupState::Slot& claim_slot(uint64_t seq, const char* op) {
    auto& slot = group_->slots[seq];
    if (slot.op == nullptr) {
      slot.op = op;
      slot.inputs.resize(size());
      slot.colors.resize(size());
    }
    HLLM_CHECK(std::string(slot.op) == op, op_context(op, *this), ": collective #", seq, " mismatched: another rank called ",
               slot.op, " (collectives must be called in the same order on every rank)");
    return slot;
  }

  void release_slot(uint64_t seq, GroupState::Slot& slot) {
    if (++slot.consumed == size()) group_->slots.erase(seq);
  }

  uint64_t post(const char* op, at::Tensor snapshot) {
    const uint64_t seq = next_seq_++;
    {
      std::lock_guard<std::mutex> lock(group_->mutex);
      auto& slot = claim_slot(seq, op);
      slot.inputs[rank_] = std::move(snapshot);
      ++slot.posted;
    }
    group_->changed.notify_all();
    return seq;
  }

  // The handle of collective `seq`: wait() blocks until every rank posted, then runs `finish` on all inputs.
  WorkHandle make_work(uint64_t seq, std::function<void(const std::vector<at::Tensor>&)> finish) {
    auto group = group_;
    const int n = size();
    auto ready = [group, seq, n] {
      std::lock_guard<std::mutex> lock(group->mutex);
      const auto it = group->slots.find(seq);
      return it != group->slots.end() && it->second.posted == n;
    };
    auto run = [this, group, seq, n, finish = std::move(finish)] {
      std::vector<at::Tensor> inputs;
      const char* op = nullptr;
      {
        std::unique_lock<std::mutex> lock(group->mutex);
        auto& slot = group->slots.at(seq);
        group->wait_until(lock, slot.op, [&] { return slot.posted == n; });
        inputs = slot.inputs;
        op = slot.op;
        release_slot(seq, slot);
      }
      // Every rank must bring the same element type (MPI and NCCL would move bytes of the wrong type).
      const at::Tensor& mine = inputs[rank_];
      for (size_t r = 0; r < inputs.size(); ++r) {
        HLLM_CHECK(!mine.defined() || !inputs[r].defined() || inputs[r].scalar_type() == mine.scalar_type(),
                   op_context(op, *this), ": rank ", r, " sent ", inputs[r].scalar_type(), ", this rank ",
                   mine.scalar_type());
      }
      finish(inputs);
    };
    return std::make_shared<ThreadWork>(ready, run);
  }

  std::shared_ptr<GroupState> group_;
  int rank_;
  uint64_t next_seq_ = 0;
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> make_thread_communicators(int world_size) {
  HLLM_CHECK(world_size >= 1, "thread communicator: world size must be at least 1, got ", world_size);
  auto group = std::make_shared<GroupState>(world_size, std::make_shared<AbortFlag>());
  std::vector<std::unique_ptr<Communicator>> comms;
  for (int r = 0; r < world_size; ++r) comms.push_back(std::make_unique<ThreadCommunicator>(group, r));
  return comms;
}

void run_thread_ranks(int world_size, const std::function<void(Communicator&)>& fn) {
  HLLM_CHECK(world_size >= 1, "thread communicator: world size must be at least 1, got ", world_size);
  auto abort = std::make_shared<AbortFlag>();
  auto group = std::make_shared<GroupState>(world_size, abort);
  std::vector<std::exception_ptr> errors(world_size);
  std::vector<std::thread> threads;
  for (int r = 0; r < world_size; ++r) {
    threads.emplace_back([&, r] {
      try {
        ThreadCommunicator comm(group, r);
        fn(comm);
      } catch (...) {
        errors[r] = std::current_exception();
        abort->aborted.store(true);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  // The first rank that failed for its own reason, not because a peer aborted the group.
  std::exception_ptr first;
  for (const auto& error : errors) {
    if (!error) continue;
    if (!first) first = error;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      if (std::string(e.what()).find("aborted because another thread rank failed") == std::string::npos) {
        std::rethrow_exception(error);
      }
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace hllm::parallel
