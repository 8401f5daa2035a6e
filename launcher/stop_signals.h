// Preemption: SIGTERM (what Slurm and most schedulers send before killing a job) and SIGUSR1 (Slurm's
// --signal=USR1@120) set a flag that the trainer polls at every step boundary; all ranks agree, commit a
// checkpoint and exit with kExitPreempted. A second signal exits at once (128 + signal number), for a
// user who really wants the job gone.
#pragma once

#include <atomic>

namespace hllm::launcher {

// Installs the handlers; returns the flag they set (non-zero: the signal number).
const std::atomic<int>& install_stop_signals();

}  // namespace hllm::launcher
