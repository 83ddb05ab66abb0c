#pragma once
// A two-machine LAN inside one test: a forked child creates two network
// namespaces, A (where the code under test runs) and B (a peer on the same
// segment), joined by a veth pair va (A) <-> vb (B). The namespaces have no
// name and no process outside the child, so they vanish when the child
// exits, whatever happened in the test: nothing on the real host is touched.
//
// GoogleTest assertions inside the child print as usual; the parent asserts
// the child's exit status.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "src/announce/host.h"

namespace pier::announce::testing {

inline constexpr char kMacA[] = "02:00:00:00:00:0a";
inline constexpr char kMacB[] = "02:00:00:00:00:0b";
inline constexpr char kIpA[] = "10.77.0.1";
inline constexpr char kIpB[] = "10.77.0.2";
// What the kernel derives from kMacA/kMacB (EUI-64) when the links come up.
inline constexpr char kLinkLocalA[] = "fe80::ff:fe00:a";
inline constexpr char kLinkLocalB[] = "fe80::ff:fe00:b";

// Bounds every wait on the kernel: generous, only reached when a test fails.
inline constexpr int kWaitMs = 5000;

class Lab {
 public:
  Lab() = default;
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;
  ~Lab() {
    if (a_ >= 0) ::close(a_);
    if (b_ >= 0) ::close(b_);
  }

  // Creates A and B, the veth pair with fixed MACs and IPv4 addresses, both
  // ends up, IPv6 duplicate address detection off; leaves the caller in A.
  // An error text, or empty.
  std::string create() {
    if (::unshare(CLONE_NEWNET) != 0) return fmt::format("unshare: {}", std::strerror(errno));
    a_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (::unshare(CLONE_NEWNET) != 0) return fmt::format("unshare: {}", std::strerror(errno));
    b_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (a_ < 0 || b_ < 0) return "cannot open the namespaces";
    // Now in B.
    if (!prepareNamespace()) return "preparing namespace B failed";
    enterA();
    if (!prepareNamespace()) return "preparing namespace A failed";
    // Distinct indexes: the kernel reports carrier changes of a veth at once
    // only when its index differs from its peer's (else up to 1 s later).
    if (!run(fmt::format("ip link add va index 10 address {} type veth peer name vb index 20 address {} "
                         "netns /proc/{}/fd/{}",
                         kMacA, kMacB, ::getpid(), b_)) ||
        !run(fmt::format("ip addr add {}/24 dev va && ip link set va up", kIpA))) {
      return "creating va failed";
    }
    enterB();
    if (!run(fmt::format("ip addr add {}/24 dev vb && ip link set vb up", kIpB))) return "creating vb failed";
    enterA();
    return {};
  }

  // Switches the calling (only) thread; sockets keep the namespace they were
  // opened in.
  void enterA() { enter(a_); }
  void enterB() { enter(b_); }

  // Runs a shell command in the current namespace.
  static bool run(const std::string& command) {
    const int status = std::system((command + " >/dev/null").c_str());
    if (status != 0) {
      ADD_FAILURE() << "command failed (" << status << "): " << command;
      return false;
    }
    return true;
  }

  // A command's standard output.
  static std::string output(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return out;
    char chunk[512];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) out.append(chunk, n);
    ::pclose(pipe);
    return out;
  }

 private:
  static bool writeFile(const std::string& path, const std::string& value) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
    ::close(fd);
    return ok;
  }

  // Links come up with usable link-local addresses at once (no DAD delay).
  static bool prepareNamespace() {
    return writeFile("/proc/sys/net/ipv6/conf/all/accept_dad", "0") &&
           writeFile("/proc/sys/net/ipv6/conf/default/accept_dad", "0") && run("ip link set lo up");
  }

  static void enter(int fd) {
    if (::setns(fd, CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "setns: %s\n", std::strerror(errno));
      std::_Exit(2);
    }
  }

  int a_ = -1;
  int b_ = -1;
};

// Whether this process may create network namespaces (root, not confined).
inline bool namespacesAvailable() {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    std::_Exit(::unshare(CLONE_NEWNET) == 0 && std::system("ip -V >/dev/null 2>&1") == 0 ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Runs `body` in a forked child inside a fresh Lab and reports how it ended.
inline void runInLab(const std::function<void(Lab&)>& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    ::alarm(30);  // a hung child fails the test instead of hanging it
    {
      Lab lab;
      const std::string error = lab.create();
      if (error.empty()) {
        body(lab);
      } else {
        ADD_FAILURE() << "lab: " << error;
      }
    }
    std::fflush(nullptr);
    std::_Exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ASSERT_TRUE(WIFEXITED(status)) << "lab child killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the lab child failed: see its messages above";
}

// Whether `fd` becomes readable within `timeout_ms`.
inline bool readable(int fd, int timeout_ms = kWaitMs) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// Re-reads interface `name` after every link event until `done` holds; the
// last reading, or nullopt when it never held within kWaitMs.
inline std::optional<InterfaceInfo> waitForInterface(Host& host, const std::string& name,
                                                     const std::function<bool(const InterfaceInfo&)>& done) {
  const int fd = host.linkEventsFd();  // before reading, so no change slips between
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  for (;;) {
    Result<InterfaceInfo> info = host.interface(name);
    if (info && done(*info)) return *info;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
            .count();
    if (left <= 0 || fd < 0) return std::nullopt;
    readable(fd, static_cast<int>(left));
    host.drainLinkEvents();
  }
}

inline bool ready(const InterfaceInfo& info) { return info.running && info.link_local && info.ipv4; }

}  // namespace pier::announce::testing
