// The scalar parsers behind the loader, and the small Config helpers.
#include <array>
#include <string_view>

#include <gtest/gtest.h>

#include "src/config/config.h"
#include "src/config/values.h"

namespace pier::config {
namespace {

TEST(QuoteTest, WrapsTextInDoubleQuotes) {
  EXPECT_EQ(quote("a b"), "\"a b\"");
  EXPECT_EQ(quote(""), "\"\"");
}

TEST(DurationTest, ParsesEachUnit) {
  EXPECT_EQ(*parseDuration("250ms"), Millis(250));
  EXPECT_EQ(*parseDuration("10s"), Millis(10'000));
  EXPECT_EQ(*parseDuration("1m"), Millis(60'000));
  EXPECT_EQ(*parseDuration("2h"), Millis(7'200'000));
}

TEST(DurationTest, PlainIntegerIsMilliseconds) {
  EXPECT_EQ(*parseDuration("0"), Millis(0));
  EXPECT_EQ(*parseDuration("1500"), Millis(1500));
}

TEST(DurationTest, CompoundDurationsAdd) {
  EXPECT_EQ(*parseDuration("1m30s"), Millis(90'000));
  EXPECT_EQ(*parseDuration("1h1m1s1ms"), Millis(3'661'001));
}

TEST(DurationTest, RejectsMalformedText) {
  for (std::string_view bad : {"", "s", "10", "10x", "1.5s", "10 s", "s10", "1m30", "+5s", "0x10"}) {
    if (bad == "10") continue;  // a plain integer is valid
    EXPECT_FALSE(parseDuration(bad).ok()) << bad;
  }
}

TEST(DurationTest, RejectsNegative) {
  auto d = parseDuration("-1s");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error(), "must not be negative, got \"-1s\"");
}

TEST(DurationTest, RejectsOverflowWithoutWrapping) {
  EXPECT_TRUE(parseDuration("2147483647").ok());
  EXPECT_FALSE(parseDuration("2147483648").ok());
  EXPECT_FALSE(parseDuration("596h596h").ok());
  EXPECT_FALSE(parseDuration("99999999999999999999999s").ok());
  EXPECT_FALSE(parseDuration("18446744073709551616ms").ok());
}

TEST(DurationTest, FormatPicksTheLargestExactUnit) {
  EXPECT_EQ(formatDuration(Millis(0)), "0s");
  EXPECT_EQ(formatDuration(Millis(250)), "250ms");
  EXPECT_EQ(formatDuration(Millis(1500)), "1500ms");
  EXPECT_EQ(formatDuration(Millis(10'000)), "10s");
  EXPECT_EQ(formatDuration(Millis(90'000)), "90s");
  EXPECT_EQ(formatDuration(Millis(60'000)), "1m");
  EXPECT_EQ(formatDuration(Millis(7'200'000)), "2h");
}

TEST(DurationTest, FormatRoundTrips) {
  for (int64_t ms : {0L, 1L, 999L, 1000L, 61'000L, 3'600'000L, 2'147'483'647L}) {
    EXPECT_EQ(*parseDuration(formatDuration(Millis(ms))), Millis(ms)) << ms;
  }
}

TEST(UnsignedTest, ParsesAndBoundsDecimal) {
  EXPECT_EQ(*parseUnsigned("0", 10), 0u);
  EXPECT_EQ(*parseUnsigned("10", 10), 10u);
  EXPECT_FALSE(parseUnsigned("11", 10).ok());
  EXPECT_EQ(*parseUnsigned("18446744073709551615", UINT64_MAX), UINT64_MAX);
  EXPECT_FALSE(parseUnsigned("18446744073709551616", UINT64_MAX).ok());
  EXPECT_FALSE(parseUnsigned("", 10).ok());
  EXPECT_FALSE(parseUnsigned("-1", 10).ok());
  EXPECT_FALSE(parseUnsigned("1e3", 10000).ok());
}

TEST(AddressTest, ParsesIpv4) {
  auto a = parseSocketAddress("0.0.0.0:8080");
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->host, "0.0.0.0");
  EXPECT_EQ(a->port, 8080);
  EXPECT_FALSE(a->ipv6);
  EXPECT_EQ(a->text(), "0.0.0.0:8080");
}

TEST(AddressTest, ParsesBracketedIpv6) {
  auto a = parseSocketAddress("[::1]:8080");
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->host, "::1");
  EXPECT_TRUE(a->ipv6);
  EXPECT_EQ(a->text(), "[::1]:8080");
}

TEST(AddressTest, CanonicalizesIpv6) {
  EXPECT_EQ(parseSocketAddress("[2001:DB8:0:0::1]:1")->host, "2001:db8::1");
}

TEST(AddressTest, RejectsBadAddresses) {
  for (std::string_view bad :
       {"", ":80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:http", "localhost:80", "::1:80", "[::1]", "[::1]80", "[127.0.0.1]:80", "[::1:80",
        "1.2.3:80", "256.0.0.1:80", "[fe80::1%eth0]:80"}) {
    EXPECT_FALSE(parseSocketAddress(bad).ok()) << bad;
  }
}

TEST(AddressTest, TextOfDefaultAdmin) {
  EXPECT_EQ((SocketAddress{"127.0.0.1", 9901, false}).text(), "127.0.0.1:9901");
}

TEST(TokenTest, HeaderNamesAndMethods) {
  EXPECT_TRUE(isToken("x-request-id"));
  EXPECT_TRUE(isToken("GET"));
  EXPECT_TRUE(isToken("!#$%&'*+-.^_`|~09azAZ"));
  EXPECT_FALSE(isToken(""));
  EXPECT_FALSE(isToken("x y"));
  EXPECT_FALSE(isToken("x:y"));
  EXPECT_FALSE(isToken("x\ty"));
  EXPECT_FALSE(isToken("caf\xc3\xa9"));
}

TEST(HeaderValueTest, RejectsLineBreaksAndNul) {
  EXPECT_TRUE(isValidHeaderValue("a b\tc"));
  EXPECT_FALSE(isValidHeaderValue("a\rb"));
  EXPECT_FALSE(isValidHeaderValue("a\nb"));
  EXPECT_FALSE(isValidHeaderValue(std::string_view("a\0b", 3)));
}

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
}

TEST(Utf8Test, RejectsMalformedText) {
  EXPECT_FALSE(isValidUtf8("\xff"));
  EXPECT_FALSE(isValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(isValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xe2\x28\xa1"));      // bad continuation
}

TEST(ManagedHeaderTest, IsCaseInsensitive) {
  EXPECT_TRUE(isManagedHeader("Transfer-Encoding"));
  EXPECT_TRUE(isManagedHeader("host"));
  EXPECT_FALSE(isManagedHeader("x-forwarded-for"));
}

TEST(NameTest, RejectsEmptyLongAndSpaced) {
  EXPECT_FALSE(checkName("web"));
  EXPECT_FALSE(checkName("web/0"));
  EXPECT_TRUE(checkName(""));
  EXPECT_TRUE(checkName("a b"));
  EXPECT_TRUE(checkName(std::string(129, 'a')));
}

TEST(ClosestMatchTest, SuggestsTyposOnly) {
  constexpr std::array<std::string_view, 3> kWords = {"address", "protocol", "routes"};
  EXPECT_EQ(closestMatch("adress", kWords), "address");
  EXPECT_EQ(closestMatch("Routes", kWords), "routes");
  EXPECT_EQ(closestMatch("route", kWords), "routes");
  EXPECT_FALSE(closestMatch("zzz", kWords));
  EXPECT_FALSE(closestMatch("", kWords));
}

TEST(ConfigTest, EnumNames) {
  EXPECT_STREQ(toString(LbPolicy::kRoundRobin), "round_robin");
  EXPECT_STREQ(toString(LbPolicy::kLeastRequest), "least_request");
  EXPECT_STREQ(toString(LbPolicy::kRandom), "random");
  EXPECT_STREQ(toString(LbPolicy::kRingHash), "ring_hash");
  EXPECT_STREQ(toString(LbPolicy::kMaglev), "maglev");
  EXPECT_STREQ(toString(Protocol::kHttp), "http");
  EXPECT_STREQ(toString(Protocol::kTcp), "tcp");
  EXPECT_STREQ(toString(Protocol::kUdp), "udp");
}

TEST(ConfigTest, DefaultAccessLogFieldsAreKnown) {
  auto known = accessLogFields();
  for (const std::string& f : AccessLog{}.json_fields) {
    EXPECT_NE(std::find(known.begin(), known.end(), f), known.end()) << f;
  }
}

}  // namespace
}  // namespace pier::config
