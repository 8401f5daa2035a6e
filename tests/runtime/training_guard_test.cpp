// The training guards' verdicts on hand-made readings, their reading of every rank's step, the incident
// journal across a resume, and the faults debug.inject makes (runtime/training_guard.h,
// incident_journal.h, fault_injection.h).
#include "runtime/training_guard.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "common/error.h"
#include "parallel/comm/thread_communicator.h"
#include "runtime/balance_meter.h"
#include "runtime/fault_injection.h"
#include "runtime/incident_journal.h"

namespace hllm::runtime {
namespace {

GuardReading healthy(double loss) {
  GuardReading r;
  r.loss = loss;
  r.samples = 8;
  r.health_batches = 2;
  r.kept_share = 0.9;
  r.item_cosine = 0.3;
  return r;
}

config::GuardConfig guards() {
  config::GuardConfig g;
  g.spike_factor = 5;
  g.spike_window = 4;
  g.collapse_min_kept_share = 0.05;
  g.collapse_max_item_cosine = 0.995;
  g.collapse_steps = 3;
  return g;
}

TEST(TrainingGuard, NonFiniteTripsAtOnce) {
  const config::GuardConfig config = guards();
  TrainingGuard guard(config);
  GuardHistory history;
  GuardReading bad = healthy(std::numeric_limits<double>::quiet_NaN());
  bad.non_finite = true;
  EXPECT_EQ(guard.judge(bad, history).guard, Guard::kNonFinite);
  EXPECT_TRUE(history.losses.empty()) << "a tripped step is not remembered";
  EXPECT_EQ(guard.observed().at("non_finite_steps"), 1);
}

TEST(TrainingGuard, SpikeAgainstTheMedianOfAFullWindow) {
  const config::GuardConfig config = guards();
  TrainingGuard guard(config);
  GuardHistory history;
  EXPECT_FALSE(guard.judge(healthy(2), history));
  EXPECT_FALSE(guard.judge(healthy(100), history)) << "no verdict before spike_window steps";
  EXPECT_FALSE(guard.judge(healthy(1), history));
  EXPECT_FALSE(guard.judge(healthy(3), history));  // window {2, 100, 1, 3}: median 2.5, threshold 12.5
  const Trip trip = guard.judge(healthy(12.6), history);
  ASSERT_EQ(trip.guard, Guard::kSpike);
  EXPECT_EQ(trip.metric, "loss");
  EXPECT_DOUBLE_EQ(trip.value, 12.6);
  EXPECT_DOUBLE_EQ(trip.threshold, 12.5);
  EXPECT_NE(trip.describe().find("spike_factor"), std::string::npos) << trip.describe();
  EXPECT_FALSE(guard.judge(healthy(12.4), history)) << "below 5 x 2.5 passes, and enters the window";
  EXPECT_EQ(history.losses, (std::deque<double>{100, 1, 3, 12.4}));
  EXPECT_NEAR(guard.observed().at("max_spike_ratio").get<double>(), 12.6 / 2.5, 1e-12);
  config::GuardConfig off = config;
  off.spike_factor = 0;
  TrainingGuard no_spike(off);
  EXPECT_FALSE(no_spike.judge(healthy(1e9), history));
}

TEST(TrainingGuard, CollapseMustPersist) {
  const config::GuardConfig config = guards();
  TrainingGuard guard(config);
  GuardHistory history;
  GuardReading collapsed = healthy(1);
  collapsed.kept_share = 0.01;
  EXPECT_FALSE(guard.judge(collapsed, history));
  EXPECT_FALSE(guard.judge(collapsed, history));
  EXPECT_FALSE(guard.judge(healthy(1), history)) << "a healthy step ends the streak";
  EXPECT_EQ(history.collapsed_steps, 0);
  EXPECT_FALSE(guard.judge(collapsed, history));
  GuardReading empty;  // every window skipped: no verdict, the streak untouched
  EXPECT_FALSE(guard.judge(empty, history));
  EXPECT_FALSE(guard.judge(collapsed, history));
  const Trip trip = guard.judge(collapsed, history);
  ASSERT_EQ(trip.guard, Guard::kCollapse);
  EXPECT_EQ(trip.metric, "kept_share");
  EXPECT_DOUBLE_EQ(trip.threshold, 0.05);
  GuardReading alike = healthy(1);
  alike.item_cosine = 0.999;
  GuardHistory other;
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(guard.judge(alike, other));
  EXPECT_EQ(guard.judge(alike, other).metric, "item_cosine");
  config::GuardConfig off = config;
  off.collapse_min_kept_share = 0;
  off.collapse_max_item_cosine = 1;
  TrainingGuard none(off);
  GuardHistory third;
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(none.judge(collapsed, third));
  EXPECT_DOUBLE_EQ(none.observed().at("min_kept_share").get<double>(), 0.01);
}

TEST(TrainingGuard, HistoryRoundTripsThroughJson) {
  GuardHistory history;
  history.losses = {1.5, 2.25};
  history.collapsed_steps = 2;
  const GuardHistory back = GuardHistory::from_json(history.to_json());
  EXPECT_EQ(back.losses, history.losses);
  EXPECT_EQ(back.collapsed_steps, 2);
  EXPECT_TRUE(GuardHistory::from_json(nlohmann::json()).losses.empty());
}

// Every rank judges the same numbers: the ranks' losses averaged over those that read samples (under pp,
// the first stage), samples summed, the health over every micro-batch, a NaN anywhere seen everywhere.
TEST(GuardReading, EveryRankReadsTheSameStep) {
  std::vector<GuardReading> seen(3);
  parallel::run_thread_ranks(3, [&](parallel::Communicator& world) {
    StepResult result;
    const int r = world.rank();
    result.loss = r == 2 ? 0 : 1.0 + r;      // rank 2 read nothing
    result.samples = r == 2 ? 0 : 4;
    result.health.batches = r == 2 ? 0 : 1;
    result.health.values[models::kFilteredShare] = r == 2 ? 0 : 0.1 * (r + 1);
    result.health.values[models::kItemCosine] = r == 2 ? 0 : 0.5;
    result.skipped = false;
    seen[r] = GuardReading::of(gather_step_census(RankStep::of(result, 0, 0, 0), world));
  });
  for (const GuardReading& r : seen) {
    EXPECT_DOUBLE_EQ(r.loss, 1.5);
    EXPECT_EQ(r.samples, 8);
    EXPECT_EQ(r.health_batches, 2);
    EXPECT_DOUBLE_EQ(r.kept_share, 1 - 0.15);
    EXPECT_DOUBLE_EQ(r.item_cosine, 0.5);
    EXPECT_FALSE(r.non_finite);
  }
  parallel::run_thread_ranks(2, [&](parallel::Communicator& world) {
    StepResult result;
    result.samples = 4;
    result.loss = world.rank() == 1 ? std::nan("") : 1.0;
    EXPECT_TRUE(GuardReading::of(gather_step_census(RankStep::of(result, 0, 0, 0), world)).non_finite)
        << "rank " << world.rank();
  });
}

// The balance of work: per step the busiest rank's FLOPs against the mean over the ranks that read (a pp
// stage that reads nothing is left out), its mean, p90 and maximum over steps; each rank's waiting share.
TEST(BalanceMeter, RatiosPerStepAndWaitingPerRank) {
  BalanceMeter meter;
  const auto step = [](double a, double b, double waited_a) {
    RankStep x, y, idle;  // idle: a later pipeline stage, which reads no samples
    x.samples = y.samples = 4;
    x.flops = a;
    y.flops = b;
    x.seconds = y.seconds = idle.seconds = 1.0;
    x.waited_seconds = waited_a;
    idle.waited_seconds = 0.5;
    return std::vector<RankStep>{x, y, idle};
  };
  for (int i = 0; i < 9; ++i) meter.add(step(100, 100, 0.2));  // ratio 1
  meter.add(step(300, 100, 0.0));                              // ratio 1.5
  const nlohmann::json r = meter.report();
  EXPECT_EQ(r.at("steps"), 10);
  EXPECT_NEAR(r.at("step_flops_max_over_mean").at("mean").get<double>(), (9 * 1.0 + 1.5) / 10, 1e-12);
  EXPECT_NEAR(r.at("step_flops_max_over_mean").at("max").get<double>(), 1.5, 1e-12);
  EXPECT_NEAR(r.at("step_flops_max_over_mean").at("p90").get<double>(), 1.005, 1e-9) << "the 90th percentile bin's top";
  EXPECT_NEAR(r.at("flops_max_over_mean").get<double>(), 1200.0 / 1100.0, 1e-12);  // sums 1200 and 1000
  EXPECT_NEAR(r.at("wait_share_per_rank")[0].get<double>(), 0.18, 1e-12);
  EXPECT_NEAR(r.at("wait_share_per_rank")[2].get<double>(), 0.5, 1e-12);
  const BalanceMeter::Interval interval = meter.end_interval();
  EXPECT_TRUE(interval.measured);
  EXPECT_NEAR(interval.wait_share, (9 * 0.7 + 0.5) / 30, 1e-12);
  EXPECT_FALSE(meter.end_interval().measured) << "the interval restarts";
  BalanceMeter back;
  back.from_json(meter.to_json(), 3);
  EXPECT_EQ(back.report(), r);
  BalanceMeter other_layout;
  other_layout.from_json(meter.to_json(), 4);
  EXPECT_EQ(other_layout.report().at("steps"), 10);
  EXPECT_TRUE(other_layout.report().at("flops_per_rank").empty()) << "per-rank sums start again on another world";
  EXPECT_EQ(other_layout.summary().find("waited"), std::string::npos) << "no per-rank figures to show yet";
  EXPECT_NE(meter.summary().find("1.05x"), std::string::npos) << meter.summary();
}

TEST(IncidentJournal, AResumedRunContinuesItAFreshOneStartsEmpty) {
  const std::string dir = ::testing::TempDir() + "/incident_journal";
  std::filesystem::remove_all(dir);
  const std::string path = dir + "/incidents.json";
  parallel::run_thread_ranks(2, [&](parallel::Communicator& world) {
    IncidentJournal journal(path, world.rank() == 0);
    journal.start(/*resumed=*/false, world);
    Incident incident;
    incident.step = 7;
    incident.trip = {Guard::kSpike, "loss", 50, 10};
    incident.action = GuardAction::kRollBack;
    incident.rolled_back_to = 5;
    incident.windows = {{0, 3}, {0, 9}};
    journal.scale_lr(0.5);
    incident.lr_scale = journal.lr_scale();
    journal.record(incident);
    world.barrier()->wait();  // rank 0 has written it
  });
  parallel::run_thread_ranks(2, [&](parallel::Communicator& world) {
    IncidentJournal resumed(path, world.rank() == 0);
    resumed.start(/*resumed=*/true, world);
    EXPECT_TRUE(resumed.skipped().contains(0, 9));
    EXPECT_EQ(resumed.skipped().size(), 2);
    EXPECT_DOUBLE_EQ(resumed.lr_scale(), 0.5);
    ASSERT_EQ(resumed.incidents().size(), 1u);
    EXPECT_EQ(resumed.incidents()[0].at("action"), "rollback");
    EXPECT_EQ(resumed.incidents()[0].at("rolled_back_to"), 5);
    EXPECT_TRUE(resumed.has_incident_from(7));
    EXPECT_FALSE(resumed.has_incident_from(8));
  });
  parallel::run_thread_ranks(1, [&](parallel::Communicator& world) {
    IncidentJournal fresh(path, true);
    fresh.start(/*resumed=*/false, world);
    EXPECT_TRUE(fresh.incidents().empty());
    EXPECT_FALSE(std::filesystem::exists(path));
  });
  std::filesystem::create_directories(dir);
  std::ofstream(path) << "{\"incidents\": 3}";
  parallel::run_thread_ranks(1, [&](parallel::Communicator& world) {
    IncidentJournal broken(path, true);
    try {
      broken.start(/*resumed=*/true, world);
      FAIL() << "a broken journal was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  });
  std::filesystem::remove_all(dir);
}

TEST(FaultInjection, OnceAtItsStepAndOverAfterAnIncident) {
  config::DebugConfig debug;
  debug.inject = config::InjectedFault::kNan;
  debug.inject_step = 3;
  IncidentJournal journal("", false);
  const FaultInjection fault(debug, journal);
  EXPECT_EQ(fault.loss_factor(2), 1.0);
  EXPECT_TRUE(std::isnan(fault.loss_factor(3)));
  EXPECT_EQ(fault.loss_factor(4), 1.0);
  EXPECT_FALSE(fault.collapses(3));
  Incident incident;
  incident.step = 3;
  journal.record(incident);
  EXPECT_EQ(fault.loss_factor(3), 1.0) << "the replayed step after the rollback is clean";

  debug.inject = config::InjectedFault::kCollapse;
  IncidentJournal clean("", false);
  const FaultInjection collapse(debug, clean);
  EXPECT_FALSE(collapse.collapses(2));
  EXPECT_TRUE(collapse.collapses(3));
  EXPECT_TRUE(collapse.collapses(40)) << "a collapse lasts";
  EXPECT_EQ(collapse.loss_factor(3), 1.0);
  EXPECT_THROW(check_fault_step(debug, 3), InputError);
  EXPECT_NO_THROW(check_fault_step(debug, 4));
}

TEST(FaultInjection, ACollapsedBatchHoldsOneItem) {
  data::Batch batch;
  batch.rows = 1;
  batch.width = 3;
  batch.items = {0, 7, 9};
  batch.item_slots = {-1, 0, 2};
  batch.negatives = {4, 9};
  batch.negative_slots = {1, 2};
  batch.unique_items = {7, 4, 9};
  batch.token_offsets = {0, 3, 5, 6};
  batch.tokens = {11, 12, 13, 14, 15, 16};
  collapse_items(&batch);
  EXPECT_EQ(batch.items, (std::vector<int64_t>{0, 1, 1})) << "item 1 on every rank (ID models)";
  EXPECT_EQ(batch.item_slots, (std::vector<int64_t>{-1, 0, 0}));
  EXPECT_EQ(batch.negatives, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(batch.negative_slots, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(batch.token_offsets, (std::vector<int64_t>{0, 0, 0, 0})) << "every text empty (the Item LLM)";
  EXPECT_TRUE(batch.tokens.empty());
}

}  // namespace
}  // namespace hllm::runtime
