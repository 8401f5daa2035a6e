#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "models/hf_weights.h"
#include "models/llama2c_converter.h"
#include "models/llama_decoder.h"
#include "models/llama_ops.h"

namespace hllm::models {
namespace {

std::string temp_dir(const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() / ("hllm-models-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path.string();
}

const std::string kStories = std::string(HLLM_SOURCE_DIR) + "/../shared/models/stories260K";

// A decoder small enough for exact checks: 2 layers, 4 heads over 2 key/value heads.
LlamaConfig small_config(int64_t vocab, int64_t hidden, int64_t intermediate) {
  LlamaConfig config;
  config.vocab_size = vocab;
  config.hidden_size = hidden;
  config.intermediate_size = intermediate;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 64;
  return config;
}

TEST(Stories260k, GoldenLogitsAndGreedyContinuation) {
  if (!std::filesystem::exists(kStories + "/stories260K.bin")) GTEST_SKIP() << "skipped: " << kStories << " is absent";
  const std::string out = temp_dir("stories");
  const LlamaConfig converted = convert_llama2c(kStories + "/stories260K.bin", out);
  EXPECT_EQ(converted.num_key_value_heads, 4);
  // Load through the normal Hugging Face path.
  const LlamaDecoder model = LlamaDecoder::from_hf(out);
  EXPECT_TRUE(model.config().tie_word_embeddings);

  at::Tensor tokens = at::full({1, 1}, 1, at::kLong);  // BOS
  const at::Tensor first = model.logits(model.hidden(tokens))[0][0];
  const std::vector<float> golden = {-6.22291f, 8.40434f, -6.22374f, -6.22254f, -6.22195f, -6.22288f, -6.22188f, -6.22342f};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(first[i].item<float>(), golden[i], 1e-4) << "logit " << i;
  EXPECT_EQ(first.argmax().item<int64_t>(), 403);

  const std::vector<int64_t> expected = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338,
                                         401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385,
                                         328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267,
                                         337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13,  438, 310};
  std::vector<int64_t> sequence = {1};
  for (int step = 0; step < 64; ++step) {
    const at::Tensor input = at::tensor(sequence, at::kLong).view({1, -1});
    const at::Tensor last = model.logits(model.hidden(input))[0][-1];
    sequence.push_back(last.argmax().item<int64_t>());
  }
  EXPECT_EQ(std::vector<int64_t>(sequence.begin() + 1, sequence.end()), expected);
  std::filesystem::remove_all(out);
}

TEST(HfWeights, SaveLoadRoundTripAndClearErrors) {
  const LlamaConfig config = small_config(32, 16, 24);
  const LlamaDecoder model = LlamaDecoder::random(config, 3);
  const std::string dir = temp_dir("roundtrip");
  model.save_hf(dir);
  const LlamaDecoder loaded = LlamaDecoder::from_hf(dir);
  const at::Tensor tokens = at::randint(32, {2, 7}, at::kLong);
  EXPECT_TRUE(at::equal(model.logits(model.hidden(tokens)), loaded.logits(loaded.hidden(tokens))));

  const HfWeights weights(dir);
  try {
    weights.load("model.norm.weight", {17}, at::kFloat);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("has shape [16], expected [17]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(weights.load("model.missing.weight", {16}, at::kFloat), InputError);

  std::ofstream(dir + "/config.json") << R"({"model_type": "gpt2", "vocab_size": 32})";
  try {
    LlamaDecoder::from_hf(dir);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model_type 'gpt2' is not supported"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(LlamaOps, CausalityAndRopeRelativity) {
  const LlamaConfig config = small_config(50, 32, 40);
  const LlamaDecoder model = LlamaDecoder::random(config, 5);
  at::Tensor tokens = at::randint(50, {1, 9}, at::kLong);
  const at::Tensor before = model.hidden(tokens);
  tokens[0][6] = (tokens[0][6].item<int64_t>() + 1) % 50;  // change a later position
  const at::Tensor after = model.hidden(tokens);
  EXPECT_TRUE(at::allclose(before.narrow(1, 0, 6), after.narrow(1, 0, 6), 0, 1e-6)) << "earlier outputs changed";
  EXPECT_FALSE(at::allclose(before.narrow(1, 6, 3), after.narrow(1, 6, 3)));
  // RoPE: the score of q at position m and k at position n depends only on m - n.
  const at::Tensor q = at::randn({1, 1, 1, 8}), k = at::randn({1, 1, 1, 8});
  auto score = [&](int64_t m, int64_t n) {
    const auto [cq, sq] = rope_tables(at::full({1}, m, at::kLong), 8, 10000.0);
    const auto [ck, sk] = rope_tables(at::full({1}, n, at::kLong), 8, 10000.0);
    return (apply_rope(q, cq, sq) * apply_rope(k, ck, sk)).sum().item<double>();
  };
  EXPECT_NEAR(score(5, 2), score(13, 10), 1e-4);
}

TEST(Llama2cConverter, TruncatedCheckpointIsNamed) {
  if (!std::filesystem::exists(kStories + "/stories260K.bin")) GTEST_SKIP() << "skipped: " << kStories << " is absent";
  const std::string dir = temp_dir("truncated");
  std::filesystem::copy_file(kStories + "/stories260K.bin", dir + "/short.bin");
  std::filesystem::resize_file(dir + "/short.bin", 5000);
  try {
    convert_llama2c(dir + "/short.bin", dir + "/out");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("short.bin: ends at byte 5000"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(LlamaDecoder, Bfloat16ComputeFollowsFloat32) {
  const LlamaConfig config = small_config(50, 32, 48);
  const LlamaDecoder bf16 = LlamaDecoder::random(config, 9, at::kBFloat16);
  const std::string dir = temp_dir("bf16");
  bf16.save_hf(dir);  // stored as BF16
  const LlamaDecoder f32 = LlamaDecoder::from_hf(dir, at::kFloat);  // the same values in float32
  const at::Tensor tokens = at::randint(50, {2, 6}, at::kLong);
  const at::Tensor low = bf16.hidden(tokens);
  EXPECT_EQ(low.scalar_type(), at::kBFloat16);
  const at::Tensor high = f32.hidden(tokens);
  const double error = (low.to(at::kFloat) - high).abs().max().item<double>();
  EXPECT_LT(error, 0.1) << "bfloat16 hidden states differ from float32 by " << error;
  EXPECT_TRUE(at::isfinite(low).all().item<bool>());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hllm::models
