#pragma once
// Virtual host lookup by Host header: exact domains first, then the longest
// suffix wildcard ("*.example.com"), then the longest prefix wildcard
// ("api.*"), then "*". Domains are stored lowercase; a lookup folds the
// request's Host into a stack buffer, so the common case does not allocate.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/common/result.h"

namespace pier::router {

// "example.com:8080" -> "example.com", "[::1]:8080" -> "[::1]". A host with
// more than one ':' and no brackets is returned unchanged (a bare IPv6
// literal has no port to strip).
std::string_view hostWithoutPort(std::string_view host);

class HostTable {
 public:
  // Registers `domain` for virtual host `index`. Fails on a malformed
  // wildcard or a domain already claimed by a different virtual host.
  Status add(std::string_view domain, int index);
  // Sorts wildcard tiers longest first; call once after the last add().
  void finish();

  // Index of the virtual host for `host` (a Host header value), or -1.
  int find(std::string_view host) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, int, Hash, std::equal_to<>>;
  // All wildcards whose fixed part has the same length: one hash probe per
  // distinct length instead of one comparison per wildcard.
  struct Tier {
    size_t length = 0;
    Map domains;
  };

  static Status insert(Map& map, std::string key, int index, std::string_view domain);
  static Map& tierFor(std::vector<Tier>& tiers, size_t length);
  int findLowered(std::string_view host) const;

  Map exact_;
  std::vector<Tier> suffixes_;  // "*.example.com" stored as ".example.com"
  std::vector<Tier> prefixes_;  // "api.*" stored as "api."
  int any_ = -1;
};

}  // namespace pier::router
