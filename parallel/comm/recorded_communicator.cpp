#include "parallel/comm/recorded_communicator.h"

#include <ATen/ATen.h>

#include <atomic>
#include <chrono>

#include "common/error.h"
#include "parallel/comm/stall_report.h"

namespace hllm::parallel {
namespace {

std::atomic<int64_t> nanoseconds_waited{0};

int64_t bytes_of(const at::Tensor& tensor) { return tensor.numel() * static_cast<int64_t>(tensor.element_size()); }

class RecordedWork : public Work {
 public:
  RecordedWork(WorkHandle inner, std::shared_ptr<FlightRecorder> recorder, int64_t id)
      : inner_(std::move(inner)), recorder_(std::move(recorder)), id_(id) {}

  void wait() override {
    const auto start = std::chrono::steady_clock::now();
    try {
      inner_->wait();
      nanoseconds_waited += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
    } catch (const CommTimeoutError& e) {
      recorder_->timed_out(id_);
      throw CommTimeoutError(e.what() + report_stall_now(*recorder_));
    }
    recorder_->complete(id_);
  }

  bool is_completed() override {
    const bool done = inner_->is_completed();
    if (done) recorder_->complete(id_);
    return done;
  }

 private:
  WorkHandle inner_;
  std::shared_ptr<FlightRecorder> recorder_;
  int64_t id_;
};

class RecordedCommunicator : public Communicator {
 public:
  // `owned` may be null when `inner` belongs to the caller (the world).
  RecordedCommunicator(Communicator& inner, std::unique_ptr<Communicator> owned,
                       std::shared_ptr<FlightRecorder> recorder, int group)
      : inner_(inner), owned_(std::move(owned)), recorder_(std::move(recorder)), group_(group) {}

  FlightRecorder& recorder() const { return *recorder_; }
  const std::shared_ptr<FlightRecorder>& shared_recorder() const { return recorder_; }
  int group() const { return group_; }

  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  std::string backend_name() const override { return inner_.backend_name(); }

  WorkHandle all_reduce(const at::Tensor& tensor, ReduceOp op) override {
    return collective("all_reduce", bytes_of(tensor), [&] { return inner_.all_reduce(tensor, op); });
  }
  WorkHandle all_gather(const at::Tensor& input, const at::Tensor& output) override {
    return collective("all_gather", bytes_of(output), [&] { return inner_.all_gather(input, output); });
  }
  WorkHandle all_gather_v(const at::Tensor& input, const at::Tensor& output,
                          const std::vector<int64_t>& counts) override {
    return collective("all_gather_v", bytes_of(output), [&] { return inner_.all_gather_v(input, output, counts); });
  }
  WorkHandle reduce_scatter(const at::Tensor& input, const at::Tensor& output, ReduceOp op) override {
    return collective("reduce_scatter", bytes_of(input), [&] { return inner_.reduce_scatter(input, output, op); });
  }
  WorkHandle broadcast(const at::Tensor& tensor, int root) override {
    return collective("broadcast", bytes_of(tensor), [&] { return inner_.broadcast(tensor, root); });
  }
  WorkHandle barrier() override {
    return collective("barrier", 0, [&] { return inner_.barrier(); });
  }
  WorkHandle send(const at::Tensor& tensor, int dst, int tag) override {
    return point_to_point("send", bytes_of(tensor), dst, [&] { return inner_.send(tensor, dst, tag); });
  }
  WorkHandle recv(const at::Tensor& tensor, int src, int tag) override {
    return point_to_point("recv", bytes_of(tensor), src, [&] { return inner_.recv(tensor, src, tag); });
  }

  // The child's records are labelled "<parent>/split" with no members until label_records() names them
  // (the split itself does not say who else joined; finding out would cost a collective).
  std::unique_ptr<Communicator> split(int color, int key) override {
    auto child = inner_.split(color, key);
    if (!child) return nullptr;
    const int group = recorder_->add_group(recorder_->group_label(group_) + "/split", {});
    Communicator& inner = *child;
    return std::make_unique<RecordedCommunicator>(inner, std::move(child), recorder_, group);
  }

 private:
  template <typename Start>
  WorkHandle collective(const char* op, int64_t bytes, Start start) {
    // Numbered in call order, which every member shares; a call refused for its arguments takes no number.
    auto work = start();
    const int64_t id = recorder_->start(group_, collectives_++, op, bytes, -1);
    return std::make_shared<RecordedWork>(std::move(work), recorder_, id);
  }

  template <typename Start>
  WorkHandle point_to_point(const char* op, int64_t bytes, int peer, Start start) {
    auto work = start();
    const auto members = recorder_->group_members(group_);
    const int world_peer = peer < static_cast<int>(members.size()) ? members[peer] : -1;
    const int64_t id = recorder_->start(group_, -1, op, bytes, world_peer);
    return std::make_shared<RecordedWork>(std::move(work), recorder_, id);
  }

  Communicator& inner_;
  std::unique_ptr<Communicator> owned_;
  std::shared_ptr<FlightRecorder> recorder_;
  int group_;
  std::atomic<int64_t> collectives_{0};
};

}  // namespace

std::unique_ptr<Communicator> record_world(Communicator& world, std::shared_ptr<FlightRecorder> recorder) {
  std::vector<int> ranks(world.size());
  for (int r = 0; r < world.size(); ++r) ranks[r] = r;
  const int group = recorder->add_group("world", std::move(ranks));
  return std::make_unique<RecordedCommunicator>(world, nullptr, std::move(recorder), group);
}

void label_records(Communicator& comm, const std::string& label, std::vector<int> world_ranks) {
  auto* recorded = dynamic_cast<RecordedCommunicator*>(&comm);
  if (!recorded) return;
  HLLM_CHECK(static_cast<int>(world_ranks.size()) == comm.size(), "the records of ", label, " name ",
             world_ranks.size(), " members for a communicator of ", comm.size());
  recorded->recorder().rename_group(recorded->group(), label, std::move(world_ranks));
}

std::unique_ptr<Communicator> record_like(const Communicator& like, std::unique_ptr<Communicator> comm,
                                          const std::string& label) {
  const auto* recorded = dynamic_cast<const RecordedCommunicator*>(&like);
  if (!recorded || !comm) return comm;
  const int group = recorded->recorder().add_group(label, recorded->recorder().group_members(recorded->group()));
  Communicator& inner = *comm;
  return std::make_unique<RecordedCommunicator>(inner, std::move(comm), recorded->shared_recorder(), group);
}

double seconds_waited() { return static_cast<double>(nanoseconds_waited.load()) * 1e-9; }

}  // namespace hllm::parallel
