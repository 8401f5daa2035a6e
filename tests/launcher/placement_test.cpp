// The device choice of parallel.device and the progress display choice of --progress (launcher/).
#include "launcher/placement.h"
#include "launcher/launch_options.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace hllm::launcher {
namespace {

TEST(ChooseDevice, CpuIsAlwaysTheCpu) {
  EXPECT_EQ(choose_device(config::DeviceKind::kCpu, true, 3), "cpu");
  EXPECT_EQ(choose_device(config::DeviceKind::kCpu, false, 0), "cpu");
}

TEST(ChooseDevice, AutoTakesTheGpuOfTheLocalRankOnlyWhenEveryRankHasOne) {
  EXPECT_EQ(choose_device(config::DeviceKind::kAuto, true, 0), "cuda:0");
  EXPECT_EQ(choose_device(config::DeviceKind::kAuto, true, 5), "cuda:5");
  EXPECT_EQ(choose_device(config::DeviceKind::kAuto, false, 1), "cpu");
}

TEST(ChooseDevice, CudaWithoutAGpuPerRankIsAnInputErrorThatSaysWhatToDo) {
  EXPECT_EQ(choose_device(config::DeviceKind::kCuda, true, 2), "cuda:2");
  try {
    choose_device(config::DeviceKind::kCuda, false, 0);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("parallel.device = cpu"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hllm::launcher

namespace hllm::launcher {
namespace {

TEST(ProgressBar, AutoDrawsOnlyOnATerminalOutsideMpirun) {
  EXPECT_TRUE(progress_bar_wanted("auto", true, false));
  EXPECT_FALSE(progress_bar_wanted("auto", true, true)) << "mpirun's ranks see a terminal even into a file";
  EXPECT_FALSE(progress_bar_wanted("auto", false, false));
  EXPECT_TRUE(progress_bar_wanted("bar", false, true));
  EXPECT_FALSE(progress_bar_wanted("lines", true, false));
}

}  // namespace
}  // namespace hllm::launcher
