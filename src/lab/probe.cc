#include "src/lab/probe.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "src/lab/plan.h"

namespace pier::lab {
namespace {

struct Attempt {
  int fd = -1;
  int64_t start_ns = 0;
  bool sent = false;
  std::string data;
};

std::string errnoKind(int err) {
  switch (err) {
    case ECONNREFUSED:
      return "refused";
    case ECONNRESET:
    case EPIPE:
      return "reset";
    case EHOSTUNREACH:
    case ENETUNREACH:
      return "unreachable";
    case ETIMEDOUT:
      return "timeout";
    default:
      return std::strerror(err);
  }
}

// Closing with a zero linger sends RST and leaves no TIME_WAIT, so a
// thousand connections a second never exhaust the client's ports.
void abortClose(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

}  // namespace

int64_t monotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string labelFromBody(std::string_view body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' '))
    body.remove_suffix(1);
  if (body.substr(0, 4) == "pod ") body.remove_prefix(4);
  return std::string(body);
}

std::string formatRaw(const ProbeResult& r) {
  return fmt::format("{} {} {} {}", r.start_ns, r.end_ns, r.ok ? "ok" : "fail",
                     r.detail.empty() ? "-" : r.detail);
}

std::string transitionKey(const ProbeResult& r) {
  if (!r.ok) return "fail";
  auto node = nodeOfLabel(r.detail);
  return node ? fmt::format("ok node{}", *node) : "ok ?";
}

Status Prober::run(int stop_fd, int64_t until_ns, const std::function<void(const ProbeResult&)>& sink) {
  sockaddr_storage addr;
  socklen_t addr_len;
  if (!toSockaddr(options_.url, addr, addr_len)) return Error{"probe: bad address"};
  const std::string request = requestFor(options_.url);
  const int64_t timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.timeout).count();

  int ep = epoll_create1(EPOLL_CLOEXEC);
  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (ep < 0 || timer < 0) {
    if (ep >= 0) close(ep);
    if (timer >= 0) close(timer);
    return Error{fmt::format("probe: {}", std::strerror(errno))};
  }
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.interval).count();
  itimerspec its{};
  its.it_interval.tv_sec = ns / 1'000'000'000;
  its.it_interval.tv_nsec = ns % 1'000'000'000;
  its.it_value.tv_nsec = 1;  // first tick at once
  timerfd_settime(timer, 0, &its, nullptr);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = timer;
  epoll_ctl(ep, EPOLL_CTL_ADD, timer, &ev);
  if (stop_fd >= 0) {
    ev.data.fd = stop_fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd, &ev);
  }

  std::map<int, std::unique_ptr<Attempt>> live;
  uint64_t started = 0;
  uint64_t finished = 0;
  auto finish = [&](int fd, bool ok, std::string detail) {
    auto it = live.find(fd);
    if (it == live.end()) return;
    ProbeResult r{it->second->start_ns, monotonicNs(), ok, std::move(detail)};
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    abortClose(fd);
    live.erase(it);
    ++finished;
    sink(r);
  };
  auto startAttempt = [&] {
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ++started;
      ++finished;
      int64_t now = monotonicNs();
      sink({now, now, false, errnoKind(errno)});
      return;
    }
    auto a = std::make_unique<Attempt>();
    a->fd = fd;
    a->start_ns = monotonicNs();
    ++started;
    live.emplace(fd, std::move(a));
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 && errno != EINPROGRESS) {
      finish(fd, false, errnoKind(errno));
      return;
    }
    epoll_event e{};
    e.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    e.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  };
  auto onReady = [&](int fd, uint32_t events) {
    auto it = live.find(fd);
    if (it == live.end()) return;
    Attempt& a = *it->second;
    if (!a.sent) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return finish(fd, false, errnoKind(err));
      if (!(events & EPOLLOUT)) return;
      if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        return finish(fd, false, errnoKind(errno));
      }
      a.sent = true;
      epoll_event e{};
      e.events = EPOLLIN | EPOLLRDHUP;
      e.data.fd = fd;
      epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
    }
    for (;;) {
      char buf[4096];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n < 0) return finish(fd, false, errnoKind(errno));
      bool eof = n == 0;
      if (!eof) a.data.append(buf, static_cast<size_t>(n));
      auto parsed = parseResponse(a.data, eof);
      if (parsed.state == ParsedResponse::State::kComplete) {
        if (parsed.status == 200) return finish(fd, true, labelFromBody(parsed.body));
        return finish(fd, false, fmt::format("status-{}", parsed.status));
      }
      if (parsed.state == ParsedResponse::State::kBad) return finish(fd, false, eof ? "eof" : "bad-response");
      if (eof) return finish(fd, false, "eof");
    }
  };

  bool stop = false;
  epoll_event events[64];
  while (!stop) {
    int n = epoll_wait(ep, events, 64, 100);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == stop_fd) {
        stop = true;
      } else if (fd == timer) {
        uint64_t ticks;
        (void)!read(timer, &ticks, sizeof ticks);
        // Behind schedule (a starved CPU): start one, not a burst.
        bool more = options_.max_attempts == 0 || started < options_.max_attempts;
        if (more && live.size() < options_.max_in_flight) startAttempt();
      } else {
        onReady(fd, events[i].events);
      }
    }
    const int64_t now = monotonicNs();
    for (auto it = live.begin(); it != live.end();) {
      int fd = it->first;
      bool expired = now - it->second->start_ns >= timeout_ns;
      ++it;  // finish() erases fd's entry
      if (expired) finish(fd, false, "timeout");
    }
    if (until_ns != 0 && now >= until_ns) stop = true;
    if (options_.max_attempts != 0 && finished >= options_.max_attempts) stop = true;
  }
  for (auto& [fd, a] : live) abortClose(fd);
  close(timer);
  close(ep);
  return {};
}

}  // namespace pier::lab
