// What the flight recorders' files (flight_recorder.h) say about a stalled job: which ranks are silent
// (their file stopped being rewritten: stopped, hung or gone), which ended with an error, and which are behind (alive, but they never
// started a collective that a peer waits in). Used live, by a rank whose wait timed out, and afterwards by
// `hllm_flight RUN_DIR`.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "parallel/comm/flight_recorder.h"

namespace hllm::parallel {

// Every rank_*.json in `dir` by rank. A file that cannot be read or parsed, is not shaped as
// FlightRecorder writes it (ranks 0 to 2^20 - 1, finite times), or names another rank than its file name
// is left out and named in *unreadable (when given); a missing directory gives no files.
std::map<int, nlohmann::json> read_flight_records(const std::string& dir, std::vector<std::string>* unreadable = nullptr);

struct StallFinding {
  int rank = -1;     // -1: a line about several ranks ("12 more ranks left no file")
  std::string host;  // "" when the rank left no file
  std::string what;  // "silent for 24.0 s (stopped, hung or gone); its newest record: ..."
};

// The ranks that stand out at time `now` (Unix seconds) among `world_size` ranks, silent ones first:
//  - no file (the first 8 named, the rest counted);
//  - a file whose rank ended with an error (reason "error");
//  - a file older than `silent_after` seconds;
//  - a file that says its rank did not run for a while (a pause of its writer), until less than
//    `silent_after` before `now`: a rank stopped with SIGSTOP and woken as the job is ended;
//  - a live rank that has not started a collective (group, sequence number) that another live rank is
//    blocked in (its timed-out operations, else its oldest incomplete one), while it waits in no collective
//    itself. Only when nothing above stands out: such ranks that wait in another collective (a mismatch).
std::vector<StallFinding> find_stall(const std::map<int, nlohmann::json>& files, int world_size, double now,
                                     double silent_after);

// One line per finding, "rank 3 on n2: silent for ...", or a line saying that no rank stands out.
std::string describe_findings(const std::vector<StallFinding>& findings);

// For a rank whose wait just timed out: writes its own file, then reads every rank's and returns
// "\nthe flight recorder (DIR) says:\n" and describe_findings(); "" when `recorder` writes no files.
std::string report_stall_now(FlightRecorder& recorder);

}  // namespace hllm::parallel
