// ARP frame parser: whatever parses must classify consistently, and every
// frame we would send in answer (reply, gratuitous forms) must parse back
// to what it claims.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "src/vip/arp.h"

#define VIP_FUZZ_CHECK(cond)                                                        \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace {

using namespace pier::vip;

const MacAddress kOurMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

void checkGratuitous(const Ipv4Address& ip) {
  for (GratuitousForm form : {GratuitousForm::kRequest, GratuitousForm::kReply}) {
    const ArpFrame f = buildGratuitousArp(kOurMac, ip, form);
    auto back = parseArpFrame(f);
    VIP_FUZZ_CHECK(back.ok());
    VIP_FUZZ_CHECK(back->kind == (form == GratuitousForm::kRequest ? ArpKind::kGratuitousRequest
                                                                   : ArpKind::kGratuitousReply));
    VIP_FUZZ_CHECK(back->sender_ip == ip && back->target_ip == ip);
    VIP_FUZZ_CHECK(back->eth_destination == kBroadcastMac);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = parseArpFrame(std::span<const uint8_t>(data, size));
  if (!r.ok()) {
    VIP_FUZZ_CHECK(!r.error().empty());
    return 0;
  }
  const ArpPacket& p = *r;
  VIP_FUZZ_CHECK(size >= kArpFrameSize);
  VIP_FUZZ_CHECK(!isGroupMac(p.sender_mac) && p.sender_mac != kZeroMac);
  VIP_FUZZ_CHECK(p.isRequest() == (p.kind == ArpKind::kRequest || p.kind == ArpKind::kProbe ||
                                   p.kind == ArpKind::kGratuitousRequest));
  VIP_FUZZ_CHECK((p.kind == ArpKind::kProbe) == (p.isRequest() && p.sender_ip == Ipv4Address{}));

  auto reply = buildArpReply(p, kOurMac);
  VIP_FUZZ_CHECK(reply.has_value() == p.wantsAnswer());
  if (reply) {
    auto back = parseArpFrame(*reply);
    VIP_FUZZ_CHECK(back.ok());
    VIP_FUZZ_CHECK(back->op == ArpOp::kReply);
    VIP_FUZZ_CHECK(back->eth_destination == p.sender_mac && back->target_mac == p.sender_mac);
    VIP_FUZZ_CHECK(back->sender_mac == kOurMac && back->sender_ip == p.target_ip);
    VIP_FUZZ_CHECK(back->target_ip == p.sender_ip);
  }
  if (p.target_ip != Ipv4Address{}) checkGratuitous(p.target_ip);
  return 0;
}
