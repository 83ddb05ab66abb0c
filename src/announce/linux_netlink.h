#pragma once
// rtnetlink plumbing for the Linux host: building requests, sending them and
// reading the kernel's acknowledgement or dump, and the notification socket
// behind link events. Sockets live in the network namespace of the thread
// that opens them.
#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "src/announce/linux_fd.h"
#include "src/common/result.h"

namespace pier::announce::sys {

// One request: netlink header, the message type's fixed struct, attributes.
class NetlinkRequest {
 public:
  NetlinkRequest(uint16_t type, uint16_t flags);

  template <typename T>
  void appendFixed(const T& fixed) {
    append(&fixed, sizeof fixed);
  }
  void addAttribute(uint16_t type, std::span<const uint8_t> data);
  void addU32(uint16_t type, uint32_t value);
  void addFlags(uint16_t flags);

  // The finished message carrying `seq`.
  std::span<const uint8_t> finish(uint32_t seq);

 private:
  void append(const void* data, size_t size);
  std::vector<uint8_t> bytes_;
};

// What the kernel answered to a request sent with NLM_F_ACK.
struct NetlinkAck {
  int error = 0;       // errno, 0 for success
  std::string detail;  // the kernel's extended-ack text, when it gave one
};

class RouteNetlink {
 public:
  // A non-blocking NETLINK_ROUTE socket subscribed to `groups` (RTMGRP_*
  // bits; 0 for a socket that only sends requests).
  static Result<RouteNetlink> open(uint32_t groups);

  int fd() const { return fd_.get(); }

  // Sends `request` (NLM_F_ACK is added) and returns the kernel's verdict.
  // An Error is a failure to talk to the kernel at all.
  Result<NetlinkAck> command(NetlinkRequest& request);
  // Sends a dump request (NLM_F_DUMP is added) and hands every reply message
  // to `onMessage` until the dump ends.
  Status dump(NetlinkRequest& request, const std::function<void(const nlmsghdr&)>& onMessage);
  // Reads and discards everything queued (notifications; an overflow is not
  // an error since readers re-read the state they care about).
  void drain();

 private:
  explicit RouteNetlink(OwnedFd fd) : fd_(std::move(fd)) {}
  Status send(NetlinkRequest& request);
  // One datagram of replies into buffer_; its size, or an Error.
  Result<size_t> receiveReplies();

  OwnedFd fd_;
  uint32_t seq_ = 0;
  std::vector<uint8_t> buffer_;
};

// Walks the rtattr list following a fixed struct of `fixed_size` bytes in
// `message`, calling onAttribute(type, payload) for each.
void forEachAttribute(const nlmsghdr& message, size_t fixed_size,
                      const std::function<void(uint16_t, std::span<const uint8_t>)>& onAttribute);

}  // namespace pier::announce::sys
