// MpiRuntime: MPI_Init_thread on construction, MPI_Finalize on destruction (RAII), MPI_Abort for a
// failure that must take the whole job down. The only place that initialises MPI.
#pragma once

namespace hllm::launcher {

class MpiRuntime {
 public:
  // Requests MPI_THREAD_MULTIPLE (communication may be issued from autograd and loader threads);
  // `thread_multiple()` says whether the library granted it.
  MpiRuntime(int* argc, char*** argv);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  bool thread_multiple() const { return thread_multiple_; }

  // Ends every rank of the job with `exit_code` (mpirun reports it). Never returns.
  [[noreturn]] static void abort_job(int exit_code);

 private:
  bool thread_multiple_ = false;
};

}  // namespace hllm::launcher
