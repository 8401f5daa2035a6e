// LossHealth: the contrastive loss's health (models/info_nce.h's HealthField) summed over micro-batches,
// steps and ranks, as each log interval reports it in metrics.jsonl and the progress line (README
// "Training health"): the mean of every field over the micro-batches that predicted something, and the
// minimum of negatives_kept_min.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>

#include "models/info_nce.h"
#include "parallel/comm/communicator.h"

namespace hllm::runtime {

struct LossHealth {
  int64_t batches = 0;
  // Per HealthField: the sum over batches; for kNegativesKeptMin the minimum (meaningless while batches is 0).
  std::array<double, models::kHealthFields> values{};

  void add(const at::Tensor& health);  // one micro-batch's [kHealthFields] (read to the host)
  void add(const LossHealth& other);
  // Every rank's added (collective over `group`).
  LossHealth over(parallel::Communicator& group) const;
  double mean(int64_t field) const;  // the minimum for kNegativesKeptMin

  // {"negatives_kept": ..., ...}: the means; empty when no batch was added.
  nlohmann::json to_json() const;
  // "negatives 31.2 (min 28, filtered 0.4%) cos +0.41/-0.02 items 0.13 scale 14.3"; empty when no batch.
  std::string summary() const;

  // As a row of 1 + kHealthFields doubles (batches first), for checkpoints.
  at::Tensor to_row() const;
  static LossHealth from_row(const at::Tensor& row);
};

}  // namespace hllm::runtime
