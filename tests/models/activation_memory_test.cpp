// The plan's activation bytes of a decoder layer (models/model_plan.h, what hllm_plan and the engine's
// memory plan count) against what autograd really keeps: the layer runs forward with the host caching
// allocator counting every tensor byte (its own binary: the allocator becomes the process's), and the
// bytes still held after the forward — the graph's saved tensors — are compared with the formula, for
// float32 and bfloat16, full and grouped-query attention, with and without a padding mask. And
// activation checkpointing lowers what a layer keeps to its input, with the same gradients.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>

#include "models/llama_decoder.h"
#include "models/llama_ops.h"
#include "models/model_plan.h"
#include "parallel/recompute.h"
#include "runtime/host_caching_allocator.h"

namespace hllm::models {
namespace {

struct Case {
  at::ScalarType dtype;
  int64_t kv_heads;
  bool mask;
  int64_t tokens = 40;  // 160: attention's T x T would be as large as all the rest, were it kept
  int64_t rows_per_call = 0;  // the rows one call of the layer runs (the Item LLM's buckets); 0: all
};

// One decoder layer, D 256 with 8 heads, F 688.
LlamaConfig one_layer_config(int64_t kv_heads) {
  LlamaConfig config;
  config.vocab_size = 64, config.hidden_size = 256, config.intermediate_size = 688, config.num_hidden_layers = 1;
  config.num_attention_heads = 8, config.num_key_value_heads = kv_heads;
  return config;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return std::string(c.dtype == at::kFloat ? "float32" : "bfloat16") + "_kv" + std::to_string(c.kv_heads) +
         (c.mask ? "_padding_mask" : "_causal") + "_T" + std::to_string(c.tokens) +
         (c.rows_per_call > 0 ? "_calls_of_" + std::to_string(c.rows_per_call) : "");
}

class DecoderLayerActivations : public ::testing::TestWithParam<Case> {};

TEST_P(DecoderLayerActivations, PlanCountsWhatAutogradKeeps) {
  ASSERT_TRUE(runtime::install_host_caching_allocator());
  const Case c = GetParam();
  const LlamaConfig config = one_layer_config(c.kv_heads);
  const int64_t rows = 12, T = c.tokens, value_bytes = c.dtype == at::kBFloat16 ? 2 : 4;
  LlamaDecoder decoder = LlamaDecoder::random(config, 1, c.dtype);
  decoder.set_requires_grad(true);  // as in training: the products keep their inputs for the weights' gradients
  const RopeTables rope = rope_for(at::arange(T), config);
  const at::Tensor mask = c.mask ? causal_mask(T, at::kCPU).expand({rows, 1, T, T}).contiguous() : at::Tensor();
  const at::Tensor x = at::randn({rows, T, config.hidden_size}).to(c.dtype).requires_grad_();

  runtime::release_cached_host_memory();
  const int64_t before = runtime::host_memory_stats().allocated_bytes;
  const at::Tensor y = decoder_layer_forward(decoder.layers()[0], config, 0, x, mask, rope);
  const int64_t kept = runtime::host_memory_stats().allocated_bytes - before - y.nbytes();
  // The layer's input is kept as its own first norm's input, allocated before the forward.
  const int64_t input_kept = static_cast<int64_t>(x.nbytes());

  const BlockCost cost = decoder_layer_cost(config, static_cast<double>(rows), static_cast<double>(T), value_bytes,
                                             /*fused_ops=*/true);
  const double planned = static_cast<double>(cost.activation_bytes - input_kept);
  // Blocks of 1 MiB and more are counted at their size class (at most 1/8 above); the plan counts the
  // mask as [rows, T, T] also where the layer makes one causal [T, T].
  EXPECT_GE(static_cast<double>(kept), 0.97 * planned) << "kept " << kept << " bytes, planned " << planned;
  EXPECT_LE(static_cast<double>(kept), 1.10 * planned) << "kept " << kept << " bytes, planned " << planned;

  // The backward still runs on what was kept.
  y.sum().backward();
  EXPECT_TRUE(x.grad().defined());
}

INSTANTIATE_TEST_SUITE_P(Layouts, DecoderLayerActivations,
                         ::testing::Values(Case{at::kFloat, 8, false}, Case{at::kFloat, 8, true},
                                           Case{at::kFloat, 2, true}, Case{at::kBFloat16, 8, true},
                                           Case{at::kBFloat16, 2, false}, Case{at::kFloat, 8, true, 160}),
                         case_name);

// Without autograd (evaluation: the catalogue's chunks through the Item LLM), the most a decoder layer holds
// at once beside its input is what the plan counts as its inference bytes: the peak of the host allocator's
// count over the forward under NoGradGuard, its input and output aside.
class DecoderLayerInference : public ::testing::TestWithParam<Case> {};

TEST_P(DecoderLayerInference, PlanBoundsTheNoGradPeak) {
  ASSERT_TRUE(runtime::install_host_caching_allocator());
  const Case c = GetParam();
  const LlamaConfig config = one_layer_config(c.kv_heads);
  const int64_t rows = 12, T = c.tokens, value_bytes = c.dtype == at::kBFloat16 ? 2 : 4;
  const int64_t per_call = c.rows_per_call > 0 ? c.rows_per_call : rows;
  const LlamaDecoder decoder = LlamaDecoder::random(config, 1, c.dtype);
  const RopeTables rope = rope_for(at::arange(T), config);
  // The rows in calls of per_call, each with its own input and mask, as the Item LLM's buckets are run.
  std::vector<at::Tensor> inputs, masks;
  for (int64_t first = 0; first < rows; first += per_call) {
    inputs.push_back(at::randn({per_call, T, config.hidden_size}).to(c.dtype));
    masks.push_back(c.mask ? causal_mask(T, at::kCPU).expand({per_call, 1, T, T}).contiguous() : at::Tensor());
  }

  c10::NoGradGuard no_grad;
  runtime::release_cached_host_memory();
  runtime::reset_host_memory_peaks();
  const int64_t before = runtime::host_memory_stats().allocated_bytes;
  for (size_t b = 0; b < inputs.size(); ++b) {
    inputs[b] = decoder_layer_forward(decoder.layers()[0], config, 0, inputs[b], masks[b], rope);  // replaces its input
  }
  const int64_t peak = runtime::host_memory_stats().peak_allocated_bytes - before;

  const BlockCost cost = decoder_layer_cost(config, static_cast<double>(rows), static_cast<double>(T), value_bytes,
                                             /*fused_ops=*/true, static_cast<double>(c.rows_per_call));
  // The plan counts every row's input and the mask [rows, T, T], both held before the forward.
  const double planned = static_cast<double>(cost.inference_bytes - rows * T * config.hidden_size * value_bytes - rows * T * T);
  // Blocks of 1 MiB and more are counted at their size class (at most 1/8 above).
  EXPECT_GE(static_cast<double>(peak), 0.97 * planned) << "peak " << peak << " bytes, planned " << planned;
  EXPECT_LE(static_cast<double>(peak), 1.15 * planned) << "peak " << peak << " bytes, planned " << planned;
}

INSTANTIATE_TEST_SUITE_P(Layouts, DecoderLayerInference,
                         ::testing::Values(Case{at::kFloat, 8, false}, Case{at::kFloat, 8, true},
                                           Case{at::kFloat, 2, true}, Case{at::kBFloat16, 8, true},
                                           Case{at::kBFloat16, 2, false}, Case{at::kFloat, 8, true, 160},
                                           Case{at::kFloat, 2, false, 8}, Case{at::kFloat, 8, true, 40, 4},
                                           Case{at::kBFloat16, 2, true, 40, 3}),
                         case_name);

// A decoder layer as a block: x -> the layer's output.
class LayerBlock : public Block {
 public:
  LayerBlock(const LlamaDecoder& decoder, const RopeTables& rope) : decoder_(decoder), rope_(rope) {}
  const std::string& name() const override { return name_; }
  std::vector<std::pair<std::string, at::Tensor>> parameters() const override {  // the layer's
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& named : decoder_.named_parameters()) {
      if (named.first.find("layers.0.") != std::string::npos) out.push_back(named);
    }
    return out;
  }
  BlockCost cost(const ModelShapes&) const override { return {}; }
  void forward(Activations& a) const override {
    a["x"] = decoder_layer_forward(decoder_.layers()[0], decoder_.config(), 0, a.at("x"), at::Tensor(), rope_);
  }

 private:
  std::string name_ = "layer";
  const LlamaDecoder& decoder_;
  const RopeTables& rope_;
};

TEST(Recompute, KeepsOnlyTheLayersInputWithTheSameGradients) {
  ASSERT_TRUE(runtime::install_host_caching_allocator());
  const LlamaConfig config = one_layer_config(8);
  LlamaDecoder decoder = LlamaDecoder::random(config, 1, at::kFloat);
  decoder.set_requires_grad(true);
  const RopeTables rope = rope_for(at::arange(40), config);
  const LayerBlock block(decoder, rope);
  const at::Tensor input = at::randn({12, 40, config.hidden_size});
  struct Run {
    int64_t kept = 0;
    at::Tensor input_grad;
    std::vector<at::Tensor> weight_grads;
  };
  const auto run = [&](bool recompute) {
    Run out;
    const at::Tensor x = input.clone().requires_grad_();
    Activations a{{"x", x}};
    runtime::release_cached_host_memory();
    const int64_t before = runtime::host_memory_stats().allocated_bytes;
    if (recompute) {
      parallel::recomputed_forward(block, a, {});
    } else {
      block.forward(a);
    }
    out.kept = runtime::host_memory_stats().allocated_bytes - before - static_cast<int64_t>(a.at("x").nbytes());
    a.at("x").sum().backward();
    out.input_grad = x.grad();
    for (const auto& [name, w] : decoder.named_parameters()) {  // the layer's (not the token table's)
      if (!w.grad().defined()) continue;
      out.weight_grads.push_back(w.grad().clone());
      w.mutable_grad().reset();
    }
    return out;
  };
  const Run stored = run(false), recomputed = run(true);
  // Stored: every tensor autograd saves (the plan's ~14 D per token and more); recomputed: nothing beyond
  // the block's input, which its caller holds anyway.
  EXPECT_GT(stored.kept, 10 * input.nbytes());
  EXPECT_LE(recomputed.kept, static_cast<int64_t>(input.nbytes() / 8)) << "stored " << stored.kept;
  EXPECT_TRUE(at::allclose(recomputed.input_grad, stored.input_grad, 1e-5, 1e-6));
  ASSERT_EQ(recomputed.weight_grads.size(), stored.weight_grads.size());
  EXPECT_GE(stored.weight_grads.size(), 9u);  // two norms, four attention and three MLP matrices
  for (size_t i = 0; i < stored.weight_grads.size(); ++i) {
    EXPECT_TRUE(at::allclose(recomputed.weight_grads[i], stored.weight_grads[i], 1e-5, 1e-6)) << "weight " << i;
  }
}

}  // namespace
}  // namespace hllm::models
