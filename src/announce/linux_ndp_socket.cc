#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

#include "src/announce/linux_fd.h"
#include "src/announce/linux_sockets.h"
#include "src/vip/ndp.h"

namespace pier::announce::sys {
namespace {

// linux/in6.h: bind or send from an address that is not (yet) local.
constexpr int kIpv6Freebind = 78;

in6_addr toIn6(const vip::Ipv6Address& a) {
  in6_addr out;
  std::memcpy(&out, a.data(), a.size());
  return out;
}

vip::Ipv6Address fromIn6(const in6_addr& a) {
  vip::Ipv6Address out;
  std::memcpy(out.data(), &a, out.size());
  return out;
}

class LinuxNdpSocket final : public NdpSocket {
 public:
  LinuxNdpSocket(OwnedFd fd, int ifindex, std::optional<vip::Ipv6Address> source)
      : fd_(std::move(fd)), ifindex_(ifindex), source_(source) {}

  int fd() const override { return fd_.get(); }

  std::optional<Received> receive(std::span<uint8_t> buf) override {
    for (;;) {
      sockaddr_in6 from{};
      iovec data{buf.data(), buf.size()};
      alignas(cmsghdr) std::array<uint8_t, CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int))>
          control{};
      msghdr message{};
      message.msg_name = &from;
      message.msg_namelen = sizeof from;
      message.msg_iov = &data;
      message.msg_iovlen = 1;
      message.msg_control = control.data();
      message.msg_controllen = control.size();
      const ssize_t n = ::recvmsg(fd_.get(), &message, 0);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENETDOWN) {
          return Received{};
        }
        return std::nullopt;
      }
      // Neighbor Discovery messages are far smaller than any sane buffer: a
      // truncated one is not worth answering, nor is an empty one.
      if (n == 0 || (message.msg_flags & MSG_TRUNC) != 0) {
        continue;
      }
      Received received;
      received.size = static_cast<size_t>(n);
      received.source = fromIn6(from.sin6_addr);
      for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level != IPPROTO_IPV6) {
          continue;
        }
        if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
          in6_pktinfo info;
          std::memcpy(&info, CMSG_DATA(c), sizeof info);
          received.destination = fromIn6(info.ipi6_addr);
        } else if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
          std::memcpy(&received.hop_limit, CMSG_DATA(c), sizeof(int));
        }
      }
      return received;
    }
  }

  bool send(std::span<const uint8_t> icmp, const vip::Ipv6Address& destination,
            const std::optional<vip::Ipv6Address>& source) override {
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    to.sin6_addr = toIn6(destination);
    // Needed for link-local and multicast destinations; ignored for others.
    to.sin6_scope_id = static_cast<uint32_t>(ifindex_);
    // From the virtual IP itself, as the kernel answers for its own
    // addresses (IPV6_FREEBIND makes that legal for an address that is only a
    // local route); strict clients (ndisc6) accept nothing else.
    if (source && sendFrom(icmp, to, *source)) {
      return true;
    }
    if (source_ && sendFrom(icmp, to, *source_)) {
      return true;
    }
    // Without the link-local (changed, or not usable yet) the kernel picks.
    return sendFrom(icmp, to, std::nullopt);
  }

  bool joinGroup(const vip::Ipv6Address& group) override { return membership(IPV6_JOIN_GROUP, group); }
  bool leaveGroup(const vip::Ipv6Address& group) override { return membership(IPV6_LEAVE_GROUP, group); }

 private:
  bool sendFrom(std::span<const uint8_t> icmp, const sockaddr_in6& to, const std::optional<vip::Ipv6Address>& from) {
    iovec data{const_cast<uint8_t*>(icmp.data()), icmp.size()};
    alignas(cmsghdr) std::array<uint8_t, CMSG_SPACE(sizeof(in6_pktinfo))> control{};
    msghdr message{};
    message.msg_name = const_cast<sockaddr_in6*>(&to);
    message.msg_namelen = sizeof to;
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    if (from) {
      message.msg_control = control.data();
      message.msg_controllen = control.size();
      cmsghdr* c = CMSG_FIRSTHDR(&message);
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
      in6_pktinfo info{};
      info.ipi6_addr = toIn6(*from);
      info.ipi6_ifindex = static_cast<unsigned>(ifindex_);
      std::memcpy(CMSG_DATA(c), &info, sizeof info);
    }
    for (;;) {
      const ssize_t n = ::sendmsg(fd_.get(), &message, 0);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return n == static_cast<ssize_t>(icmp.size());
    }
  }

  bool membership(int option, const vip::Ipv6Address& group) {
    ipv6_mreq request{};
    request.ipv6mr_multiaddr = toIn6(group);
    request.ipv6mr_interface = static_cast<unsigned>(ifindex_);
    return ::setsockopt(fd_.get(), IPPROTO_IPV6, option, &request, sizeof request) == 0;
  }

  OwnedFd fd_;
  int ifindex_;
  std::optional<vip::Ipv6Address> source_;
};

struct IntOption {
  int option;
  int value;
  const char* name;
};

}  // namespace

Result<std::unique_ptr<NdpSocket>> openNdpSocket(const InterfaceInfo& itf) {
  const std::string what = "NDP socket on " + itf.name;
  OwnedFd fd(::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6));
  if (!fd.valid()) {
    return errnoError(what);
  }
  icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(vip::kIcmpv6NeighborSolicitation, &filter);
  ICMP6_FILTER_SETPASS(vip::kIcmpv6NeighborAdvertisement, &filter);
  if (::setsockopt(fd.get(), IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0) {
    return errnoError(what + ": ICMP6_FILTER");
  }
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, itf.name.c_str(),
                   static_cast<socklen_t>(itf.name.size())) != 0) {
    return errnoError(what + ": SO_BINDTODEVICE");
  }
  const IntOption options[] = {
      {IPV6_MULTICAST_HOPS, vip::kNdpHopLimit, "IPV6_MULTICAST_HOPS"},
      {IPV6_UNICAST_HOPS, vip::kNdpHopLimit, "IPV6_UNICAST_HOPS"},
      {IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT"},
      {IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO"},
      {IPV6_MULTICAST_IF, itf.index, "IPV6_MULTICAST_IF"},
      // Our own advertisements to ff02::1 must not come back looking like
      // another node's claim.
      {IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP"},
      {kIpv6Freebind, 1, "IPV6_FREEBIND"},
  };
  for (const IntOption& o : options) {
    if (::setsockopt(fd.get(), IPPROTO_IPV6, o.option, &o.value, sizeof o.value) != 0) {
      return errnoError(what + ": " + o.name);
    }
  }
  return std::unique_ptr<NdpSocket>(
      std::make_unique<LinuxNdpSocket>(std::move(fd), itf.index, itf.link_local));
}

}  // namespace pier::announce::sys
