#pragma once
// The packet sockets behind announce::Host on Linux, opened in the calling
// thread's network namespace. Each is non-blocking and close-on-exec.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/announce/host.h"
#include "src/common/result.h"

namespace pier::announce::sys {

// AF_PACKET bound to the interface and ETH_P_ARP, with a classic BPF filter
// passing only Ethernet/IPv4 ARP; frames this host sends are not received.
Result<std::unique_ptr<ArpSocket>> openArpSocket(const InterfaceInfo& itf);

// Raw ICMPv6 bound to the interface, passing Neighbor Solicitations (to
// answer) and Advertisements (to notice another node claiming an address).
// Sends use the interface's link-local address as source when it has one.
Result<std::unique_ptr<NdpSocket>> openNdpSocket(const InterfaceInfo& itf);

// UDP on `port`, bound to the interface, joined to the IPv4 multicast
// `group` (empty: none) on it; sends go to the group and to each peer (IPv4
// addresses; the interface's own address is skipped so a peer list shared by
// all nodes can be used as is). Marked as network control (CS6, priority 6).
Result<std::unique_ptr<HeartbeatSocket>> openHeartbeatSocket(const InterfaceInfo& itf, uint16_t port,
                                                             const std::string& group,
                                                             const std::vector<std::string>& peers);

}  // namespace pier::announce::sys
