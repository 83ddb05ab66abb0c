#pragma once
// What the announcer needs from the operating system, behind interfaces so
// the logic above is tested with fakes (tests/announce) and the real thing
// runs in network namespaces (tests/e2e). Real implementations: linux_host.cc.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "src/common/result.h"
#include "src/vip/address.h"

namespace pier::announce {

struct InterfaceInfo {
  std::string name;
  int index = 0;
  vip::MacAddress mac{};
  std::optional<vip::Ipv6Address> link_local;  // for NDP advertisements' source
  std::optional<vip::Ipv4Address> ipv4;        // first address, for heartbeats' source
  bool running = false;                        // IFF_RUNNING: up with carrier
};

// ARP frames on one interface (AF_PACKET, ETH_P_ARP, classic BPF filter,
// outgoing frames ignored). Non-blocking; readable when fd() is.
class ArpSocket {
 public:
  virtual ~ArpSocket() = default;
  virtual int fd() const = 0;
  // The next frame into `buf`: its size, 0 when none is waiting, -1 on error.
  virtual int receive(std::span<uint8_t> buf) = 0;
  virtual bool send(std::span<const uint8_t> frame) = 0;
};

// ICMPv6 Neighbor Solicitations on one interface (raw socket, ICMP6_FILTER
// for type 135, hop limits 255, IPV6_RECVHOPLIMIT and IPV6_RECVPKTINFO).
class NdpSocket {
 public:
  struct Received {
    size_t size = 0;  // 0: none waiting
    vip::Ipv6Address source{};
    vip::Ipv6Address destination{};
    int hop_limit = -1;  // -1: not reported
  };
  virtual ~NdpSocket() = default;
  virtual int fd() const = 0;
  virtual std::optional<Received> receive(std::span<uint8_t> buf) = 0;  // nullopt: error
  // `icmp` is the ICMPv6 message; the kernel fills the checksum. `source`:
  // the address to send from (the advertised target, which strict clients
  // such as ndisc6 require), else the interface's link-local address.
  virtual bool send(std::span<const uint8_t> icmp, const vip::Ipv6Address& destination,
                    const std::optional<vip::Ipv6Address>& source) = 0;
  // Solicited-node groups, reference counted by the caller.
  virtual bool joinGroup(const vip::Ipv6Address& group) = 0;
  virtual bool leaveGroup(const vip::Ipv6Address& group) = 0;
};

// Heartbeat datagrams (UDP) on one interface: to a multicast group and/or
// unicast peers; the socket is bound to the interface (SO_BINDTODEVICE) so a
// heartbeat proves that very L2 segment works.
class HeartbeatSocket {
 public:
  struct Received {
    size_t size = 0;  // 0: none waiting
    std::string from;  // source IP text
  };
  virtual ~HeartbeatSocket() = default;
  virtual int fd() const = 0;
  virtual std::optional<Received> receive(std::span<uint8_t> buf) = 0;  // nullopt: error
  virtual bool send(std::span<const uint8_t> datagram) = 0;             // to every target
};

class Host {
 public:
  virtual ~Host() = default;
  virtual Result<InterfaceInfo> interface(const std::string& name) = 0;
  // Netlink link notifications (RTMGRP_LINK): fd() readable → call
  // drainLinkEvents(), then re-read interface(). -1 when unsupported.
  virtual int linkEventsFd() = 0;
  virtual void drainLinkEvents() = 0;

  // Traffic to `cidr` is delivered locally ("ip route replace local <cidr> dev lo"),
  // so listeners can bind the virtual IPs without the kernel answering ARP for them.
  virtual Status addLocalRoute(const std::string& cidr) = 0;
  virtual Status removeLocalRoute(const std::string& cidr) = 0;
  // Writes a sysctl (e.g. "net/ipv4/conf/eth0/arp_ignore") and returns the old value.
  virtual Result<std::string> setSysctl(const std::string& path, const std::string& value) = 0;

  virtual Result<std::unique_ptr<ArpSocket>> openArp(const InterfaceInfo& itf) = 0;
  virtual Result<std::unique_ptr<NdpSocket>> openNdp(const InterfaceInfo& itf) = 0;
  virtual Result<std::unique_ptr<HeartbeatSocket>> openHeartbeat(const InterfaceInfo& itf, uint16_t port,
                                                                 const std::string& group,
                                                                 const std::vector<std::string>& peers) = 0;
};

// The real one (Linux: netlink, AF_PACKET, raw ICMPv6, UDP).
std::unique_ptr<Host> makeLinuxHost();

}  // namespace pier::announce
