#include "src/announce/linux_interface.h"

#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>
#include <string_view>

#include "src/announce/linux_fd.h"
#include "src/announce/linux_netlink.h"

namespace pier::announce::sys {
namespace {

bool isLinkLocal(const vip::Ipv6Address& a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }

Status readLinkIdentity(const std::string& name, InterfaceInfo& info) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return Error{fmt::format("interface '{}': not a valid interface name", name)};
  }
  OwnedFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return errnoError("interface " + name + ": socket");
  }
  ifreq request{};
  std::memcpy(request.ifr_name, name.data(), name.size());
  if (::ioctl(fd.get(), SIOCGIFINDEX, &request) != 0) {
    return errnoError("interface " + name);
  }
  info.index = request.ifr_ifindex;
  if (::ioctl(fd.get(), SIOCGIFHWADDR, &request) != 0) {
    return errnoError("interface " + name + ": hardware address");
  }
  if (request.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    return Error{fmt::format("interface {}: not an Ethernet interface (link type {}); ARP and NDP need a MAC",
                             name, request.ifr_hwaddr.sa_family)};
  }
  std::memcpy(info.mac.data(), request.ifr_hwaddr.sa_data, info.mac.size());
  if (::ioctl(fd.get(), SIOCGIFFLAGS, &request) != 0) {
    return errnoError("interface " + name + ": flags");
  }
  // The kernel sets IFF_RUNNING only while the interface is up and its
  // operational state is up (carrier present).
  const unsigned flags = static_cast<unsigned short>(request.ifr_flags);
  info.running = (flags & IFF_UP) != 0 && (flags & IFF_RUNNING) != 0;
  return {};
}

struct AddressEntry {
  int family = 0;
  uint32_t flags = 0;
  std::span<const uint8_t> local;
  std::span<const uint8_t> address;
};

Status readAddresses(InterfaceInfo& info) {
  Result<RouteNetlink> netlink = RouteNetlink::open(0);
  if (!netlink) {
    return Error{"interface " + info.name + ": " + netlink.error()};
  }
  NetlinkRequest request(RTM_GETADDR, 0);
  ifaddrmsg all{};
  all.ifa_family = AF_UNSPEC;
  request.appendFixed(all);
  std::optional<vip::Ipv4Address> secondary_ipv4;
  Status dumped = netlink->dump(request, [&](const nlmsghdr& message) {
    if (message.nlmsg_type != RTM_NEWADDR || message.nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) {
      return;
    }
    ifaddrmsg header;
    std::memcpy(&header, NLMSG_DATA(&message), sizeof header);
    if (static_cast<int>(header.ifa_index) != info.index) {
      return;
    }
    AddressEntry entry{header.ifa_family, header.ifa_flags, {}, {}};
    forEachAttribute(message, sizeof(ifaddrmsg), [&](uint16_t type, std::span<const uint8_t> payload) {
      if (type == IFA_LOCAL) {
        entry.local = payload;
      } else if (type == IFA_ADDRESS) {
        entry.address = payload;
      } else if (type == IFA_FLAGS && payload.size() == sizeof(uint32_t)) {
        std::memcpy(&entry.flags, payload.data(),
                    sizeof entry.flags);  // the full set; ifa_flags holds 8 bits
      }
    });
    if (entry.family == AF_INET) {
      // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's
      // on point-to-point links.
      const std::span<const uint8_t> own = entry.local.empty() ? entry.address : entry.local;
      if (own.size() != 4) {
        return;
      }
      vip::Ipv4Address a;
      std::memcpy(a.data(), own.data(), a.size());
      if ((entry.flags & IFA_F_SECONDARY) == 0) {
        if (!info.ipv4) {
          info.ipv4 = a;
        }
      } else if (!secondary_ipv4) {
        secondary_ipv4 = a;
      }
    } else if (entry.family == AF_INET6 && entry.address.size() == 16 && !info.link_local) {
      vip::Ipv6Address a;
      std::memcpy(a.data(), entry.address.data(), a.size());
      // A tentative address cannot be a source yet; the address event that
      // ends DAD prompts a re-read.
      if (isLinkLocal(a) && (entry.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) == 0) {
        info.link_local = a;
      }
    }
  });
  if (!dumped) {
    return Error{"interface " + info.name + ": addresses: " + dumped.error()};
  }
  if (!info.ipv4) {
    info.ipv4 = secondary_ipv4;
  }
  return {};
}

bool validSysctlPath(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.back() == '/') {
    return false;
  }
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return false;
    }
    for (const char c : part) {
      if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
        return false;
      }
    }
    start = end + 1;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

Result<InterfaceInfo> readInterface(const std::string& name) {
  InterfaceInfo info;
  info.name = name;
  if (Status identity = readLinkIdentity(name, info); !identity) {
    return Error{identity.error()};
  }
  if (Status addresses = readAddresses(info); !addresses) {
    return Error{addresses.error()};
  }
  return info;
}

Result<std::string> writeSysctl(const std::string& path, const std::string& value) {
  if (!validSysctlPath(path)) {
    return Error{fmt::format("sysctl '{}': not a valid path", path)};
  }
  const std::string file = "/proc/sys/" + path;
  OwnedFd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) {
    return errnoError("sysctl " + path);
  }
  std::string old(4096, '\0');
  ssize_t n;
  do {
    n = ::read(in.get(), old.data(), old.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return errnoError("sysctl " + path + ": read");
  }
  old = std::string(trim(std::string_view(old.data(), static_cast<size_t>(n))));
  if (old == trim(value)) {
    return old;
  }
  OwnedFd out(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
  if (!out.valid()) {
    return errnoError("sysctl " + path);
  }
  do {
    n = ::write(out.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return errnoError(fmt::format("sysctl {} = {}", path, value));
  }
  if (static_cast<size_t>(n) != value.size()) {
    return Error{fmt::format("sysctl {} = {}: short write", path, value)};
  }
  return old;
}

}  // namespace pier::announce::sys
