// Gradient check: autograd's gradient of a scalar function against central finite differences, in
// float64, on tiny inputs.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace hllm::models::testing {

// `f` maps the inputs (float64, requires_grad) to a scalar. Checks every input's every element.
inline void expect_gradients_match(const std::function<at::Tensor(const std::vector<at::Tensor>&)>& f,
                                   std::vector<at::Tensor> inputs, const std::string& what, double tolerance = 1e-6) {
  for (auto& x : inputs) x = x.to(at::kDouble).detach().requires_grad_(true);
  f(inputs).backward();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const at::Tensor analytic = inputs[i].grad().clone();
    at::Tensor flat = inputs[i].detach().clone().view({-1});
    const double eps = 1e-6;
    for (int64_t j = 0; j < flat.numel(); ++j) {
      std::vector<at::Tensor> plus, minus;
      for (size_t k = 0; k < inputs.size(); ++k) {
        plus.push_back(inputs[k].detach().clone());
        minus.push_back(inputs[k].detach().clone());
      }
      plus[i].view({-1})[j] += eps;
      minus[i].view({-1})[j] -= eps;
      const double numeric = (f(plus).item<double>() - f(minus).item<double>()) / (2 * eps);
      EXPECT_NEAR(analytic.view({-1})[j].item<double>(), numeric, tolerance * std::max(1.0, std::abs(numeric)))
          << what << ": input " << i << " element " << j;
    }
  }
}

}  // namespace hllm::models::testing
