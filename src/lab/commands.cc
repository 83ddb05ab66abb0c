#include "src/lab/commands.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "src/lab/lab.h"
#include "src/lab/netns.h"
#include "src/lab/probe.h"
#include "src/lab/render.h"

namespace pier::lab {
namespace {

constexpr Millis kStartTimeout{20'000};
constexpr Millis kVipTimeout{10'000};

void printHosts(const Lab& lab) {
  const auto& o = lab.options();
  std::printf("  %-12s %-22s %-30s %s\n", "host", "namespace", "eth0", "mac");
  std::printf("  %-12s %-22s %-30s %s\n", "client", clientNs().c_str(),
              fmt::format("{}/24 {}/64", clientIpv4(), clientIpv6()).c_str(), clientMac().c_str());
  for (int n = 1; n <= o.nodes; ++n) {
    auto pid = lab.pidOf(nodeName(n));
    std::printf("  %-12s %-22s %-30s %s  pier pid %s, pods %s %s\n", nodeName(n).c_str(), nodeNs(n).c_str(),
                fmt::format("{}/24 {}/64", nodeIpv4(n), nodeIpv6(n)).c_str(), nodeMac(n).c_str(),
                pid ? std::to_string(*pid).c_str() : "-", podIpv4(n, 1).c_str(), podIpv4(n, 2).c_str());
  }
}

// Progress lines interleave with errors on a terminal or in a log.
void lineBuffered() { setvbuf(stdout, nullptr, _IOLBF, 0); }

}  // namespace

std::string selfExecutable(const char* argv0) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return argv0 ? argv0 : "";
  return std::string(buf, static_cast<size_t>(n));
}

int up(const LabOptions& options) {
  lineBuffered();
  Lab lab(options);
  if (auto err = validate(options); !err.empty()) {
    std::fprintf(stderr, "pier lab up: %s\n", err.c_str());
    return 2;
  }
  std::printf("pier lab up: %d node(s), %s, with %s\n", options.nodes,
              options.vip ? fmt::format("heartbeat {}", formatDuration(options.heartbeat)).c_str()
                          : "no virtual_ips (listeners on 0.0.0.0:80)",
              options.binary.c_str());
  if (auto st = tearDown(false); !st) {
    std::fprintf(stderr, "pier lab up: removing the previous lab: %s\n", st.error().c_str());
    return 1;
  }
  if (auto st = lab.build(); !st) {
    std::fprintf(stderr,
                 "pier lab up: %s\n(the half-built lab is left for inspection: pier lab down removes it)\n",
                 st.error().c_str());
    return 1;
  }
  std::printf("  network built: switch, client, %d node(s) with %d pods each\n", options.nodes, kPodsPerNode);
  if (auto st = lab.startAll(kStartTimeout); !st) {
    std::fprintf(stderr, "pier lab up: %s\n(the lab is left for inspection: pier lab down removes it)\n",
                 st.error().c_str());
    return 1;
  }
  printHosts(lab);
  if (options.vip) {
    auto label = lab.waitVipServes(fmt::format("http://{}/", kVip4), kVipTimeout);
    if (!label) {
      std::fprintf(stderr, "pier lab up: %s\n(the lab is left for inspection: pier lab down removes it)\n",
                   label.error().c_str());
      return 1;
    }
    auto owner = lab.ownerByNeigh(kVip4);
    std::printf("  http://%s/ answered by %s; the client resolved %s to %s\n", std::string(kVip4).c_str(),
                label->c_str(), std::string(kVip4).c_str(),
                owner ? fmt::format("{} ({})", nodeMac(*owner), nodeName(*owner)).c_str() : "?");
  }
  std::printf("lab is up. Try:\n  ip netns exec %s curl http://%s/\n  %s lab demo\n  %s lab down\n",
              clientNs().c_str(), options.vip ? std::string(kVip4).c_str() : nodeIpv4(1).c_str(),
              options.binary.c_str(), options.binary.c_str());
  return 0;
}

int down() {
  lineBuffered();
  std::printf("pier lab down\n");
  if (auto st = tearDown(true); !st) {
    std::fprintf(stderr, "pier lab down: %s\n", st.error().c_str());
    return 1;
  }
  std::printf("lab removed\n");
  return 0;
}

int status() {
  lineBuffered();
  auto lab = Lab::load();
  if (!lab) {
    std::printf("%s\n", lab.error().c_str());
    return 1;
  }
  const auto& o = lab->options();
  std::printf("pier lab: %d node(s), %s, binary %s\n", o.nodes,
              o.vip ? fmt::format("heartbeat {}", formatDuration(o.heartbeat)).c_str() : "no virtual_ips",
              o.binary.c_str());
  printHosts(*lab);
  int down_count = 0;
  for (const auto& p : labProcesses(o)) {
    if (!lab->pidOf(p.name)) {
      std::printf("  %s is not running\n", p.name.c_str());
      ++down_count;
    }
  }
  for (auto vip : {kVip4, kVip6}) {
    auto e = lab->clientNeigh(vip);
    auto node = e ? nodeOfMac(e->mac) : std::nullopt;
    std::printf("  client neighbour entry for %s: %s\n", std::string(vip).c_str(),
                !e ? "none"
                   : fmt::format("{} {}{}", e->mac.empty() ? "(no MAC)" : e->mac, e->state,
                                 node ? " = " + nodeName(*node) : "")
                         .c_str());
  }
  return down_count == 0 ? 0 : 1;
}

int startNode(int node) {
  lineBuffered();
  auto lab = Lab::load();
  if (!lab) {
    std::fprintf(stderr, "pier lab start-node: %s\n", lab.error().c_str());
    return 1;
  }
  if (node < 1 || node > lab->options().nodes) {
    std::fprintf(stderr, "pier lab start-node: no node %d in this lab\n", node);
    return 2;
  }
  auto p = lab->node(node);
  auto pid = lab->start(p);
  if (!pid) {
    std::fprintf(stderr, "pier lab start-node: %s\n", pid.error().c_str());
    return 1;
  }
  if (auto st = lab->waitReady(p, kStartTimeout); !st) {
    std::fprintf(stderr, "pier lab start-node: %s\n", st.error().c_str());
    return 1;
  }
  std::printf("%s running, pid %d\n", p.name.c_str(), *pid);
  return 0;
}

int probe(const ProbeCliOptions& o) {
  auto url = parseUrl(o.url);
  if (!url) {
    std::fprintf(stderr, "pier lab probe: %s\n", url.error().c_str());
    return 2;
  }
  if (!o.netns.empty()) {
    if (auto st = enterNetns(o.netns); !st) {
      std::fprintf(stderr, "pier lab probe: %s\n", st.error().c_str());
      return 1;
    }
  }
  // SIGTERM and SIGINT end the run cleanly (the output is flushed).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  int stop_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);

  ProbeOptions po;
  po.url = *url;
  po.interval = o.interval;
  po.timeout = o.timeout;
  const int64_t t0 = monotonicNs();
  const int64_t until = t0 + std::chrono::duration_cast<std::chrono::nanoseconds>(o.duration).count();
  std::string last_key;
  uint64_t ok = 0, failed = 0, since_change = 0;
  std::map<std::string, uint64_t> by_detail;
  std::printf("# probe %s every %lld us, timeout %lld ms; times: CLOCK_MONOTONIC ns\n", o.url.c_str(),
              static_cast<long long>(o.interval.count()), static_cast<long long>(o.timeout.count()));
  auto st = Prober(po).run(stop_fd, until, [&](const ProbeResult& r) {
    (r.ok ? ok : failed)++;
    by_detail[r.ok ? transitionKey(r) : "fail " + r.detail]++;
    if (!o.transitions) {
      std::printf("%s\n", formatRaw(r).c_str());
      return;
    }
    auto key = transitionKey(r);
    if (key != last_key) {
      std::printf("+%.6fs %-10s %-14s (after %llu %s)\n", static_cast<double>(r.end_ns - t0) / 1e9,
                  key.c_str(), r.detail.c_str(), static_cast<unsigned long long>(since_change),
                  last_key.empty() ? "-" : last_key.c_str());
      std::fflush(stdout);
      last_key = key;
      since_change = 0;
    }
    ++since_change;
  });
  if (stop_fd >= 0) close(stop_fd);
  std::printf("# done: %llu ok, %llu failed", static_cast<unsigned long long>(ok),
              static_cast<unsigned long long>(failed));
  for (auto& [k, v] : by_detail) std::printf("; %s: %llu", k.c_str(), static_cast<unsigned long long>(v));
  std::printf("\n");
  std::fflush(stdout);
  if (!st) {
    std::fprintf(stderr, "pier lab probe: %s\n", st.error().c_str());
    return 1;
  }
  return 0;
}

}  // namespace pier::lab
