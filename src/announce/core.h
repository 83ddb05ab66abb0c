#pragma once
// The announcer's logic as a deterministic state machine: heartbeats in and
// out, membership, per-IP election, the ARP/NDP responders, gratuitous
// announcements and conflict detection. It never reads a socket, never
// sleeps and never looks at a real clock: the Announcer's thread feeds it
// packets and ticks, tests feed it bytes and a FakeClock. Outputs go straight
// to the socket interfaces of host.h. Not thread-safe: one thread drives it.
//
// Time: every input reads clock.now(); nextWakeup() says when onTick() must
// run next (heartbeat due, a member's death deadline, the end of the startup
// hold-off, an announcement due or the pacing bucket refilled).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/announce/announce_metrics.h"
#include "src/announce/eligibility.h"
#include "src/announce/host.h"
#include "src/announce/plan.h"
#include "src/announce/status.h"
#include "src/announce/token_bucket.h"
#include "src/common/clock.h"
#include "src/config/config.h"
#include "src/vip/cluster_key.h"
#include "src/vip/election.h"
#include "src/vip/ndp.h"
#include "src/vip/replay_guard.h"

namespace pier::announce {

struct CoreOptions {
  std::string node;
  Duration interval = std::chrono::milliseconds(100);
  uint32_t dead_after_missed = 3;
  uint32_t announce_repeats = 5;
  Duration announce_spacing = std::chrono::milliseconds(1100);
  Duration refresh_interval{0};  // 0: no periodic re-announcement
  // Pacing of gratuitous ARP / unsolicited NA frames (all interfaces together).
  uint32_t garp_frames_per_ms = 20;
  uint32_t garp_burst = 256;
  // At most one conflict-triggered re-announcement per IP within this.
  Duration conflict_gap = std::chrono::seconds(1);
  uint32_t leaving_heartbeats = 3;
  Duration leaving_spacing = std::chrono::milliseconds(1);
  Duration max_clock_skew = std::chrono::seconds(10);     // heartbeat freshness (ReplayGuard)
  Duration forget_dead_after = std::chrono::minutes(10);  // dead members leave the status after this

  static CoreOptions fromConfig(const config::VirtualIps& cfg, std::string node);
};

// One interface's sockets; not owned (the Announcer or a test owns them).
// Null: that socket is not available on this interface.
struct LinkSockets {
  ArpSocket* arp = nullptr;
  NdpSocket* ndp = nullptr;
  HeartbeatSocket* heartbeat = nullptr;
};

// Milliseconds since the Unix epoch (heartbeat timestamps and incarnation).
using WallClockMs = std::function<uint64_t()>;

class AnnounceCore {
 public:
  AnnounceCore(const Clock& clock, WallClockMs wall_ms, vip::ClusterKey key, CoreOptions options);
  ~AnnounceCore();
  AnnounceCore(const AnnounceCore&) = delete;
  AnnounceCore& operator=(const AnnounceCore&) = delete;

  // --- configuration, at any time ---
  // Timing and pacing; the node name stays what it was at construction.
  void setOptions(CoreOptions options);
  void setKey(vip::ClusterKey key);
  // The addresses to announce; ownership of addresses that stay is kept.
  void setPlan(Plan plan);
  // Adds an interface, or replaces its info and sockets. Returns its slot
  // (what the on*() inputs take).
  int attachInterface(const InterfaceInfo& info, LinkSockets sockets);
  // Stops using an interface; call before its sockets are destroyed.
  void detachInterface(const std::string& name);
  // New link state or MAC (a link event).
  void updateInterface(const InterfaceInfo& info);
  int slotOf(const std::string& name) const;  // -1: unknown
  // The addresses health allows this node to own. Until the first call every
  // configured address is allowed.
  void setEligibleIps(const std::set<std::string>& ips);

  // --- lifecycle ---
  // Starts heartbeating; claims nothing until the hold-off (dead_after_missed
  // heartbeat intervals) has passed, so that a (re)started node hears the
  // cluster before it takes anything.
  void start();
  // Graceful stop: stops answering at once and sends `leaving` heartbeats so
  // the peers re-elect immediately. Keep ticking until leaveDone().
  void beginLeave();
  bool leaveDone() const;
  // Stops answering for everything (process exit without a goodbye).
  void releaseAll(std::string_view reason);

  // --- inputs ---
  void onHeartbeat(int slot, std::span<const uint8_t> datagram);
  void onArpFrame(int slot, std::span<const uint8_t> frame);
  void onNdpMessage(int slot, std::span<const uint8_t> icmp, const vip::Ipv6Header& header);
  void onTick();
  MonoTime nextWakeup() const;

  AnnouncerStatus status() const;
  const std::string& node() const { return options_.node; }
  bool owns(std::string_view ip) const;
  uint64_t conflicts() const { return conflicts_; }

 private:
  struct Link {
    std::string name;  // empty: free slot
    bool attached = false;
    InterfaceInfo info;
    LinkSockets sockets;
  };

  struct Entry {
    PlannedIp planned;
    uint64_t allowed = 0;  // slots the address may be announced on
    uint64_t self_weight = 0;
    std::string owner;
    bool owned = false;
    bool eligible = false;  // as advertised in our heartbeats
    uint64_t joined = 0;    // slots whose solicited-node group we joined for it
    uint32_t announces_left = 0;
    std::optional<MonoTime> queued_at;  // in announce_queue_
    std::optional<MonoTime> last_conflict_announce;
    stats::Gauge owned_gauge;
  };

  struct Member {
    std::string name;
    bool alive = false;
    bool left = false;
    MonoTime last_seen{};
    Duration interval{};
    uint64_t incarnation = 0;
    uint64_t sequence = 0;
    Eligibility eligibility;
    std::vector<uint64_t> weights;  // per entry, for plan_generation_
    uint64_t weights_generation = 0;
    std::map<int, MonoTime> seen_on;  // slot -> last heartbeat there
  };

  MonoTime now() const { return clock_.now(); }
  Duration deadAfter(Duration interval) const;
  int slotFor(const std::string& name);
  uint64_t usableMask(const vip::IpAddress& ip) const;
  void recomputeMasks();
  bool isOurMac(const vip::MacAddress& mac) const;
  std::optional<size_t> find(const vip::IpAddress& ip) const;

  // Eligibility and election.
  // Re-derives this node's eligibility per address (and the heartbeat list);
  // elects again when it changed (or when forced), sends a heartbeat at once
  // when the list changed.
  void recomputeEligibility(std::string_view reason, bool force_elect = false);
  void elect(std::string_view reason);
  std::string electOne(size_t i, const std::vector<Member*>& alive);
  std::vector<Member*> aliveMembers();
  void acquire(size_t i);
  void release(size_t i);
  void syncGroups(Entry& e);  // joins/leaves solicited-node groups to match ownership
  void updateAliveGauge();

  // Heartbeats.
  void sendHeartbeat(bool scheduled);
  void expireMembers(MonoTime now);

  // Announcements.
  void enqueue(size_t i, MonoTime at);
  void dequeue(size_t i);
  uint32_t framesFor(size_t i) const;
  void announce(size_t i);
  void runAnnouncements(MonoTime now);
  void onConflict(size_t i, int slot, const vip::MacAddress& mac, std::string_view how);

  const Clock& clock_;
  WallClockMs wall_ms_;
  vip::ClusterKey key_;
  CoreOptions options_;
  AnnounceMetrics metrics_;
  vip::ReplayGuard replay_;
  TokenBucket bucket_;

  std::vector<Link> links_;
  uint64_t v4_mask_ = 0;         // slots that can answer ARP now (attached, running, socket)
  uint64_t v6_mask_ = 0;         // slots that can answer NDP now
  uint64_t heartbeat_mask_ = 0;  // slots that can send heartbeats now

  std::vector<Entry> ips_;            // sorted by address
  std::vector<vip::IpAddress> keys_;  // ips_[i].planned.ip, for the heartbeat list
  uint64_t plan_generation_ = 1;
  std::optional<std::set<vip::IpAddress>> eligible_filter_;  // nullopt: all
  AdvertisedList advertised_;
  size_t dropped_warned_ = 0;

  std::map<std::string, Member, std::less<>> members_;
  std::map<std::pair<int, vip::Ipv6Address>, int> groups_;  // refcounts per (slot, group)
  std::set<std::pair<MonoTime, size_t>> announce_queue_;
  MonoTime announce_blocked_until_{};

  bool started_ = false;
  bool holding_ = false;
  MonoTime holdoff_until_{};
  bool leaving_ = false;
  bool stopped_ = false;
  uint32_t leaving_sent_ = 0;
  MonoTime next_leaving_{};
  uint64_t incarnation_ = 0;
  uint64_t sequence_ = 0;
  MonoTime next_heartbeat_{};
  MonoTime next_prune_{};
  std::optional<MonoTime> own_name_warned_;
  uint64_t conflicts_ = 0;
  int64_t alive_reported_ = 0;
  std::vector<vip::WeightedNode> candidates_;  // reused by electOne
};

}  // namespace pier::announce
