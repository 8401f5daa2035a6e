#include "runtime/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/config/config_loader.h"
#include "common/error.h"

namespace hllm::runtime {
namespace {

config::SchedulerConfig schedule(const std::string& type, int64_t warmup, int64_t total, double start, double end) {
  config::SchedulerConfig s;
  EXPECT_EQ(config::read_enum(nlohmann::json(type), &s.type), "") << type;
  s.params = {warmup, total, start, end};
  return s;
}

TEST(LrSchedule, WarmupThenEachDecay) {
  const auto cosine = schedule("WarmupCosineLR", 10, 110, 0.1, 0.0);
  EXPECT_DOUBLE_EQ(learning_rate(cosine, 1.0, 0, 0), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(cosine, 1.0, 5, 0), 0.55);
  EXPECT_DOUBLE_EQ(learning_rate(cosine, 1.0, 10, 0), 1.0);
  EXPECT_NEAR(learning_rate(cosine, 1.0, 60, 0), 0.5, 1e-12);
  EXPECT_NEAR(learning_rate(cosine, 1.0, 110, 0), 0.0, 1e-12);
  EXPECT_NEAR(learning_rate(cosine, 1.0, 500, 0), 0.0, 1e-12);
  const auto linear = schedule("WarmupDecayLR", 0, 0, 0.0, 0.2);
  EXPECT_DOUBLE_EQ(learning_rate(linear, 2.0, 0, 100), 2.0);
  EXPECT_NEAR(learning_rate(linear, 2.0, 50, 100), 2.0 * (0.2 + 0.8 * 0.5), 1e-12);
  const auto constant = schedule("WarmupLR", 4, 0, 0.0, 0.0);
  EXPECT_DOUBLE_EQ(learning_rate(constant, 3.0, 2, 0), 1.5);
  EXPECT_DOUBLE_EQ(learning_rate(constant, 3.0, 1000, 0), 3.0);
}

TEST(LrSchedule, WarmupAsAShareOfTheSchedule) {
  auto cosine = schedule("WarmupCosineLR", 0, 0, 0.0, 0.0);
  cosine.params.warmup_ratio = 0.1;  // HLLM's scheduler_args.warmup
  EXPECT_EQ(warmup_steps(cosine.params, 1005), 101);
  EXPECT_DOUBLE_EQ(learning_rate(cosine, 1.0, 50, 1000), 0.5);  // halfway through 100 warmup steps
  EXPECT_DOUBLE_EQ(learning_rate(cosine, 1.0, 100, 1000), 1.0);
  EXPECT_NEAR(learning_rate(cosine, 1.0, 550, 1000), 0.5, 1e-12);
  cosine.params.total_num_steps = 200;  // a share of the schedule's steps, not the run's
  EXPECT_DOUBLE_EQ(learning_rate(cosine, 1.0, 20, 1000), 1.0);  // warmup over at 20 of 200 steps
  EXPECT_DOUBLE_EQ(learning_rate(cosine, 1.0, 10, 1000), 0.5);
  try {
    config::parse_config_text(R"({"scheduler": {"params": {"warmup_num_steps": 10, "warmup_ratio": 0.1}}})", "t.json");
    FAIL() << "two warmups were accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("both set the warmup: keep one"), std::string::npos) << e.what();
  }
}

TEST(LrSchedule, ConfigKeysFollowDeepSpeed) {
  const auto c = config::parse_config_text(
      R"({"optimizer": {"type": "AdamW", "params": {"lr": 3e-4, "betas": [0.9, 0.95], "weight_decay": 0.1}},
          "scheduler": {"type": "WarmupDecayLR", "params": {"warmup_num_steps": 100}}})",
      "test.json");
  EXPECT_DOUBLE_EQ(c.optimizer.params.lr, 3e-4);
  EXPECT_EQ(c.optimizer.params.betas, (std::vector<double>{0.9, 0.95}));
  EXPECT_EQ(c.scheduler.type, config::LrScheduleType::kWarmupDecayLR);
  EXPECT_EQ(c.scheduler.params.warmup_num_steps, 100);
  EXPECT_THROW(config::parse_config_text(R"({"scheduler": {"type": "OneCycle"}})", "t.json"), InputError);
  EXPECT_THROW(config::parse_config_text(R"({"optimizer": {"params": {"betas": [0.9, "x"]}}})", "t.json"), InputError);
}

}  // namespace
}  // namespace hllm::runtime
