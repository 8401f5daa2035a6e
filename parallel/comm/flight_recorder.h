// FlightRecorder: this rank's most recent communication operations, kept in memory and written to the run
// directory, so that a job ended by comm.timeout_s shows which rank held it up (as NCCL's flight recorder
// does). Each record: the group (a label such as "dp:zero_gather" and its members' world ranks), the
// operation, its sequence number on that communicator (the same on every member, since collectives are
// called in the same order everywhere), bytes, peer, when it started and when this rank saw it complete.
//
// The file, <dir>/rank_<NNNNN>.json, is rewritten every write interval by a thread of its own, and at once
// on a timeout or an error. Its `written_at` is therefore a heartbeat: a rank that is stopped (SIGSTOP), hung
// in the kernel or gone stops writing, while its peers blocked in a collective keep writing. A rank that
// finds on waking that it has not written for longer than a live rank could (stall_report.h's
// silent_after_seconds) records that pause, so a rank stopped and later woken (as Open MPI does before it
// kills a job) still shows it. stall_report.h reads the files of every rank.
#pragma once

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hllm::parallel {

// How old a rank's file may get before the rank counts as silent: three write intervals and a second.
double silent_after_seconds(double write_interval_seconds);

// Seconds since the Unix epoch (wall clock: files are compared across hosts).
double unix_seconds();

class FlightRecorder {
 public:
  FlightRecorder(int world_rank, int world_size, std::string host, int64_t capacity);
  // Stops the writer and writes the file one last time (when writing), saying "exit", or "error" while an
  // exception unwinds.
  ~FlightRecorder();
  FlightRecorder(const FlightRecorder&) = delete;
  FlightRecorder& operator=(const FlightRecorder&) = delete;

  // Keeps the newest `capacity` records from now on.
  void resize(int64_t capacity);

  // A communicator whose operations are recorded; returns its index. Labels are made unique ("dp", "dp#2").
  int add_group(const std::string& label, std::vector<int> world_ranks);
  void rename_group(int group, const std::string& label, std::vector<int> world_ranks);
  std::string group_label(int group) const;
  std::vector<int> group_members(int group) const;

  // An operation started: `seq` numbers the communicator's collectives (-1 for point-to-point, which has a
  // `peer`, a world rank). Returns its id for complete().
  int64_t start(int group, int64_t seq, const char* op, int64_t bytes, int peer);
  // This rank saw the operation complete; a no-op when already recorded or pushed out of the ring.
  void complete(int64_t id);
  // This rank gave up waiting for the operation (comm.timeout_s).
  void timed_out(int64_t id);

  // Writes <dir>/rank_<NNNNN>.json now, then every `interval_seconds` from a thread.
  void start_writing(const std::string& dir, double interval_seconds);
  // Writes the file now (atomically: a temporary file renamed), saying why ("timeout" once, then always);
  // false if not writing or failed.
  bool write(const std::string& reason);
  const std::string& directory() const { return dir_; }
  double write_interval() const { return interval_seconds_; }
  int world_rank() const { return rank_; }
  int world_size() const { return world_size_; }

  // The file's content: rank, host, pid, written_at, reason, write_interval_s, groups, pauses and the
  // records oldest first.
  nlohmann::json snapshot(const std::string& reason);

 private:
  struct Record {
    int64_t id = -1;
    int group = 0;
    int64_t seq = -1;
    const char* op = "";
    int64_t bytes = 0;
    int peer = -1;
    double started = 0;
    double completed = 0;  // 0: not seen complete
    bool timed_out = false;
  };
  struct GroupInfo {
    std::string label;
    std::vector<int> members;
  };
  std::string unique_label(const std::string& label) const;
  nlohmann::json content(const std::string& reason) const;  // under write_mutex_
  void writer_loop();

  const int rank_;
  const int world_size_;
  const std::string host_;
  mutable std::mutex mutex_;
  std::vector<Record> ring_;
  int64_t next_id_ = 0;
  std::vector<GroupInfo> groups_;
  std::string dir_;
  double interval_seconds_ = 0;
  std::mutex write_mutex_;  // one writer of the file at a time
  bool timed_out_ = false;   // a write said "timeout"; every later one does too. Under write_mutex_
  double last_write_ = 0;    // Unix seconds, under write_mutex_
  std::vector<std::pair<double, double>> pauses_;  // [from, to] without a write, under write_mutex_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread writer_;
};

// The process's recorder, for reports that have no communicator at hand (the NCCL watchdog, main's
// error path); null when none is installed. Not owned.
void install_flight_recorder(FlightRecorder* recorder);
FlightRecorder* installed_flight_recorder();

// "rank_00003.json": rank r's file in a recorder's directory.
std::string flight_record_file_name(int world_rank);

}  // namespace hllm::parallel
