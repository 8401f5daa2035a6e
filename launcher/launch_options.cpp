#include "launcher/launch_options.h"

#include <gflags/gflags.h>

#include <sstream>

#include "common/closest_match.h"
#include "common/error.h"

DEFINE_string(config, "", "Path of the JSON run configuration (see configs/README.md).");
DEFINE_string(set, "", "Override one config key: --set zero_optimization.stage=3. Repeatable; applied in order.");
DEFINE_bool(dry_run, false, "Validate the config, build the topology, print the plan, and exit without training.");
DEFINE_bool(log_all_ranks, false, "Log INFO on every rank (default: rank 0 only; other ranks log warnings and errors).");
DEFINE_string(progress, "auto",
              "Rank 0's progress display: bar (a live line), lines (plain lines only), or auto (bar on a terminal "
              "when not under mpirun, which gives ranks a terminal even when the output goes to a file).");

DEFINE_string(resume, "none",
              "auto: continue from the newest committed checkpoint that verifies under checkpoint.dir (start fresh "
              "when there is none); a checkpoint directory: continue from it; none: start fresh.");

namespace hllm::launcher {
namespace {

const char* const kOwnFlags[] = {"config", "set", "dry_run", "log_all_ranks", "progress", "resume", "help"};

// "--name=value", "--name value", "-name": returns name, or "" for a positional argument.
std::string flag_name(const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-') return "";
  const size_t start = arg[1] == '-' ? 2 : 1;
  return arg.substr(start, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - start);
}

bool is_known_flag(const std::string& name) {
  for (const char* own : kOwnFlags) {
    if (name == own || name == std::string("no") + own) return true;
  }
  return false;
}

}  // namespace

std::string launch_usage() {
  std::ostringstream out;
  out << "Usage: mpirun -np N hllm_launch --config FILE [--set key.path=value ...] [--dry_run]\n\n"
      << "Trains HLLM (Item LLM + User LLM) with the configuration FILE; see README.md and configs/README.md.\n\n"
      << "Flags:\n";
  for (const char* own : kOwnFlags) {
    gflags::CommandLineFlagInfo info;
    if (std::string(own) == "help") continue;  // gflags' own; described below
    if (!gflags::GetCommandLineFlagInfo(own, &info)) continue;
    out << "  --" << info.name << (info.type == "bool" ? "" : "=" + info.type) << "\n      " << info.description;
    if (info.type != "bool" && !info.default_value.empty()) out << " (default: " << info.default_value << ")";
    out << "\n";
  }
  out << "  --help\n      Print this text and exit.\n\n"
      << "Exit codes: 0 finished, 1 a rank failed (the job is aborted), 2 bad command line or config, 3 stopped by\n"
      << "SIGTERM or SIGUSR1 after committing a checkpoint (resume with --resume auto).\n";
  return out.str();
}

LaunchOptions parse_launch_options(int* argc, char*** argv) {
  LaunchOptions options;
  // --set is repeatable, which gflags does not support: take every occurrence out of argv first.
  std::vector<char*> kept{(*argv)[0]};
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = (*argv)[i];
    const std::string name = flag_name(arg);
    if (name == "set") {
      const auto eq = arg.find('=');
      if (eq != std::string::npos) {
        options.overrides.push_back(arg.substr(eq + 1));
      } else {
        if (i + 1 >= *argc) throw InputError("--set needs a value: --set key.path=value");
        options.overrides.push_back((*argv)[++i]);
      }
      continue;
    }
    if (name == "help" || name == "h" || name == "helpfull") {
      options.help = true;
      continue;
    }
    if (!name.empty() && !is_known_flag(name)) {
      std::vector<std::string> known(std::begin(kOwnFlags), std::end(kOwnFlags));
      const std::string suggestion = closest_match(name, known);
      throw InputError("unknown flag '" + arg + "'" + (suggestion.empty() ? "" : "; did you mean '--" + suggestion + "'?") +
                       " (hllm_launch --help lists the flags)");
    }
    kept.push_back((*argv)[i]);
  }
  for (size_t i = 0; i < kept.size(); ++i) (*argv)[i] = kept[i];
  *argc = static_cast<int>(kept.size());
  (*argv)[*argc] = nullptr;

  gflags::ParseCommandLineNonHelpFlags(argc, argv, /*remove_flags=*/true);
  if (*argc > 1 && !options.help) {
    throw InputError(std::string("unexpected argument '") + (*argv)[1] + "' (hllm_launch --help lists the flags)");
  }
  options.config_path = FLAGS_config;
  options.dry_run = FLAGS_dry_run;
  options.log_all_ranks = FLAGS_log_all_ranks;
  options.progress = FLAGS_progress;
  options.resume = FLAGS_resume;
  if (options.progress != "auto" && options.progress != "bar" && options.progress != "lines") {
    throw InputError("--progress=" + options.progress + ": expected auto, bar or lines");
  }
  for (const auto& item : options.overrides) {
    if (item.find('=') == std::string::npos || item.front() == '=') {
      throw InputError("--set " + item + ": expected key.path=value");
    }
  }
  if (!options.help && options.config_path.empty()) {
    throw InputError("--config is required: hllm_launch --config configs/demo.json (hllm_launch --help)");
  }
  return options;
}

bool progress_bar_wanted(const std::string& progress, bool stdout_is_terminal, bool under_mpirun) {
  if (progress == "bar") return true;
  if (progress == "lines") return false;
  return stdout_is_terminal && !under_mpirun;
}

}  // namespace hllm::launcher
