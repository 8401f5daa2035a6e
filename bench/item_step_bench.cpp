// item_step_bench: one training step (forward + backward) of the Item LLM on packed items of one length,
// as the engine runs it (ItemLlm::forward: prompt + text + [ITEM], one bucket, the [ITEM] state out).
// Prints tokens/s and model FLOP utilisation, MFU = 6 · P · tokens / time / peak, where P counts the
// parameters that matrix products touch (every parameter but the token table, which is a gather). The
// optimizer step is not part of it (bench/reference/item_llm_step.py times the same step in PyTorch
// eager; bench/gpu_item_step.sh runs both in one command).
//
//   build/bin/item_step_bench [--preset 1b] [--items 16] [--text_tokens 256] [--dtype bf16] [--device cuda]
//                             [--find_max_items] [--recompute]
//
// --recompute runs the Item LLM as the engine's blocks (models/hllm_blocks.h: embedding, layers, final
// norm) with every decoder layer checkpointed (parallel/recompute.h), in buckets of 16 items as training
// does, to find how much larger a micro-batch fits when only each layer's input is kept.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#ifdef HLLM_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

#include "models/hllm_blocks.h"
#include "models/hllm_model.h"
#include "models/hllm_towers.h"
#include "models/presets.h"
#include "parallel/recompute.h"

DEFINE_string(preset, "1b", "Item LLM preset (models/presets.h).");
DEFINE_int32(items, 16, "Items per micro-batch.");
DEFINE_int32(text_tokens, 256, "Text tokens per item (every item has this many; [ITEM] adds one).");
DEFINE_int32(vocab, 32000, "Vocabulary size.");
DEFINE_string(dtype, "bf16", "Parameter and activation type: bf16 or fp32.");
DEFINE_string(device, "cuda", "cuda or cpu.");
DEFINE_int32(steps, 20, "Timed steps (after 3 warm-up steps); the median is reported.");
DEFINE_double(peak_tflops, 989.0, "Peak dense TFLOP/s of the device in --dtype (H100 SXM bf16: 989).");
DEFINE_bool(find_max_items, false, "Also find the largest --items that fits in device memory (doubling).");
DEFINE_bool(recompute, false, "Checkpoint every decoder layer (the engine's blocks, buckets of 16 items).");
DEFINE_int32(threads, 0, "CPU intra-op threads; 0 = LibTorch's default.");

namespace hllm::bench {
namespace {

using Clock = std::chrono::steady_clock;

void synchronize(const at::Device& device) {
#ifdef HLLM_WITH_CUDA
  if (device.is_cuda()) c10::cuda::device_synchronize();
#else
  (void)device;
#endif
}

struct StepSetup {
  at::Tensor offsets, tokens, probe;
};

StepSetup make_items(int64_t items, const models::ItemLlm& model, const at::Device& device) {
  const int64_t L = FLAGS_text_tokens;
  StepSetup s;
  // Token ids stay on the host, as the loader delivers them (ItemLlm builds its buckets there).
  s.offsets = at::arange(0, (items + 1) * L, L, at::kLong);
  s.tokens = at::randint(1, FLAGS_vocab, {items * L}, at::kLong);
  s.probe = at::randn({items, model.decoder().config().hidden_size}).to(device);
  return s;
}

// With --recompute: the Item LLM's blocks of an HLLM model (whose User LLM is not run).
models::Blocks item_blocks;

void step(const models::ItemLlm& model, const StepSetup& s) {
  at::Tensor embeddings;
  if (item_blocks.empty()) {
    embeddings = model.forward(s.offsets, s.tokens, /*items_per_bucket=*/s.offsets.size(0));
  } else {
    models::Activations a{{"token_offsets", s.offsets}, {"tokens", s.tokens}};
    for (const auto& block : item_blocks) {
      if (block->name().rfind("item_layer.", 0) == 0) {
        parallel::recomputed_forward(*block, a, {});
      } else {
        block->forward(a);
      }
    }
    embeddings = a.at("item_embeddings");
  }
  (embeddings.to(at::kFloat) * s.probe).sum().backward();
  for (const auto& [name, t] : model.named_parameters()) t.mutable_grad().reset();  // set_to_none
}

double median_step_seconds(const models::ItemLlm& model, const StepSetup& s, const at::Device& device) {
  for (int i = 0; i < 3; ++i) step(model, s);
  synchronize(device);
  std::vector<double> times;
  for (int i = 0; i < FLAGS_steps; ++i) {
    const auto start = Clock::now();
    step(model, s);
    synchronize(device);
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

bool out_of_memory(const c10::Error& e) { return std::string(e.what()).find("out of memory") != std::string::npos; }

int run() {
  if (FLAGS_threads > 0) at::set_num_threads(FLAGS_threads);
  const at::Device device(FLAGS_device);
  const at::ScalarType dtype = FLAGS_dtype == "bf16" ? at::kBFloat16 : at::kFloat;
  models::LlamaDecoder decoder = models::LlamaDecoder::random(models::preset_config(FLAGS_preset, FLAGS_vocab), 1);
  // The HLLM model around it only lends its blocks; its User LLM (one layer of the same width) never runs.
  models::LlamaConfig user_config = models::preset_config(FLAGS_preset, FLAGS_vocab);
  user_config.num_hidden_layers = 1;
  models::HllmModel hllm(models::ItemLlm(std::move(decoder), {}, 2),
                         models::UserLlm(models::LlamaDecoder::random(user_config, 3)));
  hllm.to(device, dtype);
  const models::ItemLlm& model = hllm.item_llm();
  for (const auto& [name, t] : model.named_parameters()) t.requires_grad_(true);
  if (FLAGS_recompute) {
    for (auto& block : models::hllm_blocks(hllm)) {
      const bool item = block->name().rfind("item_", 0) == 0;
      if (item) item_blocks.push_back(std::move(block));
    }
  }

  int64_t matrix_parameters = 0;
  for (const auto& [name, t] : model.named_parameters()) {
    if (name != "model.embed_tokens.weight") matrix_parameters += t.numel();
  }
  const int64_t tokens_per_item = FLAGS_text_tokens + 1;
  const StepSetup setup = make_items(FLAGS_items, model, device);
  const double seconds = median_step_seconds(model, setup, device);
  const double tokens = static_cast<double>(FLAGS_items) * tokens_per_item;
  const double mfu = 6.0 * matrix_parameters * tokens / seconds / (FLAGS_peak_tflops * 1e12);
  std::printf("engine%s  preset %s  %s  %s  items %d x %lld tokens  P %.3fB  step %.2f ms  %.0f tokens/s  MFU %.3f\n",
              FLAGS_recompute ? " (recompute)" : "", FLAGS_preset.c_str(), FLAGS_device.c_str(), FLAGS_dtype.c_str(), FLAGS_items,
              static_cast<long long>(tokens_per_item), matrix_parameters / 1e9, seconds * 1e3, tokens / seconds, mfu);
  std::fflush(stdout);

  if (FLAGS_find_max_items) {
    int64_t fits = FLAGS_items;
    for (int64_t items = FLAGS_items * 2;; items *= 2) {
      try {
        const StepSetup bigger = make_items(items, model, device);
        step(model, bigger);
        synchronize(device);
        fits = items;
      } catch (const c10::Error& e) {
        if (!out_of_memory(e)) throw;
        for (const auto& [name, t] : model.named_parameters()) t.mutable_grad().reset();
#ifdef HLLM_WITH_CUDA
        c10::cuda::CUDACachingAllocator::emptyCache();
#endif
        std::printf("engine  largest micro-batch that fits: %lld items (%lld out of memory), %s\n",
                    static_cast<long long>(fits), static_cast<long long>(items),
                    FLAGS_recompute ? "every layer recomputed" : "no activation checkpointing");
        break;
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) {
  gflags::SetUsageMessage("one Item LLM training step: tokens/s and MFU");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  return hllm::bench::run();
}
