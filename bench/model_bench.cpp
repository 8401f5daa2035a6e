// model_bench: forward + backward time of the Item LLM's block stack for the debug and tiny presets,
// its achieved FLOP/s beside the FLOP/s of plain matrix products of the same shapes (at::mm), measured in
// the same run.
//
//   build/bin/model_bench [--items 64] [--text_tokens 32] [--presets debug,tiny] [--threads 0]
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <ATen/Parallel.h>
#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "bench/seconds_per_call.h"
#include "models/hllm_blocks.h"
#include "models/presets.h"

DEFINE_int32(items, 64, "Distinct items per micro-batch (U).");
DEFINE_int32(text_tokens, 32, "Text tokens per item (demo: data.max_text_len).");
DEFINE_int32(prompt_tokens, 8, "Prompt tokens.");
DEFINE_string(presets, "debug,tiny", "Item LLM presets to time.");
DEFINE_int32(threads, 0, "LibTorch intra-op threads; 0 = LibTorch's default.");
DEFINE_double(seconds, 2.0, "Time per measurement.");

namespace hllm::bench {
namespace {


// The benchmark's own time per measurement.
template <typename Fn>
double seconds_per_call(Fn fn) {
  return bench::seconds_per_call(fn, FLAGS_seconds);
}

void run_preset(const std::string& preset) {
  const int64_t vocab = 1000;
  std::vector<int64_t> prompt(FLAGS_prompt_tokens);
  for (int i = 0; i < FLAGS_prompt_tokens; ++i) prompt[i] = 10 + i;
  const auto model = models::HllmModel::from_presets(preset, preset, vocab, prompt, 1);
  const models::Blocks blocks = models::hllm_blocks(model);
  const int64_t U = FLAGS_items, L = FLAGS_text_tokens;
  std::vector<int64_t> offsets(U + 1), tokens(U * L);
  for (int64_t u = 0; u <= U; ++u) offsets[u] = u * L;
  for (int64_t i = 0; i < U * L; ++i) tokens[i] = 1 + (i * 7919) % (vocab - 1);
  models::Activations inputs = {{"token_offsets", at::tensor(offsets, at::kLong)}, {"tokens", at::tensor(tokens, at::kLong)}};

  // The Item LLM's blocks: embedding, layers, output.
  size_t end = 0;
  while (end < blocks.size() && blocks[end]->name() != "user_input") ++end;
  const auto step = [&] {
    models::Activations a = inputs;
    models::run_blocks(blocks, a, 0, end);
    a.at("item_embeddings").sum().backward();
    for (const auto& [name, t] : model.named_parameters()) {
      if (t.grad().defined()) t.mutable_grad().zero_();
    }
  };
  const double step_seconds = seconds_per_call(step);
  models::ModelShapes shapes;
  shapes.items = U;
  shapes.item_tokens = FLAGS_prompt_tokens + L + 1;
  double flops = 0;
  for (size_t i = 0; i < end; ++i) flops += blocks[i]->cost(shapes).forward_flops;
  flops *= 3;  // forward + backward (about twice the forward)

  // The same layer's matrix shapes as plain products: [n, D] x [D, F] and [n, D] x [D, D].
  const auto& config = model.item_llm().decoder().config();
  const int64_t n = U * shapes.item_tokens, D = config.hidden_size, F = config.intermediate_size;
  const at::Tensor a = at::randn({n, D}), wf = at::randn({D, F}), wd = at::randn({D, D});
  const double mm_seconds = seconds_per_call([&] {
    at::mm(a, wf);
    at::mm(a, wd);
  });
  const double mm_flops = 2.0 * n * D * F + 2.0 * n * D * D;
  const double achieved = flops / step_seconds, peak = mm_flops / mm_seconds;
  std::printf("%-6s %4lld items x %3lld tokens  D %4lld  layers %2lld  step %9.2f ms  %8.2f GFLOP/s  "
              "at::mm %8.2f GFLOP/s  ratio %.3f\n",
              preset.c_str(), static_cast<long long>(U), static_cast<long long>(shapes.item_tokens),
              static_cast<long long>(D), static_cast<long long>(config.num_hidden_layers), step_seconds * 1e3,
              achieved / 1e9, peak / 1e9, achieved / peak);
}

// Packed items of different lengths, three ways, forward only: one batch padded to the longest item,
// length buckets (ItemLlm's way; 8, 16, 32 items each padded to their own longest), and one long sequence
// with a block-diagonal causal mask.
void run_packing(const std::string& preset) {
  const int64_t vocab = 1000, U = FLAGS_items;
  const auto model = models::HllmModel::from_presets(preset, preset, vocab, {}, 1);
  const auto& item = model.item_llm();
  const auto& decoder = item.decoder();
  std::vector<int64_t> lengths(U);
  for (int64_t u = 0; u < U; ++u) lengths[u] = 4 + (u * 37) % (2 * FLAGS_text_tokens - 4);  // 4 .. 2L, mixed
  std::vector<int64_t> offsets{0}, tokens;
  for (int64_t u = 0; u < U; ++u) {
    for (int64_t k = 0; k < lengths[u]; ++k) tokens.push_back(1 + (u * 131 + k * 7) % (vocab - 1));
    offsets.push_back(static_cast<int64_t>(tokens.size()));
  }
  c10::NoGradGuard no_grad;
  const at::Tensor all_offsets = at::tensor(offsets, at::kLong), all_tokens = at::tensor(tokens, at::kLong);
  // Padded to the longest: one bucket holding every item.
  const double padded = seconds_per_call([&] { item.forward(all_offsets, all_tokens, U); });
  std::vector<std::pair<int64_t, double>> bucketed;
  for (const int64_t size : {8, 16, 32}) {
    bucketed.emplace_back(size, seconds_per_call([&] { item.forward(all_offsets, all_tokens, size); }));
  }

  // Block-diagonal: every item's tokens + [ITEM] in one row; attend only within the item, causally.
  const int64_t total = static_cast<int64_t>(tokens.size()) + U;
  std::vector<int64_t> owner(total), position(total), ids(total, 0);
  std::vector<uint8_t> is_item(total, 0);
  int64_t at_ = 0;
  for (int64_t u = 0; u < U; ++u) {
    for (int64_t k = 0; k <= lengths[u]; ++k, ++at_) {
      owner[at_] = u;
      position[at_] = k;
      if (k < lengths[u]) ids[at_] = tokens[offsets[u] + k]; else is_item[at_] = 1;
    }
  }
  const at::Tensor owners = at::tensor(owner, at::kLong);
  const at::Tensor mask = owners.unsqueeze(0).eq(owners.unsqueeze(1)).logical_and(
                              at::ones({total, total}, at::kBool).tril()).view({1, 1, total, total});
  const at::Tensor item_rows = at::tensor(std::vector<int64_t>(is_item.begin(), is_item.end())).to(at::kBool);
  const at::Tensor positions = at::tensor(position, at::kLong).view({1, total});
  const double diagonal = seconds_per_call([&] {
    at::Tensor x = decoder.hidden_embeddings_of(at::tensor(ids, at::kLong).view({1, total}));
    x = at::where(item_rows.view({1, total, 1}), item.item_token().view({1, 1, -1}), x);
    decoder.hidden_from_embeddings(x, mask, positions);
  });
  std::printf("packing (%s, %lld items of 4..%d tokens, forward): padded to longest %.2f ms", preset.c_str(),
              static_cast<long long>(U), 2 * FLAGS_text_tokens - 1, padded * 1e3);
  for (const auto& [size, seconds] : bucketed) {
    std::printf(" | buckets of %lld %.2f ms (%.2fx)", static_cast<long long>(size), seconds * 1e3, padded / seconds);
  }
  std::printf(" | block-diagonal mask %.2f ms (%.3fx)\n", diagonal * 1e3, padded / diagonal);
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) {
  gflags::SetUsageMessage("model_bench [--items N] [--text_tokens L] [--presets debug,tiny]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_threads > 0) at::set_num_threads(FLAGS_threads);
  std::printf("model_bench: Item LLM block stack, forward + backward, float32, %d intra-op threads\n",
              at::get_num_threads());
  std::stringstream presets(FLAGS_presets);
  std::string preset;
  while (std::getline(presets, preset, ',')) {
    hllm::bench::run_preset(preset);
    hllm::bench::run_packing(preset);
  }
  return 0;
}
