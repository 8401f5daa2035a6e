#include "parallel/comm/stall_report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/json_input.h"

namespace hllm::parallel {
namespace {

using nlohmann::json;

std::string seconds_text(double seconds) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << seconds << " s";
  return out.str();
}

std::string bytes_text(int64_t bytes) {
  std::ostringstream out;
  if (bytes >= (int64_t{1} << 20)) {
    out << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / (1 << 20) << " MiB";
  } else if (bytes >= 1024) {
    out << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / 1024 << " KiB";
  } else {
    out << bytes << " B";
  }
  return out.str();
}

std::string members_text(const json& file, const std::string& group) {
  if (!file["groups"].contains(group)) return "";
  std::ostringstream out;
  out << " {";
  bool first = true;
  for (const auto& m : file["groups"][group]) {
    out << (first ? "" : ",") << m.get<int>();
    first = false;
  }
  out << "}";
  return out.str();
}

// "all_gather #57 on dp:zero_gather {0,1}, 4.0 KiB, started 24.3 s before, not complete"
std::string record_text(const json& file, const json& r, double now) {
  std::ostringstream out;
  const std::string group = r.value("group", "?");
  out << r.value("op", "?");
  if (r.contains("seq")) out << " #" << r["seq"].get<int64_t>();
  out << " on " << group << members_text(file, group);
  if (r.contains("peer")) out << " with rank " << r["peer"].get<int>();
  out << ", " << bytes_text(r.value("bytes", int64_t{0})) << ", started " << seconds_text(now - r.value("started", now))
      << " before, " << (r["completed"].is_null() ? "not complete" : "complete");
  return out.str();
}

const json& records_of(const json& file) { return file["records"]; }

// The highest sequence number this rank started on `group`; -1 when none is in its records.
int64_t newest_seq(const json& file, const std::string& group) {
  int64_t newest = -1;
  for (const auto& r : records_of(file)) {
    if (r.value("group", "") == group && r.contains("seq")) newest = std::max(newest, r["seq"].get<int64_t>());
  }
  return newest;
}

// The collectives a live rank is blocked in: those it gave up on, else its oldest incomplete one.
std::vector<const json*> blocked_in(const json& file) {
  std::vector<const json*> given_up;
  const json* oldest = nullptr;
  for (const auto& r : records_of(file)) {
    if (!r.contains("seq") || !r["completed"].is_null()) continue;
    if (r.value("timed_out", false)) given_up.push_back(&r);
    if (!oldest) oldest = &r;
  }
  if (!given_up.empty()) return given_up;
  return oldest ? std::vector<const json*>{oldest} : std::vector<const json*>{};
}

// A pause of `file`'s writer ([from, to]: it did not run) that ended within `silent_after` of `now`.
const json* recent_pause(const json& file, double now, double silent_after) {
  if (!file.contains("pauses")) return nullptr;
  const json* recent = nullptr;
  for (const auto& p : file["pauses"]) {
    if (p[1].get<double>() >= now - silent_after) recent = &p;
  }
  return recent;
}

// The newest record started before `time`, as text.
std::string newest_before(const json& file, double time, double now) {
  const json* newest = nullptr;
  for (const auto& r : records_of(file)) {
    if (r["started"].get<double>() <= time) newest = &r;
  }
  return newest ? record_text(file, *newest, now) : "none";
}

bool same_group(const json& a, const json& b, const std::string& group) {
  return a["groups"].contains(group) && b["groups"].contains(group) && a["groups"][group] == b["groups"][group];
}

// Ranks without a file named one by one; the rest are counted.
constexpr int64_t kMissingNamed = 8;

// Ranks a file may name: beyond any job this trainer runs, small enough that a report over them is bounded.
constexpr int64_t kMaxRanks = 1 << 20;

bool is_rank(const json& value) {
  return value.is_number_integer() && value.get<int64_t>() >= 0 && value.get<int64_t>() < kMaxRanks;
}

// Unix seconds from 1970 to about the year 5000.
bool is_time(const json& value) {
  return value.is_number() && std::isfinite(value.get<double>()) && value.get<double>() >= 0 &&
         value.get<double>() < 1e11;
}

// Why `file` is not a flight recorder file as FlightRecorder::snapshot writes it; "" when it is. The analysis
// above reads the fields it checks without further checks.
std::string malformed(const json& file) {
  if (!file.is_object()) return "not a JSON object";
  if (!file.contains("rank") || !is_rank(file["rank"])) return "no \"rank\" from 0 to " + std::to_string(kMaxRanks - 1);
  if (!file.contains("written_at") || !is_time(file["written_at"])) return "no \"written_at\" time";
  if (file.contains("reason") && !file["reason"].is_string()) return "\"reason\" is not a string";
  if (file.contains("host") && !file["host"].is_string()) return "\"host\" is not a string";
  if (!file.contains("groups") || !file["groups"].is_object()) return "no object \"groups\"";
  for (const auto& [label, members] : file["groups"].items()) {
    if (!members.is_array()) return "group " + label + ": its members are not a list";
    if (members.size() > static_cast<size_t>(kMaxRanks)) return "group " + label + ": more members than ranks";
    for (const auto& m : members) {
      if (!is_rank(m)) return "group " + label + ": a member is not a rank";
    }
  }
  if (file.contains("pauses")) {
    if (!file["pauses"].is_array()) return "\"pauses\" is not a list";
    for (const auto& p : file["pauses"]) {
      if (!p.is_array() || p.size() != 2 || !is_time(p[0]) || !is_time(p[1])) {
        return "a pause is not [from, to]: " + json_excerpt(p);
      }
    }
  }
  if (!file.contains("records") || !file["records"].is_array()) return "no list \"records\"";
  for (const auto& r : file["records"]) {
    const bool ok = r.is_object() && r.contains("group") && r["group"].is_string() && r.contains("op") &&
                    r["op"].is_string() && r.contains("bytes") && r["bytes"].is_number_integer() &&
                    r["bytes"].get<int64_t>() >= 0 && r.contains("started") && is_time(r["started"]) &&
                    r.contains("completed") && (r["completed"].is_null() || is_time(r["completed"])) &&
                    (!r.contains("seq") || (r["seq"].is_number_integer() && r["seq"].get<int64_t>() >= 0)) &&
                    (!r.contains("peer") || is_rank(r["peer"])) &&
                    (!r.contains("timed_out") || r["timed_out"].is_boolean());
    if (!ok) return "a record lacks group, op, bytes, started or completed, or has one of the wrong type: " +
                    json_excerpt(r);
  }
  return "";
}

}  // namespace

std::map<int, json> read_flight_records(const std::string& dir, std::vector<std::string>* unreadable) {
  namespace fs = std::filesystem;
  std::map<int, json> files;
  std::error_code error;
  if (!fs::is_directory(dir, error)) return files;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("rank_", 0) != 0 || entry.path().extension() != ".json") continue;
    try {
      json file = read_json_file(entry.path().string());
      std::string why = malformed(file);
      if (why.empty() && name != flight_record_file_name(file["rank"].get<int>())) {
        why = "it says rank " + std::to_string(file["rank"].get<int>()) + ", its name another";
      }
      if (!why.empty()) throw InputError(entry.path().string() + ": not a flight recorder file: " + why);
      const int rank = file["rank"].get<int>();
      files[rank] = std::move(file);
    } catch (const std::exception& e) {
      if (unreadable) unreadable->push_back(e.what());
    }
  }
  return files;
}

std::vector<StallFinding> find_stall(const std::map<int, json>& files, int world_size, double now,
                                     double silent_after) {
  std::vector<StallFinding> findings;
  std::set<int> live;
  int64_t missing = 0;
  for (int rank = 0; rank < world_size; ++rank) {
    const auto it = files.find(rank);
    if (it == files.end()) {
      if (++missing <= kMissingNamed) {
        findings.push_back({rank, "", "left no flight recorder file (never started recording, or the run "
                                      "directory is not shared by every node)"});
      }
      continue;
    }
    const json& file = it->second;
    const std::string host = file.value("host", "");
    const double age = now - file["written_at"].get<double>();
    const std::string reason = file.value("reason", "");
    const json& records = records_of(file);
    const std::string newest = records.empty() ? std::string("none") : record_text(file, records.back(), now);
    const json* pause = recent_pause(file, now, silent_after);
    if (reason == "error") {
      findings.push_back({rank, host, "ended with an error " + seconds_text(age) + " before (its log says which)"});
    } else if (reason != "exit" && age > silent_after) {
      findings.push_back({rank, host, "silent for " + seconds_text(age) + " (stopped, hung or gone); its newest record: " +
                                          newest});
    } else if (pause) {
      const double from = (*pause)[0].get<double>(), to = (*pause)[1].get<double>();
      findings.push_back({rank, host, "did not run for " + seconds_text(to - from) + ", until " +
                                          seconds_text(now - to) + " before (stopped or starved; woken as the job "
                                          "ended?); its newest record before that: " + newest_before(file, from, now)});
    } else {
      live.insert(rank);
    }
  }
  if (missing > kMissingNamed) {
    findings.push_back({-1, "", std::to_string(missing - kMissingNamed) + " more ranks left no file"});
  }
  // Live ranks that never started a collective a live peer is blocked in. One that is not blocked in any
  // collective itself is busy elsewhere: a culprit. One that is blocked too waits on someone else, unless
  // nobody else stands out (then the ranks called their collectives in different orders).
  std::vector<StallFinding> blocked_too;
  std::set<int> named;
  for (int waiter : live) {
    const json& file = files.at(waiter);
    for (const json* op : blocked_in(file)) {
      const std::string group = (*op)["group"].get<std::string>();
      const int64_t seq = (*op)["seq"].get<int64_t>();
      if (!file["groups"].contains(group)) continue;
      for (const auto& member : file["groups"][group]) {
        const int m = member.get<int>();
        if (m == waiter || !live.count(m) || named.count(m)) continue;
        const json& peer = files.at(m);
        const int64_t reached = newest_seq(peer, group);
        if (!same_group(file, peer, group) || reached < 0 || reached >= seq) continue;
        named.insert(m);
        const std::string missing = (*op)["op"].get<std::string>() + " #" + std::to_string(seq) + " on " + group +
                                    " that rank " + std::to_string(waiter) + " waits in (it reached #" +
                                    std::to_string(reached) + ")";
        const auto its_own = blocked_in(peer);
        if (its_own.empty()) {
          findings.push_back({m, peer.value("host", ""),
                              "running, but it has not started " + missing + " and waits in no collective; its " +
                                  "newest record: " + record_text(peer, records_of(peer).back(), now)});
        } else {
          blocked_too.push_back({m, peer.value("host", ""),
                                 "has not started " + missing + "; it waits in " +
                                     record_text(peer, *its_own.front(), now) +
                                     " instead (were collectives called in different orders?)"});
        }
      }
    }
  }
  if (findings.empty()) return blocked_too;
  return findings;
}

std::string describe_findings(const std::vector<StallFinding>& findings) {
  if (findings.empty()) {
    return "no rank stands out: every file is fresh and every member started the collectives the others wait in "
           "(a slow rank or network?)";
  }
  std::ostringstream out;
  for (size_t i = 0; i < findings.size(); ++i) {
    const auto& f = findings[i];
    out << (i ? "\n" : "");
    if (f.rank >= 0) out << "rank " << f.rank << (f.host.empty() ? "" : " on " + f.host) << ": ";
    out << f.what;
  }
  return out.str();
}

std::string report_stall_now(FlightRecorder& recorder) {
  if (recorder.directory().empty()) return "";
  recorder.write("timeout");
  const auto files = read_flight_records(recorder.directory());
  const auto findings =
      find_stall(files, recorder.world_size(), unix_seconds(), silent_after_seconds(recorder.write_interval()));
  return "\nthe flight recorder (" + recorder.directory() + ") says:\n" + describe_findings(findings);
}

}  // namespace hllm::parallel
