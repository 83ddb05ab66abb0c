#include "src/announce/announcer.h"

#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "src/announce/core.h"
#include "src/announce/host_setup.h"
#include "src/announce/plan.h"
#include "src/common/log.h"
#include "src/event/loop.h"
#include "src/vip/heartbeat.h"

namespace pier::announce {
namespace {

constexpr int kRealtimePriority = 10;
// Between checks for due timers while draining a flooded socket: an ARP flood
// must not delay heartbeats.
constexpr int kFramesPerTickCheck = 64;
// Without link events, how often links are re-read; also how often sockets
// that failed to open are retried.
constexpr Duration kLinkPollEvery = std::chrono::milliseconds(200);
constexpr Duration kRetryEvery = std::chrono::seconds(1);
// A graceful stop gives up waiting for its goodbye after this.
constexpr auto kLeaveTimeout = std::chrono::seconds(2);

class FdHandler final : public event::IoHandler {
 public:
  explicit FdHandler(std::function<void()> fn) : fn_(std::move(fn)) {}
  void onIoEvent(uint32_t) override { fn_(); }

 private:
  std::function<void()> fn_;
};

uint64_t wallNowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Result<std::string> resolveNodeName(const config::VirtualIps& cfg) {
  std::string name = cfg.node_name;
  if (name.empty()) {
    std::array<char, 256> buf{};
    if (gethostname(buf.data(), buf.size() - 1) != 0) {
      return Error{"virtual_ips: node_name is not set and the host name is unavailable"};
    }
    name = buf.data();
  }
  if (!vip::validNodeName(name)) {
    return Error{fmt::format("virtual_ips: node name '{}' must be 1-{} characters of [A-Za-z0-9._-]", name,
                             vip::kHeartbeatMaxNameBytes)};
  }
  return name;
}

bool sameTransport(const config::VirtualIps& a, const config::VirtualIps& b) {
  return a.heartbeat_port == b.heartbeat_port && a.heartbeat_group == b.heartbeat_group && a.peers == b.peers;
}

}  // namespace

class Announcer::Impl {
 public:
  Impl(Host& host, config::VirtualIps cfg, std::string node, Plan plan, vip::ClusterKey key)
      : host_(host),
        node_(std::move(node)),
        cfg_(std::move(cfg)),
        plan_(std::move(plan)),
        core_(clock_, wallNowMs, std::move(key), CoreOptions::fromConfig(cfg_, node_)),
        setup_(host) {
    core_.setPlan(plan_);
  }

  ~Impl() { stop(false, true); }

  Status start() {
    std::lock_guard lock(api_);
    if (running_) return Error{"announcer: already running"};
    if (finished_) return Error{"announcer: stopped; create a new one to start again"};
    try {
      loop_ = std::make_unique<event::Loop>();
    } catch (const std::exception& e) {
      return Error{fmt::format("announcer: event loop: {}", e.what())};
    }
    // A missing interface is a configuration error: find out before touching the host.
    for (const std::string& name : plan_.interfaces) {
      if (auto info = host_.interface(name); !info) {
        loop_.reset();
        return Error{fmt::format("announcer: interface {}: {}", name, info.error())};
      }
    }
    if (cfg_.manage_host) {
      if (Status s = setup_.apply(plan_.cidrs, plan_.interfaces); !s) {
        setup_.restore();
        loop_.reset();
        return Error{fmt::format("announcer: host setup: {}", s.error())};
      }
    }
    for (const std::string& name : plan_.interfaces) {
      if (Status s = addLink(name); !s) {
        closeAll();
        return s;
      }
    }
    tick_ = std::make_unique<event::Timer>(*loop_, [this] { onTimer(); });
    retry_ = std::make_unique<event::Timer>(*loop_, [this] { onRetry(); });
    link_fd_ = host_.linkEventsFd();
    if (link_fd_ >= 0) {
      link_handler_ = std::make_unique<FdHandler>([this] {
        host_.drainLinkEvents();
        refreshLinks();
        rearm();
      });
      loop_->add(link_fd_, *link_handler_, EPOLLIN);
    }
    core_.start();
    retry_->armAfter(link_fd_ >= 0 ? kRetryEvery : kLinkPollEvery);
    running_ = true;
    thread_ = std::thread([this] { run(); });
    return {};
  }

  void setEligibleIps(std::set<std::string> ips) {
    std::lock_guard lock(api_);
    if (!loopServing()) {
      core_.setEligibleIps(ips);
      return;
    }
    loop_->post([this, ips = std::move(ips)] {
      core_.setEligibleIps(ips);
      rearm();
    });
  }

  Status reload(const config::VirtualIps& cfg) {
    auto node = resolveNodeName(cfg);
    if (!node) return Error{node.error()};
    if (*node != node_) {
      return Error{fmt::format("virtual_ips: node name changed from '{}' to '{}'; that needs a restart",
                               node_, *node)};
    }
    auto plan = makePlan(cfg);
    if (!plan) return Error{plan.error()};
    std::optional<vip::ClusterKey> key;
    std::lock_guard lock(api_);
    if (cfg.key_file != cfg_.key_file && !cfg.key_file.empty()) {
      auto loaded = vip::ClusterKey::load(cfg.key_file);
      if (!loaded) return Error{loaded.error()};
      key.emplace(std::move(loaded).value());
    }
    if (!loopServing()) return apply(cfg, std::move(plan).value(), std::move(key), false);
    std::promise<Status> done;
    auto result = done.get_future();
    loop_->post([&] {
      done.set_value(apply(cfg, std::move(plan).value(), std::move(key), true));
      rearm();
    });
    return result.get();
  }

  // `restore_host`: false keeps the local routes and sysctls (traffic already
  // here is still served while the process drains); restoreHost() later.
  void stop(bool graceful, bool restore_host) {
    std::lock_guard lock(api_);
    if (!running_) {
      if (restore_host) setup_.restore();
      return;
    }
    keep_host_setup_ = !restore_host;
    if (graceful) {
      loop_->post([this] {
        leaving_ = true;
        leave_deadline_ = clock_.now() + kLeaveTimeout;
        core_.beginLeave();
        if (core_.leaveDone()) {
          loop_->stop();
        } else {
          rearm();
        }
      });
    } else {
      loop_->post([this] {
        core_.releaseAll("stopping");
        loop_->stop();
      });
    }
    thread_.join();
    running_ = false;
    finished_ = true;
    core_.releaseAll("stopped");
    closeAll();
    PIER_LOG_INFO("announcer: stopped{}", graceful ? " after handing over" : "");
  }

  AnnouncerStatus status() {
    std::lock_guard lock(api_);
    if (!loopServing()) return core_.status();
    std::promise<AnnouncerStatus> done;
    auto result = done.get_future();
    loop_->post([&] { done.set_value(core_.status()); });
    return result.get();
  }

 private:
  struct Link {
    std::string name;
    int slot = -1;
    InterfaceInfo info;
    std::unique_ptr<ArpSocket> arp;
    std::unique_ptr<NdpSocket> ndp;
    std::unique_ptr<HeartbeatSocket> heartbeat;
    std::unique_ptr<FdHandler> arp_handler;
    std::unique_ptr<FdHandler> ndp_handler;
    std::unique_ptr<FdHandler> heartbeat_handler;
  };

  // Announcer thread.
  void run() {
    sched_param param{};
    param.sched_priority = kRealtimePriority;
    if (pthread_setschedparam(pthread_self(), SCHED_RR, &param) != 0) {
      PIER_LOG_DEBUG("announcer: real-time priority not available; running at normal priority");
    }
    pthread_setname_np(pthread_self(), "pier-announce");
    rearm();
    try {
      loop_->run();
    } catch (const std::exception& e) {
      PIER_LOG_ERROR("announcer: event loop failed: {}", e.what());
    }
    loop_exited_ = true;
  }

  // Whether posting to the loop gets an answer (false once its thread ended,
  // also when it ended on an error rather than through stop()).
  bool loopServing() const { return running_ && !loop_exited_; }

  void rearm() {
    const MonoTime t = core_.nextWakeup();
    if (t == MonoTime::max()) {
      tick_->cancel();
    } else if (!tick_->armed() || tick_->deadline() != t) {
      tick_->armAt(t);
    }
  }

  void onTimer() {
    core_.onTick();
    if (leaving_ && (core_.leaveDone() || clock_.now() >= leave_deadline_)) {
      loop_->stop();
      return;
    }
    rearm();
  }

  void maybeTick(int& frames) {
    if (++frames % kFramesPerTickCheck == 0 && clock_.now() >= core_.nextWakeup()) core_.onTick();
  }

  void onRetry() {
    refreshLinks();
    retry_->armAfter(link_fd_ >= 0 ? kRetryEvery : kLinkPollEvery);
    rearm();
  }

  // Host calls happen here (loop thread) or while the thread is not running.
  Status addLink(const std::string& name) {
    auto info = host_.interface(name);
    if (!info) return Error{fmt::format("announcer: interface {}: {}", name, info.error())};
    auto link = std::make_unique<Link>();
    link->name = name;
    link->info = *info;
    links_[name] = std::move(link);
    Link& l = *links_[name];
    // ARP and heartbeats fail for reasons that do not pass (permissions, no
    // such group): refuse to start. NDP may wait for a link-local address
    // (DAD on a fresh interface), so it is retried.
    if (Status s = openArp(l); !s) return s;
    if (Status s = openHeartbeat(l); !s) return s;
    if (Status s = openNdp(l); !s) PIER_LOG_WARN("{} (will retry)", s.error());
    attach(l);
    return {};
  }

  Status openArp(Link& l) {
    auto arp = host_.openArp(l.info);
    if (!arp) return Error{fmt::format("announcer: ARP socket on {}: {}", l.name, arp.error())};
    l.arp = std::move(arp).value();
    l.arp_handler = std::make_unique<FdHandler>([this, &l] { drainArp(l); });
    watch(l.arp->fd(), *l.arp_handler);
    return {};
  }

  Status openNdp(Link& l) {
    auto ndp = host_.openNdp(l.info);
    if (!ndp) return Error{fmt::format("announcer: NDP socket on {}: {}", l.name, ndp.error())};
    l.ndp = std::move(ndp).value();
    l.ndp_handler = std::make_unique<FdHandler>([this, &l] { drainNdp(l); });
    watch(l.ndp->fd(), *l.ndp_handler);
    return {};
  }

  Status openHeartbeat(Link& l) {
    auto hb = host_.openHeartbeat(l.info, cfg_.heartbeat_port, cfg_.heartbeat_group, cfg_.peers);
    if (!hb) return Error{fmt::format("announcer: heartbeat socket on {}: {}", l.name, hb.error())};
    l.heartbeat = std::move(hb).value();
    l.heartbeat_handler = std::make_unique<FdHandler>([this, &l] { drainHeartbeats(l); });
    watch(l.heartbeat->fd(), *l.heartbeat_handler);
    return {};
  }

  // New port, group or peers. The new socket is opened before the old one
  // closes, so the core never runs without one (which would release every
  // address on the interface); the same port may need the old one gone first.
  void reopenHeartbeat(Link& l) {
    std::unique_ptr<HeartbeatSocket> old = std::move(l.heartbeat);
    std::unique_ptr<FdHandler> old_handler = std::move(l.heartbeat_handler);
    Status opened = openHeartbeat(l);
    if (!opened) {
      core_.attachInterface(l.info, {l.arp.get(), l.ndp.get(), nullptr});
      if (old) unwatch(old->fd());
      old.reset();
      opened = openHeartbeat(l);
      if (!opened) PIER_LOG_WARN("{} (will retry)", opened.error());
    }
    attach(l);
    if (old) unwatch(old->fd());
  }

  void watch(int fd, FdHandler& handler) {
    if (fd >= 0) loop_->add(fd, handler, EPOLLIN);
  }

  void unwatch(int fd) {
    if (fd >= 0 && loop_) loop_->remove(fd);
  }

  void attach(Link& l) {
    l.slot = core_.attachInterface(l.info, {l.arp.get(), l.ndp.get(), l.heartbeat.get()});
  }

  void closeSockets(Link& l) {
    if (l.arp) unwatch(l.arp->fd());
    if (l.ndp) unwatch(l.ndp->fd());
    if (l.heartbeat) unwatch(l.heartbeat->fd());
    l.arp.reset();
    l.ndp.reset();
    l.heartbeat.reset();
  }

  void removeLink(const std::string& name) {
    auto it = links_.find(name);
    if (it == links_.end()) return;
    core_.detachInterface(name);
    closeSockets(*it->second);
    links_.erase(it);
  }

  void closeAll() {
    while (!links_.empty()) removeLink(links_.begin()->first);
    if (link_fd_ >= 0 && loop_) loop_->remove(link_fd_);
    link_fd_ = -1;
    tick_.reset();
    retry_.reset();
    link_handler_.reset();
    loop_.reset();
    if (!keep_host_setup_) setup_.restore();
  }

  void drainArp(Link& l) {
    int frames = 0;
    while (l.arp) {
      const int n = l.arp->receive(buf_);
      if (n <= 0) break;
      core_.onArpFrame(l.slot, std::span<const uint8_t>(buf_.data(), static_cast<size_t>(n)));
      maybeTick(frames);
    }
    rearm();
  }

  void drainNdp(Link& l) {
    int frames = 0;
    while (l.ndp) {
      auto r = l.ndp->receive(buf_);
      if (!r || r->size == 0) break;
      const vip::Ipv6Header header{r->source, r->destination, r->hop_limit};
      core_.onNdpMessage(l.slot, std::span<const uint8_t>(buf_.data(), r->size), header);
      maybeTick(frames);
    }
    rearm();
  }

  void drainHeartbeats(Link& l) {
    int frames = 0;
    while (l.heartbeat) {
      auto r = l.heartbeat->receive(buf_);
      if (!r || r->size == 0) break;
      core_.onHeartbeat(l.slot, std::span<const uint8_t>(buf_.data(), r->size));
      maybeTick(frames);
    }
    rearm();
  }

  // Re-reads every interface: link state and MAC go to the core; a changed
  // ifindex (interface re-created) reopens its sockets; sockets that failed
  // to open are tried again.
  void refreshLinks() {
    for (auto& [name, link] : links_) {
      Link& l = *link;
      auto info = host_.interface(name);
      if (!info) {
        if (l.info.running) {
          PIER_LOG_WARN("announcer: interface {}: {}; treating it as down", name, info.error());
          l.info.running = false;
          core_.updateInterface(l.info);
        }
        continue;
      }
      if (info->index != l.info.index) {
        PIER_LOG_INFO("announcer: interface {} was re-created; reopening its sockets", name);
        core_.detachInterface(name);
        closeSockets(l);
      }
      const bool was_complete = l.arp && l.ndp && l.heartbeat;
      l.info = *info;
      if (!was_complete) {
        bool opened = false;
        auto retry = [&](Status s) {
          if (s) {
            opened = true;
          } else {
            PIER_LOG_DEBUG("{}", s.error());
          }
        };
        if (!l.arp) retry(openArp(l));
        if (!l.heartbeat) retry(openHeartbeat(l));
        if (!l.ndp) retry(openNdp(l));
        if (opened || l.slot < 0) {
          attach(l);
          continue;
        }
      }
      core_.updateInterface(l.info);
    }
  }

  Status apply(const config::VirtualIps& cfg, Plan plan, std::optional<vip::ClusterKey> key, bool live) {
    core_.setOptions(CoreOptions::fromConfig(cfg, node_));
    if (key) core_.setKey(std::move(*key));
    Status result;
    if (live) {
      Status s = cfg.manage_host ? setup_.apply(plan.cidrs, plan.interfaces) : setup_.apply({}, {});
      if (!s) result = Error{fmt::format("announcer: host setup: {}", s.error())};
      const bool reopen_heartbeats = !sameTransport(cfg, cfg_);
      cfg_ = cfg;
      std::vector<std::string> gone;
      for (const auto& [name, link] : links_) {
        if (std::find(plan.interfaces.begin(), plan.interfaces.end(), name) == plan.interfaces.end()) {
          gone.push_back(name);
        }
      }
      for (const std::string& name : gone) removeLink(name);
      if (reopen_heartbeats) {
        for (auto& [name, link] : links_) reopenHeartbeat(*link);
      }
      for (const std::string& name : plan.interfaces) {
        if (links_.count(name) != 0) continue;
        if (Status ls = addLink(name); !ls) {
          PIER_LOG_WARN("{} (will retry)", ls.error());
          if (result) result = ls;
        }
      }
    } else {
      cfg_ = cfg;
    }
    plan_ = plan;
    core_.setPlan(std::move(plan));
    return result;
  }

  Host& host_;
  const std::string node_;
  config::VirtualIps cfg_;
  Plan plan_;
  SystemClock clock_;
  AnnounceCore core_;
  HostSetup setup_;

  std::mutex api_;  // serialises the public methods
  bool running_ = false;
  bool finished_ = false;
  std::atomic<bool> loop_exited_{false};
  std::thread thread_;

  // Loop thread only (or while it is not running).
  std::unique_ptr<event::Loop> loop_;
  std::unique_ptr<event::Timer> tick_;
  std::unique_ptr<event::Timer> retry_;
  std::unique_ptr<FdHandler> link_handler_;
  int link_fd_ = -1;
  std::map<std::string, std::unique_ptr<Link>> links_;
  bool leaving_ = false;
  bool keep_host_setup_ = false;
  MonoTime leave_deadline_{};
  std::array<uint8_t, 4096> buf_{};
};

Result<std::unique_ptr<Announcer>> Announcer::create(Host& host, const config::VirtualIps& cfg,
                                                     vip::ClusterKey key) {
  if (!cfg.enabled) return Error{"virtual_ips is not enabled"};
  auto node = resolveNodeName(cfg);
  if (!node) return Error{node.error()};
  const auto interval_ms = cfg.heartbeat_interval.count();
  if (interval_ms < 1 || interval_ms > vip::kHeartbeatMaxIntervalMs) {
    return Error{fmt::format("virtual_ips: heartbeat_interval {} ms is outside 1-{} ms", interval_ms,
                             vip::kHeartbeatMaxIntervalMs)};
  }
  auto plan = makePlan(cfg);
  if (!plan) return Error{plan.error()};
  if (plan->interfaces.empty()) return Error{"virtual_ips: no interfaces to announce on"};
  auto impl =
      std::make_unique<Impl>(host, cfg, std::move(node).value(), std::move(plan).value(), std::move(key));
  return std::unique_ptr<Announcer>(new Announcer(std::move(impl)));
}

Announcer::Announcer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Announcer::~Announcer() = default;

Status Announcer::start() { return impl_->start(); }
void Announcer::setEligibleIps(std::set<std::string> ips) { impl_->setEligibleIps(std::move(ips)); }
Status Announcer::reload(const config::VirtualIps& cfg) { return impl_->reload(cfg); }
void Announcer::stop(bool graceful) { impl_->stop(graceful, true); }

void Announcer::handOver() { impl_->stop(true, false); }
AnnouncerStatus Announcer::status() const { return impl_->status(); }

}  // namespace pier::announce
