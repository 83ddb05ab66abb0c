// The hashes behind consistent hashing, over pier::hashBytes (src/common/hash.h).
#include <string_view>

#include "src/upstream/load_balancer_internal.h"

namespace pier::upstream {

namespace internal {

uint64_t hostHash(const config::SocketAddress& address, uint64_t seed) {
  return hashBytes(address.host.data(), address.host.size(), mix64(seed) ^ address.port);
}

}  // namespace internal

uint64_t hashKey(std::string_view key) { return internal::hashBytes(key.data(), key.size(), 0); }

}  // namespace pier::upstream
