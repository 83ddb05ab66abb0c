#include "src/announce/linux_netlink.h"

#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace pier::announce::sys {
namespace {

// Replies to rtnetlink requests are queued while the request is processed,
// so this only bounds a kernel that does not answer at all.
constexpr int kReplyTimeoutMs = 1000;
// Large enough for any single dump datagram the kernel builds.
constexpr size_t kReceiveBufferSize = 64 * 1024;

nlmsghdr* header(std::vector<uint8_t>& bytes) { return reinterpret_cast<nlmsghdr*>(bytes.data()); }

}  // namespace

NetlinkRequest::NetlinkRequest(uint16_t type, uint16_t flags) : bytes_(NLMSG_HDRLEN, 0) {
  header(bytes_)->nlmsg_type = type;
  header(bytes_)->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
}

void NetlinkRequest::append(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  bytes_.insert(bytes_.end(), p, p + size);
  bytes_.resize(NLMSG_ALIGN(bytes_.size()), 0);
}

void NetlinkRequest::addAttribute(uint16_t type, std::span<const uint8_t> data) {
  rtattr attribute{};
  attribute.rta_type = type;
  attribute.rta_len = static_cast<uint16_t>(RTA_LENGTH(data.size()));
  const size_t start = bytes_.size();
  bytes_.resize(start + RTA_SPACE(data.size()), 0);
  std::memcpy(bytes_.data() + start, &attribute, sizeof attribute);
  if (!data.empty()) {
    std::memcpy(bytes_.data() + start + RTA_LENGTH(0), data.data(), data.size());
  }
}

void NetlinkRequest::addU32(uint16_t type, uint32_t value) {
  addAttribute(type, {reinterpret_cast<const uint8_t*>(&value), sizeof value});
}

void NetlinkRequest::addFlags(uint16_t flags) { header(bytes_)->nlmsg_flags |= flags; }

std::span<const uint8_t> NetlinkRequest::finish(uint32_t seq) {
  header(bytes_)->nlmsg_len = static_cast<uint32_t>(bytes_.size());
  header(bytes_)->nlmsg_seq = seq;
  return bytes_;
}

void forEachAttribute(const nlmsghdr& message, size_t fixed_size,
                      const std::function<void(uint16_t, std::span<const uint8_t>)>& onAttribute) {
  const size_t offset = NLMSG_HDRLEN + NLMSG_ALIGN(fixed_size);
  if (message.nlmsg_len < offset) {
    return;
  }
  const auto* base = reinterpret_cast<const uint8_t*>(&message);
  size_t remaining = message.nlmsg_len - offset;
  const auto* attribute = reinterpret_cast<const rtattr*>(base + offset);
  for (; RTA_OK(attribute, remaining); attribute = RTA_NEXT(attribute, remaining)) {
    const auto* payload = static_cast<const uint8_t*>(RTA_DATA(attribute));
    onAttribute(attribute->rta_type, {payload, RTA_PAYLOAD(attribute)});
  }
}

Result<RouteNetlink> RouteNetlink::open(uint32_t groups) {
  OwnedFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) {
    return errnoError("netlink socket");
  }
  const int one = 1;
  // Best effort: the kernel's reason for a refusal makes errors readable, and
  // capped acks keep them small; older kernels answer without both.
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = groups;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    return errnoError("netlink bind");
  }
  return RouteNetlink(std::move(fd));
}

Status RouteNetlink::send(NetlinkRequest& request) {
  const std::span<const uint8_t> bytes = request.finish(++seq_);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    const ssize_t n = ::sendto(fd_.get(), bytes.data(), bytes.size(), 0,
                               reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
    if (n == static_cast<ssize_t>(bytes.size())) {
      return {};
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n >= 0) {
      return Error{"netlink send: short write"};
    }
    return errnoError("netlink send");
  }
}

Result<size_t> RouteNetlink::receiveReplies() {
  buffer_.resize(kReceiveBufferSize);
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_size = sizeof from;
    const ssize_t n = ::recvfrom(fd_.get(), buffer_.data(), buffer_.size(), 0,
                                 reinterpret_cast<sockaddr*>(&from), &from_size);
    if (n > 0) {
      if (from.nl_pid != 0) {
        continue;  // another process's message, not the kernel's answer
      }
      return static_cast<size_t>(n);
    }
    if (n == 0) {
      return Error{"netlink receive: empty datagram"};
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return errnoError("netlink receive");
    }
    pollfd p{fd_.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, kReplyTimeoutMs);
    if (ready == 0) {
      return Error{"netlink receive: the kernel did not answer"};
    }
    if (ready < 0 && errno != EINTR) {
      return errnoError("netlink poll");
    }
  }
}

namespace {

NetlinkAck parseAck(const nlmsghdr& message) {
  NetlinkAck ack;
  if (message.nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
    ack.error = EPROTO;
    return ack;
  }
  nlmsgerr error;
  std::memcpy(&error, NLMSG_DATA(&message), sizeof error);
  ack.error = -error.error;
  if ((message.nlmsg_flags & NLM_F_ACK_TLVS) == 0) {
    return ack;
  }
  // The echoed request sits between nlmsgerr and the TLVs unless capped.
  size_t fixed = sizeof(nlmsgerr);
  if ((message.nlmsg_flags & NLM_F_CAPPED) == 0) {
    fixed += error.msg.nlmsg_len - NLMSG_HDRLEN;
  }
  forEachAttribute(message, fixed, [&](uint16_t type, std::span<const uint8_t> payload) {
    if (type == NLMSGERR_ATTR_MSG && !payload.empty()) {
      const auto* text = reinterpret_cast<const char*>(payload.data());
      ack.detail.assign(text, strnlen(text, payload.size()));
    }
  });
  return ack;
}

}  // namespace

Result<NetlinkAck> RouteNetlink::command(NetlinkRequest& request) {
  request.addFlags(NLM_F_ACK);
  if (Status sent = send(request); !sent) {
    return Error{sent.error()};
  }
  for (;;) {
    Result<size_t> size = receiveReplies();
    if (!size) {
      return Error{size.error()};
    }
    size_t remaining = *size;
    for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer_.data()); NLMSG_OK(message, remaining);
         message = NLMSG_NEXT(message, remaining)) {
      if (message->nlmsg_seq == seq_ && message->nlmsg_type == NLMSG_ERROR) {
        return parseAck(*message);
      }
    }
  }
}

Status RouteNetlink::dump(NetlinkRequest& request, const std::function<void(const nlmsghdr&)>& onMessage) {
  request.addFlags(NLM_F_DUMP);
  if (Status sent = send(request); !sent) {
    return sent;
  }
  for (;;) {
    Result<size_t> size = receiveReplies();
    if (!size) {
      return Error{size.error()};
    }
    size_t remaining = *size;
    for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer_.data()); NLMSG_OK(message, remaining);
         message = NLMSG_NEXT(message, remaining)) {
      if (message->nlmsg_seq != seq_) {
        continue;
      }
      if (message->nlmsg_type == NLMSG_DONE) {
        return {};
      }
      if (message->nlmsg_type == NLMSG_ERROR) {
        const NetlinkAck ack = parseAck(*message);
        errno = ack.error;
        return errnoError("netlink dump");
      }
      onMessage(*message);
    }
  }
}

void RouteNetlink::drain() {
  buffer_.resize(kReceiveBufferSize);
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buffer_.data(), buffer_.size(), 0);
    if (n < 0 && (errno == EINTR || errno == ENOBUFS)) {
      continue;  // ENOBUFS: notifications were lost; the caller re-reads the state anyway
    }
    if (n <= 0) {
      return;
    }
  }
}

}  // namespace pier::announce::sys
