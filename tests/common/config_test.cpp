#include "common/config/config_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/closest_match.h"
#include "common/config/batch_sizes.h"
#include "common/error.h"

namespace hllm::config {
namespace {

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config_text(text, "test.json", overrides);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsWhenKeysAreAbsent) {
  const Config config = parse_config_text("{}", "test.json");
  EXPECT_EQ(config.parallel.pp, 1);
  EXPECT_EQ(config.zero_optimization.stage, 0);
  EXPECT_EQ(config.data.item_prompt, "");  // the dataset's (data/dataset_keys.h)
  EXPECT_EQ(config.data.max_text_len, 0);
}

TEST(Config, ReadsNestedKeys) {
  const Config config = parse_config_text(
      R"({"zero_optimization": {"stage": 3}, "bf16": {"enabled": true}, "data": {"text_keys": ["title"]},
          "gradient_clipping": 0.5, "seed": 7})",
      "test.json");
  EXPECT_EQ(config.zero_optimization.stage, 3);
  EXPECT_TRUE(config.bf16.enabled);
  EXPECT_EQ(config.data.text_keys, std::vector<std::string>{"title"});
  EXPECT_DOUBLE_EQ(config.gradient_clipping, 0.5);
  EXPECT_EQ(config.seed, 7);
}

TEST(Config, MisspeltKeyNamesItsLineAndTheClosestKey) {
  const std::string message = error_of("{\n  \"name\": \"x\",\n  \"zero_optimisation\": {\"stage\": 1}\n}");
  EXPECT_NE(message.find("test.json:3: unknown key 'zero_optimisation'; did you mean 'zero_optimization'?"),
            std::string::npos)
      << message;
}

TEST(Config, UnknownNestedKeyIsNamedWithItsPath) {
  const std::string message = error_of(R"({"parallel": {"ppp": 2}})");
  EXPECT_NE(message.find("unknown key 'parallel.ppp'; did you mean 'parallel.pp'?"), std::string::npos) << message;
}

TEST(Config, EveryProblemIsReportedAtOnce) {
  const std::string message =
      error_of(R"({"parallel": {"pp": "two"}, "bf16": {"enabled": 1}, "zero_optimization": {"stage": 4}})");
  EXPECT_NE(message.find("3 problems"), std::string::npos) << message;
  EXPECT_NE(message.find("key 'parallel.pp': expected an integer, got \"two\""), std::string::npos) << message;
  EXPECT_NE(message.find("key 'bf16.enabled': expected true or false, got 1"), std::string::npos) << message;
  EXPECT_NE(message.find("key 'zero_optimization.stage': expected a value in [0, 3], got 4"), std::string::npos)
      << message;
}

TEST(Config, WrongShapesAreErrors) {
  EXPECT_NE(error_of(R"({"parallel": 2})").find("key 'parallel': expected an object, got 2"), std::string::npos);
  EXPECT_NE(error_of(R"({"train_batch_size": 2.5})").find("expected an integer"), std::string::npos);
  EXPECT_NE(error_of(R"([1, 2])").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(error_of("{\"name\": }").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"data": {"text_keys": ["a", 1]}})").find("expected a list of strings"), std::string::npos);
}

// A problem in a value given by --set is blamed on --set, not on a line of the file that holds the key too.
TEST(Config, ProblemsOfOverriddenKeysNameTheOverride) {
  const std::string text = "{\n  \"model\": {\n    \"item\": \"tiny\"\n  },\n  \"parallel\": {\"pp\": 1}\n}";
  const std::string message = error_of(text, {R"(model.item={"hidden_size": 30, "num_layers": 1, "num_heads": 4})",
                                               "parallel.pp=0"});
  EXPECT_NE(message.find("\n  --set model.item: key 'model.item.num_heads': hidden_size 30"), std::string::npos)
      << message;
  EXPECT_NE(message.find("\n  --set parallel.pp: key 'parallel.pp'"), std::string::npos) << message;
  EXPECT_EQ(message.find("test.json:3"), std::string::npos) << message;
  // The file's own problems keep their lines.
  const std::string bad_file = "{\n  \"model\": {\"item\": \"tiny\"},\n  \"parallel\": {\"pp\": \"two\"}\n}";
  EXPECT_NE(error_of(bad_file, {"model.item=debug"}).find("test.json:3: key 'parallel.pp'"), std::string::npos);
}

// Names that become paths are checked before any file-system call, naming the key.
TEST(Config, OverLongPathsAreRefusedNamingTheKey) {
  const std::string part(300, 'a');
  EXPECT_NE(error_of("{}", {"run.dir=/tmp/" + part}).find("--set run.dir: key 'run.dir' = '/tmp/aaa"),
            std::string::npos);
  EXPECT_NE(error_of("{}", {"name=" + part}).find("key 'name' = 'runs/aaa"), std::string::npos);
  EXPECT_NE(error_of("{}", {"model.item=" + part}).find("a file or directory name is at most 255"), std::string::npos);
  EXPECT_NE(error_of(R"({"data": {"path": ")" + part + R"("}})").find("test.json:1: key 'data.path'"),
            std::string::npos);
}

TEST(Config, OverridesApplyInOrderAndCreateSections) {
  const Config config = parse_config_text(R"({"parallel": {"pp": 1}})", "test.json",
                                          {"parallel.pp=2", "zero_optimization.stage=3", "parallel.pp=4",
                                           "name=123", "data.item_prompt=Embed: ", "bf16.enabled=true"});
  EXPECT_EQ(config.parallel.pp, 4);
  EXPECT_EQ(config.zero_optimization.stage, 3);
  EXPECT_EQ(config.name, "123");  // a string key keeps the text as written
  EXPECT_EQ(config.data.item_prompt, "Embed: ");
  EXPECT_TRUE(config.bf16.enabled);
}

TEST(Config, BadOverridesAreNamed) {
  EXPECT_NE(error_of("{}", {"paralel.pp=2"}).find("--set paralel.pp=2: unknown key 'paralel.pp'; did you mean 'parallel.pp'?"),
            std::string::npos);
  EXPECT_NE(error_of("{}", {"parallel.pp"}).find("expected key.path=value"), std::string::npos);
  EXPECT_NE(error_of("{}", {"parallel.pp=x"}).find("key 'parallel.pp': expected an integer, got \"x\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"parallel": 3})", {"parallel.pp=2"}).find("'parallel' is not an object"), std::string::npos);
}

// What a run would refuse once started is refused when the config is read (hllm_launch --dry_run,
// hllm_eval and hllm_plan alike), with the line of the key.
TEST(Config, RulesBetweenKeysAreCheckedWhenRead) {
  const std::string sasrec = "{\n \"model\": {\"type\": \"sasrec\"},\n \"bf16\": {\"enabled\": true},\n"
                             " \"parallel\": {\"pp\": 2}\n}";
  const std::string error = error_of(sasrec, {"activation_checkpointing.policy=every_block"});
  EXPECT_NE(error.find("3 problems"), std::string::npos) << error;
  EXPECT_NE(error.find("test.json:3: key 'bf16.enabled': sasrec (a small ID model) trains in float32"), std::string::npos) << error;
  EXPECT_NE(error.find("test.json:4: key 'parallel.pp' = 2: pipeline parallelism cuts HLLM's chain"), std::string::npos) << error;
  EXPECT_NE(error.find("key 'activation_checkpointing.policy' = every_block"), std::string::npos) << error;
  // A cut needs a pipeline, pp - 1 entries, increasing from block 1.
  EXPECT_NE(error_of("{}", {"parallel.pipeline_cut=[3]"}).find("with parallel.pp = 1 it needs 0"), std::string::npos);
  EXPECT_NE(error_of("{}", {"parallel.pp=3", "parallel.pipeline_cut=[4, 2]"}).find("blocks must increase and be > 0"),
            std::string::npos);
  EXPECT_NE(error_of("{}", {"parallel.pp=2", "parallel.pipeline_cut=[0]"}).find("blocks must increase and be > 0"),
            std::string::npos);
  EXPECT_NO_THROW(parse_config_text("{}", "test.json", {"parallel.pp=3", "parallel.pipeline_cut=[2, 4]"}));
  EXPECT_NO_THROW(parse_config_text("{}", "test.json", {"model.type=hstu"}));
}

TEST(Config, WritesEveryKeyAndReadsItBack) {
  const Config config = parse_config_text(R"({"parallel": {"pp": 2}, "name": "x"})", "test.json");
  const std::string text = config_to_json(config).dump();
  const Config again = parse_config_text(text, "round-trip");
  EXPECT_EQ(config_to_json(again).dump(), text);
  EXPECT_EQ(again.parallel.pp, 2);
}

TEST(Config, FindKeyLineFollowsThePath) {
  const std::string text = "{\n \"a\": {\"stage\": 1},\n \"zero_optimization\": {\n   \"stage\": 2\n }\n}";
  EXPECT_EQ(find_key_line(text, "zero_optimization.stage"), 4);
  EXPECT_EQ(find_key_line(text, "a.stage"), 2);
  EXPECT_EQ(find_key_line(text, "missing"), 0);
}

TEST(Config, TowerIsAPresetADirectoryOrAShape) {
  const Config config = parse_config_text(
      R"({"model": {"item": "debug", "user": {"hidden_size": 96, "num_layers": 3, "num_heads": 6, "num_kv_heads": 2}}})",
      "test.json");
  EXPECT_EQ(config.model.item.source, "debug");
  EXPECT_FALSE(config.model.item.shape);
  ASSERT_TRUE(config.model.user.shape);
  const TowerShape& shape = *config.model.user.shape;
  EXPECT_EQ(shape.hidden_size, 96);
  EXPECT_EQ(shape.num_layers, 3);
  EXPECT_EQ(shape.num_kv_heads, 2);
  EXPECT_EQ(shape.intermediate_size, 256);  // 8/3 x 96, a multiple of 8
  EXPECT_EQ(config.model.user.describe(), "hidden 96, 3 layers, 6 heads (2 kv), ffn 256");
  // Written out and read back as the same shape (a run's config.json starts hllm_eval).
  const Config again = parse_config_text(config_to_json(config).dump(), "again.json");
  ASSERT_TRUE(again.model.user.shape);
  EXPECT_EQ(again.model.user.shape->intermediate_size, 256);
  EXPECT_EQ(again.model.user.shape->num_kv_heads, 2);
  EXPECT_EQ(again.model.item.source, "debug");
  // From the command line: an object as JSON, a name as written.
  const Config set = parse_config_text(
      "{}", "test.json", {R"(model.item={"hidden_size": 64, "num_layers": 2, "num_heads": 4})", "model.user=1b"});
  EXPECT_EQ(parse_config_text("{}", "test.json", {R"(model.user="7b")"}).model.user.source, "7b");
  ASSERT_TRUE(set.model.item.shape);
  EXPECT_EQ(set.model.item.shape->num_kv_heads, 4);
  EXPECT_EQ(set.model.user.source, "1b");
}

TEST(Config, BadTowerShapeNamesItsKey) {
  const auto shape_error = [](const std::string& shape) {
    return error_of(R"({"model": {"item": )" + shape + "}}");
  };
  EXPECT_NE(shape_error(R"({"hidden_size": 64, "num_layers": 2})").find("key 'model.item.num_heads': required in a shape"),
            std::string::npos);
  EXPECT_NE(shape_error(R"({"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_head": 2})")
                .find("unknown key 'model.item.num_kv_head'; did you mean 'model.item.num_kv_heads'?"),
            std::string::npos);
  EXPECT_NE(shape_error(R"({"hidden_size": 64, "num_layers": 2, "num_heads": 5})")
                .find("key 'model.item.num_heads': hidden_size 64 is not a multiple of num_heads 5"),
            std::string::npos);
  EXPECT_NE(shape_error(R"({"hidden_size": 60, "num_layers": 2, "num_heads": 4})").find("must be even"),
            std::string::npos);
  EXPECT_NE(shape_error(R"({"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 3})")
                .find("key 'model.item.num_kv_heads': num_heads 4 is not a multiple of num_kv_heads 3"),
            std::string::npos);
  EXPECT_NE(shape_error(R"({"hidden_size": 0, "num_layers": 2, "num_heads": 4})")
                .find("key 'model.item.hidden_size': expected a value >= 1"),
            std::string::npos);
  EXPECT_NE(shape_error(R"("13b")").find("key 'model.item': '13b' is neither a preset (debug, tiny, 1b, 7b) nor a model directory"),
            std::string::npos);
  EXPECT_NE(shape_error("12").find("key 'model.item': expected a preset name, a model directory or a shape object"),
            std::string::npos);
}

TEST(Config, ReferenceDocumentsEveryKey) {
  std::ifstream file(std::string(HLLM_SOURCE_DIR) + "/configs/README.md");
  ASSERT_TRUE(file) << "configs/README.md is missing";
  std::stringstream text;
  text << file.rdbuf();
  for (const auto& key : config_keys()) {
    EXPECT_NE(text.str().find("`" + key.path + "`"), std::string::npos)
        << "configs/README.md does not document `" << key.path << "`";
  }
}

TEST(Config, ShippedConfigsParse) {
  for (const auto& entry : std::filesystem::directory_iterator(std::string(HLLM_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".json") continue;
    EXPECT_NO_THROW(load_config_file(entry.path().string())) << entry.path();
  }
}

TEST(BatchSizes, DeepSpeedRule) {
  auto b = resolve_batch_sizes(0, 4, 0, 2);
  EXPECT_EQ(b.train_batch_size, 8);
  EXPECT_EQ(b.gradient_accumulation_steps, 1);
  b = resolve_batch_sizes(32, 4, 0, 2);
  EXPECT_EQ(b.gradient_accumulation_steps, 4);
  b = resolve_batch_sizes(32, 0, 2, 2);
  EXPECT_EQ(b.micro_batch_per_rank, 8);
  b = resolve_batch_sizes(32, 4, 4, 2);
  EXPECT_EQ(b.train_batch_size, 32);
  EXPECT_THROW(resolve_batch_sizes(30, 4, 4, 2), InputError);
  EXPECT_THROW(resolve_batch_sizes(30, 4, 0, 2), InputError);
  EXPECT_THROW(resolve_batch_sizes(0, 0, 2, 2), InputError);
  try {
    resolve_batch_sizes(30, 4, 4, 2);
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("train_batch_size=30, train_micro_batch_size_per_gpu=4, "
                                         "gradient_accumulation_steps=4, dp=2"),
              std::string::npos);
  }
}

TEST(ClosestMatch, SuggestsOnlyPlausibleTypos) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3);
  EXPECT_EQ(closest_match("zero_optimisation", {"zero_optimization", "bf16"}), "zero_optimization");
  EXPECT_EQ(closest_match("xyz", {"zero_optimization", "bf16"}), "");
}

}  // namespace
}  // namespace hllm::config
