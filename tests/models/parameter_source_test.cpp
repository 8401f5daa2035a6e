// A model built without values (placeholders) and filled by slices from its ParameterSource gets exactly
// the values of the eager construction — from presets (the seeds' random streams, replayed) and from
// Hugging Face directories (sharded or not, F32 or BF16, read by byte ranges) — whatever slices are asked
// for and in whatever order; placeholders hold no memory; a missing tensor fails before anything is read.
#include "models/parameter_source.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/error.h"
#include "models/hllm_model.h"
#include "models/model_plan.h"
#include "models/presets.h"

namespace hllm::models {
namespace {

std::string temp_dir(const std::string& what) {
  return (std::filesystem::temp_directory_path() / ("hllm-source-" + what + "-" + std::to_string(::getpid()))).string();
}

// Fills every parameter of `model` from `source` in a shuffled order, each in up to three slices, and
// compares with `eager` (the same names, eagerly built) bit for bit.
void expect_filled_as_eager(const HllmModel& model, ParameterSource& source, const HllmModel& eager, unsigned seed) {
  auto parameters = model.named_parameters();
  const auto expected = eager.named_parameters();
  ASSERT_EQ(parameters.size(), expected.size());
  std::vector<size_t> order(parameters.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  for (const size_t i : order) {
    const auto& [name, p] = parameters[i];
    ASSERT_EQ(name, expected[i].first);
    ASSERT_EQ(p.sizes(), expected[i].second.sizes()) << name;
    if (!is_placeholder(p)) continue;  // logit_scale: built with its value
    at::Tensor values = at::empty({p.numel()}, p.options().requires_grad(false));
    const int64_t n = p.numel(), cut1 = n / 3, cut2 = 2 * n / 3;
    for (const auto& [from, to] : {std::pair{cut2, n}, std::pair{int64_t{0}, cut1}, std::pair{cut1, cut2}}) {
      if (to > from) {
        ASSERT_TRUE(source.fill(name, from, values.narrow(0, from, to - from))) << name;
      }
    }
    EXPECT_TRUE(at::equal(values, expected[i].second.detach().reshape({-1}).to(p.scalar_type()))) << name;
  }
}

TEST(ParameterSource, PlaceholdersHaveShapesAndNoMemory) {
  const at::Tensor p = placeholder({1000, 1000}, at::TensorOptions().dtype(at::kFloat));
  EXPECT_EQ(p.sizes(), (std::vector<int64_t>{1000, 1000}));
  EXPECT_EQ(p.storage().nbytes(), 0u);
  EXPECT_TRUE(is_placeholder(p));
  EXPECT_FALSE(is_placeholder(at::zeros({3})));
  at::Tensor filled = placeholder({2, 3}, at::TensorOptions().dtype(at::kFloat));
  materialize("x", filled, [](const std::string&, int64_t offset, const at::Tensor& out) {
    at::Tensor(out).copy_(at::arange(offset, offset + out.numel(), at::kFloat));
    return true;
  });
  EXPECT_TRUE(at::equal(filled, at::arange(6, at::kFloat).view({2, 3})));
  at::Tensor orphan = placeholder({2}, at::TensorOptions().dtype(at::kFloat));
  EXPECT_THROW(materialize("y", orphan, [](const std::string&, int64_t, const at::Tensor&) { return false; }), Error);
}

TEST(ParameterSource, PresetsReplayTheSeedsStreams) {
  const HllmModel eager = HllmModel::from_presets("debug", "debug", 64, {1, 2}, 7);
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    auto built = HllmModel::unmaterialized("debug", "debug", 64, {1, 2}, 7, at::kCPU, dtype);
    for (const auto& [name, p] : built.model.named_parameters()) {
      if (name != "logit_scale") {
        EXPECT_TRUE(is_placeholder(p)) << name;
        EXPECT_EQ(p.scalar_type(), dtype) << name;
      }
    }
    expect_filled_as_eager(built.model, *built.source, eager, 1);
    expect_filled_as_eager(built.model, *built.source, eager, 2);  // again, in another order
  }
}

// A shape from the config (model.item / model.user as an object) builds like a preset: the same shapes as
// its LlamaConfig, the same values whether built eagerly or replayed into placeholders.
TEST(ParameterSource, ShapesFromTheConfigBuildAndReplay) {
  config::TowerShape wide{48, 3, 6, 2, 0};
  wide.resolve();
  const HllmModel eager = HllmModel::from_sources(wide, wide, 64, {1, 2}, 3);
  const auto& c = eager.item_llm().decoder().config();
  EXPECT_EQ(c.hidden_size, 48);
  EXPECT_EQ(c.num_hidden_layers, 3);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.intermediate_size, 128);
  int64_t count = 0;
  for (const auto& [name, p] : eager.named_parameters()) count += p.numel();
  EXPECT_EQ(count, hllm_parameters(tower_config(wide, 64), tower_config(wide, 64)));
  auto built = HllmModel::unmaterialized(wide, wide, 64, {1, 2}, 3, at::kCPU, at::kFloat);
  expect_filled_as_eager(built.model, *built.source, eager, 1);
}

// A directory as large checkpoints are published: the tensors over two files and an index.
void save_sharded(const LlamaDecoder& decoder, const std::string& dir) {
  decoder.save_hf(dir);  // config.json (and a single file, removed)
  std::filesystem::remove(dir + "/model.safetensors");
  const auto tensors = decoder.named_parameters();
  std::vector<std::pair<std::string, at::Tensor>> first(tensors.begin(), tensors.begin() + tensors.size() / 2);
  std::vector<std::pair<std::string, at::Tensor>> second(tensors.begin() + tensors.size() / 2, tensors.end());
  save_safetensors(dir + "/model-00001-of-00002.safetensors", first);
  save_safetensors(dir + "/model-00002-of-00002.safetensors", second);
  std::ofstream index(dir + "/model.safetensors.index.json");
  index << "{\"metadata\": {}, \"weight_map\": {";
  for (size_t i = 0; i < tensors.size(); ++i) {
    index << (i ? ", " : "") << "\"" << tensors[i].first << "\": \"model-0000" << (i < tensors.size() / 2 ? 1 : 2)
          << "-of-00002.safetensors\"";
  }
  index << "}}\n";
}

TEST(ParameterSource, HuggingFaceDirectoriesAreReadBySlices) {
  const std::string single = temp_dir("single"), bf16 = temp_dir("bf16"), sharded = temp_dir("sharded");
  LlamaDecoder::random(preset_config("debug", 64), 21).save_hf(single);
  save_sharded(LlamaDecoder::random(preset_config("debug", 64), 23), sharded);
  {
    const HllmModel eager = HllmModel::from_sources(sharded, "debug", 64, {1, 2}, 5);
    auto built = HllmModel::unmaterialized(sharded, "debug", 64, {1, 2}, 5, at::kCPU, at::kFloat);
    expect_filled_as_eager(built.model, *built.source, eager, 4);
  }
  std::filesystem::remove_all(sharded);
  LlamaDecoder bf16_decoder = LlamaDecoder::random(preset_config("debug", 64), 22);
  bf16_decoder.to(at::kCPU, at::kBFloat16);
  bf16_decoder.save_hf(bf16);  // stored as BF16
  const HllmModel eager = HllmModel::from_sources(single, bf16, 64, {1, 2}, 5);
  auto built = HllmModel::unmaterialized(single, bf16, 64, {1, 2}, 5, at::kCPU, at::kFloat);
  expect_filled_as_eager(built.model, *built.source, eager, 3);
  std::filesystem::remove_all(single);
  std::filesystem::remove_all(bf16);
}

TEST(ParameterSource, AMissingTensorFailsBeforeAnythingIsRead) {
  const std::string dir = temp_dir("missing");
  LlamaDecoder::random(preset_config("debug", 64), 21).save_hf(dir);
  // Rewrite the file without one layer's tensor.
  std::vector<std::pair<std::string, at::Tensor>> kept;
  for (const auto& [name, t] : LlamaDecoder::from_hf(dir).named_parameters()) {
    if (name != "model.layers.1.mlp.up_proj.weight") kept.emplace_back(name, t);
  }
  save_safetensors(dir + "/model.safetensors", kept);
  try {
    HllmModel::unmaterialized(dir, "debug", 64, {1, 2}, 5, at::kCPU, at::kFloat);
    FAIL() << "a missing tensor was not reported";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hllm::models
