// `pier lab demo`: the failover story, told from the client's side.
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "src/lab/commands.h"
#include "src/lab/failover.h"
#include "src/lab/lab.h"
#include "src/lab/netns.h"
#include "src/lab/probe.h"
#include "src/lab/render.h"

namespace pier::lab {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Millis kStartTimeout{20'000};

// The prober on its own thread, inside the client namespace, collecting results.
class BackgroundProbe {
 public:
  BackgroundProbe(const Url& url, std::chrono::microseconds interval, Millis timeout) {
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ProbeOptions po;
    po.url = url;
    po.interval = interval;
    po.timeout = timeout;
    thread_ = std::thread([this, po] {
      Status st = enterNetns(clientNs());
      if (st)
        st = Prober(po).run(stop_fd_, 0, [this](const ProbeResult& r) {
          std::lock_guard lock(mu_);
          results_.push_back(r);
        });
      std::lock_guard lock(mu_);
      status_ = st;
    });
  }
  ~BackgroundProbe() {
    uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
    thread_.join();
    close(stop_fd_);
  }
  std::vector<ProbeResult> results() {
    std::lock_guard lock(mu_);
    return results_;
  }
  // Results that ended at or after t.
  std::vector<ProbeResult> since(int64_t t) {
    std::lock_guard lock(mu_);
    std::vector<ProbeResult> out;
    for (const auto& r : results_) {
      if (r.end_ns >= t) out.push_back(r);
    }
    return out;
  }
  Status status() {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  int stop_fd_ = -1;
  std::mutex mu_;
  std::vector<ProbeResult> results_;
  Status status_;
  std::thread thread_;
};

void sleepFor(Millis d) { std::this_thread::sleep_for(d); }

std::string ms(int64_t ns) { return fmt::format("{:.1f} ms", static_cast<double>(ns) / 1e6); }

std::string describeOwner(const Lab& lab, std::string_view ip) {
  auto e = lab.clientNeigh(ip);
  if (!e) return "no neighbour entry";
  auto node = nodeOfMac(e->mac);
  return fmt::format("{} lladdr {} {} -> {}", ip, e->mac.empty() ? "(none)" : e->mac, e->state,
                     node ? nodeName(*node) : "?");
}

struct SummaryRow {
  std::string event;
  std::string moved;
  std::string to_new_owner;
  uint64_t failed = 0;
  std::string gap;
};

// Waits until a request succeeds through a node other than `old_node`.
std::optional<int64_t> waitNewOwner(BackgroundProbe& probe, int64_t t0, int old_node, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto out = analyzeFault(probe.since(t0), t0, monotonicNs(), old_node);
    if (out.to_new_owner_ns) return out.to_new_owner_ns;
    sleepFor(Millis(10));
  }
  return std::nullopt;
}

// Waits until the client's neighbour entry for the VIP names another MAC.
std::optional<int64_t> waitNeighFlip(const Lab& lab, int old_node, int64_t t0, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto node = lab.ownerByNeigh(kVip4);
    if (node && *node != old_node) return monotonicNs() - t0;
    sleepFor(Millis(20));
  }
  return std::nullopt;
}

std::map<std::string, uint64_t> countByDetail(const std::vector<ProbeResult>& rs) {
  std::map<std::string, uint64_t> out;
  for (const auto& r : rs) out[r.ok ? r.detail : "failed: " + r.detail]++;
  return out;
}

std::string joinCounts(const std::map<std::string, uint64_t>& m) {
  std::string out;
  for (const auto& [k, v] : m) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", k, v);
  return out.empty() ? "nothing" : out;
}

Result<Lab> ensureUp(const DemoOptions& o) {
  if (!o.rebuild) {
    if (auto lab = Lab::load(); lab && lab->options().vip) {
      bool all = true;
      for (const auto& p : labProcesses(lab->options())) all = all && lab->pidOf(p.name).has_value();
      if (all) {
        std::printf("== using the lab that is up (pier lab down; pier lab demo --rebuild for a new one)\n");
        return lab;
      }
    }
  }
  LabOptions lo = o.lab;
  lo.vip = true;
  if (int rc = up(lo); rc != 0) return Error{"pier lab up failed"};
  return Lab::load();
}

}  // namespace

int demo(const DemoOptions& o) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  auto loaded = ensureUp(o);
  if (!loaded) {
    std::fprintf(stderr, "pier lab demo: %s\n", loaded.error().c_str());
    return 1;
  }
  Lab& lab = *loaded;
  const auto hb = lab.options().heartbeat;
  const Millis settle = std::max(Millis(2000), hb * (lab.options().dead_after_missed + 10));
  const std::string url4 = fmt::format("http://{}/", kVip4);
  const std::string url6 = fmt::format("http://[{}]/", kVip6);
  std::vector<SummaryRow> summary;

  std::printf("\n== 1. The client (%s, %s) asks for http://%s/ and http://[%s]/\n", clientNs().c_str(),
              clientIpv4().c_str(), std::string(kVip4).c_str(), std::string(kVip6).c_str());
  auto first = lab.waitVipServes(url4, Millis(10'000));
  if (!first) {
    std::fprintf(stderr, "pier lab demo: %s\n", first.error().c_str());
    return 1;
  }
  std::printf("   GET %s -> pod %s\n", url4.c_str(), first->c_str());
  auto first6 = lab.clientGet(url6, Millis(1000));
  std::printf("   GET %s -> %s\n", url6.c_str(),
              first6 ? fmt::format("{} pod {}", first6->status, labelFromBody(first6->body)).c_str()
                     : first6.error().c_str());
  std::printf("   ip neigh (client): %s\n", describeOwner(lab, kVip4).c_str());
  std::printf("   ip neigh (client): %s\n", describeOwner(lab, kVip6).c_str());
  auto owner = lab.ownerByNeigh(kVip4);
  if (!owner) {
    std::fprintf(stderr, "pier lab demo: the client's neighbour entry for %s names no lab node\n",
                 std::string(kVip4).c_str());
    return 1;
  }
  std::printf("   only %s answers ARP for %s; its pier forwards to its own pods\n", nodeName(*owner).c_str(),
              std::string(kVip4).c_str());

  auto url = parseUrl(url4);
  BackgroundProbe probe(*url, std::chrono::microseconds(2000), Millis(100));
  std::printf(
      "\n== 2. From now on the client sends GET %s every 2 ms (new connection each, 100 ms timeout)\n",
      url4.c_str());
  int64_t t_start = monotonicNs();
  sleepFor(Millis(1000));
  std::printf("   first second: %s\n", joinCounts(countByDetail(probe.since(t_start))).c_str());

  // 3. Hard failure of the owner.
  int victim = *owner;
  auto victim_pid = lab.pidOf(nodeName(victim));
  std::printf("\n== 3. kill -9 %s's pier (pid %d), the owner of the VIP\n", nodeName(victim).c_str(),
              victim_pid ? *victim_pid : -1);
  int64_t t_kill = monotonicNs();
  if (auto st = lab.signal(nodeName(victim), SIGKILL, Millis(0)); !st) {
    std::fprintf(stderr, "pier lab demo: %s\n", st.error().c_str());
    return 1;
  }
  auto to_new = waitNewOwner(probe, t_kill, victim, Millis(10'000));
  auto flip = waitNeighFlip(lab, victim, t_kill, Millis(5000));
  sleepFor(Millis(500));
  auto hard = analyzeFault(probe.results(), t_kill, monotonicNs(), victim);
  if (!to_new) {
    std::printf("   no request succeeded through another node within 10 s (%llu failed)\n",
                static_cast<unsigned long long>(hard.failed));
  } else {
    std::printf("   +%s first request served through %s; %llu requests failed meanwhile\n",
                ms(*to_new).c_str(), nodeName(*hard.new_node).c_str(),
                static_cast<unsigned long long>(hard.failed));
  }
  std::printf("   ip neigh (client): %s%s\n", describeOwner(lab, kVip4).c_str(),
              flip ? fmt::format(" (changed within {})", ms(*flip)).c_str() : " (did not change)");
  summary.push_back(
      {"kill -9 owner",
       fmt::format("{} -> {}", nodeName(victim), hard.new_node ? nodeName(*hard.new_node) : "?"),
       to_new ? ms(*to_new) : "none in 10 s", hard.failed, ms(hard.longest_gap_ns)});
  int current = hard.new_node ? *hard.new_node : victim;

  // 4. The dead node comes back.
  std::printf("\n== 4. %s comes back (its pier restarted); watching for %s\n", nodeName(victim).c_str(),
              ms(std::chrono::duration_cast<std::chrono::nanoseconds>(settle).count()).c_str());
  int64_t t_restart = monotonicNs();
  if (auto pid = lab.start(lab.node(victim)); !pid) {
    std::fprintf(stderr, "pier lab demo: restart: %s\n", pid.error().c_str());
    return 1;
  }
  auto ready = lab.waitReady(lab.node(victim), kStartTimeout);
  if (!ready) {
    std::fprintf(stderr, "pier lab demo: %s\n", ready.error().c_str());
    return 1;
  }
  std::printf("   %s ready after %s\n", nodeName(victim).c_str(), ms(monotonicNs() - t_restart).c_str());
  sleepFor(settle);
  auto back = analyzeFault(probe.results(), t_restart, monotonicNs(), current);
  if (back.new_node) {
    std::printf("   the VIP moved from %s to %s (+%s after the restart), %llu requests failed\n",
                nodeName(current).c_str(), nodeName(*back.new_node).c_str(),
                ms(*back.to_new_owner_ns).c_str(), static_cast<unsigned long long>(back.failed));
  } else {
    std::printf("   the VIP stayed on %s: %llu requests, %llu failed\n", nodeName(current).c_str(),
                static_cast<unsigned long long>(back.ok + back.failed),
                static_cast<unsigned long long>(back.failed));
  }
  std::printf("   ip neigh (client): %s\n", describeOwner(lab, kVip4).c_str());
  summary.push_back({fmt::format("{} restarts", nodeName(victim)),
                     back.new_node ? fmt::format("{} -> {}", nodeName(current), nodeName(*back.new_node))
                                   : fmt::format("stays on {}", nodeName(current)),
                     back.new_node ? ms(*back.to_new_owner_ns) : "-", back.failed, ms(back.longest_gap_ns)});
  if (back.new_node) current = *back.new_node;

  // 5. Graceful stop of the owner.
  auto owner_now = lab.ownerByNeigh(kVip4);
  if (owner_now) current = *owner_now;
  auto cur_pid = lab.pidOf(nodeName(current));
  std::printf("\n== 5. SIGTERM to %s's pier (pid %d), the owner now: a graceful stop hands the VIP over\n",
              nodeName(current).c_str(), cur_pid ? *cur_pid : -1);
  int64_t t_term = monotonicNs();
  if (auto st = lab.signal(nodeName(current), SIGTERM, Millis(0)); !st) {
    std::fprintf(stderr, "pier lab demo: %s\n", st.error().c_str());
    return 1;
  }
  auto to_next = waitNewOwner(probe, t_term, current, Millis(10'000));
  sleepFor(settle);
  auto soft = analyzeFault(probe.results(), t_term, monotonicNs(), current);
  if (to_next) {
    std::printf("   +%s first request served through %s; %llu failed; longest gap between successes %s\n",
                ms(*to_next).c_str(), nodeName(*soft.new_node).c_str(),
                static_cast<unsigned long long>(soft.failed), ms(soft.longest_gap_ns).c_str());
  } else {
    std::printf("   no request succeeded through another node within 10 s (%llu failed)\n",
                static_cast<unsigned long long>(soft.failed));
  }
  std::printf("   ip neigh (client): %s\n", describeOwner(lab, kVip4).c_str());
  summary.push_back(
      {"SIGTERM owner",
       fmt::format("{} -> {}", nodeName(current), soft.new_node ? nodeName(*soft.new_node) : "?"),
       to_next ? ms(*to_next) : "none in 10 s", soft.failed, ms(soft.longest_gap_ns)});
  auto restarted = lab.start(lab.node(current));
  if (restarted) (void)lab.waitReady(lab.node(current), kStartTimeout);
  std::printf("   %s restarted\n", nodeName(current).c_str());

  auto all = probe.results();
  uint64_t total_ok = 0, total_failed = 0;
  for (const auto& r : all) (r.ok ? total_ok : total_failed)++;
  std::printf("\n== Summary (heartbeat %s, dead after %d missed; requests every 2 ms from the client)\n",
              formatDuration(hb).c_str(), lab.options().dead_after_missed);
  std::printf("   %-18s %-18s %-28s %-16s %s\n", "event", "VIP", "until a request succeeded",
              "failed requests", "longest gap");
  for (const auto& row : summary) {
    std::printf("   %-18s %-18s %-28s %-16llu %s\n", row.event.c_str(), row.moved.c_str(),
                row.to_new_owner.c_str(), static_cast<unsigned long long>(row.failed), row.gap.c_str());
  }
  std::printf("   %llu requests in all, %llu failed. The lab stays up: pier lab down removes it.\n",
              static_cast<unsigned long long>(total_ok + total_failed),
              static_cast<unsigned long long>(total_failed));
  if (auto st = probe.status(); !st) {
    std::fprintf(stderr, "pier lab demo: the prober failed: %s\n", st.error().c_str());
    return 1;
  }
  return to_new && to_next ? 0 : 1;
}

}  // namespace pier::lab
