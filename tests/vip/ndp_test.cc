// NDP: solicitation validation rule by rule (RFC 4861 7.1.1), advertisements
// built byte for byte, checksums against vectors computed independently, and
// solicited-node groups.
#include "src/vip/ndp.h"

#include <gtest/gtest.h>

#include "tests/vip/vip_test_support.h"

namespace pier::vip::testing {
namespace {

const MacAddress kClientMac{0x02, 0x00, 0x00, 0x00, 0x00, 0xc1};
const MacAddress kOurMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

Bytes slla(const MacAddress& mac) { return concat(bytes({1, 1}), mac); }
Bytes tlla(const MacAddress& mac) { return concat(bytes({2, 1}), mac); }

// NS for `target` followed by `options`.
Bytes solicitation(const Ipv6Address& target, const Bytes& options, int type = 135, int code = 0) {
  return concat(bytes({type, code, 0, 0, 0, 0, 0, 0}), target, options);
}

Ipv6Header headerFor(const Ipv6Address& target) {
  return {v6("fe80::c1"), solicitedNodeMulticast(target), 255};
}

const Ipv6Address kTarget = v6("2001:db8::10");

void expectNsReject(const Bytes& message, const Ipv6Header& header, NdpReject reason) {
  auto r = parseNeighborSolicitation(message, header);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.reason(), reason) << r.error();
}

// --- solicitations ----------------------------------------------------------

TEST(NeighborSolicitationTest, ReadsTargetAndSourceLinkLayerAddress) {
  auto r = parseNeighborSolicitation(solicitation(kTarget, slla(kClientMac)), headerFor(kTarget));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->target, kTarget);
  EXPECT_EQ(r->source, v6("fe80::c1"));
  EXPECT_EQ(r->destination, v6("ff02::1:ff00:10"));
  EXPECT_EQ(r->source_mac, kClientMac);
  EXPECT_FALSE(r->isDad());
}

TEST(NeighborSolicitationTest, AcceptsNoOptions) {
  // A unicast NUD probe may leave the option out.
  auto r = parseNeighborSolicitation(solicitation(kTarget, {}), {v6("fe80::c1"), kTarget, 255});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(r->source_mac);
}

TEST(NeighborSolicitationTest, SkipsUnknownOptions) {
  const Bytes nonce = bytes({14, 1, 1, 2, 3, 4, 5, 6});  // RFC 3971 nonce
  auto r =
      parseNeighborSolicitation(solicitation(kTarget, concat(nonce, slla(kClientMac))), headerFor(kTarget));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->source_mac, kClientMac);
}

TEST(NeighborSolicitationTest, RequiresHopLimit255) {
  for (int hops : {254, 64, 1, 0, -1}) {
    Ipv6Header h = headerFor(kTarget);
    h.hop_limit = hops;
    expectNsReject(solicitation(kTarget, slla(kClientMac)), h, NdpReject::kHopLimit);
  }
}

TEST(NeighborSolicitationTest, RejectsEveryTruncationOfTheFixedPart) {
  const Bytes m = solicitation(kTarget, {});
  for (size_t n = 0; n < 24; ++n) {
    auto r = parseNeighborSolicitation(std::span(m).first(n), headerFor(kTarget));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.reason(), NdpReject::kTruncated) << n;
  }
}

TEST(NeighborSolicitationTest, RejectsOtherTypes) {
  expectNsReject(solicitation(kTarget, {}, 136), headerFor(kTarget), NdpReject::kWrongType);
}

TEST(NeighborSolicitationTest, RejectsNonZeroCode) {
  expectNsReject(solicitation(kTarget, {}, 135, 1), headerFor(kTarget), NdpReject::kCode);
}

TEST(NeighborSolicitationTest, RejectsMulticastSource) {
  Ipv6Header h = headerFor(kTarget);
  h.source = v6("ff02::1");
  expectNsReject(solicitation(kTarget, {}), h, NdpReject::kSourceMulticast);
}

TEST(NeighborSolicitationTest, RejectsMulticastTarget) {
  expectNsReject(solicitation(v6("ff02::1"), {}), headerFor(kTarget), NdpReject::kTargetInvalid);
}

TEST(NeighborSolicitationTest, RejectsUnspecifiedTarget) {
  expectNsReject(solicitation(v6("::"), {}), headerFor(kTarget), NdpReject::kTargetInvalid);
}

TEST(NeighborSolicitationTest, RejectsZeroLengthOption) {
  expectNsReject(solicitation(kTarget, bytes({1, 0, 2, 0, 0, 0, 0, 0xc1})), headerFor(kTarget),
                 NdpReject::kOptionZeroLength);
}

TEST(NeighborSolicitationTest, RejectsOptionPastTheEnd) {
  // Length 2 (16 bytes) with 8 present.
  expectNsReject(solicitation(kTarget, bytes({14, 2, 0, 0, 0, 0, 0, 0})), headerFor(kTarget),
                 NdpReject::kOptionTruncated);
}

TEST(NeighborSolicitationTest, RejectsLoneOptionTypeByte) {
  expectNsReject(solicitation(kTarget, bytes({1})), headerFor(kTarget), NdpReject::kOptionTruncated);
}

TEST(NeighborSolicitationTest, RejectsOversizedSourceLinkLayerOption) {
  expectNsReject(solicitation(kTarget, concat(bytes({1, 2}), kClientMac, Bytes(8, 0))), headerFor(kTarget),
                 NdpReject::kLinkLayerOptionLength);
}

TEST(NeighborSolicitationTest, RejectsTwoSourceLinkLayerOptions) {
  expectNsReject(solicitation(kTarget, concat(slla(kClientMac), slla(kOurMac))), headerFor(kTarget),
                 NdpReject::kDuplicateLinkLayer);
}

TEST(NeighborSolicitationTest, AcceptsDuplicateAddressDetection) {
  auto r =
      parseNeighborSolicitation(solicitation(kTarget, {}), {v6("::"), solicitedNodeMulticast(kTarget), 255});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->isDad());
}

TEST(NeighborSolicitationTest, RejectsDadNotToASolicitedNodeGroup) {
  expectNsReject(solicitation(kTarget, {}), {v6("::"), kTarget, 255}, NdpReject::kDadDestination);
  expectNsReject(solicitation(kTarget, {}), {v6("::"), kAllNodesMulticast, 255}, NdpReject::kDadDestination);
}

TEST(NeighborSolicitationTest, RejectsDadWithSourceLinkLayerAddress) {
  expectNsReject(solicitation(kTarget, slla(kClientMac)), {v6("::"), solicitedNodeMulticast(kTarget), 255},
                 NdpReject::kDadWithSourceLinkLayer);
}

TEST(NeighborSolicitationTest, DescribesEveryReason) {
  for (int r = 0; r <= static_cast<int>(NdpReject::kSolicitedToMulticast); ++r) {
    EXPECT_NE(describe(static_cast<NdpReject>(r)), "unknown NDP rejection") << r;
  }
}

// --- advertisements ---------------------------------------------------------

TEST(NeighborAdvertisementTest, AnswerGoesToSolicitorWithSolicitedAndOverride) {
  auto ns = parseNeighborSolicitation(solicitation(kTarget, slla(kClientMac)), headerFor(kTarget));
  ASSERT_TRUE(ns.ok());
  const NdpAnswer a = answerSolicitation(*ns, kOurMac);
  EXPECT_EQ(a.destination, v6("fe80::c1"));
  const Bytes want = concat(bytes({136, 0, 0, 0, 0x60, 0, 0, 0}), kTarget, tlla(kOurMac));
  EXPECT_EQ(Bytes(a.message.begin(), a.message.end()), want);
}

TEST(NeighborAdvertisementTest, AnswerToDadGoesToAllNodesUnsolicited) {
  auto ns =
      parseNeighborSolicitation(solicitation(kTarget, {}), {v6("::"), solicitedNodeMulticast(kTarget), 255});
  ASSERT_TRUE(ns.ok());
  const NdpAnswer a = answerSolicitation(*ns, kOurMac);
  EXPECT_EQ(a.destination, kAllNodesMulticast);
  EXPECT_EQ(a.message[4], 0x20);  // O only
}

TEST(NeighborAdvertisementTest, UnsolicitedGoesToAllNodesWithOverride) {
  const NdpAnswer a = buildUnsolicitedAdvertisement(kTarget, kOurMac);
  EXPECT_EQ(a.destination, kAllNodesMulticast);
  const Bytes want = concat(bytes({136, 0, 0, 0, 0x20, 0, 0, 0}), kTarget, tlla(kOurMac));
  EXPECT_EQ(Bytes(a.message.begin(), a.message.end()), want);
}

TEST(NeighborAdvertisementTest, EncodesEveryFlag) {
  EXPECT_EQ(buildNeighborAdvertisement(kTarget, kOurMac, {true, true, true})[4], 0xe0);
  EXPECT_EQ(buildNeighborAdvertisement(kTarget, kOurMac, {true, false, false})[4], 0x80);
  EXPECT_EQ(buildNeighborAdvertisement(kTarget, kOurMac, {false, false, false})[4], 0x00);
}

TEST(NeighborAdvertisementTest, ParsesBackWhatWeBuild) {
  const NdpAnswer a = buildUnsolicitedAdvertisement(kTarget, kOurMac);
  auto na = parseNeighborAdvertisement(a.message, {v6("fe80::1"), a.destination, 255});
  ASSERT_TRUE(na.ok()) << na.error();
  EXPECT_EQ(na->target, kTarget);
  EXPECT_EQ(na->target_mac, kOurMac);
  EXPECT_FALSE(na->router);
  EXPECT_FALSE(na->solicited);
  EXPECT_TRUE(na->override_flag);
}

TEST(NeighborAdvertisementTest, RejectsSolicitedAdvertisementToMulticast) {
  const NdpMessage m = buildNeighborAdvertisement(kTarget, kOurMac, {false, true, true});
  auto na = parseNeighborAdvertisement(m, {v6("fe80::1"), kAllNodesMulticast, 255});
  ASSERT_FALSE(na.ok());
  EXPECT_EQ(na.reason(), NdpReject::kSolicitedToMulticast);
}

TEST(NeighborAdvertisementTest, RejectsSolicitationsAndLowHopLimit) {
  const NdpMessage m = buildNeighborAdvertisement(kTarget, kOurMac, {});
  EXPECT_EQ(parseNeighborAdvertisement(m, {v6("fe80::1"), kAllNodesMulticast, 64}).reason(),
            NdpReject::kHopLimit);
  EXPECT_EQ(parseNeighborAdvertisement(solicitation(kTarget, {}), {v6("fe80::1"), kAllNodesMulticast, 255})
                .reason(),
            NdpReject::kWrongType);
}

TEST(NeighborAdvertisementTest, RejectsTwoTargetLinkLayerOptions) {
  const Bytes m = concat(bytes({136, 0, 0, 0, 0x20, 0, 0, 0}), kTarget, tlla(kOurMac), tlla(kClientMac));
  EXPECT_EQ(parseNeighborAdvertisement(m, {v6("fe80::1"), kAllNodesMulticast, 255}).reason(),
            NdpReject::kDuplicateLinkLayer);
}

// --- checksum ---------------------------------------------------------------
// Expected values computed outside this code base (Python, summing the
// pseudo-header and message as one big integer reduced modulo 0xffff).

TEST(Icmpv6ChecksumTest, SolicitedAdvertisementMatchesIndependentVector) {
  const NdpMessage m = buildNeighborAdvertisement(kTarget, kOurMac, {false, true, true});
  EXPECT_EQ(icmpv6Checksum(v6("fe80::1"), v6("fe80::2"), m), 0xe8d4);
}

TEST(Icmpv6ChecksumTest, UnsolicitedAdvertisementMatchesIndependentVector) {
  const NdpAnswer a = buildUnsolicitedAdvertisement(kTarget, kOurMac);
  EXPECT_EQ(icmpv6Checksum(v6("fe80::1"), a.destination, a.message), 0x2854);
}

TEST(Icmpv6ChecksumTest, PadsOddLengthWithZero) {
  EXPECT_EQ(icmpv6Checksum(v6("2001:db8::1"), v6("2001:db8::2"), bytes({0x87, 0, 0, 0, 0xab})), 0x724a);
}

TEST(Icmpv6ChecksumTest, IgnoresWhatIsInTheChecksumField) {
  NdpMessage m = buildNeighborAdvertisement(kTarget, kOurMac, {});
  const uint16_t clean = icmpv6Checksum(v6("fe80::1"), kAllNodesMulticast, m);
  m[2] = 0x12;
  m[3] = 0x34;
  EXPECT_EQ(icmpv6Checksum(v6("fe80::1"), kAllNodesMulticast, m), clean);
}

TEST(Icmpv6ChecksumTest, FilledChecksumVerifies) {
  NdpMessage m = buildNeighborAdvertisement(kTarget, kOurMac, {false, true, true});
  EXPECT_FALSE(icmpv6ChecksumValid(v6("fe80::1"), v6("fe80::2"), m));
  fillIcmpv6Checksum(v6("fe80::1"), v6("fe80::2"), m);
  EXPECT_EQ(m[2], 0xe8);
  EXPECT_EQ(m[3], 0xd4);
  EXPECT_TRUE(icmpv6ChecksumValid(v6("fe80::1"), v6("fe80::2"), m));
}

TEST(Icmpv6ChecksumTest, DetectsChangedBytesAndAddresses) {
  NdpMessage m = buildNeighborAdvertisement(kTarget, kOurMac, {});
  fillIcmpv6Checksum(v6("fe80::1"), kAllNodesMulticast, m);
  EXPECT_FALSE(icmpv6ChecksumValid(v6("fe80::3"), kAllNodesMulticast, m));
  m[31] ^= 0x01;
  EXPECT_FALSE(icmpv6ChecksumValid(v6("fe80::1"), kAllNodesMulticast, m));
}

TEST(Icmpv6ChecksumTest, ShortMessagesAreNeverValid) {
  EXPECT_FALSE(icmpv6ChecksumValid(v6("fe80::1"), v6("fe80::2"), bytes({136, 0, 0})));
}

// --- multicast groups -------------------------------------------------------

TEST(SolicitedNodeTest, KeepsLow24BitsUnderTheGroupPrefix) {
  EXPECT_EQ(solicitedNodeMulticast(v6("2001:db8::1:2345:6789")), v6("ff02::1:ff45:6789"));
  EXPECT_EQ(solicitedNodeMulticast(v6("fe80::aabb:ccdd:eeff")), v6("ff02::1:ffdd:eeff"));
}

TEST(SolicitedNodeTest, RecognisesGroups) {
  EXPECT_TRUE(isSolicitedNodeMulticast(v6("ff02::1:ff00:10")));
  EXPECT_FALSE(isSolicitedNodeMulticast(v6("ff02::1")));
  EXPECT_FALSE(isSolicitedNodeMulticast(v6("ff02::2:ff00:10")));
  EXPECT_FALSE(isSolicitedNodeMulticast(kTarget));
}

TEST(SolicitedNodeTest, MulticastMacCarriesLow32Bits) {
  EXPECT_EQ(ipv6MulticastMac(solicitedNodeMulticast(v6("2001:db8::1:2345:6789"))),
            (MacAddress{0x33, 0x33, 0xff, 0x45, 0x67, 0x89}));
  EXPECT_EQ(ipv6MulticastMac(kAllNodesMulticast), (MacAddress{0x33, 0x33, 0, 0, 0, 1}));
}

}  // namespace
}  // namespace pier::vip::testing
