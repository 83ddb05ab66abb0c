// Heartbeat wire format: byte layout and a known HMAC vector, round trips,
// forgery and tampering rejected, and each field rule (checked on messages
// re-signed with the right key, so the rule and not the MAC rejects them).
#include "src/vip/heartbeat.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <gtest/gtest.h>

#include "tests/vip/vip_test_support.h"

namespace pier::vip::testing {
namespace {

ClusterKey keyOf(uint8_t first) {
  Bytes k(32);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(first + i);
  return std::move(ClusterKey::fromBytes(k).value());
}

const ClusterKey& key() {
  static const ClusterKey k = keyOf(0);
  return k;
}

Heartbeat sample() {
  Heartbeat hb;
  hb.node = "node-a";
  hb.incarnation = 1700000000000;
  hb.sequence = 42;
  hb.timestamp_ms = 1700000000123;
  hb.interval_ms = 100;
  hb.leaving = true;
  hb.ips = {ip("192.0.2.10"), ip("2001:db8::10")};
  return hb;
}

Bytes encoded(const Heartbeat& hb) {
  auto r = encodeHeartbeat(hb, key());
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return r.ok() ? r.value() : Bytes{};
}

// Replaces the MAC with a valid one for the edited body.
Bytes resign(Bytes m) {
  // erase, not resize: gcc 12 cannot see that size() >= the MAC here and
  // warns about a huge memset on the growing path resize() also has.
  m.erase(m.end() - static_cast<std::ptrdiff_t>(std::min(m.size(), kHeartbeatMacBytes)), m.end());
  uint8_t mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key().bytes().data(), static_cast<int>(key().bytes().size()), m.data(), m.size(), mac,
       &len);
  m.insert(m.end(), mac, mac + len);
  return m;
}

HeartbeatReject rejectOf(const Bytes& m) {
  auto r = decodeHeartbeat(m, key());
  EXPECT_FALSE(r.ok());
  return r.ok() ? HeartbeatReject::kTruncated : r.reason();
}

// --- layout -----------------------------------------------------------------

TEST(HeartbeatWireTest, MatchesDocumentedLayoutAndKnownMac) {
  const Bytes want_body =
      concat(bytes({'P', 'I', 'E', 'R', 1, 0x01, 6, 0}),
             bytes({0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00}),  // incarnation
             bytes({0, 0, 0, 0, 0, 0, 0, 42}),                   // sequence
             bytes({0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b}),  // timestamp
             bytes({0, 0, 0, 100, 0, 1, 0, 1}),                  // interval, counts
             bytes({'n', 'o', 'd', 'e', '-', 'a', 192, 0, 2, 10}), ip("2001:db8::10").bytes());
  // HMAC-SHA256 with key 00 01 .. 1f, computed with Python's hmac module.
  const Bytes want_mac =
      bytes({0x4a, 0x09, 0xbf, 0x5a, 0xf3, 0xbd, 0xd2, 0x5f, 0xea, 0xff, 0xe0, 0xee, 0x6f, 0x09, 0xed, 0x9f,
             0x0c, 0xef, 0x30, 0x6d, 0x2f, 0x1c, 0x6f, 0x27, 0xa9, 0x01, 0x71, 0xb4, 0xf3, 0xcb, 0xdb, 0x0a});
  EXPECT_EQ(encoded(sample()), concat(want_body, want_mac));
}

TEST(HeartbeatWireTest, RoundTripsEveryField) {
  Heartbeat hb = sample();
  hb.except_listed = true;
  hb.leaving = false;
  hb.sequence = ~uint64_t{0};
  hb.ips = {ip("192.0.2.10"), ip("198.51.100.7"), ip("2001:db8::10"), ip("2001:db8::11")};
  auto back = decodeHeartbeat(encoded(hb), key());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, hb);
}

TEST(HeartbeatWireTest, WritesIpv4BeforeIpv6) {
  Heartbeat hb = sample();
  hb.ips = {ip("2001:db8::10"), ip("192.0.2.10"), ip("2001:db8::11"), ip("192.0.2.11")};
  auto back = decodeHeartbeat(encoded(hb), key());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->ips, (std::vector<IpAddress>{ip("192.0.2.10"), ip("192.0.2.11"), ip("2001:db8::10"),
                                               ip("2001:db8::11")}));
}

TEST(HeartbeatWireTest, LargestHeartbeatFitsTheLimitExactly) {
  Heartbeat hb = sample();
  hb.node = std::string(kHeartbeatMaxNameBytes, 'n');
  hb.ips.clear();
  // 72 + 253 + 4 * 226 = 1229, plus 3 bytes short of another address.
  for (int i = 0; i < 226; ++i)
    hb.ips.push_back(IpAddress::v4({10, 0, static_cast<uint8_t>(i / 256), static_cast<uint8_t>(i)}));
  const Bytes m = encoded(hb);
  EXPECT_EQ(m.size(), 1229u);
  EXPECT_TRUE(decodeHeartbeat(m, key()).ok());
}

// --- authentication ---------------------------------------------------------

TEST(HeartbeatAuthTest, RejectsOtherKey) {
  auto r = decodeHeartbeat(encoded(sample()), keyOf(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.reason(), HeartbeatReject::kBadMac);
}

TEST(HeartbeatAuthTest, RejectsAnyChangedByte) {
  const Bytes good = encoded(sample());
  for (size_t i = 0; i < good.size(); ++i) {
    Bytes m = good;
    m[i] ^= 0x01;
    auto r = decodeHeartbeat(m, key());
    ASSERT_FALSE(r.ok()) << "byte " << i;
    if (i >= 5) {
      EXPECT_EQ(r.reason(), HeartbeatReject::kBadMac) << "byte " << i;
    }
  }
}

TEST(HeartbeatAuthTest, RejectsForgedEligibility) {
  // Someone without the key claims node-a's IPs by editing a captured heartbeat.
  Bytes m = encoded(sample());
  m[5] |= 0x02;  // except-listed: eligible for everything else
  EXPECT_EQ(rejectOf(m), HeartbeatReject::kBadMac);
}

TEST(HeartbeatAuthTest, RejectsTruncatedMac) {
  Bytes m = encoded(sample());
  m.pop_back();
  EXPECT_EQ(rejectOf(m), HeartbeatReject::kBadMac);
}

// --- field rules ------------------------------------------------------------

TEST(HeartbeatDecodeTest, RejectsShortDatagrams) {
  const Bytes good = encoded(sample());
  for (size_t n = 0; n < kHeartbeatMinBytes; ++n) {
    EXPECT_EQ(rejectOf(Bytes(good.begin(), good.begin() + static_cast<ptrdiff_t>(n))),
              HeartbeatReject::kTruncated)
        << n;
  }
}

TEST(HeartbeatDecodeTest, RejectsOversizedDatagrams) {
  Bytes m = encoded(sample());
  m.resize(kHeartbeatMaxBytes + 1);
  EXPECT_EQ(rejectOf(resign(m)), HeartbeatReject::kTooLong);
}

TEST(HeartbeatDecodeTest, RejectsWrongMagic) {
  Bytes m = encoded(sample());
  m[0] = 'X';
  EXPECT_EQ(rejectOf(resign(m)), HeartbeatReject::kBadMagic);
}

TEST(HeartbeatDecodeTest, RejectsOtherVersionsBeforeTheMac) {
  for (int version : {0, 2, 255}) {
    Bytes m = encoded(sample());
    m[4] = static_cast<uint8_t>(version);
    EXPECT_EQ(rejectOf(m), HeartbeatReject::kUnsupportedVersion) << version;
  }
}

TEST(HeartbeatDecodeTest, RejectsUnknownFlags) {
  Bytes m = encoded(sample());
  m[5] |= 0x04;
  EXPECT_EQ(rejectOf(resign(m)), HeartbeatReject::kReservedBits);
}

TEST(HeartbeatDecodeTest, RejectsNonZeroReservedByte) {
  Bytes m = encoded(sample());
  m[7] = 1;
  EXPECT_EQ(rejectOf(resign(m)), HeartbeatReject::kReservedBits);
}

TEST(HeartbeatDecodeTest, RejectsCountsThatDisagreeWithLength) {
  for (size_t at : {37u, 39u}) {
    Bytes m = encoded(sample());
    m[at] += 1;
    EXPECT_EQ(rejectOf(resign(m)), HeartbeatReject::kLengthMismatch) << at;
  }
  Bytes longer_name = encoded(sample());
  longer_name[6] += 1;
  EXPECT_EQ(rejectOf(resign(longer_name)), HeartbeatReject::kLengthMismatch);
}

TEST(HeartbeatDecodeTest, RejectsInvalidNameCharacters) {
  for (int c : std::initializer_list<int>{' ', '/', ':', 0, 0xc3}) {
    Bytes m = encoded(sample());
    m[kHeartbeatFixedBytes + 2] = static_cast<uint8_t>(c);
    EXPECT_EQ(rejectOf(resign(m)), HeartbeatReject::kBadName) << c;
  }
}

TEST(HeartbeatDecodeTest, RejectsZeroInterval) {
  Bytes m = encoded(sample());
  m[35] = 0;
  EXPECT_EQ(rejectOf(resign(m)), HeartbeatReject::kBadInterval);
}

TEST(HeartbeatDecodeTest, RejectsIntervalAboveOneMinute) {
  Bytes m = encoded(sample());
  // 60001 ms
  m[32] = 0;
  m[33] = 0;
  m[34] = 0xea;
  m[35] = 0x61;
  EXPECT_EQ(rejectOf(resign(m)), HeartbeatReject::kBadInterval);
}

TEST(HeartbeatDecodeTest, DescribesEveryReason) {
  for (int r = 0; r <= static_cast<int>(HeartbeatReject::kBadInterval); ++r) {
    EXPECT_NE(describe(static_cast<HeartbeatReject>(r)), "unknown heartbeat rejection") << r;
  }
}

// --- encoding errors --------------------------------------------------------

TEST(HeartbeatEncodeTest, RejectsInvalidNodeNames) {
  for (std::string name :
       {std::string(), std::string("node a"), std::string(kHeartbeatMaxNameBytes + 1, 'n')}) {
    Heartbeat hb = sample();
    hb.node = name;
    auto r = encodeHeartbeat(hb, key());
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_NE(r.error().find("node name"), std::string::npos) << r.error();
  }
}

TEST(HeartbeatEncodeTest, RejectsIntervalOutOfRange) {
  for (uint32_t ms : {0u, kHeartbeatMaxIntervalMs + 1}) {
    Heartbeat hb = sample();
    hb.interval_ms = ms;
    auto r = encodeHeartbeat(hb, key());
    ASSERT_FALSE(r.ok()) << ms;
    EXPECT_NE(r.error().find("interval"), std::string::npos) << r.error();
  }
}

TEST(HeartbeatEncodeTest, RejectsListsTooLongForOneDatagram) {
  Heartbeat hb = sample();
  hb.ips.assign(80, ip("2001:db8::1"));  // 72 + 6 + 1280 > 1232
  auto r = encodeHeartbeat(hb, key());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("more than 1232"), std::string::npos) << r.error();
}

// --- eligibility ------------------------------------------------------------

TEST(HeartbeatEligibilityTest, ListedMeansEligible) {
  Heartbeat hb = sample();
  EXPECT_TRUE(hb.eligibleFor(ip("192.0.2.10")));
  EXPECT_FALSE(hb.eligibleFor(ip("192.0.2.11")));
}

TEST(HeartbeatEligibilityTest, ExceptListedMeansEverythingElse) {
  Heartbeat hb = sample();
  hb.except_listed = true;
  EXPECT_FALSE(hb.eligibleFor(ip("192.0.2.10")));
  EXPECT_TRUE(hb.eligibleFor(ip("192.0.2.11")));
  hb.ips.clear();
  EXPECT_TRUE(hb.eligibleFor(ip("2001:db8::99")));
}

}  // namespace
}  // namespace pier::vip::testing
