#include "runtime/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/config/config_loader.h"
#include "common/error.h"

namespace hllm::runtime {
namespace {

config::SchedulerConfig schedule(const std::string& type, int64_t warmup, int64_t total, double start, double end) {
  config::SchedulerConfig s;
  s.type = type;
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

TEST(LrSchedule, ConfigKeysFollowDeepSpeed) {
  const auto c = config::parse_config_text(
      R"({"optimizer": {"type": "AdamW", "params": {"lr": 3e-4, "betas": [0.9, 0.95], "weight_decay": 0.1}},
          "scheduler": {"type": "WarmupDecayLR", "params": {"warmup_num_steps": 100}}})",
      "test.json");
  EXPECT_DOUBLE_EQ(c.optimizer.params.lr, 3e-4);
  EXPECT_EQ(c.optimizer.params.betas, (std::vector<double>{0.9, 0.95}));
  EXPECT_EQ(c.scheduler.type, "WarmupDecayLR");
  EXPECT_EQ(c.scheduler.params.warmup_num_steps, 100);
  EXPECT_THROW(config::parse_config_text(R"({"scheduler": {"type": "OneCycle"}})", "t.json"), InputError);
  EXPECT_THROW(config::parse_config_text(R"({"optimizer": {"params": {"betas": [0.9, "x"]}}})", "t.json"), InputError);
}

}  // namespace
}  // namespace hllm::runtime
