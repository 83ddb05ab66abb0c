// log::setLevel: names map to spdlog levels; unknown names change nothing.
#include "src/common/log.h"

#include <string>

#include <gtest/gtest.h>

namespace pier {
namespace {

// spdlog's level is process-wide; restore it so test order doesn't matter.
class LogLevelTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = spdlog::get_level(); }
  void TearDown() override { spdlog::set_level(saved_); }

 private:
  spdlog::level::level_enum saved_{};
};

TEST_F(LogLevelTest, KnownNamesSetTheLevel) {
  struct Case {
    const char* name;
    spdlog::level::level_enum level;
  };
  for (const auto& c : {Case{"trace", spdlog::level::trace}, Case{"debug", spdlog::level::debug},
                        Case{"info", spdlog::level::info}, Case{"warn", spdlog::level::warn},
                        Case{"error", spdlog::level::err}, Case{"off", spdlog::level::off}}) {
    EXPECT_TRUE(log::setLevel(c.name)) << c.name;
    EXPECT_EQ(spdlog::get_level(), c.level) << c.name;
  }
}

TEST_F(LogLevelTest, UnknownNameIsRejectedAndLeavesTheLevel) {
  ASSERT_TRUE(log::setLevel("warn"));
  EXPECT_FALSE(log::setLevel("verbose"));
  EXPECT_FALSE(log::setLevel(""));
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);
}

}  // namespace
}  // namespace pier
