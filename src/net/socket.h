#pragma once
// Thin wrappers over the socket calls pier uses; all sockets are non-blocking
// and close-on-exec. Failures come back as Result/Status with errno's text.
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "src/common/buffer.h"
#include "src/common/result.h"
#include "src/config/config.h"

namespace pier::net {

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset(other.release());
    }
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
  std::string ipText() const;  // "127.0.0.1" / "::1"
  std::string text() const;    // "127.0.0.1:80" / "[::1]:80"
};

Result<Address> resolve(const config::SocketAddress& address);

// A listening socket with SO_REUSEPORT, so each worker can own one.
// `freebind`: bind even if the address is not (yet) local — virtual IPv6
// addresses, which a local route alone does not make bindable.
Result<Fd> listenTcp(const Address& address, int backlog = 4096, bool freebind = false);
// Starts a non-blocking connect; completion is signalled by EPOLLOUT.
Result<Fd> connectTcp(const Address& address);
// 0 when connected, else the pending socket error (SO_ERROR).
int socketError(int fd);

enum class IoStatus { kOk, kWouldBlock, kClosed, kError };
struct IoResult {
  IoStatus status;
  size_t bytes = 0;
  bool short_read = false;  // fewer bytes than asked: the socket was drained
};

// Reads once into `buffer` (up to `max` bytes).
IoResult readSome(int fd, Buffer& buffer, size_t max = 64 * 1024);
// Writes as much of `buffer` as the socket takes, consuming what was written.
IoResult writeSome(int fd, Buffer& buffer);

}  // namespace pier::net
