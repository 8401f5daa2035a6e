#include "models/hllm_model.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "models/presets.h"
#include "models/hf_weights.h"
#include "models/hllm_blocks.h"
#include "models/model_plan.h"
#include "models/hstu_model.h"
#include "models/sasrec_model.h"
#include "tests/models/hand_batch.h"

namespace hllm::models {
namespace {

using test_data::hand_batch;

HllmModel debug_model() { return HllmModel::from_presets("debug", "debug", 64, {1, 2, 3}, 11); }

// The loss of a forward is finite, and backward reaches every parameter with finite values.
void expect_trains(const HllmOutput& out, const std::vector<std::pair<std::string, at::Tensor>>& parameters) {
  ASSERT_TRUE(std::isfinite(out.loss.item<double>()));
  out.loss.backward();
  for (const auto& [name, tensor] : parameters) {
    ASSERT_TRUE(tensor.grad().defined()) << name << " got no gradient";
    EXPECT_TRUE(at::isfinite(tensor.grad()).all().item<bool>()) << name;
  }
}

TEST(Hllm, FiniteLossAndGradientsForEveryParameter) {
  const HllmModel model = debug_model();
  const auto out = model.forward(hand_batch());
  EXPECT_EQ(out.predictions, 5);  // row 0: 3 transitions, row 1: 2
  expect_trains(out, model.named_parameters());
  EXPECT_GT(model.named_parameters().back().second.grad().abs().item<float>(), 0.0f) << "logit_scale";
}

TEST(Hllm, PackedItemsDoNotSeeEachOther) {
  const HllmModel model = debug_model();
  c10::NoGradGuard no_grad;
  // Items A (3 tokens), B (5 tokens), C (1 token) in one call; then B's tokens change and C grows.
  const at::Tensor first = model.item_llm().forward(at::tensor(std::vector<int64_t>{0, 3, 8, 9}),
                                                    at::tensor(std::vector<int64_t>{5, 6, 7, 8, 9, 10, 11, 12, 13}));
  const at::Tensor second = model.item_llm().forward(
      at::tensor(std::vector<int64_t>{0, 3, 8, 15}),
      at::tensor(std::vector<int64_t>{5, 6, 7, 20, 21, 22, 23, 24, 30, 31, 32, 33, 34, 35, 36}));
  EXPECT_TRUE(at::allclose(first[0], second[0], 1e-5, 1e-6)) << "item A changed when B and C did";
  EXPECT_FALSE(at::allclose(first[1], second[1]));
  // Alone, A gets the same embedding as in the packed batch (padding changes nothing).
  const at::Tensor alone =
      model.item_llm().forward(at::tensor(std::vector<int64_t>{0, 3}), at::tensor(std::vector<int64_t>{5, 6, 7}));
  EXPECT_TRUE(at::allclose(alone[0], first[0], 1e-5, 1e-6));
}

TEST(Hllm, LengthBucketsGiveEachItemItsOwnEmbedding) {
  const HllmModel model = debug_model();
  c10::NoGradGuard no_grad;
  // 40 items (three buckets) of lengths 1..13 in mixed order: each equals its embedding computed alone
  // (a bucket without padding, so the unmasked plain-causal path against the masked one).
  std::vector<int64_t> offsets{0}, tokens;
  for (int u = 0; u < 40; ++u) {
    for (int k = 0; k < 1 + (u * 7) % 13; ++k) tokens.push_back(4 + (u + k) % 50);
    offsets.push_back(static_cast<int64_t>(tokens.size()));
  }
  const at::Tensor all = model.item_llm().forward(at::tensor(offsets), at::tensor(tokens));
  ASSERT_EQ(all.size(0), 40);
  for (int u = 0; u < 40; ++u) {
    const std::vector<int64_t> own(tokens.begin() + offsets[u], tokens.begin() + offsets[u + 1]);
    const at::Tensor alone = model.item_llm().forward(at::tensor(std::vector<int64_t>{0, offsets[u + 1] - offsets[u]}),
                                                      at::tensor(own));
    EXPECT_TRUE(at::allclose(alone[0], all[u], 1e-5, 1e-6)) << "item " << u;
  }
  // One bucket for all (padding to the longest) agrees too.
  EXPECT_TRUE(at::allclose(model.item_llm().forward(at::tensor(offsets), at::tensor(tokens), 40), all, 1e-5, 1e-6));
}

TEST(Hllm, UserStatesAreCausalAndIgnoreLeftPadding) {
  const HllmModel model = debug_model();
  c10::NoGradGuard no_grad;
  const at::Tensor items = at::randn({1, 5, 32});
  const at::Tensor mask = at::tensor(std::vector<int64_t>{0, 1, 1, 1, 1}).view({1, 5}).to(at::kBool);
  const at::Tensor before = model.user_llm().forward(items, mask);
  at::Tensor changed = items.clone();
  changed[0][4] += 1.0;  // a later item
  changed[0][0] += 5.0;  // the padding slot
  const at::Tensor after = model.user_llm().forward(changed, mask);
  EXPECT_TRUE(at::allclose(before[0].narrow(0, 1, 3), after[0].narrow(0, 1, 3), 1e-5, 1e-6));
  // Unpadded, the same three items give the same states (positions restart at the first real item).
  const at::Tensor unpadded = model.user_llm().forward(items.narrow(1, 1, 3), at::ones({1, 3}, at::kBool));
  EXPECT_TRUE(at::allclose(unpadded[0], before[0].narrow(0, 1, 3), 1e-5, 1e-6));
}

TEST(Hllm, FillerOnlyBatchGivesZeroLoss) {
  const HllmModel model = debug_model();
  data::Batch b = hand_batch();
  b.mask.assign(b.mask.size(), 0);
  b.items.assign(b.items.size(), 0);
  b.item_slots.assign(b.item_slots.size(), -1);
  const auto out = model.forward(b);
  EXPECT_EQ(out.predictions, 0);
  EXPECT_EQ(out.loss.item<float>(), 0.0f);
}

// An untied checkpoint published without lm_head.weight (HLLM never uses the LM head) builds HLLM's towers,
// eagerly and as placeholders for ZeRO-3; a plain decoder, whose logits need the head, still refuses it.
TEST(Hllm, UntiedCheckpointWithoutLmHeadBuildsTowers) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("hllm-headless-" + std::to_string(::getpid()))).string();
  const LlamaDecoder decoder = LlamaDecoder::random(preset_config("debug", 64), 23);
  ASSERT_FALSE(decoder.config().tie_word_embeddings);
  decoder.save_hf(dir);
  std::vector<std::pair<std::string, at::Tensor>> without_head;
  for (const auto& [name, t] : decoder.named_parameters()) {
    if (name != "lm_head.weight") without_head.emplace_back(name, t);
  }
  save_safetensors(dir + "/model.safetensors", without_head);
  EXPECT_THROW(LlamaDecoder::from_hf(dir), InputError);
  const HllmModel model = HllmModel::from_sources(dir, dir, 64, {1, 2}, 5);
  EXPECT_TRUE(at::equal(model.item_llm().decoder().layers()[1].down_proj, decoder.layers()[1].down_proj));
  EXPECT_TRUE(std::isfinite(model.forward(hand_batch()).loss.item<double>()));
  EXPECT_NO_THROW(HllmModel::unmaterialized(dir, dir, 64, {1, 2}, 5, at::kCPU, at::kFloat));
  std::filesystem::remove_all(dir);
}

TEST(Hllm, TowersFromHuggingFaceDirectories) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("hllm-towers-" + std::to_string(::getpid()))).string();
  LlamaDecoder::random(preset_config("debug", 64), 21).save_hf(dir);
  const HllmModel model = HllmModel::from_sources(dir, "debug", 64, {1, 2}, 5);
  // The Item LLM keeps its token table but no LM head; the User LLM keeps neither.
  bool item_table = false, head = false, user_table = false;
  for (const auto& [name, t] : model.named_parameters()) {
    item_table = item_table || name == "item.model.embed_tokens.weight";
    head = head || name.find("lm_head") != std::string::npos;
    user_table = user_table || name == "user.model.embed_tokens.weight";
  }
  EXPECT_TRUE(item_table);
  EXPECT_FALSE(head);
  EXPECT_FALSE(user_table);
  const LlamaDecoder saved = LlamaDecoder::from_hf(dir);
  EXPECT_TRUE(at::equal(model.item_llm().decoder().layers()[0].q_proj, saved.layers()[0].q_proj));
  const auto out = model.forward(hand_batch());
  EXPECT_TRUE(std::isfinite(out.loss.item<double>()));
  std::filesystem::remove_all(dir);
  EXPECT_THROW(HllmModel::from_sources("/nonexistent-preset", "debug", 64, {}, 1), InputError);
}

TEST(Hllm, PresetsAndMismatchedTowers) {
  EXPECT_EQ(preset_config("1b", 32000).num_hidden_layers, 22);
  EXPECT_EQ(preset_config("7b", 32000).hidden_size, 4096);
  EXPECT_THROW(preset_config("13b", 32000), InputError);
  EXPECT_THROW(HllmModel::from_presets("debug", "tiny", 64, {}, 1), InputError);
}


TEST(SasRec, FiniteLossGradientsAndCausality) {
  SasRecConfig config;
  config.num_items = 20;
  config.hidden_size = 16;
  config.num_layers = 2;
  config.num_heads = 2;
  config.max_positions = 8;
  const SasRecModel model(config, 3);
  const auto out = model.forward(hand_batch());
  EXPECT_EQ(out.predictions, 5);
  expect_trains(out, model.named_parameters());
  c10::NoGradGuard no_grad;
  const at::Tensor items = at::tensor(std::vector<int64_t>{0, 3, 4, 5, 6}).view({1, 5});
  const at::Tensor before = model.states(items);
  const at::Tensor after = model.states(at::tensor(std::vector<int64_t>{0, 3, 4, 5, 9}).view({1, 5}));
  EXPECT_TRUE(at::allclose(before.narrow(1, 1, 3), after.narrow(1, 1, 3), 1e-5, 1e-6)) << "a later item leaked";
}


TEST(Hstu, FiniteLossGradientsCausalityAndTimeBuckets) {
  HstuConfig config;
  config.num_items = 20;
  config.hidden_size = 16;
  config.num_layers = 2;
  config.num_heads = 2;
  config.max_positions = 8;
  config.time_buckets = 32;
  const HstuModel model(config, 4);
  data::Batch batch = hand_batch();
  batch.timestamps = {100, 200, 4000, 90000, 0, 50, 60, 70};
  const auto out = model.forward(batch);
  EXPECT_EQ(out.predictions, 5);
  expect_trains(out, model.named_parameters());
  EXPECT_GT(model.named_parameters()[2].second.grad().abs().sum().item<float>(), 0.0f) << "time bias unused";

  c10::NoGradGuard no_grad;
  const at::Tensor items = at::tensor(std::vector<int64_t>{0, 3, 4, 5}).view({1, 4});
  const at::Tensor times = at::tensor(std::vector<int64_t>{0, 10, 1000, 100000}).view({1, 4});
  const at::Tensor before = model.states(items, times);
  const at::Tensor later = at::tensor(std::vector<int64_t>{0, 10, 1000, 5}).view({1, 4});  // only the last time
  const at::Tensor after = model.states(items, later);
  EXPECT_TRUE(at::allclose(before.narrow(1, 1, 2), after.narrow(1, 1, 2), 1e-5, 1e-6)) << "a later time leaked";
  EXPECT_FALSE(at::allclose(before.narrow(1, 3, 1), after.narrow(1, 3, 1)));
  // log buckets: 0 s and 1 s -> 0; 10 s -> 7; 1000 s -> 22.
  const at::Tensor buckets = HstuModel::time_bucket(at::tensor(std::vector<int64_t>{0, 1, 10, 1000, -1000}), 128);
  EXPECT_EQ(buckets[0].item<int64_t>(), 0);
  EXPECT_EQ(buckets[1].item<int64_t>(), 0);
  EXPECT_EQ(buckets[2].item<int64_t>(), 7);
  EXPECT_EQ(buckets[3].item<int64_t>(), 22);
  EXPECT_EQ(buckets[4].item<int64_t>(), 22);
}


TEST(HllmBlocks, RunningTheBlocksIsTheModelsForwardAndBackward) {
  const HllmModel model = debug_model();
  const auto direct = model.forward(hand_batch());
  direct.loss.backward();
  std::vector<at::Tensor> direct_grads;
  for (const auto& [name, t] : model.named_parameters()) {
    direct_grads.push_back(t.grad().clone());
    t.mutable_grad().zero_();
  }

  const Blocks blocks = hllm_blocks(model);
  Activations a = hllm_activations(hand_batch(), at::kCPU);
  run_blocks(blocks, a);
  EXPECT_TRUE(at::equal(a.at("loss"), direct.loss));
  a.at("loss").backward();
  const auto params = model.named_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(at::equal(params[i].second.grad(), direct_grads[i])) << params[i].first;
  }

  // Every parameter belongs to exactly one block.
  std::map<std::string, int> owners;
  for (const auto& block : blocks)
    for (const auto& [name, t] : block->parameters()) ++owners[name];
  EXPECT_EQ(owners.size(), params.size());
  for (const auto& [name, count] : owners) EXPECT_EQ(count, 1) << name;
  EXPECT_EQ(blocks.front()->name(), "item_embedding");
  EXPECT_EQ(blocks.back()->name(), "loss");
}

TEST(HllmBlocks, TowerRangesAreWhereTheItemAndUserLlmsLie) {
  const HllmModel model = debug_model();
  const Blocks blocks = hllm_blocks(model);
  const TowerRanges towers = hllm_tower_ranges(model);
  ASSERT_LT(towers.user_end, blocks.size());
  EXPECT_EQ(blocks[towers.item_end - 1]->name(), "item_output");
  EXPECT_EQ(blocks[towers.user_begin]->name(), "user_input");
  EXPECT_EQ(blocks[towers.user_end - 1]->name(), "user_output");
}

TEST(HllmBlocks, CostsFollowTheShapes) {
  const HllmModel model = debug_model();
  const Blocks blocks = hllm_blocks(model);
  ModelShapes shapes{/*items=*/100, /*item_tokens=*/40, /*sequences=*/8, /*sequence_length=*/11, /*negatives=*/64, 4};
  const BlockCost layer = blocks[1]->cost(shapes);  // item_layer.0
  EXPECT_EQ(blocks[1]->name(), "item_layer.0");
  // debug preset: D 32, F 64, H 4, Hkv 2, d 8; n = 4000 item tokens.
  const double n = 4000, D = 32, F = 64;
  const double expected = 2 * n * D * (32 + 2 * 16) + 2 * n * 32 * D + 2 * n * 3 * D * F + 4 * 100 * 4 * 40.0 * 40 * 8;
  EXPECT_DOUBLE_EQ(layer.forward_flops, expected);
  EXPECT_EQ(layer.parameters, 32 + 32 * 32 + 16 * 32 * 2 + 32 * 32 + 32 + 3 * 64 * 32);
  // The Item LLM processes items x tokens, the User LLM only the sequences: item layers dominate.
  const size_t user_layer = blocks.size() - 3;
  EXPECT_EQ(blocks[user_layer]->name(), "user_layer.1");
  EXPECT_GT(layer.forward_flops, 20 * blocks[user_layer]->cost(shapes).forward_flops);
  EXPECT_EQ(total_cost(blocks, shapes).parameters, [&] {
    int64_t n = 0;
    for (const auto& [name, t] : model.named_parameters()) n += t.numel();
    return n;
  }());
}

// The planner's parameter counts (models/model_plan.h, no tensors) are the built model's.
TEST(ModelPlan, ParameterCountsMatchTheBuiltModel) {
  for (const std::string preset : {"debug", "tiny"}) {
    const HllmModel model = HllmModel::from_presets(preset, preset, 64, {1, 2}, 3);
    int64_t built = 0;
    for (const auto& [name, t] : model.named_parameters()) built += t.numel();
    const auto config = preset_config(preset, 64);
    EXPECT_EQ(hllm_parameters(config, config), built) << preset;
  }
  LlamaConfig qwen = preset_config("debug", 64);
  qwen.attention_bias = true;
  auto decoder = LlamaDecoder::random(qwen, 1);
  int64_t built = 0;
  for (const auto& [name, t] : decoder.named_parameters()) built += t.numel();
  EXPECT_EQ(tower_parameters(qwen, true) + (qwen.tie_word_embeddings ? 0 : qwen.vocab_size * qwen.hidden_size), built);
}

}  // namespace
}  // namespace hllm::models
