#include "launcher/mpi_runtime.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>

#include "common/error.h"

namespace hllm::launcher {

MpiRuntime::MpiRuntime(int* argc, char*** argv) {
  int provided = 0;
  const int rc = MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
  HLLM_CHECK(rc == MPI_SUCCESS, "MPI_Init_thread failed with code ", rc,
             ". HINT: start the job with mpirun/srun, or check the Open MPI installation (scripts/setup.sh)");
  thread_multiple_ = provided >= MPI_THREAD_MULTIPLE;
}

MpiRuntime::~MpiRuntime() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void MpiRuntime::abort_job(int exit_code) {
  std::fflush(stdout);
  std::fflush(stderr);
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

}  // namespace hllm::launcher
