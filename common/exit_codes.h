// Exit codes of hllm_launch and the tools (documented in README.md "Exit codes"). Only mains use them.
#pragma once

namespace hllm {

enum ExitCode : int {
  kExitOk = 0,        // finished
  kExitFailure = 1,   // a rank failed at run time; the job was aborted (MPI_Abort) so no rank hangs
  kExitBadInput = 2,  // bad command line, config or input file; nothing was run
  kExitPreempted = 3,  // SIGTERM / SIGUSR1: a checkpoint was committed at a step boundary; resume with --resume auto
  kExitGuardStop = 4,  // a training guard tripped once more than train.guard.max_rollbacks allow (report.json says why)
};

}  // namespace hllm
