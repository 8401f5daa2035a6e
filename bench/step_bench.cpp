// step_bench: one HLLM training step — Item LLM on the batch's distinct items, User LLM on the sequences,
// InfoNCE against the batch's negatives, backward, AdamW — as the engine runs it (HllmModel::forward,
// runtime::AdamW), beside the same step written in PyTorch eager (bench/reference/hllm_step.py, run by this
// program with the same shapes and threads, so both are measured in one run), and beside the at::mm rate
// of the layer's matrix shapes measured here too, in rounds. Prints the time ratio, tokens/s and FLOP/s.
//
//   build/bin/step_bench [--presets tiny] [--rows 8] [--window 11] [--text_tokens 32] [--threads 2] [--rounds 3]
//                        [--profile_ops 20] [--reference "/usr/bin/python3 bench/reference/hllm_step.py"]
//
// The batch: `rows` sequences of `window` items, every position real, items drawn from a catalogue of
// `catalog` items, `negatives` negatives; every item has `text_tokens` text tokens (+ prompt + [ITEM]).
// The engine runs with the host caching allocator, as hllm_launch installs it, and the reference with glibc
// tuned to keep its freed memory likewise (--host_caching_allocator=false: both on glibc's default heap, whose
// page faults double the tiny preset's step on this VM).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "bench/op_profile.h"
#include "bench/synthetic_batch.h"
#include "models/hllm_blocks.h"
#include "models/hllm_model.h"
#include "runtime/adamw.h"
#include "runtime/host_caching_allocator.h"

DEFINE_bool(host_caching_allocator, true, "Run the engine with the host caching allocator, as hllm_launch does, and the reference with glibc keeping freed memory.");
DEFINE_string(presets, "tiny", "Presets of both towers, comma-separated (debug, tiny, 1b, 7b).");
DEFINE_int32(rows, 8, "Sequences per step (the demo: 4 per rank x 2 ranks).");
DEFINE_int32(window, 11, "Items per sequence (data.max_item_list_len + 1).");
DEFINE_int32(text_tokens, 32, "Text tokens per item (data.max_text_len).");
DEFINE_int32(prompt_tokens, 12, "Prompt tokens.");
DEFINE_int32(negatives, 64, "Negatives per step (data.num_negatives).");
DEFINE_int32(catalog, 500, "Items in the catalogue the batch draws from.");
DEFINE_int32(vocab, 1000, "Vocabulary size.");
DEFINE_int32(threads, 2, "LibTorch intra-op threads (both programs).");
DEFINE_int32(steps, 10, "Timed steps per round after 2 warm-up steps; the median is reported.");
DEFINE_int32(rounds, 3, "Rounds of engine, at::mm and reference back to back; the medians of the rounds are reported.");
DEFINE_int32(profile_ops, 0, "After timing, profile one engine step and print this many operators by self time (0: none).");
DEFINE_bool(profile_shapes, false, "With --profile_ops: one line per operator and input shapes.");
DEFINE_string(reference, "/usr/bin/python3 bench/reference/hllm_step.py",
              "The PyTorch eager reference to run with the same flags; empty: skip it.");

namespace hllm::bench {
namespace {

using Clock = std::chrono::steady_clock;

data::Batch make_batch() {
  return synthetic_batch({FLAGS_rows, FLAGS_window, FLAGS_text_tokens, FLAGS_negatives, FLAGS_catalog, FLAGS_vocab}, 7);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double median_seconds(const std::function<void()>& fn, int warmup, int steps) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> times;
  for (int i = 0; i < steps; ++i) {
    const auto start = Clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  return median(times);
}

// The reference's "step_ms X" from its output; negative when it did not run.
double run_reference(const std::string& preset, int64_t unique_items) {
  if (FLAGS_reference.empty()) return -1;
  std::ostringstream command;
  // A fair reference keeps its freed memory as the engine's caching allocator does: glibc's tunables stop it
  // from returning large blocks to the system and faulting fresh pages in at every step.
  if (FLAGS_host_caching_allocator) {
    command << "MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=17179869184 MALLOC_TOP_PAD_=268435456 ";
  }
  command << FLAGS_reference << " --preset " << preset << " --rows " << FLAGS_rows << " --window " << FLAGS_window
          << " --text_tokens " << FLAGS_text_tokens << " --prompt_tokens " << FLAGS_prompt_tokens << " --negatives "
          << FLAGS_negatives << " --unique_items " << unique_items << " --vocab " << FLAGS_vocab << " --threads "
          << FLAGS_threads << " --steps " << FLAGS_steps << " 2>&1";
  FILE* pipe = popen(command.str().c_str(), "r");
  if (!pipe) return -1;
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe)) output += buffer;
  const int status = pclose(pipe);
  const auto at = output.find("step_ms ");
  if (status != 0 || at == std::string::npos) {
    std::printf("reference did not run (%s): %s\n", command.str().c_str(), output.c_str());
    return -1;
  }
  return std::stod(output.substr(at + 8)) / 1e3;
}

void run_preset(const std::string& preset) {
  std::vector<int64_t> prompt;
  for (int i = 0; i < FLAGS_prompt_tokens; ++i) prompt.push_back(2 + i % (FLAGS_vocab - 2));
  const auto model = models::HllmModel::from_presets(preset, preset, FLAGS_vocab, prompt, 1);
  runtime::AdamW optimizer(model.named_parameters(), runtime::AdamWOptions{});
  const data::Batch batch = make_batch();
  const auto step = [&] {
    model.forward(batch).loss.backward();
    optimizer.step(1e-4);
    optimizer.zero_grad();
  };

  // Work of the step: the blocks' own FLOP estimates (forward x 3 for forward + backward).
  const int64_t U = static_cast<int64_t>(batch.unique_items.size());
  models::ModelShapes shapes;
  shapes.items = U;
  shapes.item_tokens = FLAGS_prompt_tokens + FLAGS_text_tokens + 1;
  shapes.sequences = FLAGS_rows;
  shapes.sequence_length = FLAGS_window;
  shapes.negatives = FLAGS_negatives;
  double flops = 0;
  for (const auto& block : models::hllm_blocks(model)) flops += block->cost(shapes).forward_flops;
  flops *= 3;
  const double tokens = static_cast<double>(U) * shapes.item_tokens + FLAGS_rows * FLAGS_window;

  // The Item LLM layer's matrix shapes as plain products, for the machine's rate in each round.
  const auto& config = model.item_llm().decoder().config();
  const int64_t n = U * shapes.item_tokens, D = config.hidden_size, F = config.intermediate_size;
  const at::Tensor a = at::randn({n, D}), wf = at::randn({D, F}), wd = at::randn({D, D});
  const auto mm_rate = [&] {
    const double mm_seconds = median_seconds(
        [&] {
          at::mm(a, wf);
          at::mm(a, wd);
        },
        2, 20);
    return (2.0 * n * D * F + 2.0 * n * D * D) / mm_seconds;
  };

  std::printf("%-6s %d x %d items, %lld distinct x %lld tokens, %d threads, host caching allocator %s\n",
              preset.c_str(), FLAGS_rows, FLAGS_window, static_cast<long long>(U),
              static_cast<long long>(shapes.item_tokens), FLAGS_threads, FLAGS_host_caching_allocator ? "on" : "off");
  // Rounds of engine, at::mm and reference back to back: this VM's speed drifts by tens of percent over
  // seconds, so each round's ratios compare runs made close together, and their median is the result.
  std::vector<double> engine_times, reference_times, time_ratios, mm_fractions;
  for (int round = 0; round < FLAGS_rounds; ++round) {
    const double seconds = median_seconds(step, round == 0 ? 2 : 1, FLAGS_steps);
    const double rate = mm_rate();
    const double reference = run_reference(preset, U);
    engine_times.push_back(seconds);
    mm_fractions.push_back(flops / seconds / rate);
    std::printf("  round %d: engine %8.2f ms (%.2f of at::mm's %.2f GFLOP/s)", round + 1, seconds * 1e3,
                flops / seconds / rate, rate / 1e9);
    if (reference > 0) {
      reference_times.push_back(reference);
      time_ratios.push_back(seconds / reference);
      std::printf(", eager %8.2f ms: engine / eager time %.3f", reference * 1e3, seconds / reference);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  const double seconds = median(engine_times);
  std::printf("  engine (C++)    step %8.2f ms  %9.0f tokens/s  %7.2f GFLOP/s  (%.2f of at::mm's rate, median of rounds)\n",
              seconds * 1e3, tokens / seconds, flops / seconds / 1e9, median(mm_fractions));
  if (!reference_times.empty()) {
    const double reference = median(reference_times);
    std::printf("  PyTorch eager   step %8.2f ms  %9.0f tokens/s  %7.2f GFLOP/s\n", reference * 1e3, tokens / reference,
                flops / reference / 1e9);
    std::printf("  engine / eager time: %.3f, median of rounds (%.3f-%.3f; below 1: the engine is faster)\n",
                median(time_ratios), *std::min_element(time_ratios.begin(), time_ratios.end()),
                *std::max_element(time_ratios.begin(), time_ratios.end()));
  }
  if (FLAGS_profile_ops > 0) print_op_profile(profile_ops(step, FLAGS_profile_shapes), FLAGS_profile_ops);
  std::fflush(stdout);
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) {
  gflags::SetUsageMessage("one HLLM training step: the engine beside PyTorch eager");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_rounds < 1 || FLAGS_steps < 1) {
    std::fprintf(stderr, "step_bench: --rounds and --steps must be at least 1\n");
    return 2;
  }
  if (FLAGS_host_caching_allocator) hllm::runtime::install_host_caching_allocator();
  at::set_num_threads(FLAGS_threads);
  std::stringstream presets(FLAGS_presets);
  for (std::string preset; std::getline(presets, preset, ',');) hllm::bench::run_preset(preset);
  return 0;
}
