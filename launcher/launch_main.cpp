// hllm_launch: the job's entry point on every rank (mpirun -np N hllm_launch --config FILE).
// Owns the process: MPI start-up and shutdown, logging, thread count, and the exit code. Any exception
// on any rank is logged and ends the whole job (MPI_Abort), so no rank is left hanging in a collective.
#include <ATen/Parallel.h>
#include <gflags/gflags.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include "common/error.h"
#include "common/logging.h"
#include "common/exit_codes.h"
#include "checkpoint/checkpoint_reader.h"
#include "launcher/stop_signals.h"
#include "parallel/comm/broadcast_string.h"
#include "launcher/device_groups.h"
#include "launcher/launch_options.h"
#include "launcher/launch_plan.h"
#include "launcher/metrics_table.h"
#include "launcher/mpi_runtime.h"
#include "launcher/placement.h"
#include "runtime/trainer.h"
#include "runtime/host_caching_allocator.h"
#include "runtime/progress.h"
#include "parallel/comm/flight_recorder.h"
#include "parallel/comm/mpi_communicator.h"
#include "parallel/comm/recorded_communicator.h"

// Last: pip builds of LibTorch define LOG/CHECK macros of their own (c10/util/Logging.h without glog);
// glog's must be the definitions in force here.
#include <glog/logging.h>

namespace hllm::launcher {
namespace {

// The flight recorder's first size; the config's comm.flight_recorder_entries replaces it once read.
constexpr int64_t kStartupRecords = 256;

// From here on every rank rewrites <run_dir>/flight_recorder/rank_N.json (parallel/comm/flight_recorder.h).
void start_flight_recorder(parallel::FlightRecorder& recorder, const config::CommConfig& comm,
                           const std::string& run_dir) {
  const std::string dir = run_dir + "/flight_recorder";
  if (recorder.world_rank() == 0) {
    // A resumed run on fewer ranks must not leave the old ranks' files beside the new ones.
    std::set<std::string> current;
    for (int r = 0; r < recorder.world_size(); ++r) {
      current.insert(parallel::flight_record_file_name(r));
      current.insert(parallel::flight_record_file_name(r) + ".tmp");  // being written by its rank
    }
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
      if (!current.count(entry.path().filename().string())) std::filesystem::remove(entry.path(), error);
    }
  }
  // A heartbeat that beats less than four times per timeout could not tell a stopped rank from a live one.
  const double interval = comm.timeout_s > 0 ? std::min(comm.flight_recorder_interval_s, comm.timeout_s / 4)
                                             : comm.flight_recorder_interval_s;
  recorder.resize(comm.flight_recorder_entries);
  recorder.start_writing(dir, interval);
  parallel::install_flight_recorder(&recorder);
}

int run(const LaunchOptions& options, parallel::Communicator& mpi_world) {
  const parallel::Placement placement = detect_placement(mpi_world);
  // Every operation on the world and the groups split from it is recorded; files are written once the
  // trainer has made the run directory.
  const auto recorder = std::make_shared<parallel::FlightRecorder>(mpi_world.rank(), mpi_world.size(),
                                                                   placement.hostname, kStartupRecords);
  const auto recorded_world = parallel::record_world(mpi_world, recorder);
  parallel::Communicator& world = *recorded_world;
  LaunchPlan plan;
  try {
    plan = make_launch_plan(options, world, placement);
  } catch (const InputError& e) {
    // Every rank parsed the same broadcast text, so every rank is here: one report, a clean exit.
    if (world.rank() == 0) std::cerr << "hllm_launch: " << e.what() << std::endl;
    return kExitBadInput;
  }
  at::set_num_threads(plan.intra_op_threads);
  parallel::set_mpi_timeout_seconds(plan.config.comm.timeout_s);
  if (world.rank() == 0) std::cout << describe_plan(plan, options.dry_run) << std::flush;
  if (options.dry_run) {
    LOG(INFO) << "dry run: config and topology are valid; nothing was trained";
    return kExitOk;
  }
  std::unique_ptr<runtime::Trainer> trainer;
  try {
    if (!plan.dataset) throw InputError("data.path is not set: training needs a dataset (hllm_prepare writes one)");
    const std::string run_dir = plan.config.run.dir.empty() ? "runs/" + plan.config.name : plan.config.run.dir;
    use_device_communicators(*plan.topology, plan.config.comm.timeout_s);
    trainer = std::make_unique<runtime::Trainer>(plan.config, plan.batch, *plan.topology, *plan.dataset, run_dir);
    // Files from here, where the run directory exists: a refusal before it leaves nothing behind. The ring
    // holds the operations since start-up.
    if (plan.config.comm.flight_recorder_entries > 0) start_flight_recorder(*recorder, plan.config.comm, run_dir);
    const bool under_mpirun = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr;
    trainer->show_progress_bar(world.rank() == 0 &&
                              progress_bar_wanted(options.progress, runtime::ProgressBar::stdout_is_terminal(), under_mpirun));
    if (world.rank() == 0) std::cout << "run directory: " << run_dir << std::endl;
    trainer->stop_when(&install_stop_signals());
    // --resume: rank 0 picks the checkpoint (auto: the newest that verifies, saying which newer ones it
    // skipped) and every rank loads the same one.
    std::string resume, refused;
    if (world.rank() == 0 && options.resume == "auto") {
      std::vector<std::string> skipped;
      resume = checkpoint::latest_valid_checkpoint(trainer->checkpoint_root(), &skipped);
      for (const auto& why : skipped) LOG(WARNING) << "skipping a checkpoint that does not verify: " << why;
      std::cout << (resume.empty() ? "no committed checkpoint under " + trainer->checkpoint_root() + ": starting fresh"
                                   : "resuming from " + resume)
                << std::endl;
    } else if (world.rank() == 0 && options.resume != "none") {
      resume = options.resume;
      try {
        checkpoint::Checkpoint(resume).verify();  // refused, naming the file, before any rank loads it
      } catch (const InputError& e) {
        refused = e.what();
      }
    }
    // Every rank learns rank 0's choice, or its refusal (then all stop alike).
    const std::string decision = parallel::broadcast_string(world, refused.empty() ? "+" + resume : "-" + refused, 0);
    if (decision[0] == '-') throw InputError("--resume " + options.resume + ": " + decision.substr(1));
    resume = decision.substr(1);
    if (!resume.empty()) trainer->resume_from(resume);
  } catch (const InputError& e) {
    // Every rank has the same config and topology, so every rank refuses alike.
    if (world.rank() == 0) std::cerr << "hllm_launch: " << e.what() << std::endl;
    return kExitBadInput;
  }
  const runtime::TrainReport report = trainer->train();
  if (!report.stopped_by_guard.empty()) {
    if (world.rank() == 0) std::fprintf(stderr, "hllm_launch: stopped by a training guard: %s\n", report.stopped_by_guard.c_str());
    return kExitGuardStop;
  }
  if (report.preempted) {
    if (world.rank() == 0) std::printf("stopped at step %lld; checkpoint %s\n", static_cast<long long>(report.steps),
                                       report.last_checkpoint.c_str());
    return kExitPreempted;
  }
  if (world.rank() == 0) {
    std::printf("trained %lld steps in %.1f s (%.0f samples/s, %lld skipped)\n", static_cast<long long>(report.steps),
                report.seconds, report.samples_per_second, static_cast<long long>(report.skipped_steps));
    std::printf("%s\n", runtime::accounting_line(runtime::accounting_json(report)).c_str());
    if (!report.balance_summary.empty()) std::printf("%s\n", report.balance_summary.c_str());
    if (!report.evaluation_summary.empty()) std::printf("%s\n", report.evaluation_summary.c_str());
    std::fputs(metrics_table({{"valid", &report.valid},
                              {"test", &report.test},
                              {"test (popularity baseline)", &report.popularity_test}},
                             {10, 200})
                   .c_str(),
               stdout);
    if (!report.cold_items_note.empty()) std::printf("%s\n", report.cold_items_note.c_str());
  }
  return kExitOk;
}

}  // namespace
}  // namespace hllm::launcher

int main(int argc, char** argv) {
  // Before any tensor: freed memory is reused, not faulted in again, and bounded (runtime/host_caching_allocator.h).
  hllm::runtime::install_host_caching_allocator();
  using namespace hllm::launcher;
  using hllm::kExitOk;
  using hllm::kExitBadInput;
  using hllm::kExitFailure;
  using hllm::kExitPreempted;
  gflags::SetUsageMessage("mpirun -np N hllm_launch --config FILE [--set key.path=value ...] [--dry_run]");
  LaunchOptions options;
  try {
    options = parse_launch_options(&argc, &argv);
  } catch (const hllm::InputError& e) {
    std::cerr << "hllm_launch: " << e.what() << std::endl;
    return kExitBadInput;
  }
  if (options.help) {
    std::cout << launch_usage();
    return kExitOk;
  }

  int exit_code = kExitOk;
  try {
    MpiRuntime mpi(&argc, &argv);
    auto world = hllm::parallel::make_mpi_world_communicator();
    hllm::init_logging(argv[0], {world->rank(), world->size(), options.log_all_ranks});
    if (!mpi.thread_multiple()) LOG(WARNING) << "MPI granted less than MPI_THREAD_MULTIPLE";
    try {
      exit_code = run(options, *world);
    } catch (const std::exception& e) {
      LOG(ERROR) << e.what();
      LOG(ERROR) << "aborting the job (exit code " << kExitFailure << ")";
      MpiRuntime::abort_job(kExitFailure);
    }
    world.reset();  // communicators are freed before MPI_Finalize
  } catch (const std::exception& e) {
    std::cerr << "hllm_launch: " << e.what() << std::endl;
    MpiRuntime::abort_job(kExitFailure);
  }
  return exit_code;
}
