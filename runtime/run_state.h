// RunState: what a training run carries from step to step besides the model, the optimizer and the
// loader — skipped steps and the NaN streak, the guards' history, the balance of work over ranks, the open log interval, the best validation so far and its
// parameters, the run's totals of work and time — and how it goes into a checkpoint and comes back (Stateful), so a resumed run continues
// bit for bit.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/state.h"
#include "checkpoint/stateful.h"
#include "parallel/topology.h"
#include "runtime/balance_meter.h"
#include "runtime/training_guard.h"
#include "runtime/training_totals.h"

namespace hllm::runtime {

// The steps since the last progress line: sums of this rank's losses, gradient norms, samples and tokens.
struct LogInterval {
  bool logged = false;    // a line has been logged; first_loss holds its loss
  double first_loss = 0;
  double loss = 0, grad_norm = 0;
  int64_t steps = 0, samples = 0, tokens = 0;
  LossHealth health;      // this rank's
  std::vector<double> tower_grad_norms;  // sums over the steps, per tower (the same on every rank)
  void clear() { *this = {logged, first_loss}; }
};

// The best validation so far (valid NDCG@200) and this rank's share of the parameters then: copies of
// TrainingStep::parameter_pieces() (a ZeRO shard, or a 1/dp slice of replicated parameters) in host
// memory, never a whole model per rank.
struct BestModel {
  int64_t step = 0;  // 0: no validation during training yet
  std::map<std::string, double> valid;
  std::vector<checkpoint::StatePiece> parameters;
};

class RunState : public checkpoint::Stateful {
 public:
  // `best_layout`: this rank's share of the parameters as pieces (TrainingStep::parameter_pieces()), the
  // layout a resumed best model is read into.
  RunState(const parallel::Topology& topology, std::function<std::vector<checkpoint::StatePiece>()> best_layout)
      : topology_(topology), best_layout_(std::move(best_layout)) {}

  int64_t skipped_steps = 0;
  int nan_in_a_row = 0;
  LogInterval log;
  BestModel best;
  TrainingTotals totals;  // the whole run's work and time, over every segment
  GuardHistory guard;     // what the training guards judge the next step against
  BalanceMeter balance;   // how evenly the steps' work fell on the ranks

  // Into a checkpoint's content: the scalars; this rank's row of the interval's sums ("log.rank_sums",
  // [world, 3]); this rank's pieces of the best parameters ("best.<name>").
  const char* state_name() const override { return "run"; }
  void save_state(std::vector<checkpoint::StatePiece>* pieces, nlohmann::json* scalars) override;
  // Back from one written by any layout: the interval's sums are this rank's row on the same world size,
  // the mean row otherwise; the best parameters in best_layout's pieces, on the host.
  void load_state(const checkpoint::Checkpoint& from, const nlohmann::json& scalars) override;

 private:
  const parallel::Topology& topology_;
  std::function<std::vector<checkpoint::StatePiece>()> best_layout_;
};

}  // namespace hllm::runtime
