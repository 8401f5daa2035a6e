// The device choice of parallel.device (launcher/placement.h).
#include "launcher/placement.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace hllm::launcher {
namespace {

TEST(ChooseDevice, CpuIsAlwaysTheCpu) {
  EXPECT_EQ(choose_device("cpu", true, 3), "cpu");
  EXPECT_EQ(choose_device("cpu", false, 0), "cpu");
}

TEST(ChooseDevice, AutoTakesTheGpuOfTheLocalRankOnlyWhenEveryRankHasOne) {
  EXPECT_EQ(choose_device("auto", true, 0), "cuda:0");
  EXPECT_EQ(choose_device("auto", true, 5), "cuda:5");
  EXPECT_EQ(choose_device("auto", false, 1), "cpu");
}

TEST(ChooseDevice, CudaWithoutAGpuPerRankIsAnInputErrorThatSaysWhatToDo) {
  EXPECT_EQ(choose_device("cuda", true, 2), "cuda:2");
  try {
    choose_device("cuda", false, 0);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("parallel.device = cpu"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hllm::launcher
