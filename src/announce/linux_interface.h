#pragma once
// Reading an interface's identity and state, and writing sysctls, in the
// calling thread's network namespace.
#include <string>

#include "src/announce/host.h"
#include "src/common/result.h"

namespace pier::announce::sys {

// Index, MAC and IFF_RUNNING from ioctls; the first primary IPv4 address and
// a usable (not tentative, DAD not failed) IPv6 link-local address from an
// rtnetlink address dump. Only Ethernet-like interfaces qualify: ARP and NDP
// announcements need a MAC.
Result<InterfaceInfo> readInterface(const std::string& name);

// Writes /proc/sys/<path> (skipped when it already holds `value`) and returns
// the previous value without surrounding white space.
Result<std::string> writeSysctl(const std::string& path, const std::string& value);

}  // namespace pier::announce::sys
