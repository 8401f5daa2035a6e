#include "parallel/comm/flight_recorder.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "common/error.h"

namespace hllm::parallel {
namespace {

std::atomic<FlightRecorder*> installed{nullptr};
constexpr size_t kPausesKept = 16;

}  // namespace

double silent_after_seconds(double write_interval_seconds) { return 3 * write_interval_seconds + 1; }

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string flight_record_file_name(int world_rank) {
  std::ostringstream name;
  name << "rank_" << std::setw(5) << std::setfill('0') << world_rank << ".json";
  return name.str();
}

void install_flight_recorder(FlightRecorder* recorder) { installed.store(recorder); }
FlightRecorder* installed_flight_recorder() { return installed.load(); }

FlightRecorder::FlightRecorder(int world_rank, int world_size, std::string host, int64_t capacity)
    : rank_(world_rank), world_size_(world_size), host_(std::move(host)), ring_(static_cast<size_t>(capacity)) {
  HLLM_CHECK(capacity > 0, "a flight recorder needs room for at least one record, got ", capacity);
}

FlightRecorder::~FlightRecorder() {
  if (installed_flight_recorder() == this) install_flight_recorder(nullptr);
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) {
    writer_.join();
    write(std::uncaught_exceptions() > 0 ? "error" : "exit");
  }
}

void FlightRecorder::resize(int64_t capacity) {
  HLLM_CHECK(capacity > 0, "a flight recorder needs room for at least one record, got ", capacity);
  const std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Record> ring(static_cast<size_t>(capacity));
  const int64_t first = std::max<int64_t>(0, next_id_ - std::min<int64_t>(capacity, ring_.size()));
  for (int64_t id = first; id < next_id_; ++id) {
    ring[static_cast<size_t>(id) % ring.size()] = ring_[static_cast<size_t>(id) % ring_.size()];
  }
  ring_ = std::move(ring);
}

std::string FlightRecorder::unique_label(const std::string& label) const {
  auto taken = [&](const std::string& candidate) {
    for (const auto& g : groups_) {
      if (g.label == candidate) return true;
    }
    return false;
  };
  std::string candidate = label;
  for (int n = 2; taken(candidate); ++n) candidate = label + "#" + std::to_string(n);
  return candidate;
}

int FlightRecorder::add_group(const std::string& label, std::vector<int> world_ranks) {
  const std::lock_guard<std::mutex> lock(mutex_);
  groups_.push_back({unique_label(label), std::move(world_ranks)});
  return static_cast<int>(groups_.size()) - 1;
}

void FlightRecorder::rename_group(int group, const std::string& label, std::vector<int> world_ranks) {
  const std::lock_guard<std::mutex> lock(mutex_);
  HLLM_ASSERT(group >= 0 && group < static_cast<int>(groups_.size()), "no recorded group ", group);
  groups_[group].members = std::move(world_ranks);
  if (groups_[group].label != label) groups_[group].label = unique_label(label);
}

std::string FlightRecorder::group_label(int group) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return groups_.at(group).label;
}

std::vector<int> FlightRecorder::group_members(int group) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return groups_.at(group).members;
}

int64_t FlightRecorder::start(int group, int64_t seq, const char* op, int64_t bytes, int peer) {
  const double now = unix_seconds();
  const std::lock_guard<std::mutex> lock(mutex_);
  const int64_t id = next_id_++;
  ring_[static_cast<size_t>(id) % ring_.size()] = {id, group, seq, op, bytes, peer, now, 0, false};
  return id;
}

void FlightRecorder::complete(int64_t id) {
  const double now = unix_seconds();
  const std::lock_guard<std::mutex> lock(mutex_);
  Record& r = ring_[static_cast<size_t>(id) % ring_.size()];
  if (r.id == id && r.completed == 0) r.completed = now;
}

void FlightRecorder::timed_out(int64_t id) {
  const std::lock_guard<std::mutex> lock(mutex_);
  Record& r = ring_[static_cast<size_t>(id) % ring_.size()];
  if (r.id == id) r.timed_out = true;
}

nlohmann::json FlightRecorder::snapshot(const std::string& reason) {
  const std::lock_guard<std::mutex> serial(write_mutex_);
  return content(reason);
}

nlohmann::json FlightRecorder::content(const std::string& reason) const {
  nlohmann::json out;
  out["rank"] = rank_;
  out["host"] = host_;
  out["pid"] = static_cast<int64_t>(getpid());
  out["reason"] = reason;
  out["write_interval_s"] = interval_seconds_;
  nlohmann::json pauses = nlohmann::json::array();
  for (const auto& [from, to] : pauses_) pauses.push_back({from, to});
  out["pauses"] = std::move(pauses);
  const std::lock_guard<std::mutex> lock(mutex_);
  out["written_at"] = unix_seconds();
  nlohmann::json groups = nlohmann::json::object();
  for (const auto& g : groups_) groups[g.label] = g.members;
  out["groups"] = std::move(groups);
  nlohmann::json records = nlohmann::json::array();
  const int64_t first = std::max<int64_t>(0, next_id_ - static_cast<int64_t>(ring_.size()));
  for (int64_t id = first; id < next_id_; ++id) {
    const Record& r = ring_[static_cast<size_t>(id) % ring_.size()];
    nlohmann::json one = {{"id", r.id}, {"group", groups_[r.group].label}, {"op", r.op}, {"bytes", r.bytes},
                          {"started", r.started}};
    if (r.seq >= 0) one["seq"] = r.seq;
    if (r.peer >= 0) one["peer"] = r.peer;
    one["completed"] = r.completed > 0 ? nlohmann::json(r.completed) : nlohmann::json(nullptr);
    if (r.timed_out) one["timed_out"] = true;
    records.push_back(std::move(one));
  }
  out["records"] = std::move(records);
  return out;
}

void FlightRecorder::start_writing(const std::string& dir, double interval_seconds) {
  HLLM_CHECK(interval_seconds > 0, "the flight recorder's write interval must be positive, got ", interval_seconds);
  HLLM_ASSERT(!writer_.joinable(), "the flight recorder is already writing to ", dir_);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  HLLM_CHECK(!error, "cannot create the flight recorder's directory ", dir, ": ", error.message());
  dir_ = dir;
  interval_seconds_ = interval_seconds;
  HLLM_CHECK(write("start"), "cannot write the flight recorder's file in ", dir);
  writer_ = std::thread([this] { writer_loop(); });
}

bool FlightRecorder::write(const std::string& reason) {
  if (dir_.empty()) return false;
  const std::lock_guard<std::mutex> serial(write_mutex_);
  // A rank that timed out says so from then on, also in the periodic writes and the last one (the error
  // that unwinds it is that timeout): the report must not take it for the rank that failed.
  if (reason == "timeout") timed_out_ = true;
  const std::string said = timed_out_ ? "timeout" : reason;
  // A gap no live rank's writer leaves: this process did not run (stopped, or starved of CPU).
  const double now = unix_seconds();
  if (last_write_ > 0 && now - last_write_ > silent_after_seconds(interval_seconds_)) {
    if (pauses_.size() == kPausesKept) pauses_.erase(pauses_.begin());
    pauses_.emplace_back(last_write_, now);
  }
  last_write_ = now;
  const std::string path = dir_ + "/" + flight_record_file_name(rank_);
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << content(said).dump() << "\n";
    out.close();
    if (!out) return false;
  }
  return std::rename(temporary.c_str(), path.c_str()) == 0;
}

void FlightRecorder::writer_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto interval = std::chrono::duration<double>(interval_seconds_);
  while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    write("periodic");  // a failed write is retried next time; the heartbeat then looks old, which is the truth
    lock.lock();
  }
}

}  // namespace hllm::parallel
