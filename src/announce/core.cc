#include "src/announce/core.h"

#include <algorithm>
#include <bit>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "src/common/log.h"
#include "src/vip/arp.h"
#include "src/vip/heartbeat.h"

namespace pier::announce {
namespace {

using std::chrono::milliseconds;

// Ownership changes logged one line each per election; the rest are summed
// up (a node taking over 10,000 addresses must not write 10,000 lines).
constexpr size_t kLoggedChanges = 16;
constexpr Duration kPruneEvery = std::chrono::seconds(10);
constexpr Duration kOwnNameWarnEvery = std::chrono::minutes(1);

uint64_t bit(int slot) { return uint64_t{1} << slot; }

template <typename F>
void forEachSlot(uint64_t mask, F f) {
  while (mask != 0) {
    f(std::countr_zero(mask));
    mask &= mask - 1;
  }
}

std::string_view rejectSlug(vip::HeartbeatReject r) {
  switch (r) {
    case vip::HeartbeatReject::kTruncated:
      return "truncated";
    case vip::HeartbeatReject::kTooLong:
      return "too_long";
    case vip::HeartbeatReject::kBadMagic:
      return "bad_magic";
    case vip::HeartbeatReject::kUnsupportedVersion:
      return "unsupported_version";
    case vip::HeartbeatReject::kBadMac:
      return "bad_mac";
    case vip::HeartbeatReject::kReservedBits:
      return "reserved_bits";
    case vip::HeartbeatReject::kBadName:
      return "bad_name";
    case vip::HeartbeatReject::kLengthMismatch:
      return "length_mismatch";
    case vip::HeartbeatReject::kBadInterval:
      return "bad_interval";
  }
  return "invalid";
}

std::string_view verdictSlug(vip::ReplayGuard::Verdict v) {
  switch (v) {
    case vip::ReplayGuard::Verdict::kFirstContact:
    case vip::ReplayGuard::Verdict::kNewer:
    case vip::ReplayGuard::Verdict::kRestarted:
      return "accepted";
    case vip::ReplayGuard::Verdict::kReplay:
      return "replay";
    case vip::ReplayGuard::Verdict::kStale:
      return "stale";
    case vip::ReplayGuard::Verdict::kFuture:
      return "future";
  }
  return "invalid";
}

std::string_view arpKindName(vip::ArpKind kind) {
  switch (kind) {
    case vip::ArpKind::kRequest:
      return "ARP request";
    case vip::ArpKind::kProbe:
      return "ARP probe";
    case vip::ArpKind::kGratuitousRequest:
      return "gratuitous ARP request";
    case vip::ArpKind::kReply:
      return "ARP reply";
    case vip::ArpKind::kGratuitousReply:
      return "gratuitous ARP reply";
  }
  return "ARP";
}

double msSince(MonoTime then, MonoTime now) {
  return std::chrono::duration<double, std::milli>(now - then).count();
}

std::string_view orNone(const std::string& node) { return node.empty() ? std::string_view("none") : node; }

}  // namespace

CoreOptions CoreOptions::fromConfig(const config::VirtualIps& cfg, std::string node) {
  CoreOptions o;
  o.node = std::move(node);
  o.interval = cfg.heartbeat_interval;
  o.dead_after_missed = std::max<uint32_t>(cfg.dead_after_missed, 1);
  o.announce_repeats = cfg.announce_repeats;
  o.announce_spacing = cfg.announce_spacing;
  o.refresh_interval = cfg.refresh_interval;
  return o;
}

AnnounceCore::AnnounceCore(const Clock& clock, WallClockMs wall_ms, vip::ClusterKey key, CoreOptions options)
    : clock_(clock),
      wall_ms_(std::move(wall_ms)),
      key_(std::move(key)),
      options_(std::move(options)),
      replay_(vip::ReplayGuard::Options{std::chrono::duration_cast<milliseconds>(options_.max_clock_skew)}),
      bucket_(options_.garp_frames_per_ms, options_.garp_burst),
      incarnation_(wall_ms_()) {}

AnnounceCore::~AnnounceCore() {
  // Sockets may be gone by now: only the gauges are put right.
  for (Entry& e : ips_) {
    if (e.owned) e.owned_gauge.add(-1);
  }
  metrics_.members_alive.add(-alive_reported_);
}

// ---------------------------------------------------------------------------
// Configuration

void AnnounceCore::setOptions(CoreOptions options) {
  options.node = options_.node;
  const bool pacing_changed =
      options.garp_frames_per_ms != options_.garp_frames_per_ms || options.garp_burst != options_.garp_burst;
  options_ = std::move(options);
  if (pacing_changed) bucket_ = TokenBucket(options_.garp_frames_per_ms, options_.garp_burst);
  const MonoTime t = now();
  if (next_heartbeat_ > t + options_.interval) next_heartbeat_ = t + options_.interval;
}

void AnnounceCore::setKey(vip::ClusterKey key) { key_ = std::move(key); }

void AnnounceCore::setPlan(Plan plan) {
  // Free slots of interfaces that are neither attached nor wanted any more.
  for (Link& l : links_) {
    if (!l.attached &&
        std::find(plan.interfaces.begin(), plan.interfaces.end(), l.name) == plan.interfaces.end()) {
      l.name.clear();
    }
  }
  const MonoTime t = now();
  std::vector<Entry> old = std::move(ips_);
  ips_.clear();
  ips_.reserve(plan.ips.size());
  announce_queue_.clear();
  auto retire = [&](Entry& e) {
    if (!e.owned) return;
    PIER_LOG_INFO("vip {}: no longer configured; this node stops announcing it", e.planned.text);
    e.owned = false;
    e.owned_gauge.add(-1);
    syncGroups(e);
  };
  std::vector<size_t> reannounce;
  size_t j = 0;
  for (PlannedIp& p : plan.ips) {
    while (j < old.size() && old[j].planned.ip < p.ip) retire(old[j++]);
    Entry e;
    const bool carried = j < old.size() && old[j].planned.ip == p.ip;
    if (carried) {
      e = std::move(old[j++]);
    } else {
      e.owned_gauge = metrics_.owned(p.text);
      e.self_weight = vip::rendezvousWeight(options_.node, p.ip);
    }
    uint64_t allowed = 0;
    for (const std::string& name : p.interfaces) {
      const int s = slotFor(name);
      if (s >= 0) allowed |= bit(s);
    }
    // An owned address announced on a new interface is news there.
    if (carried && e.owned && (allowed & ~e.allowed) != 0) reannounce.push_back(ips_.size());
    e.allowed = allowed;
    e.planned = std::move(p);
    ips_.push_back(std::move(e));
  }
  while (j < old.size()) retire(old[j++]);

  keys_.clear();
  keys_.reserve(ips_.size());
  for (size_t i = 0; i < ips_.size(); ++i) {
    keys_.push_back(ips_[i].planned.ip);
    if (ips_[i].queued_at) announce_queue_.insert({*ips_[i].queued_at, i});
    syncGroups(ips_[i]);
  }
  for (size_t i : reannounce) {
    ips_[i].announces_left = std::max(ips_[i].announces_left, options_.announce_repeats);
    enqueue(i, t);
  }
  ++plan_generation_;
  recomputeEligibility("configuration changed", true);
}

int AnnounceCore::slotFor(const std::string& name) {
  const int existing = slotOf(name);
  if (existing >= 0) return existing;
  for (size_t s = 0; s < links_.size(); ++s) {
    if (links_[s].name.empty()) {
      links_[s] = Link{};
      links_[s].name = name;
      return static_cast<int>(s);
    }
  }
  if (links_.size() >= kMaxInterfaces) {
    PIER_LOG_ERROR("announcer: more than {} interfaces; ignoring {}", kMaxInterfaces, name);
    return -1;
  }
  links_.push_back(Link{});
  links_.back().name = name;
  return static_cast<int>(links_.size() - 1);
}

int AnnounceCore::slotOf(const std::string& name) const {
  for (size_t s = 0; s < links_.size(); ++s) {
    if (!name.empty() && links_[s].name == name) return static_cast<int>(s);
  }
  return -1;
}

int AnnounceCore::attachInterface(const InterfaceInfo& info, LinkSockets sockets) {
  const int s = slotFor(info.name);
  if (s < 0) return -1;
  Link& l = links_[s];
  if (l.attached && l.sockets.ndp != sockets.ndp) {
    // Group memberships belonged to the old socket and die with it.
    for (Entry& e : ips_) e.joined &= ~bit(s);
    std::erase_if(groups_, [s](const auto& g) { return g.first.first == s; });
  }
  const bool had_heartbeat = heartbeat_mask_ != 0;
  l.attached = true;
  l.info = info;
  l.info.name = l.name;
  l.sockets = sockets;
  recomputeMasks();
  for (Entry& e : ips_) syncGroups(e);
  if (started_ && !leaving_ && !had_heartbeat && heartbeat_mask_ != 0) {
    holding_ = true;
    holdoff_until_ = now() + options_.dead_after_missed * options_.interval;
  }
  recomputeEligibility(fmt::format("interface {} attached", info.name));
  return s;
}

void AnnounceCore::detachInterface(const std::string& name) {
  const int s = slotOf(name);
  if (s < 0 || !links_[s].attached) return;
  Link& l = links_[s];
  l.attached = false;
  recomputeMasks();
  for (Entry& e : ips_) syncGroups(e);  // leaves groups on the socket while it still exists
  l.sockets = {};
  recomputeEligibility(fmt::format("interface {} removed", name));
}

void AnnounceCore::updateInterface(const InterfaceInfo& info) {
  const int s = slotOf(info.name);
  if (s < 0 || !links_[s].attached) return;
  Link& l = links_[s];
  const bool was_running = l.info.running;
  const bool mac_changed = l.info.mac != info.mac;
  const bool had_heartbeat = heartbeat_mask_ != 0;
  l.info = info;
  recomputeMasks();
  if (was_running == info.running && !mac_changed) return;
  for (Entry& e : ips_) syncGroups(e);
  std::string reason;
  if (was_running != info.running) {
    reason = fmt::format("link {} {}", info.name, info.running ? "up" : "down");
    PIER_LOG_INFO("announcer: {}", reason);
  } else {
    reason = fmt::format("interface {} changed its MAC", info.name);
  }
  // Without any working link this node heard nobody: before claiming
  // anything again, listen as a starting node does.
  if (started_ && !leaving_ && !had_heartbeat && heartbeat_mask_ != 0) {
    holding_ = true;
    holdoff_until_ = now() + options_.dead_after_missed * options_.interval;
    PIER_LOG_INFO("announcer: links back; listening to the cluster before claiming addresses");
  }
  recomputeEligibility(reason);
  if (mac_changed && info.running) {
    for (size_t i = 0; i < ips_.size(); ++i) {
      if (ips_[i].owned && (ips_[i].allowed & bit(s)) != 0) {
        ips_[i].announces_left = std::max(ips_[i].announces_left, options_.announce_repeats);
        enqueue(i, now());
      }
    }
  }
}

void AnnounceCore::recomputeMasks() {
  v4_mask_ = v6_mask_ = heartbeat_mask_ = 0;
  for (size_t s = 0; s < links_.size(); ++s) {
    const Link& l = links_[s];
    if (!l.attached || !l.info.running) continue;
    // No announcing where no heartbeats go: the peers on that segment could
    // not know this node is there, and would announce the same address.
    if (l.sockets.heartbeat == nullptr) continue;
    const uint64_t b = bit(static_cast<int>(s));
    heartbeat_mask_ |= b;
    if (l.sockets.arp != nullptr) v4_mask_ |= b;
    if (l.sockets.ndp != nullptr) v6_mask_ |= b;
  }
}

uint64_t AnnounceCore::usableMask(const vip::IpAddress& ip) const { return ip.isV4() ? v4_mask_ : v6_mask_; }

bool AnnounceCore::isOurMac(const vip::MacAddress& mac) const {
  return std::any_of(links_.begin(), links_.end(),
                     [&](const Link& l) { return l.attached && l.info.mac == mac; });
}

std::optional<size_t> AnnounceCore::find(const vip::IpAddress& ip) const {
  auto it = std::lower_bound(keys_.begin(), keys_.end(), ip);
  if (it == keys_.end() || *it != ip) return std::nullopt;
  return static_cast<size_t>(it - keys_.begin());
}

void AnnounceCore::setEligibleIps(const std::set<std::string>& ips) {
  std::set<vip::IpAddress> parsed;
  for (const std::string& text : ips) {
    if (auto ip = vip::IpAddress::parse(text)) {
      parsed.insert(*ip);
    } else {
      PIER_LOG_DEBUG("announcer: ignoring eligible address '{}': not an IP address", text);
    }
  }
  eligible_filter_ = std::move(parsed);
  recomputeEligibility("health changed which addresses this node may serve");
}

// ---------------------------------------------------------------------------
// Lifecycle

void AnnounceCore::start() {
  if (started_) return;
  started_ = true;
  holding_ = true;
  const MonoTime t = now();
  holdoff_until_ = t + options_.dead_after_missed * options_.interval;
  next_heartbeat_ = t;
  next_prune_ = t + kPruneEvery;
  PIER_LOG_INFO(
      "announcer: node {} starting; listening to the cluster for {} ms before claiming addresses",
      options_.node,
      std::chrono::duration_cast<milliseconds>(options_.dead_after_missed * options_.interval).count());
  updateAliveGauge();
  recomputeEligibility("start", true);
  sendHeartbeat(false);
}

void AnnounceCore::beginLeave() {
  if (leaving_ || stopped_) return;
  leaving_ = true;
  next_leaving_ = now();
  updateAliveGauge();
  // Stop answering first, then tell the peers: the gap until the new owner
  // announces is one datagram's flight, and no moment has two answerers.
  recomputeEligibility("this node is leaving (graceful stop)");
  if (started_ && leaving_sent_ == 0) sendHeartbeat(false);
}

bool AnnounceCore::leaveDone() const {
  return !started_ || stopped_ || leaving_sent_ >= std::max<uint32_t>(options_.leaving_heartbeats, 1);
}

void AnnounceCore::releaseAll(std::string_view reason) {
  stopped_ = true;
  size_t released = 0;
  for (size_t i = 0; i < ips_.size(); ++i) {
    ips_[i].eligible = false;
    if (ips_[i].owned) {
      release(i);
      ++released;
    }
  }
  announce_queue_.clear();
  for (Entry& e : ips_) e.queued_at.reset();
  updateAliveGauge();
  if (released > 0) PIER_LOG_INFO("announcer: released {} addresses ({})", released, reason);
}

// ---------------------------------------------------------------------------
// Eligibility and election

Duration AnnounceCore::deadAfter(Duration interval) const {
  // A quarter interval of slack absorbs timer and scheduling jitter; more
  // would push failover past dead_after_missed intervals plus jitter.
  return options_.dead_after_missed * interval + interval / 4;
}

void AnnounceCore::recomputeEligibility(std::string_view reason, bool force_elect) {
  const bool may_claim = started_ && !holding_ && !leaving_ && !stopped_;
  std::vector<bool> want(ips_.size(), false);
  for (size_t i = 0; i < ips_.size(); ++i) {
    const Entry& e = ips_[i];
    want[i] = may_claim && (!eligible_filter_ || eligible_filter_->count(e.planned.ip) != 0) &&
              (e.allowed & usableMask(e.planned.ip)) != 0;
  }
  AdvertisedList adv = chooseAdvertisedList(keys_, want, options_.node);
  for (size_t d : adv.dropped) want[d] = false;
  if (adv.dropped.size() != dropped_warned_) {
    dropped_warned_ = adv.dropped.size();
    if (!adv.dropped.empty()) {
      PIER_LOG_WARN(
          "announcer: eligible for too many addresses to list in one heartbeat while not eligible for many "
          "others; not claiming {} of them (make eligibility all-or-most per node)",
          adv.dropped.size());
    }
  }
  bool changed = false;
  for (size_t i = 0; i < ips_.size(); ++i) {
    if (ips_[i].eligible != want[i]) {
      ips_[i].eligible = want[i];
      changed = true;
    }
  }
  const bool adv_changed = adv.except_listed != advertised_.except_listed || adv.ips != advertised_.ips;
  advertised_ = std::move(adv);
  if (changed || force_elect) elect(reason);
  if (adv_changed && started_) sendHeartbeat(false);
}

std::vector<AnnounceCore::Member*> AnnounceCore::aliveMembers() {
  std::vector<Member*> alive;
  for (auto& [name, m] : members_) {
    if (!m.alive) continue;
    if (m.weights_generation != plan_generation_ || m.weights.size() != ips_.size()) {
      m.weights.resize(ips_.size());
      for (size_t i = 0; i < ips_.size(); ++i)
        m.weights[i] = vip::rendezvousWeight(m.name, ips_[i].planned.ip);
      m.weights_generation = plan_generation_;
    }
    alive.push_back(&m);
  }
  return alive;
}

std::string AnnounceCore::electOne(size_t i, const std::vector<Member*>& alive) {
  const Entry& e = ips_[i];
  candidates_.clear();
  if (e.eligible) candidates_.push_back({options_.node, e.self_weight});
  for (const Member* m : alive) {
    if (m->eligibility.contains(e.planned.ip)) candidates_.push_back({m->name, m->weights[i]});
  }
  const auto winner = vip::pickHighest(candidates_);
  return winner ? std::string(candidates_[*winner].node) : std::string();
}

void AnnounceCore::elect(std::string_view reason) {
  if (ips_.empty()) return;
  const auto alive = aliveMembers();
  size_t changes = 0;
  size_t gained = 0;
  size_t lost = 0;
  for (size_t i = 0; i < ips_.size(); ++i) {
    std::string owner = electOne(i, alive);
    Entry& e = ips_[i];
    if (owner == e.owner) continue;
    std::string old = std::exchange(e.owner, std::move(owner));
    const bool mine = e.owner == options_.node;
    if (mine && !e.owned) {
      acquire(i);
      ++gained;
    } else if (!mine && e.owned) {
      release(i);
      ++lost;
    }
    if (++changes <= kLoggedChanges) {
      PIER_LOG_INFO("vip {}: owner {} -> {} ({}){}", e.planned.text, orNone(old), orNone(e.owner), reason,
                    mine ? "; taking over" : (old == options_.node ? "; released" : ""));
    }
  }
  if (changes > kLoggedChanges) {
    PIER_LOG_INFO("announcer: {} ownership changes ({}), {} taken over and {} released by this node", changes,
                  reason, gained, lost);
  }
  // The first announcement goes out now, not at the next tick (paced all the same).
  if (gained > 0) runAnnouncements(now());
}

void AnnounceCore::acquire(size_t i) {
  Entry& e = ips_[i];
  e.owned = true;
  e.owned_gauge.add(1);
  metrics_.takeovers.add();
  syncGroups(e);
  e.announces_left = options_.announce_repeats;
  e.last_conflict_announce.reset();
  if (e.announces_left > 0) {
    enqueue(i, now());
  } else if (options_.refresh_interval > Duration::zero()) {
    enqueue(i, now() + options_.refresh_interval);
  }
}

void AnnounceCore::release(size_t i) {
  Entry& e = ips_[i];
  e.owned = false;
  e.owned_gauge.add(-1);
  syncGroups(e);
  dequeue(i);
  e.announces_left = 0;
}

void AnnounceCore::syncGroups(Entry& e) {
  if (!e.planned.ip.isV6()) return;
  const uint64_t desired = e.owned ? (e.allowed & v6_mask_) : 0;
  if (desired == e.joined) return;
  const vip::Ipv6Address group = vip::solicitedNodeMulticast(e.planned.ip.asV6());
  forEachSlot(desired & ~e.joined, [&](int s) {
    if (groups_[{s, group}]++ == 0 && !links_[s].sockets.ndp->joinGroup(group)) {
      PIER_LOG_WARN("vip {}: could not join {} on {}: solicitations may not arrive", e.planned.text,
                    vip::formatIpv6(group), links_[s].name);
    }
  });
  forEachSlot(e.joined & ~desired, [&](int s) {
    auto it = groups_.find({s, group});
    if (it != groups_.end() && --it->second <= 0) {
      groups_.erase(it);
      if (links_[s].sockets.ndp != nullptr) links_[s].sockets.ndp->leaveGroup(group);
    }
  });
  e.joined = desired;
}

void AnnounceCore::updateAliveGauge() {
  int64_t alive = started_ && !leaving_ && !stopped_ ? 1 : 0;
  for (const auto& [name, m] : members_) alive += m.alive ? 1 : 0;
  metrics_.members_alive.add(alive - alive_reported_);
  alive_reported_ = alive;
}

bool AnnounceCore::owns(std::string_view ip) const {
  auto parsed = vip::IpAddress::parse(ip);
  if (!parsed) return false;
  auto i = find(*parsed);
  return i && ips_[*i].owned;
}

// ---------------------------------------------------------------------------
// Heartbeats

void AnnounceCore::sendHeartbeat(bool scheduled) {
  if (!started_ || stopped_) return;
  const MonoTime t = now();
  vip::Heartbeat hb;
  hb.node = options_.node;
  hb.incarnation = incarnation_;
  hb.sequence = ++sequence_;
  hb.timestamp_ms = wall_ms_();
  hb.interval_ms = static_cast<uint32_t>(std::clamp<int64_t>(
      std::chrono::duration_cast<milliseconds>(options_.interval).count(), 1, vip::kHeartbeatMaxIntervalMs));
  hb.leaving = leaving_;
  if (!leaving_) {
    hb.except_listed = advertised_.except_listed;
    hb.ips = advertised_.ips;
  }
  auto bytes = vip::encodeHeartbeat(hb, key_);
  if (!bytes) {
    PIER_LOG_ERROR("announcer: cannot build a heartbeat: {}", bytes.error());
  } else {
    forEachSlot(heartbeat_mask_, [&](int s) {
      if (!links_[s].sockets.heartbeat->send(*bytes)) {
        PIER_LOG_DEBUG("announcer: heartbeat send failed on {}", links_[s].name);
      }
    });
    metrics_.heartbeats_sent.add();
  }
  if (leaving_) {
    ++leaving_sent_;
    next_leaving_ = t + options_.leaving_spacing;
  }
  // Scheduled sends keep their phase (no drift from timer lateness); an
  // immediate send (news for the peers) starts a new period.
  if (scheduled && next_heartbeat_ + options_.interval > t) {
    next_heartbeat_ += options_.interval;
  } else {
    next_heartbeat_ = t + options_.interval;
  }
}

void AnnounceCore::onHeartbeat(int slot, std::span<const uint8_t> datagram) {
  auto decoded = vip::decodeHeartbeat(datagram, key_);
  if (!decoded) {
    metrics_.heartbeatReceived(rejectSlug(decoded.reason()));
    PIER_LOG_DEBUG("announcer: dropped heartbeat: {}", decoded.error());
    return;
  }
  const vip::Heartbeat& hb = decoded.value();
  const MonoTime t = now();
  if (hb.node == options_.node) {
    metrics_.heartbeatReceived("own");
    if (hb.incarnation != incarnation_ && (!own_name_warned_ || t - *own_name_warned_ >= kOwnNameWarnEvery)) {
      own_name_warned_ = t;
      PIER_LOG_WARN("announcer: another process sends heartbeats as node '{}' (this node's name)", hb.node);
    }
    return;
  }
  auto it = members_.find(hb.node);
  if (it != members_.end() && it->second.incarnation == hb.incarnation &&
      it->second.sequence == hb.sequence) {
    // The same heartbeat again over another interface.
    it->second.seen_on[slot] = t;
    metrics_.heartbeatReceived("duplicate");
    return;
  }
  const auto verdict = replay_.check(hb, t, wall_ms_());
  metrics_.heartbeatReceived(verdictSlug(verdict));
  if (!vip::ReplayGuard::accepted(verdict)) {
    PIER_LOG_DEBUG("announcer: dropped heartbeat from {}: {}", hb.node, vip::ReplayGuard::describe(verdict));
    return;
  }
  if (it == members_.end()) {
    it = members_.emplace(hb.node, Member{}).first;
    it->second.name = hb.node;
  }
  Member& m = it->second;
  const bool was_alive = m.alive;
  Eligibility eligibility = Eligibility::fromHeartbeat(hb);
  const bool eligibility_changed = !(eligibility == m.eligibility);
  m.incarnation = hb.incarnation;
  m.sequence = hb.sequence;
  m.seen_on[slot] = t;
  m.interval = milliseconds(hb.interval_ms);
  m.eligibility = std::move(eligibility);
  m.last_seen = t;
  if (hb.leaving) {
    m.alive = false;
    if (was_alive || !m.left) {
      m.left = true;
      PIER_LOG_INFO("announcer: node {} is leaving (graceful stop)", m.name);
      updateAliveGauge();
      if (was_alive) elect(fmt::format("node {} left", m.name));
    }
    return;
  }
  m.left = false;
  m.alive = true;
  if (!was_alive) {
    PIER_LOG_INFO("announcer: node {} is alive (heartbeat every {} ms)", m.name, hb.interval_ms);
    updateAliveGauge();
    elect(fmt::format("node {} joined", m.name));
  } else if (eligibility_changed) {
    elect(fmt::format("node {} changed the addresses it may serve", m.name));
  }
}

void AnnounceCore::expireMembers(MonoTime t) {
  std::vector<std::string> died;
  for (auto& [name, m] : members_) {
    if (m.alive && t >= m.last_seen + deadAfter(m.interval)) {
      m.alive = false;
      died.push_back(name);
      PIER_LOG_INFO("announcer: node {} died: no heartbeat for {:.0f} ms", name, msSince(m.last_seen, t));
    }
  }
  if (died.empty()) return;
  updateAliveGauge();
  elect(fmt::format("node {} died", fmt::join(died, ", ")));
}

// ---------------------------------------------------------------------------
// Ticks

void AnnounceCore::onTick() {
  if (stopped_) return;
  const MonoTime t = now();
  if (started_ && holding_ && t >= holdoff_until_) {
    holding_ = false;
    PIER_LOG_INFO("announcer: hold-off over; claiming the addresses this node wins");
    recomputeEligibility("startup hold-off over");
  }
  expireMembers(t);
  if (leaving_) {
    if (started_ && !leaveDone() && t >= next_leaving_) sendHeartbeat(false);
  } else if (started_ && t >= next_heartbeat_) {
    sendHeartbeat(true);
  }
  runAnnouncements(t);
  if (started_ && t >= next_prune_) {
    next_prune_ = t + kPruneEvery;
    replay_.prune(t);
    std::erase_if(members_, [&](const auto& entry) {
      return !entry.second.alive && t - entry.second.last_seen > options_.forget_dead_after;
    });
  }
}

MonoTime AnnounceCore::nextWakeup() const {
  MonoTime t = MonoTime::max();
  if (stopped_) return t;
  if (started_) {
    if (leaving_) {
      if (!leaveDone()) t = std::min(t, next_leaving_);
    } else {
      t = std::min(t, next_heartbeat_);
    }
    if (holding_) t = std::min(t, holdoff_until_);
    t = std::min(t, next_prune_);
  }
  for (const auto& [name, m] : members_) {
    if (m.alive) t = std::min(t, m.last_seen + deadAfter(m.interval));
  }
  if (!announce_queue_.empty())
    t = std::min(t, std::max(announce_queue_.begin()->first, announce_blocked_until_));
  return t;
}

// ---------------------------------------------------------------------------
// Announcements

void AnnounceCore::enqueue(size_t i, MonoTime at) {
  dequeue(i);
  announce_queue_.insert({at, i});
  ips_[i].queued_at = at;
}

void AnnounceCore::dequeue(size_t i) {
  Entry& e = ips_[i];
  if (!e.queued_at) return;
  announce_queue_.erase({*e.queued_at, i});
  e.queued_at.reset();
}

uint32_t AnnounceCore::framesFor(size_t i) const {
  const Entry& e = ips_[i];
  const int links = std::popcount(e.allowed & usableMask(e.planned.ip));
  return static_cast<uint32_t>(links) * (e.planned.ip.isV4() ? 2 : 1);
}

void AnnounceCore::announce(size_t i) {
  const Entry& e = ips_[i];
  forEachSlot(e.allowed & usableMask(e.planned.ip), [&](int s) {
    const Link& l = links_[s];
    if (e.planned.ip.isV4()) {
      // Both forms: different stacks update their caches from different ones.
      for (auto form : {vip::GratuitousForm::kRequest, vip::GratuitousForm::kReply}) {
        l.sockets.arp->send(vip::buildGratuitousArp(l.info.mac, e.planned.ip.asV4(), form));
        metrics_.garp_sent.add();
      }
    } else {
      const vip::NdpAnswer na = vip::buildUnsolicitedAdvertisement(e.planned.ip.asV6(), l.info.mac);
      l.sockets.ndp->send(na.message, na.destination, e.planned.ip.asV6());
      metrics_.garp_sent.add();
    }
  });
}

void AnnounceCore::runAnnouncements(MonoTime t) {
  announce_blocked_until_ = MonoTime{};
  while (!announce_queue_.empty()) {
    const auto [at, i] = *announce_queue_.begin();
    if (at > t) break;
    const uint32_t frames = framesFor(i);
    if (frames > 0 && !bucket_.take(frames, t)) {
      announce_blocked_until_ = bucket_.readyAt(frames, t);
      break;
    }
    dequeue(i);
    if (frames > 0) announce(i);
    Entry& e = ips_[i];
    if (e.announces_left > 0) --e.announces_left;
    if (e.announces_left > 0) {
      enqueue(i, t + options_.announce_spacing);
    } else if (options_.refresh_interval > Duration::zero()) {
      enqueue(i, t + options_.refresh_interval);
    }
  }
}

// ---------------------------------------------------------------------------
// Responders

void AnnounceCore::onArpFrame(int slot, std::span<const uint8_t> frame) {
  if (slot < 0 || static_cast<size_t>(slot) >= links_.size() || !links_[slot].attached) return;
  auto parsed = vip::parseArpFrame(frame);
  if (!parsed) return;
  const vip::ArpPacket& p = *parsed;
  // Our own frames, seen through another interface on the same segment.
  if (isOurMac(p.sender_mac) || isOurMac(p.eth_source)) return;
  if (auto claimed = find(vip::IpAddress::v4(p.sender_ip)); claimed && ips_[*claimed].owned) {
    onConflict(*claimed, slot, p.sender_mac, arpKindName(p.kind));
  }
  const Link& link = links_[slot];
  if (!p.wantsAnswer() || !vip::addressedTo(p, link.info.mac)) return;
  auto target = find(vip::IpAddress::v4(p.target_ip));
  if (!target) return;
  const Entry& e = ips_[*target];
  if (!e.owned || (e.allowed & v4_mask_ & bit(slot)) == 0) return;
  if (auto reply = vip::buildArpReply(p, link.info.mac)) link.sockets.arp->send(*reply);
}

void AnnounceCore::onNdpMessage(int slot, std::span<const uint8_t> icmp, const vip::Ipv6Header& header) {
  if (slot < 0 || static_cast<size_t>(slot) >= links_.size() || !links_[slot].attached || icmp.empty())
    return;
  const Link& link = links_[slot];
  if (icmp[0] == vip::kIcmpv6NeighborSolicitation) {
    auto parsed = vip::parseNeighborSolicitation(icmp, header);
    if (!parsed) return;
    const vip::NeighborSolicitation& ns = *parsed;
    if (ns.source_mac && isOurMac(*ns.source_mac)) return;
    if (!ns.isDad() && ns.source_mac) {
      if (auto claimed = find(vip::IpAddress::v6(ns.source)); claimed && ips_[*claimed].owned) {
        onConflict(*claimed, slot, *ns.source_mac, "neighbor solicitation from the address");
      }
    }
    auto target = find(vip::IpAddress::v6(ns.target));
    if (!target) return;
    const Entry& e = ips_[*target];
    if (!e.owned || (e.allowed & v6_mask_ & bit(slot)) == 0) return;
    const vip::NdpAnswer answer = vip::answerSolicitation(ns, link.info.mac);
    link.sockets.ndp->send(answer.message, answer.destination, ns.target);
  } else if (icmp[0] == vip::kIcmpv6NeighborAdvertisement) {
    auto parsed = vip::parseNeighborAdvertisement(icmp, header);
    if (!parsed || !parsed->target_mac || isOurMac(*parsed->target_mac)) return;
    if (auto claimed = find(vip::IpAddress::v6(parsed->target)); claimed && ips_[*claimed].owned) {
      onConflict(*claimed, slot, *parsed->target_mac, "neighbor advertisement");
    }
  }
}

void AnnounceCore::onConflict(size_t i, int slot, const vip::MacAddress& mac, std::string_view how) {
  ++conflicts_;
  metrics_.conflicts.add();
  Entry& e = ips_[i];
  const MonoTime t = now();
  // Counted every time; acted on (and logged) at most once per conflict_gap,
  // so a flood of conflicting frames costs O(log n) each and causes no storm.
  if (e.last_conflict_announce && t - *e.last_conflict_announce < options_.conflict_gap) return;
  e.last_conflict_announce = t;
  PIER_LOG_WARN("vip {}: conflict: {} from {} on {} claims it while this node owns it", e.planned.text, how,
                vip::formatMac(mac), links_[slot].name);
  // Re-check the election for this address alone: another pier node that
  // still announces it learns from its own election (or from our answer).
  std::string owner = electOne(i, aliveMembers());
  if (owner != options_.node) {
    PIER_LOG_INFO("vip {}: owner {} -> {} (conflict re-check); released", e.planned.text, orNone(e.owner),
                  orNone(owner));
    e.owner = std::move(owner);
    release(i);
    return;
  }
  PIER_LOG_INFO("vip {}: still elected here; re-announcing once", e.planned.text);
  ++e.announces_left;
  enqueue(i, t);
  runAnnouncements(t);
}

// ---------------------------------------------------------------------------
// Status

AnnouncerStatus AnnounceCore::status() const {
  const MonoTime t = now();
  AnnouncerStatus s;
  s.node = options_.node;
  s.conflicts = conflicts_;
  s.ips.reserve(ips_.size());
  for (const Entry& e : ips_) {
    s.ips.push_back(IpState{e.planned.text, e.owner, e.owned, e.eligible, e.planned.services});
  }
  MemberState self{options_.node, started_ && !leaving_ && !stopped_, 0, {}};
  forEachSlot(heartbeat_mask_, [&](int slot) { self.interfaces.push_back(links_[slot].name); });
  s.members.push_back(std::move(self));
  for (const auto& [name, m] : members_) {
    MemberState ms{name, m.alive, msSince(m.last_seen, t), {}};
    for (const auto& [slot, seen] : m.seen_on) {
      if (t - seen < deadAfter(m.interval) && static_cast<size_t>(slot) < links_.size()) {
        ms.interfaces.push_back(links_[slot].name);
      }
    }
    s.members.push_back(std::move(ms));
  }
  return s;
}

}  // namespace pier::announce
