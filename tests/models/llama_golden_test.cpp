// LLaMA-family architectures against logits from an independent NumPy implementation
// (tests/tools/llama_golden.py, files in tests/models/golden): Llama-3.1's rope_scaling and an explicit
// head_dim, Qwen2's q/k/v biases and its sliding window from max_window_layers on, Mistral's sliding window,
// linear rope scaling. Each feature is also switched off in config.json to show that the comparison notices it.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "models/llama_decoder.h"

namespace hllm::models {
namespace {

using nlohmann::json;
const std::string kGolden = std::string(HLLM_SOURCE_DIR) + "/tests/models/golden/";

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// The largest |engine logit - reference logit| over the case's two sequences, with config.json edited by
// `edit` first (on a copy).
double max_difference(const std::string& name, const std::function<void(json&)>& edit = {}) {
  std::string directory = kGolden + name;
  if (edit) {
    directory = (std::filesystem::temp_directory_path() / ("hllm-golden-" + name + "-" + std::to_string(::getpid())))
                    .string();
    std::filesystem::remove_all(directory);
    std::filesystem::create_directories(directory);
    std::filesystem::copy_file(kGolden + name + "/model.safetensors", directory + "/model.safetensors");
    json config = read_json(kGolden + name + "/config.json");
    edit(config);
    std::ofstream(directory + "/config.json") << config.dump();
  }
  const LlamaDecoder model = LlamaDecoder::from_hf(directory);
  const json reference = read_json(kGolden + name + "/reference.json");
  const auto ids = reference.at("ids").get<std::vector<std::vector<int64_t>>>();
  const auto want = reference.at("logits").get<std::vector<std::vector<std::vector<double>>>>();
  double worst = 0;
  for (size_t b = 0; b < ids.size(); ++b) {
    const at::Tensor tokens = at::tensor(ids[b], at::kLong).view({1, -1});
    const at::Tensor got = model.logits(model.hidden(tokens))[0].to(at::kDouble).contiguous();  // [T, vocab]
    const at::Tensor expected = at::empty_like(got);
    for (size_t t = 0; t < want[b].size(); ++t) expected[static_cast<int64_t>(t)] = at::tensor(want[b][t], at::kDouble);
    worst = std::max(worst, (got - expected).abs().max().item<double>());
  }
  if (edit) std::filesystem::remove_all(directory);
  return worst;
}

TEST(LlamaGolden, Llama3RopeScalingAndExplicitHeadDim) {
  EXPECT_LT(max_difference("llama3"), 1e-4);
  EXPECT_GT(max_difference("llama3", [](json& c) { c.erase("rope_scaling"); }), 1e-2);
  EXPECT_GT(max_difference("llama3", [](json& c) { c["rope_scaling"]["factor"] = 2.0; }), 1e-2);
}

TEST(LlamaGolden, Qwen2AttentionBiases) {
  EXPECT_LT(max_difference("qwen2"), 1e-4);
  // Qwen2 read without its biases would be another model: the file's bias tensors are refused, named.
  try {
    max_difference("qwen2", [](json& c) { c["attention_bias"] = false; });
    ADD_FAILURE() << "the unused bias tensors were accepted";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("no parameter of its config.json uses: model.layers.0.self_attn.k_proj.bias"),
              std::string::npos) << error.what();
  }
  // use_sliding_window true windows only the layers from max_window_layers (2 of 2 here: none), as
  // transformers does; from layer 0 on, the 4-token window over 16 tokens changes the result.
  EXPECT_LT(max_difference("qwen2", [](json& c) { c["use_sliding_window"] = true; }), 1e-4);
  EXPECT_GT(max_difference("qwen2", [](json& c) {
              c["use_sliding_window"] = true;
              c["max_window_layers"] = 0;
            }), 1e-2);
}

TEST(LlamaGolden, Qwen2WindowFromMaxWindowLayersOn) {
  EXPECT_LT(max_difference("qwen2_window"), 1e-4);  // layer 0 full, layers 1 and 2 windowed
  EXPECT_GT(max_difference("qwen2_window", [](json& c) { c["max_window_layers"] = 0; }), 1e-2);
  EXPECT_GT(max_difference("qwen2_window", [](json& c) { c["max_window_layers"] = 2; }), 1e-2);
  EXPECT_GT(max_difference("qwen2_window", [](json& c) { c["use_sliding_window"] = false; }), 1e-2);
  // The same layers listed as newer configs do; a sliding layer before a full one cannot be expressed.
  EXPECT_LT(max_difference("qwen2_window", [](json& c) {
              c["layer_types"] = {"full_attention", "sliding_attention", "sliding_attention"};
            }), 1e-4);
  EXPECT_THROW(max_difference("qwen2_window",
                              [](json& c) { c["layer_types"] = {"sliding_attention", "full_attention", "full_attention"}; }),
               InputError);
  EXPECT_THROW(max_difference("qwen2_window", [](json& c) { c["layer_types"] = {"full_attention"}; }), InputError);
}

TEST(LlamaGolden, LinearRopeScaling) {
  EXPECT_LT(max_difference("llama_linear"), 1e-4);
  EXPECT_GT(max_difference("llama_linear", [](json& c) { c.erase("rope_scaling"); }), 1e-2);
  EXPECT_GT(max_difference("llama_linear", [](json& c) { c["rope_scaling"]["factor"] = 2.0; }), 1e-2);
}

TEST(LlamaGolden, MistralSlidingWindow) {
  EXPECT_LT(max_difference("mistral"), 1e-4);
  EXPECT_GT(max_difference("mistral", [](json& c) { c["sliding_window"] = nullptr; }), 1e-2);
}

}  // namespace
}  // namespace hllm::models
