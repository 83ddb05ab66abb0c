// PROXY protocol v1/v2: byte-exact encoding, parsing of hand-written vectors
// from the HAProxy spec, every rejection rule, and parsing in pieces.
#include "src/l4/proxy_protocol.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/l4/l4_test_support.h"

namespace pier::l4::testing {
namespace {

using Status = ProxyHeaderParser::Status;

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

// v2 header for TCP4 192.0.2.1:56789 -> 198.51.100.2:443, built by hand.
std::string v2Tcp4() {
  return kSig + bytes({0x21, 0x11, 0x00, 0x0c, 192, 0, 2, 1, 198, 51, 100, 2, 0xdd, 0xd5, 0x01, 0xbb});
}

// v2 header for TCP6 [2001:db8::1]:56789 -> [2001:db8::2]:443.
std::string v2Tcp6(int fam = 0x21) {
  return kSig + bytes({0x21, fam, 0x00, 0x24}) +
         bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}) +
         bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}) +
         bytes({0xdd, 0xd5, 0x01, 0xbb});
}

struct Parsed {
  Status status;
  size_t consumed = 0;
  ProxyHeader header;
  std::string error;
};

Parsed parse(std::string_view data, ProxyHeaderParser::Limits limits = {}) {
  ProxyHeaderParser p(limits);
  Parsed r{p.parse(data)};
  r.consumed = p.consumed();
  r.header = p.header();
  r.error = std::string(p.error());
  return r;
}

void expectRejected(const std::string& data) {
  Parsed r = parse(data);
  EXPECT_EQ(r.status, Status::kError) << "accepted: " << ::testing::PrintToString(data);
  EXPECT_FALSE(r.error.empty());
}

// --- encoding -------------------------------------------------------------------

TEST(ProxyEncodeTest, V1Tcp4IsByteExact) {
  std::string out;
  appendProxyHeaderV1(out, ipAddress("192.0.2.1", 56789), ipAddress("198.51.100.2", 443));
  EXPECT_EQ(out, "PROXY TCP4 192.0.2.1 198.51.100.2 56789 443\r\n");
}

TEST(ProxyEncodeTest, V1Tcp6IsByteExact) {
  std::string out;
  appendProxyHeaderV1(out, ipAddress("2001:db8::1", 56789), ipAddress("2001:db8::2", 443));
  EXPECT_EQ(out, "PROXY TCP6 2001:db8::1 2001:db8::2 56789 443\r\n");
}

TEST(ProxyEncodeTest, V1AppendsToWhatIsThere) {
  std::string out = "x";
  appendProxyHeaderV1(out, ipAddress("10.0.0.1", 1), ipAddress("10.0.0.2", 2));
  EXPECT_EQ(out, "xPROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n");
}

TEST(ProxyEncodeTest, V1MixedFamiliesUseTcp6WithMappedIpv4InHex) {
  std::string out;
  appendProxyHeaderV1(out, ipAddress("192.0.2.1", 1), ipAddress("2001:db8::2", 2));
  EXPECT_EQ(out, "PROXY TCP6 ::ffff:c000:201 2001:db8::2 1 2\r\n");
}

TEST(ProxyEncodeTest, V1Ipv6TextShortensOnlyTheFirstLongestZeroRun) {
  std::string out;
  appendProxyHeaderV1(out, ipAddress("2001:db8:0:0:1:0:0:1", 1), ipAddress("2001:db8:0:1:1:1:1:1", 2));
  EXPECT_EQ(out, "PROXY TCP6 2001:db8::1:0:0:1 2001:db8:0:1:1:1:1:1 1 2\r\n");
  out.clear();
  appendProxyHeaderV1(out, ipAddress("::", 0), ipAddress("1::", 65535));
  EXPECT_EQ(out, "PROXY TCP6 :: 1:: 0 65535\r\n");
}

TEST(ProxyEncodeTest, V1WithoutInetAddressesIsUnknown) {
  std::string out;
  appendProxyHeaderV1(out, net::Address{}, ipAddress("10.0.0.2", 2));
  EXPECT_EQ(out, "PROXY UNKNOWN\r\n");
}

TEST(ProxyEncodeTest, V2Tcp4IsByteExact) {
  std::string out;
  appendProxyHeaderV2(out, ipAddress("192.0.2.1", 56789), ipAddress("198.51.100.2", 443));
  EXPECT_EQ(out, v2Tcp4());
}

TEST(ProxyEncodeTest, V2Tcp6IsByteExact) {
  std::string out;
  appendProxyHeaderV2(out, ipAddress("2001:db8::1", 56789), ipAddress("2001:db8::2", 443));
  EXPECT_EQ(out, v2Tcp6());
}

TEST(ProxyEncodeTest, V2UdpUsesDgramFamilies) {
  std::string out;
  appendProxyHeaderV2(out, ipAddress("192.0.2.1", 56789), ipAddress("198.51.100.2", 443), true);
  EXPECT_EQ(out,
            kSig + bytes({0x21, 0x12, 0x00, 0x0c, 192, 0, 2, 1, 198, 51, 100, 2, 0xdd, 0xd5, 0x01, 0xbb}));
  out.clear();
  appendProxyHeaderV2(out, ipAddress("2001:db8::1", 56789), ipAddress("2001:db8::2", 443), true);
  EXPECT_EQ(out, v2Tcp6(0x22));
}

TEST(ProxyEncodeTest, V2MixedFamiliesUseIpv4MappedIpv6) {
  std::string out;
  appendProxyHeaderV2(out, ipAddress("192.0.2.1", 1), ipAddress("2001:db8::2", 2));
  EXPECT_EQ(out, kSig + bytes({0x21, 0x21, 0x00, 0x24}) +
                     bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}) +
                     bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}) +
                     bytes({0, 1, 0, 2}));
}

TEST(ProxyEncodeTest, V2LocalIsByteExact) {
  std::string out;
  appendProxyHeaderV2Local(out);
  EXPECT_EQ(out, kSig + bytes({0x20, 0x00, 0x00, 0x00}));
  out.clear();
  appendProxyHeaderV2(out, net::Address{}, net::Address{});
  EXPECT_EQ(out, kSig + bytes({0x20, 0x00, 0x00, 0x00}));
}

// --- round trips ------------------------------------------------------------------

class RoundTripTest : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(RoundTripTest, V1AndV2ParseBackToTheSameAddresses) {
  net::Address src = ipAddress(GetParam().first, 40000);
  net::Address dst = ipAddress(GetParam().second, 8443);
  for (int version : {1, 2}) {
    std::string wire;
    if (version == 1) {
      appendProxyHeaderV1(wire, src, dst);
    } else {
      appendProxyHeaderV2(wire, src, dst);
    }
    wire += "payload";
    Parsed r = parse(wire);
    ASSERT_EQ(r.status, Status::kComplete) << r.error;
    EXPECT_EQ(r.consumed, wire.size() - 7);
    EXPECT_EQ(r.header.version, version);
    EXPECT_FALSE(r.header.local);
    EXPECT_TRUE(sameEndpoint(r.header.source, src)) << r.header.source.text();
    EXPECT_TRUE(sameEndpoint(r.header.destination, dst)) << r.header.destination.text();
  }
}

INSTANTIATE_TEST_SUITE_P(Addresses, RoundTripTest,
                         ::testing::Values(std::make_pair("192.0.2.1", "198.51.100.2"),
                                           std::make_pair("0.0.0.0", "255.255.255.255"),
                                           std::make_pair("2001:db8::1", "2001:db8::2"),
                                           std::make_pair("::1", "fe80::1:2:3:4"),
                                           std::make_pair("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::")));

// --- v1 vectors from the spec -----------------------------------------------------

TEST(ProxyParseV1Test, ParsesTheSpecTcp4Example) {
  const std::string h = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
  Parsed r = parse(h + "GET / HTTP/1.1\r\n");
  ASSERT_EQ(r.status, Status::kComplete) << r.error;
  EXPECT_EQ(r.consumed, h.size());
  EXPECT_EQ(r.header.version, 1);
  EXPECT_FALSE(r.header.local);
  EXPECT_EQ(r.header.source.text(), "192.168.0.1:56324");
  EXPECT_EQ(r.header.destination.text(), "192.168.0.11:443");
}

TEST(ProxyParseV1Test, ParsesTheLongestTcp4AndTcp6Lines) {
  Parsed r4 = parse("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n");
  ASSERT_EQ(r4.status, Status::kComplete) << r4.error;
  EXPECT_EQ(r4.header.source.text(), "255.255.255.255:65535");
  const std::string h6 =
      "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
      "65535\r\n";
  Parsed r6 = parse(h6);
  ASSERT_EQ(r6.status, Status::kComplete) << r6.error;
  EXPECT_EQ(r6.consumed, h6.size());
  EXPECT_EQ(r6.header.source.text(), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

TEST(ProxyParseV1Test, UnknownIsLocal) {
  Parsed r = parse("PROXY UNKNOWN\r\nrest");
  ASSERT_EQ(r.status, Status::kComplete);
  EXPECT_EQ(r.consumed, 15u);
  EXPECT_TRUE(r.header.local);
}

TEST(ProxyParseV1Test, UnknownIgnoresTheRestOfTheLineUpTo107Bytes) {
  // The spec's worst case: exactly 107 bytes.
  const std::string h =
      "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
      "65535\r\n";
  ASSERT_EQ(h.size(), 107u);
  Parsed r = parse(h);
  ASSERT_EQ(r.status, Status::kComplete) << r.error;
  EXPECT_EQ(r.consumed, 107u);
  EXPECT_TRUE(r.header.local);
}

TEST(ProxyParseV1Test, AcceptsZeroPortsAndUpperCaseIpv6) {
  Parsed r = parse("PROXY TCP6 2001:DB8::A ::1 0 0\r\n");
  ASSERT_EQ(r.status, Status::kComplete) << r.error;
  EXPECT_EQ(r.header.source.text(), "[2001:db8::a]:0");
}

TEST(ProxyParseV1Test, AcceptsAnIpv4MappedTailAsHAProxySendsIt) {
  Parsed r = parse("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n");
  ASSERT_EQ(r.status, Status::kComplete) << r.error;
  EXPECT_EQ(r.header.source.text(), "[::ffff:192.0.2.1]:1");
}

// --- v1 rejections, one rule each ---------------------------------------------------

TEST(ProxyRejectV1Test, NotAProxyHeader) { expectRejected("GET / HTTP/1.1\r\n\r\n"); }
TEST(ProxyRejectV1Test, LowerCaseKeyword) { expectRejected("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"); }
TEST(ProxyRejectV1Test, KeywordWithoutProtocol) { expectRejected("PROXY\r\n"); }
TEST(ProxyRejectV1Test, UnknownProtocol) { expectRejected("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"); }
TEST(ProxyRejectV1Test, UnknownWithSuffix) { expectRejected("PROXY UNKNOWNX\r\n"); }
TEST(ProxyRejectV1Test, DoubleSpace) { expectRejected("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"); }
TEST(ProxyRejectV1Test, DoubleSpaceBetweenFields) { expectRejected("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"); }
TEST(ProxyRejectV1Test, TabSeparator) { expectRejected("PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n"); }
TEST(ProxyRejectV1Test, TrailingSpace) { expectRejected("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"); }
TEST(ProxyRejectV1Test, ExtraField) { expectRejected("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"); }
TEST(ProxyRejectV1Test, MissingPort) { expectRejected("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"); }
TEST(ProxyRejectV1Test, NoAddresses) { expectRejected("PROXY TCP4\r\n"); }
TEST(ProxyRejectV1Test, LfWithoutCr) { expectRejected("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"); }
TEST(ProxyRejectV1Test, CrWithoutLf) { expectRejected("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"); }
TEST(ProxyRejectV1Test, Ipv4LeadingZero) { expectRejected("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"); }
TEST(ProxyRejectV1Test, Ipv4OctetAbove255) { expectRejected("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"); }
TEST(ProxyRejectV1Test, Ipv4ThreeOctets) { expectRejected("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"); }
TEST(ProxyRejectV1Test, Ipv4FiveOctets) { expectRejected("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n"); }
TEST(ProxyRejectV1Test, Ipv4EmptyOctet) { expectRejected("PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n"); }
TEST(ProxyRejectV1Test, Ipv4TrailingDot) { expectRejected("PROXY TCP4 1.2.3.4. 5.6.7.8 1 2\r\n"); }
TEST(ProxyRejectV1Test, Ipv6InTcp4) { expectRejected("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"); }
TEST(ProxyRejectV1Test, Ipv4InTcp6) { expectRejected("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"); }
TEST(ProxyRejectV1Test, Ipv6TwoDoubleColons) { expectRejected("PROXY TCP6 1::2::3 ::1 1 2\r\n"); }
TEST(ProxyRejectV1Test, Ipv6ZoneId) { expectRejected("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"); }
TEST(ProxyRejectV1Test, Ipv6TooManyGroups) { expectRejected("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"); }
TEST(ProxyRejectV1Test, PortLeadingZero) { expectRejected("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"); }
TEST(ProxyRejectV1Test, PortAbove65535) { expectRejected("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n"); }
TEST(ProxyRejectV1Test, PortNotDecimal) { expectRejected("PROXY TCP4 1.2.3.4 5.6.7.8 0x50 2\r\n"); }
TEST(ProxyRejectV1Test, PortWithSign) { expectRejected("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"); }

TEST(ProxyRejectV1Test, LineLongerThan107Bytes) {
  std::string h = "PROXY UNKNOWN " + std::string(91, 'a') + "\r\n";
  ASSERT_EQ(h.size(), 107u);
  EXPECT_EQ(parse(h).status, Status::kComplete);
  h = "PROXY UNKNOWN " + std::string(92, 'a') + "\r\n";
  expectRejected(h);
}

TEST(ProxyRejectV1Test, NoCrlfWithin107BytesFailsBeforeMoreArrives) {
  std::string h = "PROXY UNKNOWN " + std::string(92, 'a');  // 106 bytes, no CR yet
  expectRejected(h);
}

TEST(ProxyRejectV1Test, GarbageFailsBeforeTheLineEnds) {
  EXPECT_EQ(parse("PROXY TCP4 1.2.x").status, Status::kError);
  EXPECT_EQ(parse("PROXY TCP9").status, Status::kError);
  EXPECT_EQ(parse("PROXY TCP4 1.2.3.4 5.6.7.8 99999").status, Status::kError);
  EXPECT_EQ(parse("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3").status, Status::kError);
  EXPECT_EQ(parse("PROXX").status, Status::kError);
}

// --- v2 vectors -------------------------------------------------------------------

TEST(ProxyParseV2Test, ParsesTcp4) {
  Parsed r = parse(v2Tcp4() + "payload");
  ASSERT_EQ(r.status, Status::kComplete) << r.error;
  EXPECT_EQ(r.consumed, 28u);
  EXPECT_EQ(r.header.version, 2);
  EXPECT_FALSE(r.header.local);
  EXPECT_FALSE(r.header.udp);
  EXPECT_EQ(r.header.source.text(), "192.0.2.1:56789");
  EXPECT_EQ(r.header.destination.text(), "198.51.100.2:443");
}

TEST(ProxyParseV2Test, ParsesTcp6) {
  Parsed r = parse(v2Tcp6());
  ASSERT_EQ(r.status, Status::kComplete) << r.error;
  EXPECT_EQ(r.consumed, 52u);
  EXPECT_EQ(r.header.source.text(), "[2001:db8::1]:56789");
  EXPECT_EQ(r.header.destination.text(), "[2001:db8::2]:443");
}

TEST(ProxyParseV2Test, ParsesUdp4AndUdp6) {
  std::string udp4 = v2Tcp4();
  udp4[13] = 0x12;
  Parsed r4 = parse(udp4);
  ASSERT_EQ(r4.status, Status::kComplete);
  EXPECT_TRUE(r4.header.udp);
  EXPECT_EQ(r4.header.source.text(), "192.0.2.1:56789");
  Parsed r6 = parse(v2Tcp6(0x22));
  ASSERT_EQ(r6.status, Status::kComplete);
  EXPECT_TRUE(r6.header.udp);
}

TEST(ProxyParseV2Test, LocalIsLocal) {
  Parsed r = parse(kSig + bytes({0x20, 0x00, 0x00, 0x00}) + "x");
  ASSERT_EQ(r.status, Status::kComplete);
  EXPECT_EQ(r.consumed, 16u);
  EXPECT_TRUE(r.header.local);
}

TEST(ProxyParseV2Test, LocalSkipsWhateverBlockItCarries) {
  // LOCAL discards the block, family included, as the spec says.
  Parsed r = parse(kSig + bytes({0x20, 0xff, 0x00, 0x03, 1, 2, 3}));
  ASSERT_EQ(r.status, Status::kComplete) << r.error;
  EXPECT_EQ(r.consumed, 19u);
  EXPECT_TRUE(r.header.local);
}

TEST(ProxyParseV2Test, UnspecProxyIsLocal) {
  Parsed r = parse(kSig + bytes({0x21, 0x00, 0x00, 0x00}));
  ASSERT_EQ(r.status, Status::kComplete);
  EXPECT_TRUE(r.header.local);
}

TEST(ProxyParseV2Test, UnixFamilyIsLocal) {
  Parsed r = parse(kSig + bytes({0x21, 0x31, 0x00, 0xd8}) + std::string(216, '\0'));
  ASSERT_EQ(r.status, Status::kComplete) << r.error;
  EXPECT_EQ(r.consumed, 232u);
  EXPECT_TRUE(r.header.local);
}

TEST(ProxyParseV2Test, SkipsTlvsInsideTheLength) {
  // NOOP TLV (type 0x04) of 3 bytes, then an AUTHORITY (0x02) of 0 bytes.
  std::string h = kSig +
                  bytes({0x21, 0x11, 0x00, 0x15, 192, 0, 2, 1, 198, 51, 100, 2, 0xdd, 0xd5, 0x01, 0xbb}) +
                  bytes({0x04, 0x00, 0x03, 'a', 'b', 'c', 0x02, 0x00, 0x00});
  Parsed r = parse(h + "payload");
  ASSERT_EQ(r.status, Status::kComplete) << r.error;
  EXPECT_EQ(r.consumed, h.size());
  EXPECT_EQ(r.header.source.text(), "192.0.2.1:56789");
}

TEST(ProxyParseV2Test, AcceptsAHeaderExactlyAtTheLimit) {
  std::string h = kSig + bytes({0x21, 0x11, 0x00, 0x0c + 7, 192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2}) +
                  bytes({0x04, 0x00, 0x04, 0, 0, 0, 0});
  EXPECT_EQ(parse(h, {.max_v2_bytes = h.size()}).status, Status::kComplete);
  EXPECT_EQ(parse(h, {.max_v2_bytes = h.size() - 1}).status, Status::kError);
}

// --- v2 rejections, one rule each -----------------------------------------------------

TEST(ProxyRejectV2Test, BadSignature) {
  std::string h = v2Tcp4();
  h[10] = 'X';  // QUIX
  expectRejected(h);
}
TEST(ProxyRejectV2Test, Version1InBinaryHeader) {
  std::string h = v2Tcp4();
  h[12] = 0x11;
  expectRejected(h);
}
TEST(ProxyRejectV2Test, Version3) {
  std::string h = v2Tcp4();
  h[12] = 0x31;
  expectRejected(h);
}
TEST(ProxyRejectV2Test, UnknownCommand) {
  std::string h = v2Tcp4();
  h[12] = 0x22;
  expectRejected(h);
}
TEST(ProxyRejectV2Test, UnknownFamily) {
  std::string h = v2Tcp4();
  h[13] = 0x41;
  expectRejected(h);
}
TEST(ProxyRejectV2Test, UnknownTransport) {
  std::string h = v2Tcp4();
  h[13] = 0x13;
  expectRejected(h);
}
TEST(ProxyRejectV2Test, InetWithUnspecTransport) {
  std::string h = v2Tcp4();
  h[13] = 0x10;
  expectRejected(h);
}
TEST(ProxyRejectV2Test, LengthShorterThanInet4Addresses) {
  expectRejected(kSig + bytes({0x21, 0x11, 0x00, 0x0b, 192, 0, 2, 1, 198, 51, 100, 2, 0xdd, 0xd5, 0x01}));
}
TEST(ProxyRejectV2Test, LengthShorterThanInet6Addresses) {
  std::string h = v2Tcp6();
  h[15] = 0x23;
  h.pop_back();
  expectRejected(h);
}
TEST(ProxyRejectV2Test, LengthShorterThanUnixAddresses) {
  expectRejected(kSig + bytes({0x21, 0x31, 0x00, 0xd7}) + std::string(215, '\0'));
}
TEST(ProxyRejectV2Test, LengthAboveTheLimitFailsBeforeTheBodyArrives) {
  Parsed r = parse(kSig + bytes({0x21, 0x11, 0x10, 0x00}));  // 4096 + 16
  EXPECT_EQ(r.status, Status::kError);
}
TEST(ProxyRejectV2Test, TruncatedTlvHeader) {
  expectRejected(kSig +
                 bytes({0x21, 0x11, 0x00, 0x0e, 192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2, 0x04, 0x00}));
}
TEST(ProxyRejectV2Test, TlvLongerThanTheBlock) {
  expectRejected(kSig + bytes({0x21, 0x11, 0x00, 0x10, 192, 0, 2,    1,    198,  51,
                               100,  2,    0,    1,    0,   2, 0x04, 0x00, 0x02, 'a'}));
}
TEST(ProxyRejectV2Test, EmptyInputIsIncompleteNotAnError) {
  EXPECT_EQ(parse("").status, Status::kIncomplete);
}

// --- incremental parsing: every split point ------------------------------------------

std::vector<std::string> validVectors() {
  return {
      "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
      "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n",
      "PROXY UNKNOWN\r\n",
      "PROXY UNKNOWN whatever\r\n",
      v2Tcp4(),
      v2Tcp6(),
      kSig + bytes({0x20, 0x00, 0x00, 0x00}),
      kSig + bytes({0x21, 0x11, 0x00, 0x15, 192, 0, 2, 1, 198, 51, 100, 2, 0xdd, 0xd5, 0x01, 0xbb}) +
          bytes({0x04, 0x00, 0x03, 'a', 'b', 'c', 0x02, 0x00, 0x00}),
  };
}

TEST(ProxyIncrementalTest, EveryPrefixOfAValidHeaderIsIncomplete) {
  for (const std::string& h : validVectors()) {
    const Parsed whole = parse(h + "tail");
    ASSERT_EQ(whole.status, Status::kComplete) << ::testing::PrintToString(h);
    ProxyHeaderParser parser;  // one parser fed growing input, as a connection does
    for (size_t k = 0; k < h.size(); ++k) {
      EXPECT_EQ(parser.parse(std::string_view(h).substr(0, k)), Status::kIncomplete)
          << "prefix " << k << " of " << ::testing::PrintToString(h) << ": " << parser.error();
    }
    ASSERT_EQ(parser.parse(h + "tail"), Status::kComplete);
    EXPECT_EQ(parser.consumed(), h.size());
    EXPECT_EQ(parser.header().version, whole.header.version);
    EXPECT_TRUE(sameEndpoint(parser.header().source, whole.header.source));
    EXPECT_TRUE(sameEndpoint(parser.header().destination, whole.header.destination));
  }
}

TEST(ProxyIncrementalTest, OnceAPrefixIsAnErrorEveryLongerOneIsToo) {
  const std::vector<std::string> invalid = {
      "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
      "PROXY UNKNOWN " + std::string(100, 'a') + "\r\n",
      "GET / HTTP/1.1\r\n",
      kSig + bytes({0x22, 0x11, 0x00, 0x0c}),
      kSig + bytes({0x21, 0x11, 0x00, 0x0e, 192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2, 0x04, 0x00}),
  };
  for (const std::string& h : invalid) {
    bool failed = false;
    for (size_t k = 1; k <= h.size(); ++k) {
      Status s = parse(std::string_view(h).substr(0, k)).status;
      if (failed) {
        EXPECT_EQ(s, Status::kError) << "prefix " << k << " of " << ::testing::PrintToString(h);
      }
      failed = failed || s == Status::kError;
      EXPECT_NE(s, Status::kComplete);
    }
    EXPECT_TRUE(failed) << ::testing::PrintToString(h);
  }
}

}  // namespace
}  // namespace pier::l4::testing
