// PID files and the command-line check that keeps `pier lab down` from
// signalling a process that merely inherited a recycled PID.
#include "src/lab/pidfile.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace pier::lab {
namespace {

using namespace std::string_literals;

TEST(LabPidFileTest, ParsesAPidLine) {
  EXPECT_EQ(parsePidFile("1234\n"), 1234);
  EXPECT_EQ(parsePidFile("77"), 77);
}

TEST(LabPidFileTest, RejectsJunkAndInitAndNegativePids) {
  for (const char* bad : {"", "\n", "12x\n", "-5\n", "1\n", "0\n", " 12"})
    EXPECT_EQ(parsePidFile(bad), std::nullopt) << bad;
}

TEST(LabPidFileTest, CmdlineNamingTheRunDirectoryIsTheLabs) {
  EXPECT_TRUE(cmdlineIsLab("/usr/bin/pier\0run\0--config\0/run/pier-lab/node1.yaml\0"s, "/run/pier-lab"));
  EXPECT_TRUE(cmdlineIsLab("keepalived\0-f\0/run/pier-lab/ka-node1.conf"s, "/run/pier-lab"));
}

TEST(LabPidFileTest, OtherCommandLinesAreNot) {
  EXPECT_FALSE(cmdlineIsLab("/usr/bin/pier\0run\0--config\0/etc/pier.yaml\0"s, "/run/pier-lab"));
  EXPECT_FALSE(cmdlineIsLab("/usr/bin/pier\0run\0--config\0/run/pier-lab-other/x\0"s, "/run/pier-lab"));
  EXPECT_FALSE(cmdlineIsLab("bash\0-c\0echo /run/pier-lab/x\0"s, "/run/pier-lab"));
  EXPECT_FALSE(cmdlineIsLab(""s, "/run/pier-lab"));
}

TEST(LabPidFileTest, ThisTestIsNotALabProcess) { EXPECT_FALSE(isLabProcess(getpid(), "/run/pier-lab")); }

TEST(LabPidFileTest, WrittenPidFileReadsBackAndIsListed) {
  char tmpl[] = "/tmp/pier-lab-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ASSERT_TRUE(writePidFile(dir + "/node1.pid", 4321));
  ASSERT_TRUE(writeFile(dir + "/node1.yaml", "x"));
  EXPECT_EQ(readPidFile(dir + "/node1.pid"), 4321);
  auto files = pidFilesIn(dir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0], dir + "/node1.pid");
  unlink((dir + "/node1.pid").c_str());
  unlink((dir + "/node1.yaml").c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace pier::lab

namespace pier::lab {
namespace {

TEST(LabLastLinesTest, KeepsTheLastLines) {
  EXPECT_EQ(lastLines("a\nb\nc\n", 2), "b\nc");
  EXPECT_EQ(lastLines("a\nb\nc", 1), "c");
}

TEST(LabLastLinesTest, ShortOrEmptyTextIsWhole) {
  EXPECT_EQ(lastLines("a\nb\n", 5), "a\nb");
  EXPECT_EQ(lastLines("", 3), "");
  EXPECT_EQ(lastLines("\n", 3), "");
  EXPECT_EQ(lastLines("x", 0), "");
}

}  // namespace
}  // namespace pier::lab

namespace pier::lab {
namespace {

TEST(LabRunningTest, ThisProcessRunsAndPidOneIsNotOurs) {
  EXPECT_TRUE(isRunning(getpid()));
  EXPECT_FALSE(isLabProcess(1, "/run/pier-lab"));
}

}  // namespace
}  // namespace pier::lab
