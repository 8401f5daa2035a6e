#include "common/error.h"

#include <gtest/gtest.h>

namespace hllm {
namespace {

TEST(Error, CheckNamesFileLineAndValues) {
  try {
    const int got = 3;
    HLLM_CHECK(got == 4, "expected 4, got ", got);
    FAIL();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("tests/common/error_test.cpp:"), std::string::npos) << message;
    EXPECT_NE(message.find("expected 4, got 3"), std::string::npos) << message;
  }
}

TEST(Error, AssertStaysOnInReleaseAndSaysItIsABug) {
  try {
    HLLM_ASSERT(1 + 1 == 3, "arithmetic");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("internal invariant violated (1 + 1 == 3): arithmetic"), std::string::npos);
  }
}

}  // namespace
}  // namespace hllm
