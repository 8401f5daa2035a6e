// RunMemory: every rank's peak memory over a run and per phase (start-up, training, evaluation, saving),
// beside its plan: the resident-set high-water mark (VmHWM, reset between phases), the most bytes its
// tensors held at once (CUDA's max allocated, or the host caching allocator's), and the resident set
// before the model was built (the process itself). Ending a phase also releases the host allocator's
// cache, so that one phase's cache is not the next one's peak.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/config/config_enums.h"
#include "parallel/comm/communicator.h"
#include "runtime/step_result.h"

namespace hllm::runtime {

// The phases of a run whose peaks are measured apart.
enum class Phase { kStartUp, kTraining, kEvaluation, kSaving };
// "start-up", "training", "evaluation", "saving": the phase's name in logs and report.json.
const char* phase_name(Phase phase);

// One entry per world rank (-1 tensors where nothing counts them).
struct PeakMemory {
  std::vector<double> peak_rss, baseline_rss, peak_tensors, planned;
  std::map<std::string, std::vector<double>> phase_rss, phase_tensors, phase_planned;
};

class RunMemory {
 public:
  // Starts the first phase: the peaks are reset and the resident set now is the process's baseline.
  explicit RunMemory(const c10::Device& device);

  // Ends a phase whose plan is `planned` bytes: records its peaks and starts the next one's.
  void end_phase(Phase phase, double planned);
  // Every rank's peaks (the whole run's, and each ended phase's) beside `planned_most`, its plan's largest
  // phase; gathered over `world`, whose rank 0 logs them. Collective.
  PeakMemory gather(parallel::Communicator& world, double planned_most) const;

 private:
  c10::Device device_;
  int64_t baseline_rss_ = 0;
  struct PhasePeak {
    std::string phase;
    int64_t resident = 0;
    int64_t tensors = 0;
    double planned = 0;
  };
  std::vector<PhasePeak> phases_;  // in the order they ended
};

// Logs a rank's model states and activations as measured in the first step.
void log_model_states(const MemoryReport& memory, int zero_stage, config::RecomputePolicy checkpointing);

}  // namespace hllm::runtime
