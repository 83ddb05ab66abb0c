#include "src/lab/lab.h"

#include <dirent.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "src/lab/command.h"
#include "src/lab/netns.h"
#include "src/lab/pidfile.h"
#include "src/lab/probe.h"
#include "src/lab/render.h"
#include "src/lab/topology.h"

namespace pier::lab {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Millis kStepTimeout{5000};
constexpr Millis kPollEvery{20};

std::string pidPath(const std::string& name) { return runPath(name + ".pid"); }

Status runStep(const Step& step) {
  auto out = runCommand(step.argv, kStepTimeout);
  if (!out) return Error{out.error()};
  if (out->exit_code != 0) {
    return Error{fmt::format("'{}' failed ({}): {}", fmt::join(step.argv, " "), out->exit_code, out->output)};
  }
  return {};
}

bool waitGone(pid_t pid, Millis grace) {
  auto deadline = Clock::now() + grace;
  while (isLabProcess(pid, kRunDir)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(Millis(10));  // polling a process we do not parent
  }
  return true;
}

void removeRunDir() {
  // Only our own flat directory: plain files, no recursion needed.
  std::string dir(kRunDir);
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") unlink((dir + "/" + name).c_str());
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

}  // namespace

Status tearDown(bool verbose) {
  // Processes first (SIGTERM to all, then SIGKILL what is left), so nothing
  // keeps a namespace alive or writes into the run directory.
  std::vector<std::pair<std::string, pid_t>> victims;
  for (const auto& file : pidFilesIn(std::string(kRunDir))) {
    auto pid = readPidFile(file);
    if (pid && isLabProcess(*pid, kRunDir)) victims.emplace_back(file, *pid);
  }
  for (auto& [file, pid] : victims) {
    if (verbose) std::printf("  stopping pid %d (%s)\n", pid, file.c_str());
    kill(pid, SIGTERM);
  }
  for (auto& [file, pid] : victims) {
    if (!waitGone(pid, Millis(3000)) && isLabProcess(pid, kRunDir)) {
      if (verbose) std::printf("  pid %d did not stop: SIGKILL\n", pid);
      kill(pid, SIGKILL);
      waitGone(pid, Millis(2000));
    }
  }
  std::string first_error;
  for (const auto& step : teardownSteps(listNetns())) {
    if (verbose) std::printf("  deleting namespace %s\n", step.ns.c_str());
    if (auto st = runStep(step); !st && first_error.empty()) first_error = st.error();
  }
  removeRunDir();
  for (const auto& ns : listNetns()) {
    if (isLabNs(ns)) return Error{fmt::format("namespace {} is still there: {}", ns, first_error)};
  }
  return {};
}

Result<Lab> Lab::load() {
  auto text = readFile(statePath());
  if (!text) return Error{"no lab is up (run `pier lab up`)"};
  auto options = parseState(*text);
  if (!options) return Error{options.error()};
  return Lab(std::move(options.value()));
}

Status Lab::build() {
  if (auto err = validate(options_); !err.empty()) return Error{err};
  if (access(options_.binary.c_str(), X_OK) != 0) {
    return Error{fmt::format("{}: not an executable (build pier, or pass --binary)", options_.binary)};
  }
  if (findExecutable("ip").empty()) return Error{"ip (iproute2) not found: scripts/install-deps.sh"};
  if (mkdir(std::string(kRunDir).c_str(), 0700) != 0 && errno != EEXIST) {
    return Error{fmt::format("{}: {}", kRunDir, std::strerror(errno))};
  }
  for (const auto& step : setupSteps(options_)) {
    if (auto st = runStep(step); !st) return st;
  }
  uint8_t key[32];
  if (getrandom(key, sizeof key, 0) != static_cast<ssize_t>(sizeof key)) {
    return Error{fmt::format("getrandom: {}", std::strerror(errno))};
  }
  if (auto st = writeFile(keyPath(), hexKey(key), 0600); !st) return st;
  std::memset(key, 0, sizeof key);
  for (int n = 1; n <= options_.nodes; ++n) {
    if (auto st = writeFile(runPath(nodeName(n) + ".yaml"), renderNodeConfig(options_, n)); !st) return st;
    for (int p = 1; p <= kPodsPerNode; ++p) {
      if (auto st = writeFile(runPath(podName(n, p) + ".yaml"), renderPodConfig(n, p)); !st) return st;
    }
  }
  return writeFile(statePath(), renderState(options_));
}

Result<pid_t> Lab::start(const LabProcess& process) {
  if (auto pid = pidOf(process.name)) return *pid;
  std::vector<std::string> argv = {
      "ip", "netns", "exec", process.ns, options_.binary, "run", "--config", runPath(process.name + ".yaml")};
  auto pid = spawnDetached(argv, runPath(process.name + ".log"));
  if (!pid) return pid;
  // Until the daemon has exec'd, its command line is still ours: wait for it,
  // so that pidOf() (which checks the command line) recognises it.
  auto deadline = Clock::now() + Millis(2000);
  while (!isLabProcess(*pid, kRunDir) && Clock::now() < deadline) std::this_thread::sleep_for(Millis(1));
  if (auto st = writePidFile(pidPath(process.name), *pid); !st) {
    kill(*pid, SIGKILL);
    return Error{st.error()};
  }
  return pid;
}

Status Lab::waitReady(const LabProcess& process, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  auto url = parseUrl(fmt::format("http://127.0.0.1:{}/ready", kAdminPort));
  std::string last = "no answer";
  auto pid = readPidFile(pidPath(process.name));
  for (;;) {
    if (!pid || !isRunning(*pid)) {
      return Error{fmt::format("{} exited; its log ({}):\n{}", process.name, runPath(process.name + ".log"),
                               logTail(process.name, 15))};
    }
    bool ready = false;
    auto st = runInNetns(process.ns, [&] {
      auto r = httpGet(*url, Millis(500));
      if (r && r->status == 200) ready = true;
      last = r ? fmt::format("/ready answered {}", r->status) : r.error();
    });
    if (!st) return st;
    if (ready) return {};
    if (Clock::now() >= deadline) {
      return Error{fmt::format("{} not ready after {} ms ({}); its log:\n{}", process.name, timeout.count(),
                               last, logTail(process.name, 15))};
    }
    std::this_thread::sleep_for(kPollEvery);
  }
}

Status Lab::startAll(Millis timeout) {
  auto deadline = Clock::now() + timeout;
  auto processes = labProcesses(options_);
  // Pods before nodes, so nodes' first health checks find them up.
  for (bool nodes : {false, true}) {
    for (const auto& p : processes) {
      if (p.node != nodes) continue;
      if (auto pid = start(p); !pid) return Error{fmt::format("{}: {}", p.name, pid.error())};
    }
    for (const auto& p : processes) {
      if (p.node != nodes) continue;
      auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
      if (auto st = waitReady(p, std::max(left, Millis(1))); !st) return st;
    }
  }
  return {};
}

std::optional<pid_t> Lab::pidOf(const std::string& name) const {
  auto pid = readPidFile(pidPath(name));
  if (pid && isLabProcess(*pid, kRunDir)) return pid;
  return std::nullopt;
}

Status Lab::signal(const std::string& name, int sig, Millis grace) {
  auto pid = pidOf(name);
  if (!pid) return Error{fmt::format("{} is not running", name)};
  if (kill(*pid, sig) != 0) return Error{fmt::format("kill {}: {}", *pid, std::strerror(errno))};
  if (grace.count() > 0 && !waitGone(*pid, grace) && isLabProcess(*pid, kRunDir)) {
    kill(*pid, SIGKILL);
    waitGone(*pid, Millis(2000));
  }
  return {};
}

Result<HttpReply> Lab::clientGet(const std::string& url_text, Millis timeout) const {
  auto url = parseUrl(url_text);
  if (!url) return Error{url.error()};
  Result<HttpReply> out = Error{"not run"};
  auto st = runInNetns(clientNs(), [&] { out = httpGet(*url, timeout); });
  if (!st) return Error{st.error()};
  return out;
}

std::optional<NeighEntry> Lab::clientNeigh(std::string_view ip) const {
  auto out = runCommand({"ip", "-n", clientNs(), "neigh", "show", std::string(ip)}, kStepTimeout);
  if (!out || out->exit_code != 0) return std::nullopt;
  return parseNeigh(out->output);
}

std::optional<int> Lab::ownerByNeigh(std::string_view ip) const {
  auto e = clientNeigh(ip);
  if (!e || e->mac.empty()) return std::nullopt;
  return nodeOfMac(e->mac);
}

Result<std::string> Lab::waitVipServes(std::string_view url, Millis timeout) const {
  auto deadline = Clock::now() + timeout;
  std::string last;
  for (;;) {
    auto r = clientGet(std::string(url), Millis(300));
    if (r && r->status == 200) return labelFromBody(r->body);
    last = r ? fmt::format("status {}", r->status) : r.error();
    if (Clock::now() >= deadline)
      return Error{fmt::format("{} does not answer from the client: {}", url, last)};
    std::this_thread::sleep_for(Millis(50));
  }
}

LabProcess Lab::node(int n) const { return {nodeName(n), nodeNs(n), true, n}; }

std::string Lab::logTail(const std::string& name, size_t lines) const {
  auto text = readFile(runPath(name + ".log"));
  return text ? lastLines(*text, lines) : "(no log)";
}

}  // namespace pier::lab
