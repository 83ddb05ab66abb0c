#include "src/net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace pier::net {

void Fd::reset(int fd) {
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = fd;
}

std::string Address::ipText() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
  } else if (storage.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

std::string Address::text() const {
  if (storage.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    return fmt::format("[{}]:{}", ipText(), ntohs(in6->sin6_port));
  }
  auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
  return fmt::format("{}:{}", ipText(), ntohs(in->sin_port));
}

Result<Address> resolve(const config::SocketAddress& address) {
  Address out;
  auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET, address.host.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(address.port);
    out.length = sizeof(sockaddr_in);
    return out;
  }
  if (inet_pton(AF_INET6, address.host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(address.port);
    out.length = sizeof(sockaddr_in6);
    return out;
  }
  return Error{fmt::format("'{}' is not an IP address", address.host)};
}

static Error errnoError(const char* what, const Address& address) {
  return Error{fmt::format("{} {}: {}", what, address.text(), std::strerror(errno))};
}

Result<Fd> listenTcp(const Address& address, int backlog, bool freebind) {
  Fd fd(socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return errnoError("socket", address);
  }
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (address.storage.ss_family == AF_INET6) {
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (freebind) {
    setsockopt(fd.get(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  }
  if (bind(fd.get(), address.sa(), address.length) != 0) {
    return errnoError("bind", address);
  }
  if (listen(fd.get(), backlog) != 0) {
    return errnoError("listen", address);
  }
  return fd;
}

Result<Fd> connectTcp(const Address& address) {
  Fd fd(socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return errnoError("socket", address);
  }
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd.get(), address.sa(), address.length) != 0 && errno != EINPROGRESS) {
    return errnoError("connect", address);
  }
  return fd;
}

int socketError(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    return errno;
  }
  return err;
}

IoResult readSome(int fd, Buffer& buffer, size_t max) {
  char* dst = buffer.prepare(max);
  size_t room = max;
  while (true) {
    ssize_t n = ::read(fd, dst, room);
    if (n > 0) {
      buffer.commit(static_cast<size_t>(n));
      return {IoStatus::kOk, static_cast<size_t>(n), static_cast<size_t>(n) < room};
    }
    if (n == 0) {
      return {IoStatus::kClosed, 0};
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return {IoStatus::kWouldBlock, 0};
    }
    return {IoStatus::kError, 0};
  }
}

IoResult writeSome(int fd, Buffer& buffer) {
  size_t total = 0;
  while (!buffer.empty()) {
    auto data = buffer.readable();
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      buffer.consume(static_cast<size_t>(n));
      total += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < data.size()) {
        return {IoStatus::kWouldBlock, total};
      }
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return {IoStatus::kWouldBlock, total};
    }
    return {IoStatus::kError, total};
  }
  return {IoStatus::kOk, total};
}

}  // namespace pier::net
