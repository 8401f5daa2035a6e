// IncidentJournal: the guards' incidents over a whole run, across rollbacks and launches — what tripped at
// which step, what was done, the windows taken out (data/skipped_windows.h) and the learning-rate scale
// in force. A rollback restores a checkpoint written before the incident, so none of this may live only
// in checkpoints: rank 0 rewrites <checkpoint root>/incidents.json atomically at every incident, and a
// resumed run (--resume) continues it, keeping the skip list. A fresh run starts an empty one.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "data/skipped_windows.h"
#include "parallel/comm/communicator.h"
#include "runtime/training_guard.h"

namespace hllm::runtime {

enum class GuardAction { kRollBack, kSkipStep, kStop };
const char* action_name(GuardAction action);  // "rollback", "skip_step", "stop"

struct Incident {
  int64_t step = 0;
  Trip trip;
  GuardAction action = GuardAction::kStop;
  int64_t rolled_back_to = -1;  // the checkpoint's step (rollback)
  std::string checkpoint;       // its directory (rollback)
  std::vector<data::WindowAt> windows;  // the step's windows, skipped from now on
  double lr_scale = 1;          // in force after the incident
  nlohmann::json to_json() const;  // {"step", "guard", "metric", "value", "threshold", "action", ...}
};

class IncidentJournal {
 public:
  // `path`: the journal file; `writer`: this rank writes it (rank 0).
  IncidentJournal(std::string path, bool writer) : path_(std::move(path)), writer_(writer) {}

  // A resumed run reads the journal rank 0 finds (none: empty); a fresh one removes it. Collective.
  void start(bool resumed, parallel::Communicator& world);
  // Adds an incident: its windows join the skip list; the file is rewritten (writer).
  void record(const Incident& incident);
  void scale_lr(double factor) { lr_scale_ *= factor; }

  const std::vector<nlohmann::json>& incidents() const { return incidents_; }
  const data::SkippedWindows& skipped() const { return skipped_; }
  double lr_scale() const { return lr_scale_; }
  // True when an incident was recorded at `step` or later (an injected fault there is over).
  bool has_incident_from(int64_t step) const;
  // {"incidents": [...], "skip_windows": ["E:W", ...], "lr_scale": x}
  nlohmann::json to_json() const;

 private:
  void write() const;

  std::string path_;
  bool writer_;
  std::vector<nlohmann::json> incidents_;
  data::SkippedWindows skipped_;
  double lr_scale_ = 1;
};

}  // namespace hllm::runtime
