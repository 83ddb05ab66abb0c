#include "src/lab/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace pier::lab {
namespace {

using Clock = std::chrono::steady_clock;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

Result<Url> parseUrl(std::string_view text) {
  constexpr std::string_view kScheme = "http://";
  if (text.substr(0, kScheme.size()) != kScheme) return Error{"URL must start with http://"};
  text.remove_prefix(kScheme.size());
  Url url;
  auto slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  url.path = slash == std::string_view::npos ? "/" : std::string(text.substr(slash));
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return Error{"URL: unclosed ["};
    url.host = std::string(authority.substr(1, close - 1));
    url.ipv6 = true;
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Error{"URL: junk after ]"};
      port_text = rest.substr(1);
    }
  } else {
    auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
      return Error{"URL: bad port"};
    url.port = static_cast<uint16_t>(port);
  }
  sockaddr_storage ss;
  socklen_t len;
  if (!toSockaddr(url, ss, len)) return Error{"URL: the host must be a literal IP address"};
  return url;
}

bool toSockaddr(const Url& url, sockaddr_storage& out, socklen_t& len) {
  std::memset(&out, 0, sizeof out);
  if (url.ipv6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&out);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(url.port);
    len = sizeof *a;
    return inet_pton(AF_INET6, url.host.c_str(), &a->sin6_addr) == 1;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&out);
  a->sin_family = AF_INET;
  a->sin_port = htons(url.port);
  len = sizeof *a;
  return inet_pton(AF_INET, url.host.c_str(), &a->sin_addr) == 1;
}

std::string requestFor(const Url& url) {
  std::string host = url.ipv6 ? "[" + url.host + "]" : url.host;
  return fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: pier-lab\r\nConnection: close\r\n\r\n",
                     url.path, host);
}

ParsedResponse parseResponse(std::string_view data, bool eof) {
  ParsedResponse r;
  auto head_end = data.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    r.state = eof ? ParsedResponse::State::kBad : ParsedResponse::State::kIncomplete;
    return r;
  }
  std::string_view head = data.substr(0, head_end);
  std::string_view body = data.substr(head_end + 4);
  auto line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
    r.state = ParsedResponse::State::kBad;
    return r;
  }
  auto code = status_line.substr(9, 3);
  auto [end, ec] = std::from_chars(code.data(), code.data() + 3, r.status);
  if (ec != std::errc() || end != code.data() + 3) {
    r.state = ParsedResponse::State::kBad;
    return r;
  }
  std::optional<size_t> length;
  std::string_view fields =
      line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
  while (!fields.empty()) {
    auto nl = fields.find("\r\n");
    std::string_view line = fields.substr(0, nl);
    fields = nl == std::string_view::npos ? std::string_view{} : fields.substr(nl + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (iequals(trim(line.substr(0, colon)), "content-length")) {
      auto v = trim(line.substr(colon + 1));
      size_t n = 0;
      auto [e, err] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (err != std::errc() || e != v.data() + v.size()) {
        r.state = ParsedResponse::State::kBad;
        return r;
      }
      length = n;
    }
  }
  if (length) {
    if (body.size() < *length) {
      r.state = eof ? ParsedResponse::State::kBad : ParsedResponse::State::kIncomplete;
      return r;
    }
    r.body = std::string(body.substr(0, *length));
    r.state = ParsedResponse::State::kComplete;
    return r;
  }
  if (!eof) return r;
  r.body = std::string(body);
  r.state = ParsedResponse::State::kComplete;
  return r;
}

Result<HttpReply> httpGet(const Url& url, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_storage ss;
  socklen_t len;
  if (!toSockaddr(url, ss, len)) return Error{"bad address"};
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{fmt::format("socket: {}", std::strerror(errno))};
  auto fail = [&](std::string what) -> Result<HttpReply> {
    close(fd);
    return Error{std::move(what)};
  };
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    return fail(fmt::format("connect: {}", std::strerror(errno)));
  }
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, remainingMs(deadline)) <= 0) return fail("connect: timed out");
  int err = 0;
  socklen_t elen = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err != 0) return fail(fmt::format("connect: {}", std::strerror(err)));
  std::string req = requestFor(url);
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return fail("send failed");
  }
  std::string data;
  for (;;) {
    auto parsed = parseResponse(data, false);
    if (parsed.state == ParsedResponse::State::kComplete) {
      close(fd);
      return HttpReply{parsed.status, std::move(parsed.body)};
    }
    if (parsed.state == ParsedResponse::State::kBad) return fail("bad response");
    p = {fd, POLLIN, 0};
    if (poll(&p, 1, remainingMs(deadline)) <= 0) return fail("response: timed out");
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return fail(fmt::format("recv: {}", std::strerror(errno)));
    if (n == 0) {
      parsed = parseResponse(data, true);
      if (parsed.state != ParsedResponse::State::kComplete) return fail("connection closed early");
      close(fd);
      return HttpReply{parsed.status, std::move(parsed.body)};
    }
    data.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace pier::lab
