// Running helper commands: output and exit status come back, and a command
// that overruns its time bound is killed.
#include "src/lab/command.h"

#include <gtest/gtest.h>

namespace pier::lab {
namespace {

using std::chrono::milliseconds;

TEST(LabCommandTest, CapturesOutputAndExitStatus) {
  auto r = runCommand({"sh", "-c", "echo out; echo err >&2; exit 3"}, milliseconds(5000));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_NE(r->output.find("out\n"), std::string::npos);
  EXPECT_NE(r->output.find("err\n"), std::string::npos);
}

TEST(LabCommandTest, OverrunningCommandIsKilled) {
  auto r = runCommand({"sleep", "30"}, milliseconds(100));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("did not finish"), std::string::npos);
}

TEST(LabCommandTest, MissingProgramIsAnError) {
  auto r = runCommand({"pier-lab-no-such-program"}, milliseconds(1000));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not found"), std::string::npos);
}

TEST(LabCommandTest, FindsIproute2OutsideAUserPath) { EXPECT_FALSE(findExecutable("sh").empty()); }

}  // namespace
}  // namespace pier::lab
