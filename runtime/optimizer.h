// Optimizer: what a training step asks of its optimizer, chosen once by the ZeRO stage —
// ReplicatedOptimizer (stage 0: every rank of the data-parallel group holds every tensor; gradients
// averaged in buckets) or ZeroOptimizer (stages 1-3: each rank its shards; gradients reduce-scattered by
// the BlockRunner) — so TrainingStep runs one sequence for both: the backwards, average_gradients(),
// clip, the finite check, step() or not, zero_grad().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/state.h"

namespace hllm::runtime {

struct MemoryReport;

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Before the backward that completes the step's gradients (the last micro-batch): averaging may
  // start during it.
  virtual void before_last_backward() {}
  // After each micro-batch's backward (bf16 at stage 0: gradients added into the float32 masters).
  virtual void after_backward() {}
  // After the step's last backward: the gradients are the data-parallel mean. Collective.
  virtual void average_gradients() {}
  // The global L2 norm of the gradients (over the data-parallel group's shards and the pipeline's
  // stages); scaled to max_norm when above it and max_norm > 0. Collective.
  virtual double clip_gradient_norm(double max_norm) = 0;
  // The model's towers (models::TowerSize names), set once: clip_gradient_norm() then also measures each
  // tower's norm (runtime/gradient_norm.h's tower_of), read by tower_gradient_norms(). Unset or one tower:
  // none.
  void set_towers(std::vector<std::string> towers) { towers_ = std::move(towers); }
  const std::vector<double>& tower_gradient_norms() const { return tower_norms_; }
  virtual bool gradients_finite() = 0;  // collective, like the norm
  // The gradient tensors the norm is measured over: this rank's whole gradients, or its shards.
  virtual std::vector<at::Tensor> gradients() = 0;
  virtual void step(double lr) = 0;
  virtual void zero_grad() = 0;
  virtual int64_t steps() const = 0;
  virtual void set_steps(int64_t steps) = 0;  // resuming: the bias corrections continue

  // This rank's state as pieces of global tensors (checkpoint/state.h): "param.<name>", "master.<name>"
  // (bf16), "adam.m.<name>", "adam.v.<name>". `for_loading`: the pieces a load fills (replicated: the
  // whole tensors; saving writes a 1/dp slice each).
  virtual std::vector<checkpoint::StatePiece> state_pieces(bool for_loading) = 0;
  // After the pieces were loaded (`masters_loaded`: the masters were read, else they come from the
  // parameters): every copy consistent again. Collective.
  virtual void after_load(bool masters_loaded) = 0;
  // After this rank's "param." pieces were written (the best model restored): the parameters whole
  // where this optimizer keeps them whole. Collective.
  virtual void after_parameters_restored() = 0;
  // Adds this rank's parameters, gradients and optimizer state (masters, moments) in bytes.
  virtual void count_model_states(MemoryReport* memory) const = 0;

 protected:
  std::vector<std::string> towers_;
  std::vector<double> tower_norms_;  // of the last clip_gradient_norm(); empty with fewer than two towers
};

}  // namespace hllm::runtime
