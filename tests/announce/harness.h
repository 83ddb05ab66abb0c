#pragma once
// Test harness for AnnounceCore: nodes with fake sockets on a fake clock, and
// a cluster that carries each node's heartbeats to the others with zero
// latency (per interface name: eth0 talks to eth0), ticking every node when
// it asks to be ticked.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "src/announce/core.h"
#include "src/announce/plan.h"
#include "src/config/config.h"
#include "src/vip/arp.h"
#include "src/vip/heartbeat.h"
#include "src/vip/ndp.h"
#include "tests/announce/fakes.h"

namespace pier::announce::testing {

using namespace std::chrono_literals;

inline constexpr uint64_t kWallBase = 1'700'000'000'000;

inline vip::ClusterKey keyFrom(uint8_t fill) {
  std::vector<uint8_t> bytes(32, fill);
  auto key = vip::ClusterKey::fromBytes(bytes);
  return std::move(key).value();
}
inline vip::ClusterKey testKey() { return keyFrom(0x5a); }

inline vip::IpAddress ip(std::string_view text) { return *vip::IpAddress::parse(text); }
inline vip::MacAddress nodeMac(int node, int itf = 0) {
  return {0x02, 0x00, 0x00, 0x00, static_cast<uint8_t>(node), static_cast<uint8_t>(itf)};
}
inline const vip::MacAddress kClientMac{0x02, 0xcc, 0xcc, 0xcc, 0xcc, 0x01};
inline const vip::MacAddress kStrangerMac{0x02, 0xee, 0xee, 0xee, 0xee, 0x01};

// virtual_ips with one pool holding `ips`, one service per address.
inline config::VirtualIps vipConfig(const std::vector<std::string>& ips,
                                    std::vector<std::string> interfaces = {"eth0"}) {
  config::VirtualIps cfg;
  cfg.enabled = true;
  cfg.node_name = "a";
  cfg.key_file = "/etc/pier/cluster.key";
  cfg.interfaces = std::move(interfaces);
  config::VipPool pool;
  pool.name = "pool";
  pool.addresses = ips;
  for (const auto& a : ips) pool.cidrs.push_back(a + (a.find(':') == std::string::npos ? "/32" : "/128"));
  cfg.pools.push_back(pool);
  for (size_t i = 0; i < ips.size(); ++i) {
    config::VipService svc;
    svc.name = "svc-" + std::to_string(i);
    svc.address = ips[i];
    svc.assigned = ips[i];
    cfg.services.push_back(svc);
  }
  return cfg;
}

inline Plan planOf(const config::VirtualIps& cfg) { return makePlan(cfg).value(); }
inline Plan planFor(const std::vector<std::string>& ips, std::vector<std::string> interfaces = {"eth0"}) {
  return planOf(vipConfig(ips, std::move(interfaces)));
}

// "192.0.2.<first>" .. for `count` addresses, spilling into the next octets.
inline std::vector<std::string> manyIps(size_t count, int first = 1) {
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) {
    const size_t n = static_cast<size_t>(first) + i;
    out.push_back("10." + std::to_string(n / 65536 % 256) + "." + std::to_string(n / 256 % 256) + "." +
                  std::to_string(n % 256));
  }
  return out;
}

inline CoreOptions testOptions(std::string node) {
  CoreOptions o;
  o.node = std::move(node);
  return o;
}

// ARP frames as a client would send them.
inline Bytes arpFrame(vip::ArpOp op, const vip::MacAddress& eth_dst, const vip::MacAddress& sender_mac,
                      std::string_view sender_ip, const vip::MacAddress& target_mac,
                      std::string_view target_ip) {
  Bytes f(vip::kArpFrameSize, 0);
  std::copy(eth_dst.begin(), eth_dst.end(), f.begin());
  std::copy(sender_mac.begin(), sender_mac.end(), f.begin() + 6);
  f[12] = 0x08;
  f[13] = 0x06;
  f[14] = 0;
  f[15] = 1;
  f[16] = 0x08;
  f[17] = 0;
  f[18] = 6;
  f[19] = 4;
  f[20] = 0;
  f[21] = static_cast<uint8_t>(op);
  std::copy(sender_mac.begin(), sender_mac.end(), f.begin() + 22);
  const auto spa = ip(sender_ip).asV4();
  std::copy(spa.begin(), spa.end(), f.begin() + 28);
  std::copy(target_mac.begin(), target_mac.end(), f.begin() + 32);
  const auto tpa = ip(target_ip).asV4();
  std::copy(tpa.begin(), tpa.end(), f.begin() + 38);
  return f;
}
inline Bytes whoHas(std::string_view target, std::string_view client_ip = "192.0.2.100",
                    const vip::MacAddress& eth_dst = vip::kBroadcastMac) {
  return arpFrame(vip::ArpOp::kRequest, eth_dst, kClientMac, client_ip, vip::kZeroMac, target);
}

// A Neighbor Solicitation for `target` from a client, as the kernel hands it over.
inline FakeNdpSocket::Queued neighborSolicitation(std::string_view target, int hop_limit = 255) {
  const auto t = ip(target).asV6();
  Bytes m(32, 0);
  m[0] = vip::kIcmpv6NeighborSolicitation;
  std::copy(t.begin(), t.end(), m.begin() + 8);
  m[24] = 1;  // source link-layer address option
  m[25] = 1;
  std::copy(kClientMac.begin(), kClientMac.end(), m.begin() + 26);
  return {m, ip("2001:db8::100").asV6(), vip::solicitedNodeMulticast(t), hop_limit};
}

struct TestItf {
  InterfaceInfo info;
  FakeArpSocket arp;
  FakeNdpSocket ndp;
  FakeHeartbeatSocket heartbeat;
  int slot = -1;
};

class TestNode {
 public:
  TestNode(FakeClock& clock, std::string name, int id, const Plan& plan, CoreOptions options = {},
           uint8_t key_fill = 0x5a)
      : clock_(clock), name_(std::move(name)), id_(id) {
    options.node = name_;
    core_ = std::make_unique<AnnounceCore>(
        clock_, [this] { return wallMs(); }, keyFrom(key_fill), options);
    int n = 0;
    for (const std::string& itf : plan.interfaces) {
      auto t = std::make_unique<TestItf>();
      t->info.name = itf;
      t->info.index = n + 2;
      t->info.mac = nodeMac(id_, n);
      t->info.running = true;
      t->info.link_local = ip("fe80::" + std::to_string(id_) + ":" + std::to_string(n)).asV6();
      t->slot = core_->attachInterface(t->info, {&t->arp, &t->ndp, &t->heartbeat});
      itfs_[itf] = std::move(t);
      ++n;
    }
    core_->setPlan(plan);
  }

  uint64_t wallMs() const {
    return kWallBase + static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 clock_.now().time_since_epoch())
                                                 .count());
  }
  AnnounceCore& core() { return *core_; }
  const std::string& name() const { return name_; }
  int id() const { return id_; }
  TestItf& itf(const std::string& name = "eth0") { return *itfs_.at(name); }
  std::map<std::string, std::unique_ptr<TestItf>>& itfs() { return itfs_; }
  void setRunning(const std::string& itf_name, bool running) {
    TestItf& t = itf(itf_name);
    t.info.running = running;
    core_->updateInterface(t.info);
  }
  // Feeds the core everything queued on its sockets.
  void pump() {
    for (auto& [name, t] : itfs_) {
      std::array<uint8_t, 2048> buf{};
      while (auto r = t->heartbeat.receive(buf)) {
        if (r->size == 0) break;
        core_->onHeartbeat(t->slot, std::span<const uint8_t>(buf.data(), r->size));
      }
      while (true) {
        const int n = t->arp.receive(buf);
        if (n <= 0) break;
        core_->onArpFrame(t->slot, std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
      }
      while (auto r = t->ndp.receive(buf)) {
        if (r->size == 0) break;
        core_->onNdpMessage(t->slot, std::span<const uint8_t>(buf.data(), r->size),
                            vip::Ipv6Header{r->source, r->destination, r->hop_limit});
      }
    }
  }
  // Decoded heartbeats sent on `itf` so far (and forgets them).
  std::vector<vip::Heartbeat> takeHeartbeats(const std::string& itf_name = "eth0") {
    std::vector<vip::Heartbeat> out;
    auto key = testKey();
    for (const Bytes& d : itf(itf_name).heartbeat.takeSent()) {
      auto hb = vip::decodeHeartbeat(d, key);
      if (hb) out.push_back(hb.value());
    }
    return out;
  }

 private:
  FakeClock& clock_;
  std::string name_;
  int id_;
  std::unique_ptr<AnnounceCore> core_;
  std::map<std::string, std::unique_ptr<TestItf>> itfs_;
};

class Cluster {
 public:
  FakeClock clock;

  TestNode& add(const std::string& name, const Plan& plan, CoreOptions options = {}) {
    nodes_[name] = std::make_unique<TestNode>(clock, name, next_id_++, plan, options);
    return *nodes_[name];
  }
  TestNode& node(const std::string& name) { return *nodes_.at(name); }
  void start(const std::string& name) {
    node(name).core().start();
    deliver();
  }
  void startAll() {
    for (auto& [name, n] : nodes_) n->core().start();
    deliver();
  }
  // kill -9: the node sends and receives nothing any more.
  void kill(const std::string& name) { dead_.insert(name); }
  // A new process under the same name (new incarnation), not started.
  TestNode& restart(const std::string& name, const Plan& plan, CoreOptions options = {}) {
    dead_.erase(name);
    const int id = nodes_.at(name)->id();
    nodes_[name] = std::make_unique<TestNode>(clock, name, id, plan, options);
    return *nodes_[name];
  }
  bool alive(const std::string& name) const { return dead_.count(name) == 0; }

  // Carries heartbeats between live nodes over interfaces of the same name
  // that are running on both ends, until nobody has anything more to say.
  void deliver() {
    for (int rounds = 0; rounds < 100; ++rounds) {
      bool moved = false;
      for (auto& [from, n] : nodes_) {
        for (auto& [itf, t] : n->itfs()) {
          auto sent = t->heartbeat.takeSent();
          if (!alive(from) || !t->info.running) continue;
          for (const Bytes& d : sent) {
            for (auto& [to, m] : nodes_) {
              if (to == from || !alive(to)) continue;
              auto it = m->itfs().find(itf);
              if (it == m->itfs().end() || !it->second->info.running) continue;
              it->second->heartbeat.push(d);
              moved = true;
            }
          }
        }
      }
      for (auto& [name, n] : nodes_) {
        if (alive(name)) n->pump();
      }
      if (!moved) return;
    }
  }

  MonoTime nextWakeup() {
    MonoTime t = MonoTime::max();
    for (auto& [name, n] : nodes_) {
      if (alive(name)) t = std::min(t, n->core().nextWakeup());
    }
    return t;
  }

  // Advances time by `d`, ticking each node when due; `step` runs after each
  // tick (with its deliveries).
  void runFor(Duration d, const std::function<void()>& step = {}) {
    const MonoTime target = clock.now() + d;
    for (int guard = 0; guard < 1'000'000; ++guard) {
      const MonoTime t = nextWakeup();
      if (t > target) break;
      if (t > clock.now()) clock.advance(t - clock.now());
      for (auto& [name, n] : nodes_) {
        if (alive(name) && n->core().nextWakeup() <= clock.now()) n->core().onTick();
      }
      deliver();
      if (step) step();
    }
    if (target > clock.now()) clock.advance(target - clock.now());
  }

  // IP -> the live nodes announcing it.
  std::map<std::string, std::vector<std::string>> announcers() {
    std::map<std::string, std::vector<std::string>> out;
    for (auto& [name, n] : nodes_) {
      if (!alive(name)) continue;
      for (const IpState& s : n->core().status().ips) {
        if (!out.count(s.ip)) out[s.ip];
        if (s.owned_here) out[s.ip].push_back(name);
      }
    }
    return out;
  }

  std::vector<std::string> liveNames() const {
    std::vector<std::string> out;
    for (auto& [name, n] : nodes_) {
      if (alive(name)) out.push_back(name);
    }
    return out;
  }

 private:
  std::map<std::string, std::unique_ptr<TestNode>> nodes_;
  std::set<std::string> dead_;
  int next_id_ = 1;
};

// Ticks `cores` (no heartbeat delivery) whenever they are due, for `d`.
inline void runCores(FakeClock& clock, const std::vector<AnnounceCore*>& cores, Duration d,
                     const std::function<void()>& step = {}) {
  const MonoTime target = clock.now() + d;
  for (int guard = 0; guard < 10'000'000; ++guard) {
    MonoTime t = MonoTime::max();
    for (AnnounceCore* c : cores) t = std::min(t, c->nextWakeup());
    if (t > target) break;
    if (t > clock.now()) clock.advance(t - clock.now());
    for (AnnounceCore* c : cores) {
      if (c->nextWakeup() <= clock.now()) c->onTick();
    }
    if (step) step();
  }
  if (target > clock.now()) clock.advance(target - clock.now());
}

// A heartbeat of a peer, made by hand.
struct PeerHeartbeat {
  std::string node = "b";
  uint64_t incarnation = kWallBase;
  uint64_t sequence = 1;
  uint64_t timestamp_ms = kWallBase;
  uint32_t interval_ms = 100;
  bool leaving = false;
  bool except_listed = true;  // default: eligible for everything
  std::vector<std::string> ips;
  uint8_t key_fill = 0x5a;

  Bytes encode() const {
    vip::Heartbeat hb;
    hb.node = node;
    hb.incarnation = incarnation;
    hb.sequence = sequence;
    hb.timestamp_ms = timestamp_ms;
    hb.interval_ms = interval_ms;
    hb.leaving = leaving;
    hb.except_listed = except_listed;
    for (const auto& a : ips) hb.ips.push_back(ip(a));
    return vip::encodeHeartbeat(hb, keyFrom(key_fill)).value();
  }
};

// The owner election gives among `nodes` for `address`.
inline std::string expectedOwner(std::string_view address, const std::vector<std::string>& nodes) {
  auto i = vip::electOwner(ip(address), nodes);
  return i ? nodes[*i] : std::string();
}

}  // namespace pier::announce::testing
