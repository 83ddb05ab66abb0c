#include "src/l4/udp_proxy.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "src/l4/address.h"

namespace pier::l4 {
namespace {

// Batches read per wakeup before other work on the loop gets a turn.
constexpr int kRoundsPerWakeup = 4;

}  // namespace

Result<net::Fd> bindUdp(const net::Address& address) {
  net::Fd fd(socket(address.storage.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return Error{fmt::format("socket {}: {}", address.text(), std::strerror(errno))};
  }
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (address.storage.ss_family == AF_INET6) {
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (bind(fd.get(), address.sa(), address.length) != 0) {
    return Error{fmt::format("bind {}: {}", address.text(), std::strerror(errno))};
  }
  return fd;
}

struct UdpProxy::Batch {
  size_t max_datagram = 0;
  std::vector<char> storage;
  std::vector<mmsghdr> messages;
  std::vector<iovec> iovecs;
  std::vector<sockaddr_storage> addresses;
  std::vector<mmsghdr> out;

  Batch(size_t count, size_t max)
      : max_datagram(max),
        storage(count * max),
        messages(count),
        iovecs(count),
        addresses(count),
        out(count) {}
  size_t size() const { return messages.size(); }

  // Fresh headers before each recvmmsg (the kernel writes lengths into them).
  void prepare(bool want_address) {
    for (size_t i = 0; i < size(); ++i) {
      iovecs[i] = {storage.data() + i * max_datagram, max_datagram};
      messages[i] = {};
      messages[i].msg_hdr.msg_iov = &iovecs[i];
      messages[i].msg_hdr.msg_iovlen = 1;
      if (want_address) {
        messages[i].msg_hdr.msg_name = &addresses[i];
        messages[i].msg_hdr.msg_namelen = sizeof addresses[i];
      }
    }
  }
  bool truncated(size_t i) const { return (messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0; }
  std::string_view payload(size_t i) const {
    return {static_cast<const char*>(iovecs[i].iov_base), messages[i].msg_len};
  }
};

// One client: its connected socket to the chosen endpoint and idle timer.
class UdpProxy::Session final : public event::IoHandler, public event::Deletable {
 public:
  Session(UdpProxy& proxy, std::string key, const net::Address& client, int endpoint, net::Fd fd)
      : proxy_(proxy),
        key(std::move(key)),
        client(client),
        endpoint(endpoint),
        fd(std::move(fd)),
        idle_timer(proxy.loop_, [this] { proxy_.onSessionTimer(*this); }),
        resume(proxy.loop_, [this] { proxy_.readUpstream(*this); }) {}

  void onIoEvent(uint32_t events) override {
    if (!ended) proxy_.onSessionEvent(*this, events);
  }

 private:
  UdpProxy& proxy_;

 public:
  const std::string key;
  net::Address client;
  const int endpoint;
  net::Fd fd;
  event::Timer idle_timer;
  Deferred resume;  // continues reading after a full budget
  MonoTime last_activity{};
  bool answered = false;  // the endpoint has replied at least once
  bool ended = false;
};

UdpProxy::UdpProxy(event::Loop& loop, net::Fd socket, std::shared_ptr<UpstreamPicker> picker,
                   UdpProxyOptions options)
    : loop_(loop),
      socket_(std::move(socket)),
      picker_(std::move(picker)),
      options_(std::move(options)),
      resume_(loop, [this] { readListener(); }),
      batch_(std::make_unique<Batch>(std::max<size_t>(options_.batch, 1), options_.max_datagram)) {}

UdpProxy::~UdpProxy() {
  if (socket_.valid()) {
    loop_.remove(socket_.get());
  }
  while (!sessions_.empty()) {
    endSession(*sessions_.begin()->second, End::kShutdown);
  }
}

void UdpProxy::start() {
  loop_.add(socket_.get(), *this, EPOLLIN);
  readListener();  // datagrams may have queued before registration
}

void UdpProxy::onIoEvent(uint32_t) { readListener(); }

void UdpProxy::drop(uint64_t n) {
  stats_.datagrams_dropped += n;
  options_.dropped_counter.add(static_cast<int64_t>(n));
}

// --- client -> upstream ---------------------------------------------------------

void UdpProxy::readListener() {
  Batch& b = *batch_;
  for (int round = 0; round < kRoundsPerWakeup; ++round) {
    b.prepare(true);
    int n =
        recvmmsg(socket_.get(), b.messages.data(), static_cast<unsigned>(b.size()), MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) {
        --round;
        continue;
      }
      return;  // EAGAIN: drained; anything else concerns no datagram of ours
    }
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      if (b.truncated(i)) {
        drop();  // forwarding a cut datagram would corrupt it silently
        continue;
      }
      net::Address client;
      std::memcpy(&client.storage, &b.addresses[i], sizeof client.storage);
      client.length = b.messages[i].msg_hdr.msg_namelen;
      forwardToUpstream(client, b.payload(i));
    }
    if (static_cast<size_t>(n) < b.size()) {
      return;  // a short batch means the queue is empty; new data raises a new edge
    }
  }
  resume_.schedule();
}

UdpProxy::Session* UdpProxy::sessionFor(const net::Address& client) {
  std::string key = addressKey(client);
  if (auto it = sessions_.find(key); it != sessions_.end()) {
    return it->second.get();
  }
  if (sessions_.size() >= options_.max_sessions) {
    ++stats_.sessions_rejected;
    return nullptr;
  }
  int previous = -1;
  for (int attempt = 0; attempt < options_.max_pick_attempts; ++attempt) {
    auto picked = picker_->pick(attempt, previous, client);
    if (!picked) {
      break;
    }
    net::Fd fd(socket(picked->address.storage.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid() || connect(fd.get(), picked->address.sa(), picked->address.length) != 0) {
      picker_->onConnectResult(picked->index, false);
      previous = picked->index;
      continue;
    }
    auto session = std::make_unique<Session>(*this, key, client, picked->index, std::move(fd));
    Session* s = session.get();
    loop_.add(s->fd.get(), *s, EPOLLIN);
    s->last_activity = loop_.now();
    s->idle_timer.armAfter(options_.idle_timeout);
    sessions_.emplace(std::move(key), std::move(session));
    ++stats_.sessions_created;
    options_.sessions_created_counter.add();
    options_.active_sessions_gauge.add(1);
    return s;
  }
  ++stats_.sessions_rejected;
  return nullptr;
}

void UdpProxy::forwardToUpstream(const net::Address& client, std::string_view payload) {
  Session* s = sessionFor(client);
  if (s == nullptr) {
    drop();
    return;
  }
  while (true) {
    ssize_t n = send(s->fd.get(), payload.data(), payload.size(), MSG_DONTWAIT);
    if (n >= 0) {
      s->last_activity = loop_.now();
      ++stats_.datagrams_to_upstream;
      stats_.bytes_to_upstream += payload.size();
      options_.bytes_to_upstream_counter.add(static_cast<int64_t>(payload.size()));
      return;
    }
    if (errno == EINTR) continue;
    drop();
    if (errno == ECONNREFUSED) {
      // An ICMP error from an earlier datagram surfaced on this send.
      endSession(*s, End::kFailed);
    }
    return;  // EAGAIN/ENOBUFS: UDP may lose datagrams; queueing here would not help
  }
}

// --- upstream -> client ---------------------------------------------------------

void UdpProxy::onSessionEvent(Session& session, uint32_t events) {
  if ((events & EPOLLERR) && net::socketError(session.fd.get()) != 0) {
    endSession(session, End::kFailed);
    return;
  }
  if (events & EPOLLIN) {
    readUpstream(session);
  }
}

void UdpProxy::readUpstream(Session& session) {
  Batch& b = *batch_;
  for (int round = 0; round < kRoundsPerWakeup && !session.ended; ++round) {
    b.prepare(false);
    int n =
        recvmmsg(session.fd.get(), b.messages.data(), static_cast<unsigned>(b.size()), MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) {
        --round;
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        endSession(session, End::kFailed);  // ECONNREFUSED: the ICMP answer
      }
      return;
    }
    if (!session.answered && n > 0) {
      session.answered = true;
      picker_->onConnectResult(session.endpoint, true);
    }
    forwardToClient(session, static_cast<size_t>(n));
    if (static_cast<size_t>(n) < b.size()) {
      return;
    }
  }
  if (!session.ended) {
    session.resume.schedule();
  }
}

void UdpProxy::forwardToClient(Session& session, size_t count) {
  Batch& b = *batch_;
  size_t m = 0;
  uint64_t bytes = 0;
  for (size_t i = 0; i < count; ++i) {
    if (b.truncated(i)) {
      drop();
      continue;
    }
    b.iovecs[i].iov_len = b.messages[i].msg_len;
    b.out[m] = {};
    b.out[m].msg_hdr.msg_iov = &b.iovecs[i];
    b.out[m].msg_hdr.msg_iovlen = 1;
    b.out[m].msg_hdr.msg_name = &session.client.storage;
    b.out[m].msg_hdr.msg_namelen = session.client.length;
    bytes += b.messages[i].msg_len;
    ++m;
  }
  size_t sent = 0;
  while (sent < m) {
    int r = sendmmsg(socket_.get(), b.out.data() + sent, static_cast<unsigned>(m - sent), MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      drop(m - sent);
      for (size_t i = sent; i < m; ++i) {
        bytes -= b.out[i].msg_hdr.msg_iov->iov_len;
      }
      break;
    }
    sent += static_cast<size_t>(r);
  }
  if (sent > 0) {
    session.last_activity = loop_.now();
  }
  stats_.datagrams_to_downstream += sent;
  stats_.bytes_to_downstream += bytes;
  options_.bytes_to_downstream_counter.add(static_cast<int64_t>(bytes));
}

// --- session lifetime -----------------------------------------------------------

void UdpProxy::onSessionTimer(Session& session) {
  // Activity only records a time; the deadline is checked lazily here.
  MonoTime deadline = session.last_activity + options_.idle_timeout;
  if (loop_.now() >= deadline) {
    endSession(session, End::kExpired);
  } else {
    session.idle_timer.armAt(deadline);
  }
}

void UdpProxy::endSession(Session& session, End how) {
  session.ended = true;
  session.idle_timer.cancel();
  session.resume.cancel();
  loop_.remove(session.fd.get());
  session.fd.reset();
  if (how == End::kFailed) {
    ++stats_.sessions_failed;
    picker_->onConnectResult(session.endpoint, false);
  } else if (how == End::kExpired) {
    ++stats_.sessions_expired;
  }
  picker_->onSessionDone(session.endpoint);
  options_.active_sessions_gauge.add(-1);
  auto it = sessions_.find(session.key);
  std::unique_ptr<Session> owned = std::move(it->second);
  sessions_.erase(it);
  if (how == End::kShutdown) {
    return;  // the proxy is going away, outside any session callback
  }
  // Its event or timer may be what called us: delete after this iteration.
  loop_.deferDelete(std::move(owned));
}

}  // namespace pier::l4
