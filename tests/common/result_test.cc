// Result<T> and Status: value-or-error types returned across module APIs.
#include "src/common/result.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pier {
namespace {

Result<int> parsePositive(int v) {
  if (v <= 0) {
    return Error{"must be positive"};
  }
  return v;
}

TEST(ResultTest, HoldsAValue) {
  auto r = parsePositive(7);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.value(), 7);
  EXPECT_EQ(*r, 7);
}

TEST(ResultTest, HoldsAnError) {
  auto r = parsePositive(-1);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.error(), "must be positive");
}

TEST(ResultTest, ArrowReachesMembersOfTheValue) {
  Result<std::string> r(std::string("abc"));
  EXPECT_EQ(r->size(), 3u);
  r->push_back('d');
  EXPECT_EQ(r.value(), "abcd");
  const auto& cr = r;
  EXPECT_EQ(cr->front(), 'a');
  EXPECT_EQ(cr.value(), "abcd");
}

TEST(ResultTest, ValueCanBeMovedOutOfARvalue) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(5));
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 5);
}

TEST(ResultTest, AnErrorResultOfAStringTypeIsStillAnError) {
  // A std::string value and an Error must not be confused.
  Result<std::string> v(std::string("fine"));
  Result<std::string> e(Error{"broken"});
  EXPECT_TRUE(v.ok());
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.error(), "broken");
}

TEST(ResultTest, AccessingTheWrongAlternativeThrows) {
  auto bad = parsePositive(0);
  EXPECT_THROW(bad.value(), std::bad_variant_access);
  auto good = parsePositive(1);
  EXPECT_THROW(good.error(), std::bad_variant_access);
}

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(static_cast<bool>(s));
  EXPECT_EQ(s.error(), "");
  EXPECT_TRUE(Status::okStatus().ok());
}

TEST(StatusTest, FromErrorFailsWithItsMessage) {
  Status s = Error{"disk full"};
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(static_cast<bool>(s));
  EXPECT_EQ(s.error(), "disk full");
}

TEST(StatusTest, AnErrorWithAnEmptyMessageIsStillAFailure) {
  Status s = Error{""};
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace pier
