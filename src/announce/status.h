#pragma once
// What the announcer reports about itself (admin API, status page, CLI).
#include <cstdint>
#include <string>
#include <vector>

namespace pier::announce {

struct IpState {
  std::string ip;
  std::string owner;  // empty: no live node is eligible
  bool owned_here = false;
  bool eligible_here = false;  // as advertised to the peers
  std::vector<std::string> services;
};

struct MemberState {
  std::string node;
  bool alive = false;
  double last_seen_ms_ago = 0;          // 0 for this node
  std::vector<std::string> interfaces;  // where its heartbeats arrive (this node: its running interfaces)
};

struct AnnouncerStatus {
  std::string node;
  std::vector<IpState> ips;          // sorted by address
  std::vector<MemberState> members;  // this node first, then the peers by name
  uint64_t conflicts = 0;
};

}  // namespace pier::announce
