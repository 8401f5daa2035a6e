// FaultInjection: debug.inject's fault, for tests of the training guards (runtime/training_guard.h). Each
// enters where a real fault would and is caught by the same code:
//   nan       the step's loss and gradients become NaN (TrainingStep::compute's loss_factor);
//   spike     the step's loss and gradients are multiplied by kSpikeFactor;
//   collapse  every item of the step's batches, on every rank, becomes the same item (positives and
//             negatives: item 1 for the ID models, an empty text for the Item LLM), so the loss's own
//             same-item filter removes every negative and the items' cosine is 1: what a collapsed Item LLM
//             produces. It lasts from its step on.
// A fault happens once: when an incident has been recorded at its step or later (the journal, kept across
// rollbacks and resumes), it is over.
#pragma once

#include <cstdint>

#include "common/config/config.h"
#include "data/batch.h"
#include "runtime/incident_journal.h"

namespace hllm::runtime {

class FaultInjection {
 public:
  static constexpr double kSpikeFactor = 1000;

  FaultInjection(const config::DebugConfig& debug, const IncidentJournal& journal) : debug_(debug), journal_(journal) {}

  // The factor on step `step`'s loss and gradients: NaN (nan), kSpikeFactor (spike), else 1.
  double loss_factor(int64_t step) const;
  // Whether step `step`'s batches are collapsed (collapse_items).
  bool collapses(int64_t step) const;

 private:
  bool due(config::InjectedFault fault, int64_t step) const;

  const config::DebugConfig& debug_;
  const IncidentJournal& journal_;
};

// Throws InputError when debug.inject is set at a step the run of `run_steps` steps never reaches.
void check_fault_step(const config::DebugConfig& debug, int64_t run_steps);

// Every item of `batch` made one item, the same on every rank: positions and negatives (what the loss reads).
void collapse_items(data::Batch* batch);

}  // namespace hllm::runtime
