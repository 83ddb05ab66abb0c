// The pre-parse nesting estimate that protects yaml-cpp's recursive parser.
#include <string>

#include <gtest/gtest.h>

#include "src/config/nesting_scan.h"

namespace pier::config {
namespace {

TEST(NestingScanTest, ShallowConfigPasses) {
  // map, map, sequence, map, flow sequence, flow map: six levels.
  EXPECT_FALSE(findExcessiveNesting("a:\n  b:\n    - c: [1, {d: 2}]\n", 6));
  EXPECT_TRUE(findExcessiveNesting("a:\n  b:\n    - c: [1, {d: 2}]\n", 5));
}

TEST(NestingScanTest, CountsBlockIndentation) {
  std::string yaml = "a:\n  b:\n    c:\n      d: 1\n";
  EXPECT_FALSE(findExcessiveNesting(yaml, 4));
  auto at = findExcessiveNesting(yaml, 3);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->line, 4);
  EXPECT_EQ(at->column, 7);
}

TEST(NestingScanTest, CountsCompactSequenceIndicators) {
  // Four nested sequences.
  EXPECT_FALSE(findExcessiveNesting("- - - - x\n", 5));
  auto at = findExcessiveNesting("- - - - x\n", 3);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->line, 1);
}

TEST(NestingScanTest, CountsFlowBrackets) {
  auto at = findExcessiveNesting("a: [[[[1]]]]\n", 4);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->column, 7);
  EXPECT_FALSE(findExcessiveNesting("a: [[[[1]]]]\n", 5));
}

TEST(NestingScanTest, FlowSpanningLines) {
  EXPECT_TRUE(findExcessiveNesting("a: [\n [\n  [\n   [1]]]]\n", 4));
}

TEST(NestingScanTest, IgnoresBracketsInQuotedStrings) {
  EXPECT_FALSE(findExcessiveNesting("a: \"[[[[[[\"\nb: '{{{{{{'\n", 2));
  EXPECT_FALSE(findExcessiveNesting("a: [\"]]]\", '[[[[[[']\n", 2));
}

TEST(NestingScanTest, IgnoresBracketsInPlainScalarsAndComments) {
  EXPECT_FALSE(findExcessiveNesting("regex: ^/a[[[[[[b\n# [[[[[[[\n", 1));
}

TEST(NestingScanTest, IgnoresBlockScalarContent) {
  std::string yaml = "body: |\n  [[[[[[\n    {{{{{{\n      x\nnext: 1\n";
  EXPECT_FALSE(findExcessiveNesting(yaml, 1));
}

TEST(NestingScanTest, MultiLineQuotedString) {
  EXPECT_FALSE(findExcessiveNesting("a: \"[[[\n  [[[[\"\nb: 1\n", 1));
}

TEST(NestingScanTest, DeepFlowIsCaughtAtTheDefaultLimit) {
  std::string deep(100000, '[');
  auto at = findExcessiveNesting(deep);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->line, 1);
  EXPECT_LE(at->column, kMaxYamlNesting + 1);
}

TEST(NestingScanTest, AnchorsAndTagsBeforeFlowStillCount) {
  EXPECT_TRUE(findExcessiveNesting("a: &x [[[1]]]\n", 3));
  EXPECT_TRUE(findExcessiveNesting("a: !!seq [[[1]]]\n", 3));
}

}  // namespace
}  // namespace pier::config
