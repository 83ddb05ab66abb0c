// Heartbeat decoder. Input: one options byte, then the datagram. With
// option bit 0 the datagram's last 32 bytes are replaced by a valid MAC
// under the fuzz key first, so the fields behind authentication get
// explored too. A heartbeat that decodes must re-encode to the very same
// bytes (the encoding is canonical), and the replay guard must accept it
// once and refuse it the second time.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "src/vip/heartbeat.h"
#include "src/vip/replay_guard.h"

#define VIP_FUZZ_CHECK(cond)                                                        \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace {

using namespace pier::vip;

// Key bytes 00 01 .. 1f; the seed corpus is signed with it.
const ClusterKey& fuzzKey() {
  static const ClusterKey key = [] {
    std::array<uint8_t, 32> bytes{};
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
    return std::move(ClusterKey::fromBytes(bytes).value());
  }();
  return key;
}

void resign(std::vector<uint8_t>& d) {
  if (d.size() < kHeartbeatMacBytes) return;
  const size_t body = d.size() - kHeartbeatMacBytes;
  const auto k = fuzzKey().bytes();
  unsigned int len = 0;
  HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()), d.data(), body, d.data() + body, &len);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::vector<uint8_t> d(data + 1, data + size);
  if (data[0] & 1) resign(d);

  auto hb = decodeHeartbeat(d, fuzzKey());
  if (!hb.ok()) {
    VIP_FUZZ_CHECK(!hb.error().empty());
    return 0;
  }
  VIP_FUZZ_CHECK(validNodeName(hb->node));
  VIP_FUZZ_CHECK(hb->interval_ms >= 1 && hb->interval_ms <= kHeartbeatMaxIntervalMs);
  for (const IpAddress& ip : hb->ips) VIP_FUZZ_CHECK(hb->eligibleFor(ip) != hb->except_listed);

  auto again = encodeHeartbeat(*hb, fuzzKey());
  VIP_FUZZ_CHECK(again.ok());
  VIP_FUZZ_CHECK(again.value() == d);

  ReplayGuard guard;
  const pier::MonoTime now{};
  VIP_FUZZ_CHECK(guard.check(*hb, now, hb->timestamp_ms) == ReplayGuard::Verdict::kFirstContact);
  VIP_FUZZ_CHECK(guard.check(*hb, now, hb->timestamp_ms) == ReplayGuard::Verdict::kReplay);
  return 0;
}
