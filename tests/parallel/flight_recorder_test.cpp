// The flight recorder (parallel/comm/flight_recorder.h), the communicator that feeds it
// (recorded_communicator.h) and what the ranks' files say about a stall (stall_report.h).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json_input.h"
#include "parallel/comm/flight_recorder.h"
#include "parallel/comm/recorded_communicator.h"
#include "parallel/comm/stall_report.h"
#include "parallel/comm/thread_communicator.h"
#include "parallel/topology.h"
#include "tests/parallel/collective_checks.h"

namespace hllm::parallel {
namespace {

using nlohmann::json;

std::string fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("hllm_flight_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

// The (op, seq) pairs of one group in a snapshot, in record order.
std::vector<std::pair<std::string, int64_t>> collectives_on(const json& snapshot, const std::string& group) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& r : snapshot["records"]) {
    if (r["group"] == group && r.contains("seq")) out.emplace_back(r["op"].get<std::string>(), r["seq"].get<int64_t>());
  }
  return out;
}

TEST(RecordedCommunicator, EveryOperationBehavesAsTheWrappedOnesAndIsNumberedAlikeOnEveryRank) {
  for (int world_size : {1, 3}) {
    std::vector<json> snapshots(world_size);
    run_thread_ranks(world_size, [&](Communicator& plain) {
      auto recorder = std::make_shared<FlightRecorder>(plain.rank(), plain.size(), "host", 100000);
      auto world = record_world(plain, recorder);
      testing::check_everything(*world);
      snapshots[plain.rank()] = recorder->snapshot("test");
    });
    const auto reference = collectives_on(snapshots[0], "world");
    EXPECT_GT(reference.size(), 20u);
    for (size_t i = 0; i < reference.size(); ++i) EXPECT_EQ(reference[i].second, static_cast<int64_t>(i));
    for (int r = 1; r < world_size; ++r) EXPECT_EQ(collectives_on(snapshots[r], "world"), reference) << "rank " << r;
  }
}

TEST(RecordedCommunicator, RecordsBytesCompletionAndTheTopologysGroupsByName) {
  std::vector<json> snapshots(4);
  run_thread_ranks(4, [&](Communicator& plain) {
    auto recorder = std::make_shared<FlightRecorder>(plain.rank(), plain.size(), "host", 1000);
    auto world = record_world(plain, recorder);
    Topology topology(*world, 2, Placement{});
    at::Tensor t = at::ones({10});  // 40 bytes
    topology.dp_group().all_reduce(t, ReduceOp::kSum)->wait();
    auto pending = topology.channel(Group::kPp, "activations").all_reduce(t, ReduceOp::kSum);  // not waited for
    topology.channel(Group::kPp, "activations").barrier()->wait();
    pending->wait();
    snapshots[plain.rank()] = recorder->snapshot("test");
  });
  // Rank 3 is stage 1, dp index 1: its dp group is {2,3}, its pipeline {1,3}.
  const json& mine = snapshots[3];
  EXPECT_EQ(mine["groups"]["dp"], json({2, 3}));
  EXPECT_EQ(mine["groups"]["pp"], json({1, 3}));
  EXPECT_EQ(mine["groups"]["pp:activations"], json({1, 3}));
  bool saw_dp = false;
  for (const auto& r : mine["records"]) {
    if (r["group"] == "dp" && r["op"] == "all_reduce") {
      saw_dp = true;
      EXPECT_EQ(r["bytes"], 40);
      EXPECT_FALSE(r["completed"].is_null());
      EXPECT_GE(r["completed"].get<double>(), r["started"].get<double>());
    }
  }
  EXPECT_TRUE(saw_dp);
  EXPECT_EQ(collectives_on(mine, "pp:activations"),
            (std::vector<std::pair<std::string, int64_t>>{{"all_reduce", 0}, {"barrier", 1}}));
}

TEST(FlightRecorder, KeepsTheNewestRecordsAndWritesItsFile) {
  const std::string dir = fresh_dir("ring");
  FlightRecorder recorder(2, 4, "n2", 3);
  const int group = recorder.add_group("dp", {0, 2});
  EXPECT_EQ(recorder.group_label(recorder.add_group("dp", {1, 3})), "dp#2") << "labels are unique";
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(recorder.start(group, i, "all_gather", 8 * i, -1));
  recorder.complete(ids[4]);
  recorder.complete(ids[0]);  // pushed out of the ring: a no-op
  recorder.timed_out(ids[3]);
  recorder.start_writing(dir, 60);
  const json file = read_json_file(dir + "/" + flight_record_file_name(2));
  EXPECT_EQ(file["rank"], 2);
  EXPECT_EQ(file["host"], "n2");
  EXPECT_EQ(file["reason"], "start");
  ASSERT_EQ(file["records"].size(), 3u);
  EXPECT_EQ(file["records"][0]["seq"], 2);
  EXPECT_EQ(file["records"][1]["timed_out"], true);
  EXPECT_TRUE(file["records"][1]["completed"].is_null());
  EXPECT_FALSE(file["records"][2]["completed"].is_null());
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + flight_record_file_name(2) + ".tmp"));
  recorder.resize(2);
  EXPECT_EQ(recorder.snapshot("test")["records"].size(), 2u);
  std::filesystem::remove_all(dir);
}

// A rank whose wait timed out says "timeout" in every later write, also its last one while the timeout
// unwinds it (had the writer's next periodic write replaced it, the report would take it for a failed rank).
TEST(FlightRecorder, ATimeoutStaysTheReason) {
  const std::string dir = fresh_dir("timeout");
  const std::string path = dir + "/" + flight_record_file_name(0);
  {
    FlightRecorder recorder(0, 2, "n1", 8);
    recorder.start_writing(dir, 60);
    EXPECT_EQ(read_json_file(path)["reason"], "start");
    ASSERT_TRUE(recorder.write("timeout"));
    ASSERT_TRUE(recorder.write("periodic"));
    EXPECT_EQ(read_json_file(path)["reason"], "timeout");
    try {
      FlightRecorder unwound(1, 2, "n1", 8);
      unwound.start_writing(dir, 60);
      throw Error("a failure");
    } catch (const Error&) {
    }
    EXPECT_EQ(read_json_file(dir + "/" + flight_record_file_name(1))["reason"], "error");
  }
  EXPECT_EQ(read_json_file(path)["reason"], "timeout");
  std::filesystem::remove_all(dir);
}

// Files as four ranks would leave them; rank r waits in `waiting[r]` (a collective on "dp" of all four).
class StallReport : public ::testing::Test {
 protected:
  static constexpr double kNow = 1000;
  json file(int rank, double written_at, const std::string& reason, int64_t last_seq, bool last_complete) {
    json records = json::array();
    for (int64_t seq = 0; seq <= last_seq; ++seq) {
      const bool done = seq < last_seq || last_complete;
      records.push_back({{"id", seq}, {"group", "dp"}, {"op", "all_reduce"}, {"bytes", 64}, {"seq", seq},
                         {"started", written_at - 1}, {"completed", done ? json(written_at - 0.5) : json(nullptr)}});
    }
    return {{"rank", rank}, {"host", rank < 2 ? "n1" : "n2"}, {"written_at", written_at}, {"reason", reason},
            {"write_interval_s", 1.0}, {"groups", {{"dp", {0, 1, 2, 3}}}}, {"pauses", json::array()},
            {"records", records}};
  }
  std::map<int, json> healthy() {
    std::map<int, json> files;
    for (int r = 0; r < 4; ++r) files[r] = file(r, kNow, "periodic", 7, false);  // all wait in #7
    return files;
  }
  std::vector<StallFinding> find(const std::map<int, json>& files) {
    return find_stall(files, 4, kNow, silent_after_seconds(1.0));
  }
};

TEST_F(StallReport, ASilentRankIsNamedWithItsHostAndNewestRecord) {
  auto files = healthy();
  files[3] = file(3, kNow - 20, "periodic", 6, false);
  const auto findings = find(files);
  ASSERT_EQ(findings.size(), 1u) << describe_findings(findings);
  EXPECT_EQ(findings[0].rank, 3);
  EXPECT_EQ(findings[0].host, "n2");
  const std::string text = describe_findings(findings);
  EXPECT_NE(text.find("rank 3 on n2: silent for 20.0 s"), std::string::npos) << text;
  EXPECT_NE(text.find("all_reduce #6 on dp {0,1,2,3}"), std::string::npos) << text;
}

TEST_F(StallReport, ARankThatDidNotRunUntilJustNowIsNamed) {
  auto files = healthy();
  files[1]["pauses"] = {{kNow - 30, kNow - 0.5}};
  const auto findings = find(files);
  ASSERT_EQ(findings.size(), 1u) << describe_findings(findings);
  EXPECT_EQ(findings[0].rank, 1);
  EXPECT_NE(findings[0].what.find("did not run for 29.5 s"), std::string::npos) << findings[0].what;
  files[1]["pauses"] = {{kNow - 300, kNow - 200}};  // long ago: not this stall
  EXPECT_TRUE(find(files).empty());
}

TEST_F(StallReport, ARunningRankOutsideAnyCollectiveIsNamedNotTheOnesWaitingForIt) {
  auto files = healthy();
  files[2] = file(2, kNow, "periodic", 6, true);  // finished #6, never started #7: busy elsewhere
  const auto findings = find(files);
  ASSERT_EQ(findings.size(), 1u) << describe_findings(findings);
  EXPECT_EQ(findings[0].rank, 2);
  EXPECT_NE(findings[0].what.find("has not started all_reduce #7 on dp"), std::string::npos) << findings[0].what;
  EXPECT_NE(findings[0].what.find("waits in no collective"), std::string::npos) << findings[0].what;
}

TEST_F(StallReport, RanksWaitingInDifferentCollectivesAreAMismatch) {
  auto files = healthy();
  files[2] = file(2, kNow, "periodic", 6, false);  // waits in #6 while the others wait in #7
  const auto findings = find(files);
  ASSERT_EQ(findings.size(), 1u) << describe_findings(findings);
  EXPECT_EQ(findings[0].rank, 2);
  EXPECT_NE(findings[0].what.find("different orders"), std::string::npos) << findings[0].what;
}

TEST_F(StallReport, MissingFilesErrorsAndFinishedRanks) {
  auto files = healthy();
  files.erase(0);
  files[1]["reason"] = "error";
  files[2] = file(2, kNow - 50, "exit", 7, true);  // ended normally: not silent
  const auto findings = find(files);
  ASSERT_EQ(findings.size(), 2u) << describe_findings(findings);
  EXPECT_EQ(findings[0].rank, 0);
  EXPECT_NE(findings[0].what.find("no flight recorder file"), std::string::npos);
  EXPECT_EQ(findings[1].rank, 1);
  EXPECT_NE(findings[1].what.find("ended with an error"), std::string::npos);
  EXPECT_NE(describe_findings({}).find("no rank stands out"), std::string::npos);
  // A world far larger than the files: the first ranks without one are named, the rest counted.
  const auto many = find_stall(healthy(), 1000, kNow, silent_after_seconds(1.0));
  ASSERT_EQ(many.size(), 9u);
  EXPECT_EQ(many[7].rank, 11);
  EXPECT_EQ(describe_findings(many).substr(describe_findings(many).rfind('\n') + 1), "988 more ranks left no file");
}

TEST_F(StallReport, UnreadableFilesAreSkippedAndNamed) {
  const std::string dir = fresh_dir("unreadable");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/rank_00000.json") << file(0, kNow, "periodic", 3, true).dump();
  std::ofstream(dir + "/rank_00001.json") << "{\"rank\": 1, \"written_at\": ";  // cut short
  json bad = file(2, kNow, "periodic", 3, true);
  bad["records"][0]["seq"] = "three";
  std::ofstream(dir + "/rank_00002.json") << bad.dump();
  std::ofstream(dir + "/rank_00003.json") << file(-5, kNow, "periodic", 3, true).dump();  // not a rank
  std::ofstream(dir + "/rank_00004.json") << file(5, kNow, "periodic", 3, true).dump();   // another rank's
  json endless = file(6, kNow, "periodic", 3, true);
  endless["written_at"] = 1e308;
  std::ofstream(dir + "/rank_00006.json") << endless.dump();
  std::ofstream(dir + "/notes.txt") << "not a record";
  std::vector<std::string> unreadable;
  const auto files = read_flight_records(dir, &unreadable);
  EXPECT_EQ(files.size(), 1u);
  ASSERT_EQ(unreadable.size(), 5u);
  for (const auto& why : unreadable) EXPECT_NE(why.find(dir + "/rank_0000"), std::string::npos) << why;
  EXPECT_TRUE(read_flight_records(dir + "/absent").empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hllm::parallel
