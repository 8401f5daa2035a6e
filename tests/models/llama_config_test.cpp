// config.json as Hugging Face publishes it: what is read, what round-trips through hf_config_json, and what
// is refused with the key named.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "models/llama_config.h"

namespace hllm::models {
namespace {

using nlohmann::json;

// A Llama-3.2-1B config.json, as published.
json llama32_1b() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
    "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false,
    "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
    "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
    "transformers_version": "4.45.0.dev0", "use_cache": true, "vocab_size": 128256})");
}

std::string write(const json& config) {
  const auto path = std::filesystem::temp_directory_path() / ("hllm-config-" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << config.dump();
  return path.string();
}

std::string error_of(const json& config) {
  try {
    read_hf_config(write(config));
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(LlamaConfig, Llama32ReadsAsPublished) {
  const LlamaConfig c = read_hf_config(write(llama32_1b()));
  EXPECT_EQ(c.head_dim(), 64);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 32.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.sliding_window, 0);
}

TEST(LlamaConfig, WrittenConfigReadsBackTheSame) {
  json published = llama32_1b();
  published["head_dim"] = 128;  // not hidden_size / num_attention_heads (Qwen3- and Gemma-style)
  const LlamaConfig c = read_hf_config(write(published));
  EXPECT_EQ(c.head_dim(), 128);
  const LlamaConfig back = read_hf_config(write(json::parse(hf_config_json(c))));
  EXPECT_EQ(back.head_dim(), 128);
  EXPECT_EQ(back.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(back.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(back.rope_scaling.original_max_position_embeddings, 8192);

  json mistral = llama32_1b();
  mistral["model_type"] = "mistral";
  mistral["sliding_window"] = 4096;
  mistral.erase("rope_scaling");
  EXPECT_EQ(read_hf_config(write(json::parse(hf_config_json(read_hf_config(write(mistral)))))).sliding_window, 4096);
}

TEST(LlamaConfig, SlidingWindowOnlyWhereTheModelUsesIt) {
  json qwen = llama32_1b();
  qwen["model_type"] = "qwen2";
  qwen.erase("rope_scaling");
  qwen["sliding_window"] = 32768;
  qwen["use_sliding_window"] = false;
  EXPECT_EQ(read_hf_config(write(qwen)).sliding_window, 0);
  // transformers windows the layers from max_window_layers on (default 28): none of these 16.
  qwen["use_sliding_window"] = true;
  EXPECT_EQ(read_hf_config(write(qwen)).sliding_window, 0);
  qwen["max_window_layers"] = 4;
  const LlamaConfig windowed = read_hf_config(write(qwen));
  EXPECT_EQ(windowed.window_of_layer(3), 0);
  EXPECT_EQ(windowed.window_of_layer(4), 32768);
  EXPECT_EQ(windowed.window_of_layer(15), 32768);
  // Written back (the exporter), the same layers are windowed.
  const std::string again = std::filesystem::temp_directory_path() / ("hllm-qwen-config-" + std::to_string(::getpid()));
  std::ofstream(again) << hf_config_json(windowed);
  const LlamaConfig reread = read_hf_config(again);
  std::filesystem::remove(again);
  EXPECT_EQ(reread.sliding_window, 32768);
  EXPECT_EQ(reread.first_windowed_layer, 4);
}

TEST(LlamaConfig, WhatIsNotImplementedIsRefusedNamingTheKey) {
  json c = llama32_1b();
  c["rope_scaling"]["rope_type"] = "yarn";
  EXPECT_NE(error_of(c).find("rope_scaling: rope_type 'yarn' is not supported (llama3, linear)"), std::string::npos);
  c = llama32_1b();
  c["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};  // the key's older name
  EXPECT_NE(error_of(c).find("rope_type 'dynamic' is not supported"), std::string::npos);
  c = llama32_1b();
  c["rope_scaling"].erase("low_freq_factor");
  EXPECT_NE(error_of(c).find("rope_scaling: missing 'low_freq_factor'"), std::string::npos);
  c = llama32_1b();
  c["hidden_act"] = "gelu";
  EXPECT_NE(error_of(c).find("hidden_act 'gelu' is not supported"), std::string::npos);
  c = llama32_1b();
  c["mlp_bias"] = true;
  EXPECT_NE(error_of(c).find("mlp_bias true is not supported"), std::string::npos);
  c = llama32_1b();
  c["model_type"] = "qwen3";
  EXPECT_NE(error_of(c).find("model_type 'qwen3' is not supported"), std::string::npos);
  c = llama32_1b();
  c["rope_scaling"]["factor"] = 0.5;
  EXPECT_NE(error_of(c).find("rope_scaling.factor 0.5 is below 1"), std::string::npos);
  EXPECT_EQ(error_of(llama32_1b()), "");
}

}  // namespace
}  // namespace hllm::models
