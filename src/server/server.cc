#include "src/server/server.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "src/admin/admin_server.h"
#include "src/common/log.h"
#include "src/config/loader.h"
#include "src/event/loop.h"
#include "src/l4/udp_proxy.h"
#include "src/proxy/snapshot.h"
#include "src/proxy/worker.h"
#include "src/server/vip_controller.h"
#include "src/stats/metrics.h"
#include "src/upstream/health_checker.h"

namespace pier::server {
namespace {

size_t workerCount(const config::Config& cfg) {
  size_t n = cfg.workers != 0 ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
  return std::min<size_t>(n, stats::kMaxShards - 1);
}

// Listening sockets by listener address: one SO_REUSEPORT socket per worker.
using SocketMap = std::map<std::string, std::vector<net::Fd>>;

// TCP and UDP ports are separate spaces, so the protocol is part of the key.
std::string socketKey(const proxy::ListenerInfo& l) {
  return (l.config->protocol == config::Protocol::kUdp ? "udp:" : "tcp:") + l.address.text();
}

Status bindListeners(const proxy::Snapshot& snap, size_t workers, SocketMap& current, SocketMap& next) {
  std::set<std::string> virtual_ips;
  for (const auto& pool : snap.config().virtual_ips.pools) {
    virtual_ips.insert(pool.addresses.begin(), pool.addresses.end());
  }
  for (const auto& l : snap.listeners()) {
    std::string key = socketKey(l);
    auto it = current.find(key);
    if (it != current.end()) {
      next[key] = std::move(it->second);
      current.erase(it);
      continue;
    }
    std::vector<net::Fd> fds;
    for (size_t w = 0; w < workers; ++w) {
      const bool virtual_ip = virtual_ips.count(l.config->address.host) != 0;
      auto fd = l.config->protocol == config::Protocol::kUdp ? l4::bindUdp(l.address)
                                                             : net::listenTcp(l.address, 4096, virtual_ip);
      if (!fd) {
        return Error{fmt::format("listener {}: {}", l.config->name, fd.error())};
      }
      fds.push_back(std::move(fd.value()));
    }
    next[key] = std::move(fds);
  }
  return {};
}

std::vector<proxy::ListenerSocket> socketsFor(const proxy::Snapshot& snap, const SocketMap& sockets, size_t worker) {
  std::vector<proxy::ListenerSocket> out;
  for (const auto& l : snap.listeners()) {
    auto key = socketKey(l);
    out.push_back({l.config->name, key, sockets.at(key)[worker].get(), l.config->protocol});
  }
  return out;
}

class Server final : public admin::AdminSource, public event::IoHandler {
 public:
  explicit Server(RunOptions options) : options_(std::move(options)) {}

  int run() {
    auto cfg = config::loadFile(options_.config_path);
    if (!cfg) {
      PIER_LOG_ERROR("{}", cfg.error());
      return 1;
    }
    applyLogLevel(cfg.value());
    workers_count_ = workerCount(cfg.value());
    health_ = std::make_unique<upstream::HealthChecker>(
        loop_, [this](const upstream::HealthTransition& t) { onHealthTransition(t); }, 0x5eed);
    auto snap = proxy::Snapshot::build(std::make_unique<config::Config>(std::move(cfg.value())), healthLookup());
    if (!snap) {
      PIER_LOG_ERROR("{}", snap.error());
      return 1;
    }
    snapshot_ = snap.value();
    updateHealthChecks();
    // Before the listeners bind: the announcer's local routes make the virtual
    // IPs local addresses.
    auto vips = VipController::create(snapshot_->config());
    if (!vips) {
      PIER_LOG_ERROR("{}", vips.error());
      return 1;
    }
    vips_ = std::move(vips.value());
    if (vips_) {
      if (auto s = vips_->start(); !s) {
        PIER_LOG_ERROR("virtual_ips: {}", s.error());
        return 1;
      }
      vips_->update(*snapshot_);
    }
    SocketMap none;
    if (auto s = bindListeners(*snapshot_, workers_count_, none, sockets_); !s) {
      PIER_LOG_ERROR("{}", s.error());
      return 1;
    }
    if (snapshot_->config().admin.enabled) {
      auto addr = net::resolve(snapshot_->config().admin.address);
      auto fd = addr ? net::listenTcp(addr.value(), 128) : Result<net::Fd>(Error{addr.error()});
      if (!fd) {
        PIER_LOG_ERROR("admin: {}", fd.error());
        return 1;
      }
      admin_ = std::make_unique<admin::AdminServer>(loop_, std::move(fd.value()), *this);
    }
    if (!setupSignals()) {
      return 1;
    }
    for (size_t w = 0; w < workers_count_; ++w) {
      workers_.push_back(std::make_unique<proxy::Worker>(w));
      workers_.back()->start(snapshot_, socketsFor(*snapshot_, sockets_, w));
    }
    ready_ = true;
    PIER_LOG_INFO("pier started: {} listener(s), {} cluster(s), {} worker(s), config {}",
                  snapshot_->listeners().size(), snapshot_->clusters().size(), workers_count_,
                  options_.config_path);
    loop_.run();
    if (joiner_.joinable()) {
      joiner_.join();
    }
    workers_.clear();
    if (vips_) {
      vips_->stop();  // routes and sysctls restored once nothing is served any more
    }
    PIER_LOG_INFO("pier stopped");
    return 0;
  }

  // admin::AdminSource
  std::shared_ptr<const proxy::Snapshot> currentSnapshot() const override { return snapshot_; }
  bool ready() const override { return ready_; }
  nlohmann::json virtualIps() const override {
    if (!vips_) return nullptr;
    auto st = vips_->status();
    nlohmann::json ips = nlohmann::json::array();
    for (const auto& ip : st.ips) {
      ips.push_back({{"ip", ip.ip},
                     {"owner", ip.owner},
                     {"owned_here", ip.owned_here},
                     {"eligible_here", ip.eligible_here},
                     {"services", ip.services}});
    }
    nlohmann::json members = nlohmann::json::array();
    for (const auto& m : st.members) {
      members.push_back({{"node", m.node},
                         {"alive", m.alive},
                         {"last_seen_ms_ago", m.last_seen_ms_ago},
                         {"interfaces", m.interfaces}});
    }
    return {{"node", st.node}, {"ips", ips}, {"members", members}, {"conflicts", st.conflicts}};
  }

  // signals (event::IoHandler)
  void onIoEvent(uint32_t) override {
    signalfd_siginfo info;
    while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      if (info.ssi_signo == SIGHUP) {
        reload();
      } else if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) {
        drain();
      }
    }
  }

 private:
  void applyLogLevel(const config::Config& cfg) {
    const std::string& level = options_.log_level.empty() ? cfg.log_level : options_.log_level;
    if (!log::setLevel(level)) {
      PIER_LOG_WARN("unknown log level '{}'", level);
    }
  }

  bool setupSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) {
      PIER_LOG_ERROR("signalfd: {}", std::strerror(errno));
      return false;
    }
    loop_.add(signal_fd_, *this, EPOLLIN);
    return true;
  }

  void reload() {
    if (draining_) {
      return;
    }
    if (reloads_pending_ > 0) {
      reload_again_ = true;  // one reload at a time; run the newest file after
      return;
    }
    PIER_LOG_INFO("reloading {}", options_.config_path);
    auto cfg = config::loadFile(options_.config_path);
    if (!cfg) {
      PIER_LOG_ERROR("reload rejected, keeping the running configuration: {}", cfg.error());
      reload_failures_.add();
      return;
    }
    if (cfg.value().virtual_ips.enabled != (vips_ != nullptr)) {
      PIER_LOG_ERROR("reload rejected, keeping the running configuration: adding or removing virtual_ips "
                     "needs a restart");
      reload_failures_.add();
      return;
    }
    if (workerCount(cfg.value()) != workers_count_) {
      PIER_LOG_WARN("reload: a change of workers takes effect on restart; keeping {}", workers_count_);
    }
    applyLogLevel(cfg.value());
    auto snap = proxy::Snapshot::build(std::make_unique<config::Config>(std::move(cfg.value())), healthLookup());
    if (!snap) {
      PIER_LOG_ERROR("reload rejected, keeping the running configuration: {}", snap.error());
      reload_failures_.add();
      return;
    }
    if (vips_) {
      if (auto s = vips_->reload(snap.value()->config()); !s) {
        PIER_LOG_ERROR("reload rejected, keeping the running configuration: virtual_ips: {}", s.error());
        reload_failures_.add();
        return;
      }
    }
    SocketMap current = std::move(sockets_);
    SocketMap next;
    if (auto s = bindListeners(*snap.value(), workers_count_, current, next); !s) {
      PIER_LOG_ERROR("reload rejected, keeping the running configuration: {}", s.error());
      reload_failures_.add();
      // Put the kept sockets back where they were.
      for (auto& [k, v] : next) {
        if (!v.empty() && current.find(k) == current.end()) {
          bool was_running = false;
          for (const auto& l : snapshot_->listeners()) was_running |= socketKey(l) == k;
          if (was_running) current[k] = std::move(v);
        }
      }
      sockets_ = std::move(current);
      return;
    }
    sockets_ = std::move(next);
    snapshot_ = snap.value();
    updateHealthChecks();
    if (vips_) {
      vips_->update(*snapshot_);
    }
    // Sockets of removed listeners close once every worker has let go of them.
    auto retired = std::make_shared<SocketMap>(std::move(current));
    reloads_pending_ = static_cast<int>(workers_.size());
    for (size_t w = 0; w < workers_.size(); ++w) {
      workers_[w]->apply(snapshot_, socketsFor(*snapshot_, sockets_, w), [this, retired] {
        loop_.post([this, retired] {
          if (--reloads_pending_ == 0) {
            retired->clear();
            reloads_.add();
            PIER_LOG_INFO("reload complete: {} listener(s), {} cluster(s)", snapshot_->listeners().size(),
                          snapshot_->clusters().size());
            if (reload_again_) {
              reload_again_ = false;
              reload();
            }
          }
        });
      });
    }
  }

  proxy::Snapshot::HealthLookup healthLookup() const {
    return [this](const std::string& cluster, const std::string& endpoint) {
      return health_->healthy(cluster, endpoint);
    };
  }

  // Points the health checker at the current snapshot's clusters and
  // publishes the state each endpoint starts with.
  void updateHealthChecks() {
    std::vector<std::pair<config::HealthCheck, std::vector<upstream::HealthCheckTarget>>> checks;
    for (const auto& c : snapshot_->clusters()) {
      for (size_t i = 0; i < c.endpoints.size(); ++i) {
        setHealthyGauge(c.config->name, c.endpoints[i], c.health->healthy(i));
      }
      if (!c.config->health_check) {
        continue;
      }
      std::vector<upstream::HealthCheckTarget> targets;
      for (const auto& ep : c.endpoints) {
        targets.push_back({c.config->name, ep.name, ep.address});
      }
      checks.emplace_back(*c.config->health_check, std::move(targets));
    }
    health_->update(std::move(checks));
  }

  void onHealthTransition(const upstream::HealthTransition& t) {
    if (t.healthy) {
      PIER_LOG_INFO("cluster {}: endpoint {} is healthy ({})", t.cluster, t.endpoint, t.reason);
    } else {
      PIER_LOG_WARN("cluster {}: endpoint {} is unhealthy ({})", t.cluster, t.endpoint, t.reason);
    }
    int index = snapshot_->clusterIndex(t.cluster);
    if (index < 0) {
      return;
    }
    const auto& c = snapshot_->clusters()[static_cast<size_t>(index)];
    for (size_t i = 0; i < c.endpoints.size(); ++i) {
      if (c.endpoints[i].name == t.endpoint) {
        c.health->set(i, t.healthy);  // workers notice the new generation on their next pick
        setHealthyGauge(c.config->name, c.endpoints[i], t.healthy);
      }
    }
    if (vips_) {
      vips_->update(*snapshot_);
    }
  }

  void setHealthyGauge(const std::string& cluster, const proxy::EndpointInfo& ep, bool healthy) {
    // Gauges are stored as deltas (summed over shards): remember what each
    // series shows now and add the difference.
    int64_t want = healthy ? 1 : 0;
    int64_t& shown = healthy_gauges_[cluster + "/" + ep.name];
    ep.healthy.add(want - shown);
    shown = want;
  }

  void drain() {
    if (draining_) {
      return;
    }
    draining_ = true;
    ready_ = false;
    if (vips_) {
      vips_->handOver();  // peers take the addresses now; what is already here is still served
      // Clients keep sending here until the new owner's gratuitous ARP takes
      // effect, which Linux delays by up to its 1 s neighbour locktime (the
      // next repeat comes announce_spacing later): keep accepting that long,
      // or the kernel resets what reaches the closed listeners.
      const auto& vips = snapshot_->config().virtual_ips;
      const auto grace = vips.announce_spacing + 2 * vips.heartbeat_interval;
      handover_timer_ = std::make_unique<event::Timer>(loop_, [this] { drainWorkers(); });
      handover_timer_->armAfter(grace);
      return;
    }
    drainWorkers();
  }

  void drainWorkers() {
    auto timeout = snapshot_->config().drain_timeout;
    PIER_LOG_INFO("draining: no new connections, finishing requests in flight (up to {} ms)", timeout.count());
    auto pending = std::make_shared<std::atomic<size_t>>(workers_.size());
    for (auto& w : workers_) {
      w->drain(timeout, [this, pending] {
        if (--*pending == 0) {
          // Every worker stopped accepting: closing the sockets makes the
          // kernel refuse new connections instead of queueing them.
          loop_.post([this] { sockets_.clear(); });
        }
      });
    }
    joiner_ = std::thread([this] {
      for (auto& w : workers_) {
        w->join();
      }
      loop_.stop();
    });
  }

  RunOptions options_;
  event::Loop loop_;
  size_t workers_count_ = 1;
  std::shared_ptr<const proxy::Snapshot> snapshot_;
  SocketMap sockets_;
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::unique_ptr<upstream::HealthChecker> health_;
  std::unique_ptr<VipController> vips_;
  std::unique_ptr<event::Timer> handover_timer_;
  std::map<std::string, int64_t> healthy_gauges_;  // by "cluster/endpoint": what pier_endpoint_healthy shows
  std::thread joiner_;
  int signal_fd_ = -1;
  std::atomic<bool> ready_{false};
  bool draining_ = false;
  int reloads_pending_ = 0;
  bool reload_again_ = false;
  stats::Counter reloads_ = stats::Store::instance().counter("pier_config_reloads_total", {}, "Successful reloads.");
  stats::Counter reload_failures_ =
      stats::Store::instance().counter("pier_config_reload_failures_total", {}, "Rejected reloads.");
};

}  // namespace

int run(const RunOptions& options) {
  // Signals are taken from a signalfd on the control thread; block them before
  // any thread starts so workers inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  stats::setThreadShard(0);
  Server server(options);
  return server.run();
}

}  // namespace pier::server
