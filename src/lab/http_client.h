#pragma once
// The lab's HTTP client: enough HTTP/1.1 to GET a page from a lab address
// (literal IPs only) and to tell which pod answered. Used by the prober, the
// demo and readiness checks; not a general client.
#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "src/common/result.h"

namespace pier::lab {

struct Url {
  std::string host;  // literal IPv4 or IPv6 address, without brackets
  uint16_t port = 80;
  std::string path = "/";
  bool ipv6 = false;
};
// "http://10.77.0.100/", "http://[fd77::100]:80/x". Errors for anything else.
Result<Url> parseUrl(std::string_view text);
// sockaddr_in or sockaddr_in6 for the URL's host and port.
bool toSockaddr(const Url& url, sockaddr_storage& out, socklen_t& len);

// "GET <path> HTTP/1.1" with Host and Connection: close.
std::string requestFor(const Url& url);

struct ParsedResponse {
  enum class State { kIncomplete, kComplete, kBad };
  State state = State::kIncomplete;
  int status = 0;
  std::string body;
};
// Parses what arrived so far. Complete once Content-Length body bytes are in
// (or, without Content-Length, at EOF).
ParsedResponse parseResponse(std::string_view data, bool eof);

struct HttpReply {
  int status = 0;
  std::string body;
};
// One blocking GET with an overall timeout, in the calling thread's network
// namespace.
Result<HttpReply> httpGet(const Url& url, std::chrono::milliseconds timeout);

}  // namespace pier::lab
