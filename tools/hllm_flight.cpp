// hllm_flight RUN_DIR: what the ranks' flight recorders (comm.flight_recorder_entries) say after a job
// ended: one line per rank (host, how long before the newest file it last wrote, why, its newest record and
// the oldest operation it had not seen complete), then the ranks that stand out (parallel/comm/stall_report.h),
// judged at the time of the newest file. RUN_DIR may also be its flight_recorder folder.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <string>

#include "common/exit_codes.h"
#include "common/tool_main.h"
#include "parallel/comm/stall_report.h"

namespace {

using nlohmann::json;

// "all_gather #57 on dp:zero_gather" for a table cell.
std::string short_record(const json& r) {
  std::string text = r["op"].get<std::string>();
  if (r.contains("seq")) text += " #" + std::to_string(r["seq"].get<int64_t>());
  text += " on " + r["group"].get<std::string>();
  if (r.value("timed_out", false)) text += " (timed out)";
  return text;
}

int show(const std::string& run_dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(run_dir)) {
    std::cerr << "hllm_flight: " << run_dir << " is not a directory (give a run directory)\n";
    return hllm::kExitBadInput;
  }
  const std::string dir = fs::is_directory(fs::path(run_dir) / "flight_recorder") ? run_dir + "/flight_recorder" : run_dir;
  std::vector<std::string> unreadable;
  const auto files = hllm::parallel::read_flight_records(dir, &unreadable);
  for (const auto& why : unreadable) std::cerr << "hllm_flight: skipped " << why << "\n";
  if (files.empty()) {
    std::cerr << "hllm_flight: no flight recorder files (rank_NNNNN.json) in " << dir
              << " (was comm.flight_recorder_entries 0?)\n";
    return hllm::kExitBadInput;
  }
  double newest = 0, interval = 0;
  size_t world_size = 0;
  for (const auto& [rank, file] : files) {
    newest = std::max(newest, file["written_at"].get<double>());
    interval = std::max(interval, file.value("write_interval_s", 0.0));
    if (file["groups"].contains("world")) world_size = std::max(world_size, file["groups"]["world"].size());
    world_size = std::max(world_size, static_cast<size_t>(rank) + 1);
  }
  std::cout << "flight recorder of " << world_size << " ranks in " << dir << "; ages relative to the newest file\n";
  std::cout << "  rank  host          age  reason    newest record / oldest not seen complete\n";
  for (const auto& [rank, file] : files) {
    const json& records = file["records"];
    std::string pending = "-";
    for (const auto& r : records) {
      if (r["completed"].is_null()) {
        pending = short_record(r);
        break;
      }
    }
    std::cout << "  " << std::setw(4) << rank << "  " << std::left << std::setw(10) << file.value("host", "?")
              << std::right << std::setw(7) << std::fixed << std::setprecision(1)
              << newest - file["written_at"].get<double>() << " s  " << std::left << std::setw(8)
              << file.value("reason", "?") << std::right << "  "
              << (records.empty() ? std::string("-") : short_record(records.back())) << " / " << pending << "\n";
  }
  const auto findings = hllm::parallel::find_stall(files, static_cast<int>(world_size), newest,
                                                   hllm::parallel::silent_after_seconds(interval));
  std::cout << hllm::parallel::describe_findings(findings) << "\n";
  return hllm::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage =
      "usage: hllm_flight RUN_DIR   (the ranks' records of recent collectives, RUN_DIR/flight_recorder, and the\n"
      "                             ranks that stand out: silent, or behind the collective the others wait in)\n";
  if (argc == 2 && std::string(argv[1]) == "--help") {
    std::cout << usage;
    return hllm::kExitOk;
  }
  if (argc != 2 || std::string(argv[1]).rfind("--", 0) == 0) {
    std::cerr << usage;
    return hllm::kExitBadInput;
  }
  return hllm::guarded_tool_main("hllm_flight", [&] { return show(argv[1]); });
}
