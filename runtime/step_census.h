// StepCensus: every rank's account of one optimizer step (RankStep), gathered onto every rank by one
// all-gather and kept in rank order, so that whatever is decided from it is decided alike everywhere —
// the training guards' verdict (runtime/training_guard.h) — and every rank sees every other's work and
// waiting — the balance of work across ranks (runtime/balance_meter.h).
#pragma once

#include <cstdint>
#include <vector>

#include "parallel/comm/communicator.h"
#include "runtime/step_result.h"

namespace hllm::runtime {

struct RankStep {
  double loss = 0;            // its micro-batches' mean loss (under pp, the pipeline's)
  int64_t samples = 0;        // real samples it read (under pp, the first stage reads)
  int64_t health_batches = 0; // micro-batches whose loss health it measured (under pp, the last stage)
  double filtered_sum = 0;    // of their filtered_share
  double item_cosine_sum = 0; // of their item_cosine
  bool non_finite = false;    // its gradients (agreed over the job already) or its loss
  double flops = 0;           // estimated training FLOPs of the samples it read (models/training_work.h)
  double seconds = 0;         // its step's compute, from the first forward to the gradients' norm
  double waited_seconds = 0;  // of those, blocked waiting for communication (parallel::seconds_waited)

  // This rank's part of `result` (FLOPs, times and waiting given apart).
  static RankStep of(const StepResult& result, double flops, double seconds, double waited_seconds);
};

// Every rank's RankStep, in rank order, on every rank. Collective over `world`.
std::vector<RankStep> gather_step_census(const RankStep& mine, parallel::Communicator& world);

}  // namespace hllm::runtime
