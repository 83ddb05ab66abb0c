// Neighbor Solicitation / Advertisement parsers. Input: one options byte,
// then the IPv6 source (16) and destination (16), then the ICMPv6 message.
// Options: bit 0 hop limit 255 (else 64), bit 1 unspecified source, bit 2
// destination = the target's solicited-node group. Whatever solicitation
// parses must be answerable with an advertisement that parses back, and
// every checksum we fill in must verify.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "src/vip/ndp.h"

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
const Ipv6Address kOurLinkLocal{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

void checkAnswer(const NeighborSolicitation& ns) {
  NdpAnswer a = answerSolicitation(ns, kOurMac);
  VIP_FUZZ_CHECK(a.destination == (ns.isDad() ? kAllNodesMulticast : ns.source));
  fillIcmpv6Checksum(kOurLinkLocal, a.destination, a.message);
  VIP_FUZZ_CHECK(icmpv6ChecksumValid(kOurLinkLocal, a.destination, a.message));
  auto na = parseNeighborAdvertisement(a.message, {kOurLinkLocal, a.destination, kNdpHopLimit});
  VIP_FUZZ_CHECK(na.ok());
  VIP_FUZZ_CHECK(na->target == ns.target);
  VIP_FUZZ_CHECK(na->target_mac == kOurMac);
  VIP_FUZZ_CHECK(na->solicited == !ns.isDad());
  VIP_FUZZ_CHECK(na->override_flag && !na->router);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 33) return 0;
  const uint8_t options = data[0];
  const std::span<const uint8_t> message(data + 33, size - 33);
  Ipv6Header h;
  std::copy_n(data + 1, 16, h.source.begin());
  std::copy_n(data + 17, 16, h.destination.begin());
  h.hop_limit = (options & 1) ? kNdpHopLimit : 64;
  if (options & 2) h.source = Ipv6Address{};
  if ((options & 4) && message.size() >= 24) {
    Ipv6Address target{};
    std::copy_n(message.begin() + 8, 16, target.begin());
    h.destination = solicitedNodeMulticast(target);
  }

  auto ns = parseNeighborSolicitation(message, h);
  if (ns.ok()) {
    VIP_FUZZ_CHECK(message.size() >= 24 && message[0] == kIcmpv6NeighborSolicitation);
    VIP_FUZZ_CHECK(!isIpv6Multicast(ns->target));
    VIP_FUZZ_CHECK(!(ns->isDad() && ns->source_mac));
    checkAnswer(*ns);
  } else {
    VIP_FUZZ_CHECK(!ns.error().empty());
  }

  auto na = parseNeighborAdvertisement(message, h);
  if (na.ok()) {
    VIP_FUZZ_CHECK(message.size() >= 24 && message[0] == kIcmpv6NeighborAdvertisement);
    VIP_FUZZ_CHECK(!(na->solicited && isIpv6Multicast(h.destination)));
  }

  if (message.size() >= 4) {
    std::vector<uint8_t> copy(message.begin(), message.end());
    fillIcmpv6Checksum(h.source, h.destination, copy);
    VIP_FUZZ_CHECK(icmpv6ChecksumValid(h.source, h.destination, copy));
  }
  return 0;
}
