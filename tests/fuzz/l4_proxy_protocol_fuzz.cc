// PROXY protocol parser: after an options byte (split point, v2 size limit),
// the input is parsed whole and as a prefix. A prefix must never complete
// before the whole does, nor disagree with it; a header that parses must
// re-encode (v1 and v2) to one that parses back to the same addresses.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "src/l4/address.h"
#include "src/l4/proxy_protocol.h"

#define L4_FUZZ_CHECK(cond)                                                         \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace {

using pier::l4::ProxyHeader;
using pier::l4::ProxyHeaderParser;
using Status = ProxyHeaderParser::Status;

void checkReencodes(const ProxyHeader& h) {
  if (h.local) return;
  for (int version : {1, 2}) {
    if (version == 1 && h.udp) continue;  // v1 has no datagram form
    std::string wire;
    if (version == 1) {
      pier::l4::appendProxyHeaderV1(wire, h.source, h.destination);
    } else {
      pier::l4::appendProxyHeaderV2(wire, h.source, h.destination, h.udp);
    }
    ProxyHeaderParser again;
    L4_FUZZ_CHECK(again.parse(wire) == Status::kComplete);
    L4_FUZZ_CHECK(again.consumed() == wire.size());
    L4_FUZZ_CHECK(!again.header().local);
    L4_FUZZ_CHECK(again.header().udp == h.udp);
    L4_FUZZ_CHECK(pier::l4::sameEndpoint(again.header().source, h.source));
    L4_FUZZ_CHECK(pier::l4::sameEndpoint(again.header().destination, h.destination));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size < 1) return 0;
  const uint8_t options = bytes[0];
  const std::string_view data(reinterpret_cast<const char*>(bytes + 1), size - 1);
  ProxyHeaderParser::Limits limits;
  if (options & 0x80) limits.max_v2_bytes = 64 + (options & 0x3f) * 8;

  ProxyHeaderParser whole(limits);
  const Status status = whole.parse(data);
  if (status == Status::kComplete) {
    L4_FUZZ_CHECK(whole.consumed() > 0 && whole.consumed() <= data.size());
    L4_FUZZ_CHECK(whole.header().version == 1 || whole.header().version == 2);
    checkReencodes(whole.header());
  } else {
    L4_FUZZ_CHECK(whole.consumed() == 0);
  }
  if (status == Status::kError) {
    L4_FUZZ_CHECK(!whole.error().empty());
  }

  // A prefix, as a connection sees the bytes arrive.
  const size_t cut = data.empty() ? 0 : (options * 131u) % (data.size() + 1);
  ProxyHeaderParser part(limits);
  const Status prefix = part.parse(data.substr(0, cut));
  switch (status) {
    case Status::kComplete:
      if (cut < whole.consumed()) {
        L4_FUZZ_CHECK(prefix == Status::kIncomplete);
      } else {
        L4_FUZZ_CHECK(prefix == Status::kComplete && part.consumed() == whole.consumed());
      }
      break;
    case Status::kIncomplete:
      L4_FUZZ_CHECK(prefix == Status::kIncomplete);
      break;
    case Status::kError:
      L4_FUZZ_CHECK(prefix != Status::kComplete);
      break;
  }
  return 0;
}
