// hllm_plan: what an HLLM configuration needs per rank on N ranks, computed from the shapes alone (no
// model is built, so 7B + 7B plans on a laptop): parameters Ψ, model-state bytes for each ZeRO stage
// (this trainer's bytes, parallel/zero/model_state_bytes.h, beside ZeRO's paper's 16Ψ, 4Ψ + 12Ψ/N,
// 2Ψ + 14Ψ/N, 16Ψ/N), activation bytes of one micro-batch with and
// without checkpointing every block, communication per step (2Ψ, 3Ψ elements), and whether the configured
// stage fits in the GPU's memory; then the pipeline layouts pp x dp that the world allows: each one's stage cut
// (the runtime's, parallel/pipeline/partition.h), bubble, and per-rank memory of every stage with the
// configured ZeRO stage inside it. Formulas: models/model_plan.h (the same the blocks' cost() uses).
//
//   hllm_plan --config FILE [--set key=value ...] --world N [--gpu_gib 80] [--prompt_tokens 12] [--vocab 32000]
#include <gflags/gflags.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config/batch_sizes.h"
#include "common/config/config_loader.h"
#include "common/error.h"
#include "common/json_input.h"
#include "common/exit_codes.h"
#include "common/tool_main.h"
#include "models/llama_config.h"
#include "models/model_plan.h"
#include "models/presets.h"
#include "parallel/memory_plan.h"
#include "runtime/plan_options.h"
#include "parallel/pipeline/partition.h"
#include "parallel/zero/model_state_bytes.h"

DEFINE_string(config, "", "The run's JSON configuration.");
DEFINE_int32(world, 1, "Ranks (GPUs) to plan for.");
DEFINE_double(gpu_gib, 80, "Memory of one GPU in GiB.");
DEFINE_double(reserve_gib, 2, "GiB of each GPU not available to the model (CUDA context, NCCL buffers).");
DEFINE_int32(prompt_tokens, 12, "Tokens of the item prompt (the tokenizer decides; 12 is HLLM's prompt in Llama's).");
DEFINE_int32(vocab, 32000, "Vocabulary of preset towers (Hugging Face towers bring their own).");
DEFINE_int32(text_tokens, 64, "Text tokens per item when the config leaves data.max_text_len to the dataset (0).");

namespace hllm::tools {
namespace {

// data.max_text_len, or --text_tokens when the config leaves it to the dataset (which is not opened here).
int text_tokens(const hllm::config::Config& config) {
  return config.data.max_text_len > 0 ? config.data.max_text_len : FLAGS_text_tokens;
}

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

std::string billions(double n) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f B", n / 1e9);
  return text;
}

// Every pipeline layout pp x dp of the world (pp a power of two up to 8, and the configured one): the runtime's cut,
// the bubble of its schedule, and per stage the parameters, model states (the configured ZeRO stage over the
// stage's dp ranks) and activations (1F1B: stage s holds min(pp - s, m) micro-batches, GPipe all m), with
// checkpointing every block when activation_checkpointing.policy asks for it, else stored.
// The blocks' cost shapes as the run would have them: the CPU's fused layers for parallel.device cpu; auto
// plans for GPUs (a run on the CPU knows it is there).
models::ShapeSettings plan_shape_settings(const config::Config& config) {
  return runtime::shape_settings(config, config.parallel.device == config::DeviceKind::kCpu);
}

// The catalogue's size from the dataset's meta.json at data.path, or 0 when there is none to read.
double catalogue_items(const config::Config& config) {
  const std::string path = config.data.path + "/meta.json";
  if (!std::ifstream(path)) return 0;
  try {
    return read_json_file(path).at("num_items").get<double>();
  } catch (const std::exception&) {
    return 0;
  }
}

// The configured layout's phases per rank (parallel/memory_plan.h plan_phases): start-up, training,
// evaluation (a catalogue chunk of models::kCatalogueChunkItems items, train.eval_batch_size users, the
// catalogue from data.path's meta.json when there is one), saving.
void print_phases(const config::Config& config, const models::LlamaConfig& item, const models::LlamaConfig& user,
                  const std::vector<models::BlockCost>& costs, const parallel::StageCut& cut,
                  parallel::MemoryPlanOptions plan) {
  parallel::EvaluationWork work;
  work.catalogue_items = catalogue_items(config);
  const models::ModelShapes shapes =
      models::hllm_evaluation_shapes(plan_shape_settings(config), FLAGS_prompt_tokens, text_tokens(config), static_cast<int64_t>(work.catalogue_items));
  for (const auto& [name, cost] : models::hllm_block_costs(item, user, shapes)) work.costs.push_back(cost);
  work.embedding_width = static_cast<double>(item.hidden_size);
  work.users = config.train.eval_batch_size;
  if (config.train.eval_catalogue == config::CatalogueHolding::kSharded) work.table_replicas = plan.dp;
  for (int s = 0; s < plan.pp; ++s) {
    plan.stage = s;
    const parallel::PhaseMemory p = parallel::plan_phases(costs, cut.first[s], cut.end(s), plan, work);
    std::printf("  %-9s %7s  %-5d phases of a run: start-up %.2f GiB, training %.2f GiB, evaluation %.2f GiB, saving "
                "%.2f GiB\n", "", "", s, p.start_up / kGiB, p.training / kGiB, p.evaluation / kGiB, p.saving / kGiB);
  }
  if (work.catalogue_items == 0) {
    std::printf("  %-9s %7s  (evaluation without the catalogue: no dataset at data.path '%s' to count its items)\n", "",
                "", config.data.path.c_str());
  } else {  // the item table as evaluation holds it (held and at unit length)
    const double row_bytes = 2 * work.embedding_width * (plan.bf16 ? 2 : 4);
    const double held = parallel::catalogue_rows_held(work.catalogue_items, work.table_replicas);
    std::printf("  %-9s %7s  item table in evaluation: %.0f of %.0f rows per rank, %.1f MiB (train.eval_catalogue %s; "
                "whole: %.1f MiB)\n", "", "", held, work.catalogue_items + 1, held * row_bytes / (1 << 20),
                config::enum_name(config.train.eval_catalogue), (work.catalogue_items + 1) * row_bytes / (1 << 20));
  }
}

void print_pipeline_layouts(const config::Config& config, const models::LlamaConfig& item, const models::LlamaConfig& user,
                            double budget) {
  const int N = FLAGS_world, stage = config.zero_optimization.stage;
  const bool gpipe = config.parallel.pipeline_schedule == config::PipelineSchedule::kGPipe;
  const bool recompute = config.activation_checkpointing.policy != config::RecomputePolicy::kNone;
  std::vector<std::string> names;
  for (const auto& [name, cost] : models::hllm_block_costs(item, user, {})) names.push_back(name);
  std::printf("\npipeline layouts (ZeRO stage %d inside each stage, %s, activations %s; m = micro-batches per step):\n",
              stage, gpipe ? "gpipe" : "1f1b", recompute ? "checkpointed" : "stored (activation_checkpointing.policy none)");
  std::printf("  %-9s %7s  %-5s %-40s %10s %7s %14s %14s %14s %14s %14s %12s\n", "pp x dp", "bubble", "stage", "blocks",
              "TFLOP fwd", "share", "parameters", "model states", "activations", "step buffers", "kept", "total");
  for (int pp = 1; pp <= N; ++pp) {
    const bool power_of_two = (pp & (pp - 1)) == 0;
    if (N % pp != 0 || (pp != config.parallel.pp && (!power_of_two || pp > 8))) continue;
    const int dp = N / pp;
    config::BatchSizes batch;
    try {
      batch = config::resolve_batch_sizes(config, dp);
    } catch (const InputError& e) {
      std::printf("  %d x %-5d  %s\n", pp, dp, e.what());
      continue;
    }
    const int64_t micro_batches = batch.gradient_accumulation_steps;
    // The negatives are gathered over the dp ranks of the last stage: shapes depend on dp.
    const models::ModelShapes shapes =
        models::hllm_micro_batch_shapes(plan_shape_settings(config), batch.micro_batch_per_rank, dp, FLAGS_prompt_tokens, text_tokens(config));
    std::vector<models::BlockCost> costs;
    for (const auto& [name, cost] : models::hllm_block_costs(item, user, shapes)) costs.push_back(cost);
    parallel::StageCut cut;
    try {
      cut = parallel::choose_stage_cut(costs, pp, pp == config.parallel.pp ? config.parallel.pipeline_cut
                                                                          : std::vector<int64_t>{});
    } catch (const InputError& e) {
      std::printf("  %d x %-5d  %s\n", pp, dp, e.what());
      continue;
    }
    const double bubble = static_cast<double>(pp - 1) / static_cast<double>(micro_batches + pp - 1);
    const double total_flops = std::accumulate(cut.cost.begin(), cut.cost.end(), 0.0);
    double worst = 0;
    parallel::MemoryPlanOptions plan =
        runtime::memory_plan_options(config, dp, pp, micro_batches, config.parallel.device == config::DeviceKind::kCpu);
    for (int s = 0; s < pp; ++s) {
      plan.stage = s;
      const parallel::StageMemory memory = parallel::plan_stage_memory(costs, cut.first[s], cut.end(s), plan);
      const double psi = memory.parameters, states = memory.model_states, activations = memory.activations;
      const double buffers = memory.backward + memory.zero_buffers, kept = memory.best_model + memory.snapshot;
      const double total = memory.total();
      worst = std::max(worst, total);
      const std::string blocks = std::to_string(cut.first[s]) + "-" + std::to_string(cut.end(s) - 1) + " " +
                                 names[cut.first[s]] + " .. " + names[cut.end(s) - 1];
      char layout[32] = "", bubble_text[16] = "";
      if (s == 0) {
        std::snprintf(layout, sizeof(layout), "%d x %d", pp, dp);
        std::snprintf(bubble_text, sizeof(bubble_text), "%.1f%%", 100 * bubble);
      }
      std::printf("  %-9s %7s  %-5d %-40s %10.1f %6.0f%% %12.3f B %10.2f GiB %10.2f GiB %10.2f GiB %10.2f GiB %8.2f GiB\n",
                  layout, bubble_text, s, blocks.c_str(), cut.cost[s] / 1e12, 100 * cut.cost[s] / std::max(total_flops, 1.0),
                  psi / 1e9, states / kGiB, activations / kGiB, buffers / kGiB, kept / kGiB, total / kGiB);
    }
    std::printf("  %-9s %7s  m = %lld; largest per rank %.2f GiB: %s%s\n", "", "", static_cast<long long>(micro_batches),
                worst / kGiB, worst <= budget ? "fits" : "does not fit", pp == config.parallel.pp ? "   <- configured" : "");
    if (pp == config.parallel.pp) print_phases(config, item, user, costs, cut, plan);
  }
}

int run(const std::vector<std::string>& overrides) {
  const config::Config config = config::load_config_file(FLAGS_config, overrides);
  if (config.model.type != config::ModelType::kHllm) {
    throw InputError(std::string("hllm_plan plans HLLM (model.type = hllm), not ") + config::enum_name(config.model.type));
  }
  if (FLAGS_world < 1) throw InputError("--world must be at least 1");
  const int N = FLAGS_world, pp = config.parallel.pp;
  if (N % pp != 0) {
    throw InputError(detail::concat("parallel.pp = ", pp, " does not divide --world ", N, " (world = pp x dp)"));
  }
  const config::BatchSizes batch = config::resolve_batch_sizes(config, N / pp);
  const models::LlamaConfig item = models::tower_config(config.model.item, FLAGS_vocab),
                            user = models::tower_config(config.model.user, FLAGS_vocab);
  const double psi = static_cast<double>(models::hllm_parameters(item, user));
  const bool bf16 = config.bf16.enabled;
  const int stage = config.zero_optimization.stage;

  std::printf("HLLM: Item LLM %s + User LLM %s, world %d (pp %d x dp %d), %s, ZeRO stage %d\n",
              config.model.item.describe().c_str(), config.model.user.describe().c_str(), N, pp, N / pp, bf16 ? "bf16" : "fp32", stage);
  if (pp > 1) std::printf("(model states, activations and fit below: without pipeline, pp 1 x dp %d; the configured pipeline at the end)\n", N);
  std::printf("parameters: Ψ = %s (Item LLM %s, of which token table %s; User LLM %s; [ITEM] + logit_scale %lld)\n",
              billions(psi).c_str(), billions(models::tower_parameters(item, true)).c_str(),
              billions(static_cast<double>(item.vocab_size) * item.hidden_size).c_str(),
              billions(models::tower_parameters(user, false)).c_str(), static_cast<long long>(item.hidden_size + 1));

  // One micro-batch per rank: B sequences of W items; the Item LLM encodes at most B W + N distinct items
  // of T tokens (prompt + text + [ITEM]); the loss sees the negatives of every rank.
  const int64_t B = batch.micro_batch_per_rank, W = config.data.max_item_list_len + 1;
  const int64_t U = B * W + config.data.num_negatives;
  const int64_t T = FLAGS_prompt_tokens + text_tokens(config) + 1;
  const int64_t value_bytes = bf16 ? 2 : 4;
  std::printf("micro-batch per rank: %lld sequences x %lld items; Item LLM: at most %lld distinct items x %lld tokens "
              "(prompt %d + text %d + [ITEM]); %d negatives per rank, %lld after gathering\n",
              static_cast<long long>(B), static_cast<long long>(W), static_cast<long long>(U), static_cast<long long>(T),
              FLAGS_prompt_tokens, text_tokens(config), config.data.num_negatives,
              static_cast<long long>(config.data.num_negatives) * N);

  // Model states: what this trainer holds (parallel/zero/model_state_bytes.h, the formula the run's
  // measurement is tested against), beside ZeRO's paper (Rajbhandari et al.: fp16 gradients, Adam).
  const char* ours[4][2] = {{"18Ψ", "16Ψ"}, {"4Ψ + 16Ψ/N", "8Ψ + 12Ψ/N"}, {"2Ψ + 16Ψ/N", "4Ψ + 12Ψ/N"},
                            {"18Ψ/N", "16Ψ/N"}};
  const char* paper[4] = {"16Ψ", "4Ψ + 12Ψ/N", "2Ψ + 14Ψ/N", "16Ψ/N"};
  const double paper_bytes[4] = {16 * psi, 4 * psi + 12 * psi / N, 2 * psi + 14 * psi / N, 16 * psi / N};
  std::printf("\nmodel states per rank (%s parameters; float32 gradients where they accumulate; Adam's two float32 "
              "moments%s):\n",
              bf16 ? "bfloat16" : "float32", bf16 ? " and float32 master weights" : "");
  std::printf("  stage  %-12s %12s %12s %12s %12s   ZeRO paper (mixed precision)\n", "formula", "parameters",
              "gradients", "optimizer", "total");
  for (int s = 0; s < 4; ++s) {
    const auto b = parallel::zero::model_state_bytes(s, psi, N, bf16);
    std::printf("  %d      %-12s %8.2f GiB %8.2f GiB %8.2f GiB %8.2f GiB   %-12s %8.2f GiB%s\n", s, ours[s][bf16 ? 0 : 1],
                b.parameters / kGiB, b.gradients / kGiB, b.optimizer / kGiB, b.total() / kGiB, paper[s],
                paper_bytes[s] / kGiB, s == stage ? "   <- configured" : "");
  }
  const double g = bf16 ? 2 : 4;  // bytes of a gradient or parameter element on the wire

  // Activations of one micro-batch: every block's kept tensors, or with checkpointing every decoder layer
  // only the layers' inputs plus one layer's tensors while it is recomputed.
  const models::ModelShapes shapes = models::hllm_micro_batch_shapes(plan_shape_settings(config), B, N, FLAGS_prompt_tokens, text_tokens(config));
  std::vector<models::BlockCost> costs;
  for (const auto& [name, cost] : models::hllm_block_costs(item, user, shapes)) costs.push_back(cost);
  const auto item_layer = models::decoder_layer_cost(item, static_cast<double>(U), static_cast<double>(T), value_bytes,
                                                     shapes.fused_layer_ops, models::kItemsPerBucket);
  const auto user_layer = models::decoder_layer_cost(user, static_cast<double>(B), static_cast<double>(W), value_bytes,
                                                     shapes.fused_layer_ops);
  const models::StageActivations whole = models::stage_activation_bytes(costs, 0, costs.size());
  const double stored = whole.stored, checkpointed = whole.checkpointed + whole.recomputing;
  std::printf("\nactivations per rank, one micro-batch (the layers as %s runs them; no T x T attention probabilities):"
              "\n  stored:                      %10.2f GiB  (Item LLM layer %.2f GiB x %lld, User LLM layer %.3f GiB x %lld)\n"
              "  checkpointing every block:   %10.2f GiB  (layer inputs + one layer recomputed)\n",
              shapes.fused_layer_ops ? "the CPU (parallel.device \"cpu\": fused nodes)" : "a GPU (plain RMSNorm and SwiGLU)",
              stored / kGiB, item_layer.activation_bytes / kGiB, static_cast<long long>(item.num_hidden_layers),
              user_layer.activation_bytes / kGiB, static_cast<long long>(user.num_hidden_layers), checkpointed / kGiB);

  const double grad_bytes = g;
  std::printf("\ncommunication per rank and step (ZeRO's data movement): stages 0-2: 2Ψ = %.2f G elements (%.1f GiB in %s); "
              "stage 3: 3Ψ = %.2f G elements (%.1f GiB)\n",
              2 * psi / 1e9, 2 * psi * grad_bytes / kGiB, bf16 ? "bf16" : "fp32", 3 * psi / 1e9, 3 * psi * grad_bytes / kGiB);

  const double budget = (FLAGS_gpu_gib - FLAGS_reserve_gib) * kGiB;
  std::printf("\nfits in %.0f GiB per GPU (%.0f GiB reserved)? (model states + activations + the step's buffers: "
              "the backward's and ZeRO's gathers and reductions in flight + what the run keeps: the best model%s)\n",
              FLAGS_gpu_gib, FLAGS_reserve_gib, config.checkpoint.async_save == config::AsyncSave::kOn && config.parallel.device == config::DeviceKind::kCpu
                                                     ? ", a checkpoint's snapshot" : "");
  parallel::MemoryPlanOptions whole_model =
      runtime::memory_plan_options(config, N, 1, batch.gradient_accumulation_steps,
                                    config.parallel.device == config::DeviceKind::kCpu);
  for (int s = 0; s < 4; ++s) {
    for (const bool ckpt : {false, true}) {
      whole_model.zero_stage = s;
      whole_model.recompute = ckpt;
      const parallel::StageMemory m = parallel::plan_stage_memory(costs, 0, costs.size(), whole_model);
      std::printf("  stage %d, %-26s %10.2f GiB  (buffers %.2f, kept %.2f)  %s%s\n", s,
                  ckpt ? "checkpointing every block:" : "stored activations:", m.total() / kGiB,
                  (m.backward + m.zero_buffers) / kGiB, (m.best_model + m.snapshot) / kGiB,
                  m.total() <= budget ? "fits" : "does not fit", s == stage ? "   <- configured stage" : "");
    }
  }
  print_pipeline_layouts(config, item, user, budget);
  return kExitOk;
}

}  // namespace
}  // namespace hllm::tools

int main(int argc, char** argv) {
  // --set is repeatable: taken out of argv before gflags sees it.
  std::vector<std::string> overrides;
  std::vector<char*> kept{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--set" && i + 1 < argc) {
      overrides.push_back(argv[++i]);
    } else if (arg.rfind("--set=", 0) == 0) {
      overrides.push_back(arg.substr(6));
    } else {
      kept.push_back(argv[i]);
    }
  }
  int kept_argc = static_cast<int>(kept.size());
  char** kept_argv = kept.data();
  gflags::SetUsageMessage("hllm_plan --config FILE --world N [--gpu_gib 80]: per-rank memory and communication of a plan");
  gflags::ParseCommandLineFlags(&kept_argc, &kept_argv, true);
  if (FLAGS_config.empty()) {
    std::cerr << "hllm_plan: --config is required (hllm_plan --help)" << std::endl;
    return hllm::kExitBadInput;
  }
  return hllm::guarded_tool_main("hllm_plan", [&] { return hllm::tools::run(overrides); });
}
