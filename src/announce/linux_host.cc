// announce::Host on Linux: each call acts in the network namespace of the
// calling thread at the time of the call (the link-event socket in the one
// of its first linkEventsFd() call).
#include <linux/rtnetlink.h>

#include "src/announce/host.h"
#include "src/announce/linux_interface.h"
#include "src/announce/linux_netlink.h"
#include "src/announce/linux_routes.h"
#include "src/announce/linux_sockets.h"
#include "src/common/log.h"

namespace pier::announce {
namespace {

// Address changes count as link events too: InterfaceInfo carries the
// addresses, and a link-local address becomes usable only when DAD ends.
constexpr uint32_t kLinkEventGroups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;

class LinuxHost final : public Host {
 public:
  Result<InterfaceInfo> interface(const std::string& name) override { return sys::readInterface(name); }

  int linkEventsFd() override {
    if (!link_events_) {
      Result<sys::RouteNetlink> opened = sys::RouteNetlink::open(kLinkEventGroups);
      if (!opened) {
        PIER_LOG_WARN("link events unavailable: {}", opened.error());
        return -1;
      }
      link_events_.emplace(std::move(opened).value());
    }
    return link_events_->fd();
  }

  void drainLinkEvents() override {
    if (link_events_) {
      link_events_->drain();
    }
  }

  Status addLocalRoute(const std::string& cidr) override {
    Result<sys::RouteCidr> parsed = sys::parseRouteCidr(cidr);
    if (!parsed) {
      return Error{parsed.error()};
    }
    return sys::addLocalRoute(*parsed);
  }

  Status removeLocalRoute(const std::string& cidr) override {
    Result<sys::RouteCidr> parsed = sys::parseRouteCidr(cidr);
    if (!parsed) {
      return Error{parsed.error()};
    }
    return sys::removeLocalRoute(*parsed);
  }

  Result<std::string> setSysctl(const std::string& path, const std::string& value) override {
    return sys::writeSysctl(path, value);
  }

  Result<std::unique_ptr<ArpSocket>> openArp(const InterfaceInfo& itf) override {
    return sys::openArpSocket(itf);
  }

  Result<std::unique_ptr<NdpSocket>> openNdp(const InterfaceInfo& itf) override {
    return sys::openNdpSocket(itf);
  }

  Result<std::unique_ptr<HeartbeatSocket>> openHeartbeat(const InterfaceInfo& itf, uint16_t port,
                                                         const std::string& group,
                                                         const std::vector<std::string>& peers) override {
    return sys::openHeartbeatSocket(itf, port, group, peers);
  }

 private:
  std::optional<sys::RouteNetlink> link_events_;
};

}  // namespace

std::unique_ptr<Host> makeLinuxHost() { return std::make_unique<LinuxHost>(); }

}  // namespace pier::announce
