// hllm_launch: the job's entry point on every rank (mpirun -np N hllm_launch --config FILE).
// Owns the process: MPI start-up and shutdown, logging, thread count, and the exit code. Any exception
// on any rank is logged and ends the whole job (MPI_Abort), so no rank is left hanging in a collective.
#include <ATen/Parallel.h>
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <iostream>
#include <memory>

#include "common/error.h"
#include "common/logging.h"
#include "common/exit_codes.h"
#include "launcher/launch_options.h"
#include "launcher/launch_plan.h"
#include "launcher/mpi_runtime.h"
#include "launcher/placement.h"
#include "parallel/comm/mpi_communicator.h"

namespace hllm::launcher {
namespace {

int run(const LaunchOptions& options, parallel::Communicator& world) {
  const parallel::Placement placement = detect_placement(world);
  LaunchPlan plan;
  try {
    plan = make_launch_plan(options, world, placement);
  } catch (const InputError& e) {
    // Every rank parsed the same broadcast text, so every rank is here: one report, a clean exit.
    if (world.rank() == 0) std::cerr << "hllm_launch: " << e.what() << std::endl;
    return kExitBadInput;
  }
  at::set_num_threads(plan.intra_op_threads);
  if (world.rank() == 0) std::cout << describe_plan(plan) << std::flush;
  if (options.dry_run) {
    LOG(INFO) << "dry run: config and topology are valid; nothing was trained";
    return kExitOk;
  }
  if (world.rank() == 0) {
    std::cerr << "hllm_launch: this build has no training engine yet; run with --dry_run to check a config "
                 "and topology"
              << std::endl;
  }
  return kExitBadInput;
}

}  // namespace
}  // namespace hllm::launcher

int main(int argc, char** argv) {
  using namespace hllm::launcher;
  using hllm::kExitOk;
  using hllm::kExitBadInput;
  using hllm::kExitFailure;
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
