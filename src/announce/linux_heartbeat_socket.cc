#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>

#include <cstring>

#include "src/announce/linux_fd.h"
#include "src/announce/linux_sockets.h"

namespace pier::announce::sys {
namespace {

// Heartbeats are network control traffic: a queue full of data must not
// delay them into a false failover.
constexpr int kSocketPriority = 6;
constexpr int kTosCs6 = 0xc0;

struct IntOption {
  int level;
  int option;
  int value;
  const char* name;
};

sockaddr_in toSockaddr(const vip::Ipv4Address& address, uint16_t port) {
  sockaddr_in out{};
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  std::memcpy(&out.sin_addr, address.data(), address.size());
  return out;
}

class LinuxHeartbeatSocket final : public HeartbeatSocket {
 public:
  LinuxHeartbeatSocket(OwnedFd fd, std::vector<sockaddr_in> targets)
      : fd_(std::move(fd)), targets_(std::move(targets)) {}

  int fd() const override { return fd_.get(); }

  std::optional<Received> receive(std::span<uint8_t> buf) override {
    for (;;) {
      sockaddr_in from{};
      socklen_t from_size = sizeof from;
      const ssize_t n =
          ::recvfrom(fd_.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_size);
      if (n > 0) {
        std::array<char, INET_ADDRSTRLEN> text{};
        ::inet_ntop(AF_INET, &from.sin_addr, text.data(), text.size());
        return Received{static_cast<size_t>(n), text.data()};
      }
      // An empty datagram is no heartbeat; ICMP errors for earlier unicast
      // sends say nothing about what is waiting now.
      if (n == 0 || errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH ||
          errno == ENETUNREACH) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return Received{};
      }
      return std::nullopt;
    }
  }

  bool send(std::span<const uint8_t> datagram) override {
    bool all = true;
    for (const sockaddr_in& to : targets_) {
      ssize_t n;
      do {
        n = ::sendto(fd_.get(), datagram.data(), datagram.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                     sizeof to);
      } while (n < 0 && errno == EINTR);
      all = all && n == static_cast<ssize_t>(datagram.size());
    }
    return all;
  }

 private:
  OwnedFd fd_;
  std::vector<sockaddr_in> targets_;
};

Result<vip::Ipv4Address> parseIpv4(const std::string& text, const std::string& what) {
  const std::optional<vip::IpAddress> address = vip::IpAddress::parse(text);
  if (!address || !address->isV4()) {
    return Error{fmt::format("{}: '{}' is not an IPv4 address", what, text)};
  }
  return address->asV4();
}

}  // namespace

Result<std::unique_ptr<HeartbeatSocket>> openHeartbeatSocket(const InterfaceInfo& itf, uint16_t port,
                                                             const std::string& group,
                                                             const std::vector<std::string>& peers) {
  const std::string what = fmt::format("heartbeat socket on {} port {}", itf.name, port);
  std::vector<sockaddr_in> targets;
  std::optional<vip::Ipv4Address> group_address;
  if (!group.empty()) {
    Result<vip::Ipv4Address> parsed = parseIpv4(group, what + ": group");
    if (!parsed) {
      return Error{parsed.error()};
    }
    if (!vip::isIpv4Multicast(*parsed)) {
      return Error{fmt::format("{}: group {} is not a multicast address", what, group)};
    }
    group_address = *parsed;
    targets.push_back(toSockaddr(*parsed, port));
  }
  for (const std::string& peer : peers) {
    Result<vip::Ipv4Address> parsed = parseIpv4(peer, what + ": peer");
    if (!parsed) {
      return Error{parsed.error()};
    }
    if (*parsed != itf.ipv4) {
      targets.push_back(toSockaddr(*parsed, port));
    }
  }

  OwnedFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return errnoError(what);
  }
  ip_mreqn on_interface{};
  on_interface.imr_ifindex = itf.index;
  const IntOption options[] = {
      {SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"},
      {SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT"},
      {IPPROTO_IP, IP_TOS, kTosCs6, "IP_TOS"},
      // After IP_TOS, which resets the priority from the TOS bits.
      {SOL_SOCKET, SO_PRIORITY, kSocketPriority, "SO_PRIORITY"},
      {IPPROTO_IP, IP_MULTICAST_TTL, 1, "IP_MULTICAST_TTL"},
      {IPPROTO_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP"},
      // Only the group joined here, not every group some other socket on
      // this host joined.
      {IPPROTO_IP, IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL"},
  };
  for (const IntOption& o : options) {
    if (::setsockopt(fd.get(), o.level, o.option, &o.value, sizeof o.value) != 0) {
      return errnoError(what + ": " + o.name);
    }
  }
  if (::setsockopt(fd.get(), IPPROTO_IP, IP_MULTICAST_IF, &on_interface, sizeof on_interface) != 0) {
    return errnoError(what + ": IP_MULTICAST_IF");
  }
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, itf.name.c_str(),
                   static_cast<socklen_t>(itf.name.size())) != 0) {
    return errnoError(what + ": SO_BINDTODEVICE");
  }
  const sockaddr_in any = toSockaddr(vip::Ipv4Address{}, port);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0) {
    return errnoError(what + ": bind");
  }
  if (group_address) {
    ip_mreqn join = on_interface;
    std::memcpy(&join.imr_multiaddr, group_address->data(), group_address->size());
    if (::setsockopt(fd.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof join) != 0) {
      return errnoError(fmt::format("{}: join {}", what, group));
    }
  }
  return std::unique_ptr<HeartbeatSocket>(
      std::make_unique<LinuxHeartbeatSocket>(std::move(fd), std::move(targets)));
}

}  // namespace pier::announce::sys
