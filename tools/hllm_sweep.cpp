// hllm_sweep --config BASE.json --ladder LADDER.json --out DIR [--mode local|sbatch|list]: a scaling
// experiment as one command. Writes one config per ladder point (tools/sweep_ladder.h), then
//   local   trains the points one after the other on this machine (--mpirun, --np ranks each, every run with
//           --resume auto): a point with a report.json is done and skipped, an interrupted one resumes from
//           its newest checkpoint. SIGINT / SIGTERM to hllm_sweep reach the running point as SIGUSR1 (the
//           ranks commit a checkpoint and stop; exit 3); running the same command again goes on. At the end
//           hllm_plot --sweep DIR writes the table and the scaling plots.
//   sbatch  writes DIR/sweep.sbatch, a Slurm array job with one task per point, each resumable and
//           requeued at its time limit as launcher/slurm/hllm.sbatch; `bash DIR/sweep.sbatch --dry-run`
//           lists each task's command.
//   list    writes the configs and prints each point's command, running nothing.
#include <gflags/gflags.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "checkpoint/committed_steps.h"
#include "common/error.h"
#include "common/exit_codes.h"
#include "common/tool_main.h"
#include "tools/sweep_ladder.h"

DEFINE_string(config, "", "Base config (JSON): every point starts from it.");
DEFINE_string(ladder, "", "Ladder (JSON): {\"points\": [{\"name\": ..., \"set\": {key: value, ...}}, ...]}.");
DEFINE_string(out, "", "Sweep directory: configs/, runs/, logs/, sweep.json, the table and plots.");
DEFINE_string(mode, "local", "local (train the points here, one after the other), sbatch (write a Slurm array "
                             "script) or list (print the commands).");
DEFINE_int32(np, 1, "local: ranks per point.");
DEFINE_string(mpirun, "mpirun", "local: the MPI launcher command, with its own flags (e.g. \"mpirun --oversubscribe\").");
DEFINE_int32(nodes, 1, "sbatch: nodes per point.");
DEFINE_int32(ntasks_per_node, 8, "sbatch: ranks (GPUs) per node.");
DEFINE_string(time, "24:00:00", "sbatch: time limit of each task (a point longer than that is requeued and resumes).");
DEFINE_string(sbatch_options, "", "sbatch: more #SBATCH options, space-separated (e.g. \"--partition=gpu --account=x\").");

namespace {
namespace fs = std::filesystem;
using hllm::tools::SweepPoint;

volatile sig_atomic_t running_child = 0;
volatile sig_atomic_t stop_requested = 0;

// SIGINT / SIGTERM: the running point checkpoints and stops (mpirun forwards SIGUSR1 to its ranks).
void forward_stop(int) {
  stop_requested = 1;
  if (running_child > 0) kill(running_child, SIGUSR1);
}

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string launch_command(const std::string& bin, const SweepPoint& point) {
  return bin + "/hllm_launch --config " + quoted(point.config_path) + " --resume auto";
}

// Runs `command` through /bin/sh in its own process group (a terminal's Ctrl-C reaches only hllm_sweep,
// which forwards it as SIGUSR1); returns its exit code.
int run_child(const std::string& command) {
  const pid_t pid = fork();
  if (pid < 0) throw hllm::Error("hllm_sweep: fork failed");
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  running_child = pid;
  if (stop_requested) kill(pid, SIGUSR1);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw hllm::Error("hllm_sweep: waitpid failed");
  }
  running_child = 0;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

int run_locally(const std::vector<SweepPoint>& points, const std::string& bin) {
  const fs::path out = fs::absolute(FLAGS_out);
  fs::create_directories(out / "logs");
  struct sigaction action {};
  action.sa_handler = forward_stop;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const std::string mpirun = FLAGS_mpirun + " -np " + std::to_string(FLAGS_np) + " ";
  for (size_t i = 0; i < points.size(); ++i) {
    const SweepPoint& point = points[i];
    const std::string log = (out / "logs" / (point.name + ".log")).string();
    std::printf("[%zu/%zu] %s: ", i + 1, points.size(), point.name.c_str());
    if (fs::exists(point.run_dir + "/report.json")) {
      std::printf("done (%s/report.json)\n", point.run_dir.c_str());
      continue;
    }
    const bool resuming = !hllm::checkpoint::committed_steps(point.run_dir + "/checkpoints").empty();
    std::printf("training%s; log %s\n", resuming ? ", resuming from its newest checkpoint" : "", log.c_str());
    std::fflush(stdout);
    const int rc = run_child(mpirun + launch_command(bin, point) + " >> " + quoted(log) + " 2>&1");
    if (rc == hllm::kExitPreempted || stop_requested) {
      std::printf("stopped: %s committed a checkpoint; run the same command again to go on\n", point.name.c_str());
      return hllm::kExitPreempted;
    }
    if (rc != 0) {
      std::fprintf(stderr, "hllm_sweep: point %s failed (exit %d); its log: %s\n", point.name.c_str(), rc, log.c_str());
      return rc == hllm::kExitBadInput ? hllm::kExitBadInput : hllm::kExitFailure;
    }
    // The run's own last line: its metrics and accounting are in its report.json.
  }
  std::printf("all %zu points trained; collecting: %s/hllm_plot --sweep %s\n", points.size(), bin.c_str(),
              out.string().c_str());
  std::fflush(stdout);
  return run_child(bin + "/hllm_plot --sweep " + quoted(out.string())) == 0 ? hllm::kExitOk : hllm::kExitFailure;
}

void write_sbatch(const std::vector<SweepPoint>& points, const std::string& bin) {
  const fs::path out = fs::absolute(FLAGS_out);
  fs::create_directories(out / "logs");
  const fs::path path = out / "sweep.sbatch";
  std::ofstream s(path);
  s << "#!/bin/bash\n"
    << "# A scaling sweep as a Slurm array job, written by hllm_sweep (" << points.size() << " points, one task each):\n"
    << "#   sbatch " << path.string() << "\n"
    << "# Each task trains its point with --resume auto (a finished point exits at once). Two minutes before\n"
    << "# the time limit Slurm sends SIGUSR1: the ranks commit a checkpoint and exit 3, and the task requeues\n"
    << "# itself; a node failure requeues it too. When every task is done: hllm_plot --sweep " << out.string() << "\n"
    << "#   bash " << path.string() << " --dry-run    lists each task's command without running anything.\n"
    << "#SBATCH --job-name=hllm-sweep\n"
    << "#SBATCH --array=0-" << points.size() - 1 << "\n"
    << "#SBATCH --nodes=" << FLAGS_nodes << "\n"
    << "#SBATCH --ntasks-per-node=" << FLAGS_ntasks_per_node << "\n"
    << "#SBATCH --gpus-per-node=" << FLAGS_ntasks_per_node << "\n"
    << "#SBATCH --time=" << FLAGS_time << "\n"
    << "#SBATCH --signal=B:USR1@120\n"
    << "#SBATCH --requeue\n"
    << "#SBATCH --open-mode=append\n"
    << "#SBATCH --output=" << (out / "logs" / "slurm-%A_%a.out").string() << "\n";
  std::string extra = FLAGS_sbatch_options;
  for (size_t start = 0; start < extra.size();) {
    const size_t end = extra.find(' ', start);
    const std::string option = extra.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!option.empty()) s << "#SBATCH " << option << "\n";
    if (end == std::string::npos) break;
    start = end + 1;
  }
  s << "\nset -u\nbin=${HLLM_BIN:-" << quoted(bin) << "}\nnames=(";
  for (const auto& point : points) s << " " << quoted(point.name);
  s << " )\nconfigs=(";
  for (const auto& point : points) s << " " << quoted(point.config_path);
  s << " )\nruns=(";
  for (const auto& point : points) s << " " << quoted(point.run_dir);
  s << " )\n"
    << "launch() {  # launch TASK: its point's training, one rank per GPU (rank i of a node on GPU i)\n"
    << "  mpirun --map-by ppr:\"${SLURM_NTASKS_PER_NODE:-" << FLAGS_ntasks_per_node << "}\":node --bind-to none \\\n"
    << "    \"$bin/hllm_launch\" --config \"${configs[$1]}\" --resume auto\n"
    << "}\n"
    << "if [ \"${1:-}\" = \"--dry-run\" ]; then\n"
    << "  for task in \"${!names[@]}\"; do\n"
    << "    state=pending; [ -f \"${runs[$task]}/report.json\" ] && state=done\n"
    << "    echo \"task $task (${names[$task]}, $state): mpirun --map-by ppr:${SLURM_NTASKS_PER_NODE:-"
    << FLAGS_ntasks_per_node << "}:node --bind-to none $bin/hllm_launch --config ${configs[$task]} --resume auto\"\n"
    << "  done\n  exit 0\nfi\n"
    << "task=${SLURM_ARRAY_TASK_ID:?run under sbatch (or with --dry-run)}\n"
    << "if [ -f \"${runs[$task]}/report.json\" ]; then echo \"${names[$task]}: already trained\"; exit 0; fi\n"
    << "launch \"$task\" &\n"
    << "job=$!\n"
    << "trap 'kill -USR1 \"$job\"' USR1  # mpirun forwards SIGUSR1 to the ranks\n"
    << "wait \"$job\"; rc=$?\n"
    << "while kill -0 \"$job\" 2> /dev/null; do wait \"$job\"; rc=$?; done\n"
    << "if [ \"$rc\" -eq 3 ]; then\n"
    << "  echo \"${names[$task]}: preempted with a committed checkpoint: requeueing\"\n"
    << "  scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n"
    << "fi\n"
    << "exit \"$rc\"\n";
  s.close();
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
  std::printf("wrote %s (%zu array tasks); submit with: sbatch %s\n", path.string().c_str(), points.size(),
              path.string().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("hllm_sweep --config BASE.json --ladder LADDER.json --out DIR [--mode local|sbatch|list]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (argc > 1) {
    std::cerr << "hllm_sweep: unexpected argument '" << argv[1] << "' (see --help)\n";
    return hllm::kExitBadInput;
  }
  return hllm::guarded_tool_main("hllm_sweep", [&]() -> int {
    if (FLAGS_config.empty() || FLAGS_ladder.empty() || FLAGS_out.empty()) {
      throw hllm::InputError("--config, --ladder and --out are required (see --help)");
    }
    if (FLAGS_mode != "local" && FLAGS_mode != "sbatch" && FLAGS_mode != "list") {
      throw hllm::InputError("--mode must be local, sbatch or list, got '" + FLAGS_mode + "'");
    }
    if (FLAGS_np < 1 || FLAGS_nodes < 1 || FLAGS_ntasks_per_node < 1) {
      throw hllm::InputError("--np, --nodes and --ntasks_per_node must be at least 1");
    }
    const std::vector<SweepPoint> points = hllm::tools::plan_sweep(FLAGS_config, FLAGS_ladder, FLAGS_out);
    const std::string bin = fs::canonical("/proc/self/exe").parent_path().string();
    hllm::tools::write_sweep(points, FLAGS_out);
    if (FLAGS_mode == "list") {
      for (const auto& point : points) {
        std::printf("%s: %s -np %d %s\n", point.name.c_str(), FLAGS_mpirun.c_str(), FLAGS_np,
                    launch_command(bin, point).c_str());
      }
      return hllm::kExitOk;
    }
    if (FLAGS_mode == "sbatch") {
      write_sbatch(points, bin);
      return hllm::kExitOk;
    }
    return run_locally(points, bin);
  });
}
