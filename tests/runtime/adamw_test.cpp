#include "runtime/adamw.h"

#include <gtest/gtest.h>
#include <torch/optim/adamw.h>

namespace hllm::runtime {
namespace {

TEST(AdamW, MatchesLibTorchAdamWWithTheSameGroups) {
  at::manual_seed(3);
  const at::Tensor w0 = at::randn({4, 3}), b0 = at::randn({3}), s0 = at::randn({});
  auto make = [&] {
    return std::vector<std::pair<std::string, at::Tensor>>{{"layer.weight", w0.clone().requires_grad_(true)},
                                                           {"layer.bias", b0.clone().requires_grad_(true)},
                                                           {"logit_scale", s0.clone().requires_grad_(true)}};
  };
  auto ours = make();
  auto theirs = make();
  AdamWOptions options;
  options.lr = 0.05;
  options.weight_decay = 0.1;
  AdamW adamw(ours, options);
  // LibTorch: decay on the matrix only, as our rule decides.
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<at::Tensor>{theirs[0].second},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(0.05).weight_decay(0.1)));
  groups.emplace_back(std::vector<at::Tensor>{theirs[1].second, theirs[2].second},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(0.05).weight_decay(0.0)));
  torch::optim::AdamW reference(groups, torch::optim::AdamWOptions(0.05));
  for (int step = 0; step < 5; ++step) {
    const at::Tensor x = at::randn({2, 4});
    for (auto* params : {&ours, &theirs}) {
      const auto& p = *params;
      ((at::matmul(x, p[0].second) + p[1].second).pow(2).sum() * p[2].second).backward();
    }
    adamw.step(0.05);
    reference.step();
    adamw.zero_grad();
    reference.zero_grad();
    for (size_t i = 0; i < ours.size(); ++i) {
      EXPECT_TRUE(at::allclose(ours[i].second, theirs[i].second, 1e-5, 1e-6)) << ours[i].first << " step " << step;
    }
  }
  EXPECT_EQ(adamw.steps(), 5);
}

TEST(AdamW, NoDecayRule) {
  EXPECT_TRUE(no_weight_decay("item.model.norm.weight", at::zeros({8})));
  EXPECT_TRUE(no_weight_decay("item.item_token", at::zeros({8})));
  EXPECT_TRUE(no_weight_decay("logit_scale", at::zeros({})));
  EXPECT_FALSE(no_weight_decay("item.model.layers.0.mlp.up_proj.weight", at::zeros({8, 4})));
  EXPECT_FALSE(no_weight_decay("item_table", at::zeros({8, 4})));  // SASRec's ID table is decayed
}

}  // namespace
}  // namespace hllm::runtime
