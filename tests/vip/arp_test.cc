// ARP: hand-written frames parse to the right fields and kind, every
// rejection rule, and byte-exact replies and gratuitous announcements.
#include "src/vip/arp.h"

#include <gtest/gtest.h>

#include "tests/vip/vip_test_support.h"

namespace pier::vip::testing {
namespace {

const MacAddress kClientMac{0x02, 0x00, 0x00, 0x00, 0x00, 0xc1};
const MacAddress kOurMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

// Ethernet header + ARP fields, all given explicitly.
struct FrameSpec {
  MacAddress eth_dst = kBroadcastMac;
  MacAddress eth_src = kClientMac;
  int ethertype = 0x0806;
  int htype = 1;
  int ptype = 0x0800;
  int hlen = 6;
  int plen = 4;
  int op = 1;
  MacAddress sha = kClientMac;
  Ipv4Address spa{192, 0, 2, 1};
  MacAddress tha{};
  Ipv4Address tpa{192, 0, 2, 10};
};

Bytes frame(const FrameSpec& s) {
  return concat(s.eth_dst, s.eth_src, bytes({s.ethertype >> 8, s.ethertype & 0xff}),
                bytes({s.htype >> 8, s.htype & 0xff, s.ptype >> 8, s.ptype & 0xff, s.hlen, s.plen, s.op >> 8,
                       s.op & 0xff}),
                s.sha, s.spa, s.tha, s.tpa);
}

void expectReject(const FrameSpec& spec, ArpReject reason) {
  auto r = parseArpFrame(frame(spec));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.reason(), reason) << r.error();
}

ArpKind kindOf(const FrameSpec& spec) {
  auto r = parseArpFrame(frame(spec));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return r.ok() ? r->kind : ArpKind::kReply;
}

// --- parsing ------------------------------------------------------------------

TEST(ArpParseTest, ReadsEveryFieldOfARequest) {
  const Bytes f = bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0,    0, 0, 0, 0xc1, 0x08, 0x06,  //
                         0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01,                             //
                         0x02, 0,    0,    0,    0,    0xc1, 192,  0,    2, 1,                       //
                         0,    0,    0,    0,    0,    0,    192,  0,    2, 10});
  auto r = parseArpFrame(f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->eth_destination, kBroadcastMac);
  EXPECT_EQ(r->eth_source, kClientMac);
  EXPECT_EQ(r->op, ArpOp::kRequest);
  EXPECT_EQ(r->kind, ArpKind::kRequest);
  EXPECT_EQ(r->sender_mac, kClientMac);
  EXPECT_EQ(r->sender_ip, (Ipv4Address{192, 0, 2, 1}));
  EXPECT_EQ(r->target_mac, kZeroMac);
  EXPECT_EQ(r->target_ip, (Ipv4Address{192, 0, 2, 10}));
  EXPECT_TRUE(r->wantsAnswer());
}

TEST(ArpParseTest, IgnoresEthernetPadding) {
  Bytes f = frame({});
  f.resize(60, 0);
  auto r = parseArpFrame(f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->target_ip, (Ipv4Address{192, 0, 2, 10}));
}

TEST(ArpParseTest, ClassifiesProbe) {
  FrameSpec s;
  s.spa = {0, 0, 0, 0};
  EXPECT_EQ(kindOf(s), ArpKind::kProbe);
}

TEST(ArpParseTest, ClassifiesGratuitousRequest) {
  FrameSpec s;
  s.spa = s.tpa;
  EXPECT_EQ(kindOf(s), ArpKind::kGratuitousRequest);
}

TEST(ArpParseTest, ClassifiesReply) {
  FrameSpec s;
  s.op = 2;
  s.eth_dst = kOurMac;
  s.tha = kOurMac;
  EXPECT_EQ(kindOf(s), ArpKind::kReply);
}

TEST(ArpParseTest, ClassifiesGratuitousReply) {
  FrameSpec s;
  s.op = 2;
  s.spa = s.tpa;
  s.tha = s.sha;
  EXPECT_EQ(kindOf(s), ArpKind::kGratuitousReply);
}

TEST(ArpParseTest, AnnouncementsAndRepliesDoNotWantAnswers) {
  FrameSpec garp;
  garp.spa = garp.tpa;
  EXPECT_FALSE(parseArpFrame(frame(garp))->wantsAnswer());
  FrameSpec reply;
  reply.op = 2;
  EXPECT_FALSE(parseArpFrame(frame(reply))->wantsAnswer());
}

TEST(ArpParseTest, RejectsEveryTruncation) {
  const Bytes f = frame({});
  for (size_t n = 0; n < kArpFrameSize; ++n) {
    auto r = parseArpFrame(std::span(f).first(n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.reason(), ArpReject::kTruncated) << n;
  }
}

TEST(ArpParseTest, RejectsIeee8023LengthField) {
  FrameSpec s;
  s.ethertype = 0x002e;
  expectReject(s, ArpReject::kNotEthernetII);
}

TEST(ArpParseTest, RejectsVlanTags) {
  for (int tpid : {0x8100, 0x88a8}) {
    FrameSpec s;
    s.ethertype = tpid;
    expectReject(s, ArpReject::kVlanTagged);
  }
}

TEST(ArpParseTest, RejectsOtherEthertypes) {
  for (int type : {0x0800, 0x86dd, 0x8035 /* RARP */}) {
    FrameSpec s;
    s.ethertype = type;
    expectReject(s, ArpReject::kNotArp);
  }
}

TEST(ArpParseTest, RejectsNonEthernetHardwareType) {
  FrameSpec s;
  s.htype = 6;  // IEEE 802
  expectReject(s, ArpReject::kHardwareType);
}

TEST(ArpParseTest, RejectsNonIpv4ProtocolType) {
  FrameSpec s;
  s.ptype = 0x86dd;
  expectReject(s, ArpReject::kProtocolType);
}

TEST(ArpParseTest, RejectsOtherAddressLengths) {
  FrameSpec hardware;
  hardware.hlen = 8;
  expectReject(hardware, ArpReject::kAddressLengths);
  FrameSpec protocol;
  protocol.plen = 16;
  expectReject(protocol, ArpReject::kAddressLengths);
}

TEST(ArpParseTest, RejectsOperationsOtherThanRequestAndReply) {
  for (int op : {0, 3, 4, 8, 9, 0x0101}) {
    FrameSpec s;
    s.op = op;
    expectReject(s, ArpReject::kOpcode);
  }
}

TEST(ArpParseTest, RejectsGroupEthernetSource) {
  FrameSpec s;
  s.eth_src = kBroadcastMac;
  expectReject(s, ArpReject::kSourceMacInvalid);
}

TEST(ArpParseTest, RejectsZeroOrGroupSenderMac) {
  for (MacAddress sha : {kZeroMac, kBroadcastMac, MacAddress{0x01, 0x00, 0x5e, 0, 0, 1}}) {
    FrameSpec s;
    s.sha = sha;
    expectReject(s, ArpReject::kSenderMacInvalid);
  }
}

TEST(ArpParseTest, RejectsMulticastOrBroadcastSenderIp) {
  for (Ipv4Address spa :
       {Ipv4Address{224, 0, 0, 1}, Ipv4Address{239, 1, 2, 3}, Ipv4Address{255, 255, 255, 255}}) {
    FrameSpec s;
    s.spa = spa;
    expectReject(s, ArpReject::kSenderIpInvalid);
  }
}

TEST(ArpParseTest, RejectsReplyFromUnspecifiedSenderIp) {
  FrameSpec s;
  s.op = 2;
  s.spa = {0, 0, 0, 0};
  expectReject(s, ArpReject::kSenderIpInvalid);
}

TEST(ArpParseTest, RejectsMulticastOrBroadcastTargetIp) {
  for (Ipv4Address tpa : {Ipv4Address{224, 0, 0, 251}, Ipv4Address{255, 255, 255, 255}}) {
    FrameSpec s;
    s.tpa = tpa;
    expectReject(s, ArpReject::kTargetIpInvalid);
  }
}

TEST(ArpParseTest, RejectsRequestForUnspecifiedIp) {
  FrameSpec s;
  s.tpa = {0, 0, 0, 0};
  expectReject(s, ArpReject::kTargetIpInvalid);
}

TEST(ArpParseTest, AcceptsReplyToProbeWithUnspecifiedTarget) {
  FrameSpec s;
  s.op = 2;
  s.tpa = {0, 0, 0, 0};
  EXPECT_EQ(kindOf(s), ArpKind::kReply);
}

TEST(ArpParseTest, DescribesEveryReason) {
  for (int r = 0; r <= static_cast<int>(ArpReject::kTargetIpInvalid); ++r) {
    EXPECT_NE(describe(static_cast<ArpReject>(r)), "unknown ARP rejection") << r;
  }
}

TEST(ArpParseTest, AddressedToBroadcastOrOurMacOnly) {
  FrameSpec s;
  EXPECT_TRUE(addressedTo(parseArpFrame(frame(s)).value(), kOurMac));
  s.eth_dst = kOurMac;
  EXPECT_TRUE(addressedTo(parseArpFrame(frame(s)).value(), kOurMac));
  s.eth_dst = {0x02, 0, 0, 0, 0, 0x99};
  EXPECT_FALSE(addressedTo(parseArpFrame(frame(s)).value(), kOurMac));
}

// --- building -----------------------------------------------------------------

TEST(ArpBuildTest, ReplyIsUnicastToRequesterAndClaimsTargetIp) {
  auto request = parseArpFrame(frame({}));
  ASSERT_TRUE(request.ok());
  auto reply = buildArpReply(*request, kOurMac);
  ASSERT_TRUE(reply);
  const Bytes want = bytes({0x02, 0,    0,    0,    0, 0xc1, 0x02, 0,    0, 0,  0, 0x01, 0x08, 0x06,  //
                            0x00, 0x01, 0x08, 0x00, 6, 4,    0x00, 0x02,                              //
                            0x02, 0,    0,    0,    0, 0x01, 192,  0,    2, 10,                       //
                            0x02, 0,    0,    0,    0, 0xc1, 192,  0,    2, 1});
  EXPECT_EQ(Bytes(reply->begin(), reply->end()), want);
}

TEST(ArpBuildTest, ReplyParsesBackAsReply) {
  auto reply = buildArpReply(parseArpFrame(frame({})).value(), kOurMac);
  ASSERT_TRUE(reply);
  auto back = parseArpFrame(*reply);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->kind, ArpKind::kReply);
  EXPECT_EQ(back->sender_mac, kOurMac);
  EXPECT_EQ(back->sender_ip, (Ipv4Address{192, 0, 2, 10}));
}

TEST(ArpBuildTest, ReplyToProbeTargetsUnspecifiedAddress) {
  FrameSpec probe;
  probe.spa = {0, 0, 0, 0};
  auto reply = buildArpReply(parseArpFrame(frame(probe)).value(), kOurMac);
  ASSERT_TRUE(reply);
  auto back = parseArpFrame(*reply);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->eth_destination, kClientMac);
  EXPECT_EQ(back->target_ip, (Ipv4Address{0, 0, 0, 0}));
  EXPECT_EQ(back->sender_ip, (Ipv4Address{192, 0, 2, 10}));
}

TEST(ArpBuildTest, NoReplyToAnnouncementsOrReplies) {
  FrameSpec garp;
  garp.spa = garp.tpa;
  EXPECT_FALSE(buildArpReply(parseArpFrame(frame(garp)).value(), kOurMac));
  FrameSpec reply;
  reply.op = 2;
  EXPECT_FALSE(buildArpReply(parseArpFrame(frame(reply)).value(), kOurMac));
}

TEST(ArpBuildTest, GratuitousRequestForm) {
  const ArpFrame f = buildGratuitousArp(kOurMac, {192, 0, 2, 10}, GratuitousForm::kRequest);
  const Bytes want = bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0,    0, 0,  0, 0x01, 0x08, 0x06,  //
                            0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01,                              //
                            0x02, 0,    0,    0,    0,    0x01, 192,  0,    2, 10,                       //
                            0,    0,    0,    0,    0,    0,    192,  0,    2, 10});
  EXPECT_EQ(Bytes(f.begin(), f.end()), want);
  EXPECT_EQ(parseArpFrame(f)->kind, ArpKind::kGratuitousRequest);
}

TEST(ArpBuildTest, GratuitousReplyForm) {
  const ArpFrame f = buildGratuitousArp(kOurMac, {192, 0, 2, 10}, GratuitousForm::kReply);
  const Bytes want = bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0,    0, 0,  0, 0x01, 0x08, 0x06,  //
                            0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x02,                              //
                            0x02, 0,    0,    0,    0,    0x01, 192,  0,    2, 10,                       //
                            0x02, 0,    0,    0,    0,    0x01, 192,  0,    2, 10});
  EXPECT_EQ(Bytes(f.begin(), f.end()), want);
  EXPECT_EQ(parseArpFrame(f)->kind, ArpKind::kGratuitousReply);
}

}  // namespace
}  // namespace pier::vip::testing
