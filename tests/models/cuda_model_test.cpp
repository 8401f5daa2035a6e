// The model on a GPU gives the CPU's results: a decoder and the whole HLLM loss, forward and backward, in
// float32 (tolerance 1e-4 on values, 1e-3 on gradients: the kernels sum in other orders; TF32 is off) and
// in bfloat16 against the float32 CPU result (2e-2 on values; 0.2 on gradients: bf16 keeps 8 bits of
// mantissa, and the attention-projection gradients of a small random model, which pass through nearly
// uniform softmax scores, lose most; measured 0.12 at worst on an H100, against ~1 for a wrong kernel).
// Always compiled; each test skips, saying so, on a machine without a GPU (CI).
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include "models/hllm_model.h"
#include "models/presets.h"
#include "tests/models/hand_batch.h"

namespace hllm::models {
namespace {

#define SKIP_WITHOUT_GPU() \
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device on this machine"

const at::Device kGpu(at::kCUDA, 0);

double relative_error(const at::Tensor& value, const at::Tensor& reference) {
  const at::Tensor v = value.detach().to(at::kCPU, at::kDouble), r = reference.detach().to(at::kCPU, at::kDouble);
  return (v - r).norm().item<double>() / std::max(r.norm().item<double>(), 1e-30);
}

// Rows of different lengths (padded buckets, the masked kernel) and rows of one length (the causal
// fast path) in the same batch.
data::Batch mixed_batch() { return test_data::hand_batch(); }

struct LossAndGradients {
  at::Tensor loss;
  std::vector<std::pair<std::string, at::Tensor>> gradients;
};

LossAndGradients train_step(HllmModel& model, const data::Batch& batch) {
  const HllmOutput out = model.forward(batch);
  out.loss.backward();
  LossAndGradients result{out.loss.detach(), {}};
  for (const auto& [name, t] : model.named_parameters()) result.gradients.emplace_back(name, t.grad());
  return result;
}

void expect_close(const LossAndGradients& gpu, const LossAndGradients& cpu, double value_tol, double grad_tol) {
  EXPECT_LT(relative_error(gpu.loss, cpu.loss), value_tol) << "loss " << gpu.loss.item<double>() << " vs "
                                                           << cpu.loss.item<double>();
  ASSERT_EQ(gpu.gradients.size(), cpu.gradients.size());
  for (size_t i = 0; i < cpu.gradients.size(); ++i) {
    const auto& [name, reference] = cpu.gradients[i];
    ASSERT_TRUE(gpu.gradients[i].second.defined()) << name;
    EXPECT_TRUE(gpu.gradients[i].second.is_cuda()) << name;
    EXPECT_LT(relative_error(gpu.gradients[i].second, reference), grad_tol) << name;
  }
}

TEST(Cuda, DecoderHiddenStatesAndGradientsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  at::globalContext().setAllowTF32CuBLAS(false);
  LlamaDecoder cpu = LlamaDecoder::random(preset_config("debug", 64), 3);
  cpu.set_requires_grad(true);
  LlamaDecoder gpu = LlamaDecoder::random(preset_config("debug", 64), 3);
  gpu.to(kGpu, at::kFloat);
  gpu.set_requires_grad(true);
  const at::Tensor tokens = at::randint(1, 64, {3, 17}, at::kLong);
  const at::Tensor probe = at::randn({3, 17, cpu.config().hidden_size});
  const at::Tensor h_cpu = cpu.hidden(tokens), h_gpu = gpu.hidden(tokens.to(kGpu));
  EXPECT_TRUE(h_gpu.is_cuda());
  EXPECT_LT(relative_error(h_gpu, h_cpu), 1e-4);
  (h_cpu * probe).sum().backward();
  (h_gpu * probe.to(kGpu)).sum().backward();
  const auto a = cpu.named_parameters(), b = gpu.named_parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].second.grad().defined()) {  // the output head: hidden() does not reach it
      EXPECT_FALSE(b[i].second.grad().defined()) << a[i].first;
      continue;
    }
    EXPECT_LT(relative_error(b[i].second.grad(), a[i].second.grad()), 1e-3) << a[i].first;
  }
}

TEST(Cuda, HllmLossAndGradientsMatchTheCpuInFloat32) {
  SKIP_WITHOUT_GPU();
  at::globalContext().setAllowTF32CuBLAS(false);
  HllmModel cpu = HllmModel::from_presets("debug", "debug", 64, {1, 2, 3}, 11);
  HllmModel gpu = HllmModel::from_presets("debug", "debug", 64, {1, 2, 3}, 11);
  gpu.to(kGpu, at::kFloat);
  expect_close(train_step(gpu, mixed_batch()), train_step(cpu, mixed_batch()), 1e-4, 1e-3);
}

TEST(Cuda, HllmInBfloat16StaysNearTheFloat32Cpu) {
  SKIP_WITHOUT_GPU();
  HllmModel cpu = HllmModel::from_presets("debug", "debug", 64, {1, 2, 3}, 11);
  HllmModel gpu = HllmModel::from_presets("debug", "debug", 64, {1, 2, 3}, 11);
  gpu.to(kGpu, at::kBFloat16);
  EXPECT_EQ(gpu.item_llm().decoder().layers()[0].q_proj.scalar_type(), at::kBFloat16);
  expect_close(train_step(gpu, mixed_batch()), train_step(cpu, mixed_batch()), 2e-2, 0.2);
}

// Items of one length take the unmasked causal path (flash attention in bf16); the result must be what
// the masked path computes on the CPU.
TEST(Cuda, ItemsOfOneLengthTakeTheCausalPathWithTheSameEmbeddings) {
  SKIP_WITHOUT_GPU();
  at::globalContext().setAllowTF32CuBLAS(false);
  HllmModel cpu = HllmModel::from_presets("debug", "debug", 64, {1, 2}, 5);
  HllmModel gpu = HllmModel::from_presets("debug", "debug", 64, {1, 2}, 5);
  gpu.to(kGpu, at::kFloat);
  const at::Tensor offsets = at::arange(0, 5 * 6, 6, at::kLong);  // 4 items of 6 tokens
  const at::Tensor tokens = at::randint(1, 64, {4 * 6}, at::kLong);
  const ItemInputs in = gpu.item_llm().inputs(offsets.to(kGpu), tokens.to(kGpu));
  ASSERT_EQ(in.buckets.size(), 1u);
  EXPECT_FALSE(in.buckets[0].mask.defined()) << "no row is padded, so no mask";
  EXPECT_LT(relative_error(gpu.item_llm().forward(offsets.to(kGpu), tokens.to(kGpu)), cpu.item_llm().forward(offsets, tokens)),
            1e-4);
  gpu.to(kGpu, at::kBFloat16);
  EXPECT_LT(relative_error(gpu.item_llm().forward(offsets.to(kGpu), tokens.to(kGpu)), cpu.item_llm().forward(offsets, tokens)),
            2e-2);
}

}  // namespace
}  // namespace hllm::models
