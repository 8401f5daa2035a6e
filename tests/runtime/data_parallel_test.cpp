// Data parallel on thread ranks equals one process: two ranks each training on half of every batch, with
// gradients averaged, reach the parameters that one process reaches on the mean of the two halves' losses.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <mutex>

#include "models/sasrec_model.h"
#include "parallel/comm/thread_communicator.h"
#include "runtime/adamw.h"
#include "runtime/gradient_norm.h"
#include "runtime/gradient_sync.h"

namespace hllm::runtime {
namespace {

// Half `h` (0 or 1) of step `s`'s batch: two rows of five items, negatives shared.
data::Batch half_batch(int step, int h) {
  data::Batch b;
  b.rows = 2;
  b.width = 5;
  b.real_samples = 2;
  for (int r = 0; r < 2; ++r) {
    for (int p = 0; p < 5; ++p) {
      const int64_t item = 1 + (step * 7 + h * 11 + r * 5 + p * 3) % 30;
      b.items.push_back(p == 0 && r == 1 ? 0 : item);  // one left-padded row
      b.mask.push_back(p == 0 && r == 1 ? 0 : 1);
    }
  }
  b.negatives = {2, 9, 17, 25};
  return b;
}

models::SasRecModel make_model() {
  models::SasRecConfig config;
  config.num_items = 30;
  config.hidden_size = 16;
  config.num_layers = 2;
  config.num_heads = 2;
  config.max_positions = 8;
  return models::SasRecModel(config, 5);
}

TEST(DataParallel, TwoRanksOnHalvesEqualOneProcessOnTheMean) {
  const int steps = 4;
  AdamWOptions options;
  options.lr = 0.01;
  // Some gradients are zero up to rounding (the attention's key bias cancels in the softmax); Adam divides
  // by sqrt(v) + eps, so with a tiny eps it turns that rounding noise into full-size steps whose sign
  // depends on summation order. A larger eps keeps the comparison about data parallelism.
  options.eps = 1e-3;

  // One process: loss = mean of the two halves.
  const auto single = make_model();
  AdamW single_adamw(single.named_parameters(), options);
  for (int s = 0; s < steps; ++s) {
    const at::Tensor loss = (single.forward(half_batch(s, 0)).loss + single.forward(half_batch(s, 1)).loss) / 2;
    loss.backward();
    clip_gradient_norm(single.named_parameters(), 1.0);
    single_adamw.step(options.lr);
    single_adamw.zero_grad();
  }

  // Two thread ranks, one half each, gradients averaged in small buckets: after the backward, and with
  // the reductions started during it (overlap) — the same arithmetic, so the same bits.
  std::vector<at::Tensor> after_backward;
  for (const bool overlap : {false, true}) {
    std::vector<std::vector<at::Tensor>> finals(2);
    parallel::run_thread_ranks(2, [&](parallel::Communicator& dp) {
      const auto model = make_model();
      AdamW adamw(model.named_parameters(), options);
      GradientAverager averager(dp, model.named_parameters(), /*bucket_bytes=*/4096, overlap);
      EXPECT_GT(averager.buckets(), 1u);
      for (int s = 0; s < steps; ++s) {
        averager.arm();
        model.forward(half_batch(s, dp.rank())).loss.backward();
        averager.average();
        if (overlap) {
          EXPECT_GT(averager.buckets_started_early(), 0u) << "no bucket started during the backward";
        } else {
          EXPECT_EQ(averager.buckets_started_early(), 0u);
        }
        EXPECT_TRUE(gradients_finite(model.named_parameters()));
        clip_gradient_norm(model.named_parameters(), 1.0);
        adamw.step(options.lr);
        adamw.zero_grad();
      }
      for (const auto& [name, t] : model.named_parameters()) finals[dp.rank()].push_back(t.detach().clone());
    });

    const auto reference = single.named_parameters();
    for (size_t i = 0; i < reference.size(); ++i) {
      EXPECT_TRUE(at::equal(finals[0][i], finals[1][i])) << "ranks diverged on " << reference[i].first;
      EXPECT_TRUE(at::allclose(finals[0][i], reference[i].second.detach(), 1e-4, 1e-6)) << reference[i].first;
      if (overlap) {
        EXPECT_TRUE(at::equal(finals[0][i], after_backward[i])) << "overlap changed " << reference[i].first;
      }
    }
    if (!overlap) after_backward = finals[0];
  }
}

// Gradient accumulation as the engine does it (each micro-batch's loss / accumulation, backward, one
// optimizer step) equals one step on the mean loss of the same micro-batches: 4 x 1 == 1 x 4, to float32
// rounding (as the two-rank test: 1e-4 relative, 1e-6 absolute after 3 steps; the sums are only ordered
// differently, and Adam divides by small second moments).
TEST(DataParallel, FourAccumulatedMicroBatchesEqualOneStepOnTheirMean) {
  AdamWOptions options;
  options.lr = 0.01;
  options.eps = 1e-3;  // as above: keeps rounding noise in near-zero gradients from deciding the step
  const auto accumulated = make_model();
  const auto whole = make_model();
  AdamW accumulated_adamw(accumulated.named_parameters(), options), whole_adamw(whole.named_parameters(), options);
  for (int s = 0; s < 3; ++s) {
    for (int micro = 0; micro < 4; ++micro) (accumulated.forward(half_batch(4 * s + micro, micro % 2)).loss / 4.0).backward();
    at::Tensor mean = whole.forward(half_batch(4 * s, 0)).loss;
    for (int micro = 1; micro < 4; ++micro) mean = mean + whole.forward(half_batch(4 * s + micro, micro % 2)).loss;
    (mean / 4.0).backward();
    for (auto* pair : {&accumulated_adamw, &whole_adamw}) {
      pair->step(options.lr);
      pair->zero_grad();
    }
  }
  const auto a = accumulated.named_parameters(), b = whole.named_parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::allclose(a[i].second, b[i].second, 1e-4, 1e-6)) << a[i].first;
}

// Gradient accumulation with overlap: only the armed (last) backward starts reductions, and what is reduced
// is the accumulated gradient; a parameter the backward never reaches still takes part (as zeros).
TEST(DataParallel, OverlapReducesOnlyTheArmedBackwardAndCoversUnusedParameters) {
  parallel::run_thread_ranks(2, [&](parallel::Communicator& dp) {
    at::Tensor used = at::full({3}, 1.0).requires_grad_(true);
    at::Tensor unused = at::zeros({2}).requires_grad_(true);
    GradientAverager averager(dp, {{"used", used}, {"unused", unused}}, /*bucket_bytes=*/8, /*overlap=*/true);
    ASSERT_EQ(averager.buckets(), 2u);
    const double r = dp.rank() + 1;  // rank 0: 1, rank 1: 2
    (used * r).sum().backward();       // micro-step 1: not armed, nothing starts
    averager.arm();
    (used * (10 * r)).sum().backward();  // micro-step 2: gradient now 11 r
    averager.average();
    EXPECT_TRUE(at::allclose(used.grad(), at::full({3}, 16.5)));  // mean of 11 and 22
    EXPECT_TRUE(at::equal(unused.grad(), at::zeros({2})));
  });
}

TEST(GradientSync, ClippingAndFiniteCheck) {
  at::Tensor a = at::zeros({2}).requires_grad_(true), b = at::zeros({1}).requires_grad_(true);
  a.mutable_grad() = at::tensor(std::vector<float>{3, 0});
  b.mutable_grad() = at::tensor(std::vector<float>{4});
  const NamedTensors params = {{"a", a}, {"b", b}};
  EXPECT_NEAR(clip_gradient_norm(params, 1.0), 5.0, 1e-6);
  EXPECT_NEAR(std::sqrt(a.grad().pow(2).sum().item<float>() + b.grad().pow(2).sum().item<float>()), 1.0, 1e-5);
  EXPECT_TRUE(gradients_finite(params));
  b.mutable_grad()[0] = std::nanf("");
  EXPECT_FALSE(gradients_finite(params));
}

// Per tower: the norms of each group's gradients in the same reductions as the total, before clipping;
// over ZeRO-like shards on two ranks (each holds half of each gradient) and over a pipeline of one.
TEST(GradientSync, NormsPerTowerOverShards) {
  EXPECT_EQ(tower_of("item.model.layers.0.mlp.up_proj.weight", {"item", "user"}), 0);
  EXPECT_EQ(tower_of("user.model.norm.weight", {"item", "user"}), 1);
  EXPECT_EQ(tower_of("logit_scale", {"item", "user"}), 1) << "the last tower takes the rest";
  EXPECT_EQ(tower_of("itemized", {"item", "user"}), 1) << "a prefix is a whole name part";
  std::vector<std::vector<double>> seen(2);
  std::vector<double> totals(2);
  parallel::run_thread_ranks(2, [&](parallel::Communicator& shards) {
    // Rank r's halves: group 0 holds (3, 4) in all, group 1 (12) and (0, 5).
    const bool first = shards.rank() == 0;
    std::vector<at::Tensor> grads = {at::tensor(std::vector<float>{first ? 3.f : 4.f}),
                                     at::tensor(std::vector<float>{first ? 12.f : 0.f}),
                                     at::tensor(std::vector<float>{first ? 0.f : 5.f})};
    const std::vector<int> group = {0, 1, 1};
    std::vector<double> norms(2);
    totals[shards.rank()] = clip_gradients(grads, 1.0, &shards, nullptr, &group, &norms);
    seen[shards.rank()] = norms;
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_NEAR(seen[r][0], 5.0, 1e-9);
    EXPECT_NEAR(seen[r][1], 13.0, 1e-9);
    EXPECT_NEAR(totals[r], std::sqrt(25.0 + 169.0), 1e-9) << "the total is the towers' norms together";
  }
}

}  // namespace
}  // namespace hllm::runtime
