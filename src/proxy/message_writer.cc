#include "src/proxy/message_writer.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstring>
#include <vector>

#include "src/common/short_copy.h"
#include "src/http/field_lines.h"

namespace pier::proxy {
namespace {

// True if `name` appears in the Connection header's token list (those headers
// are hop-by-hop too, RFC 9110 7.6.1).
bool namedByConnection(std::span<const http::Header> headers, std::string_view name) {
  for (const auto& h : headers) {
    if (http::equalsLower(h.name, "connection") && http::headerHasToken(h.value, name)) {
      return true;
    }
  }
  return false;
}

// The tokens of a message's Connection header(s), read once instead of once
// per header (most responses carry "connection: keep-alive").
class ConnectionTokens {
 public:
  explicit ConnectionTokens(std::span<const http::Header> headers) : headers_(headers) {
    for (const auto& h : headers) {
      if (!http::equalsLower(h.name, "connection")) continue;
      std::string_view list = h.value;
      while (true) {
        const size_t comma = list.find(',');
        const std::string_view token = http::detail::trimOws(list.substr(0, comma));
        if (!token.empty()) {
          if (count_ < tokens_.size()) {
            tokens_[count_++] = token;
          } else {
            overflow_ = true;  // an odd message: fall back to reading the header
          }
        }
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    }
  }
  bool names(std::string_view name) const {
    if (overflow_) return namedByConnection(headers_, name);
    for (size_t i = 0; i < count_; ++i) {
      if (http::iequals(tokens_[i], name)) return true;
    }
    return false;
  }

 private:
  std::span<const http::Header> headers_;
  std::array<std::string_view, 8> tokens_{};
  size_t count_ = 0;
  bool overflow_ = false;
};

bool listed(const std::vector<std::string>& names, std::string_view name) {
  for (const auto& n : names) {
    if (http::iequals(n, name)) {
      return true;
    }
  }
  return false;
}

bool replacedBy(const std::vector<config::HeaderToAdd>& adds, std::string_view name) {
  for (const auto& a : adds) {
    if (!a.append && http::iequals(a.name, name)) {
      return true;
    }
  }
  return false;
}

// "name: value\r\n" at `p`, which has room for headerLineSize() bytes.
void writeHeaderLine(char* p, std::string_view name, std::string_view value) {
  copyShort(p, name.data(), name.size());
  p += name.size();
  p[0] = ':';
  p[1] = ' ';
  p += 2;
  copyShort(p, value.data(), value.size());
  p += value.size();
  p[0] = '\r';
  p[1] = '\n';
}

size_t headerLineSize(std::string_view name, std::string_view value) {
  return name.size() + value.size() + 4;
}

// Every forwarded header passes here: room is made once per line, not once
// per piece.
void appendHeader(Buffer& out, std::string_view name, std::string_view value) {
  const size_t size = headerLineSize(name, value);
  writeHeaderLine(out.prepare(size), name, value);
  out.commit(size);
}

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  const size_t at = out.size();
  out.resize(at + headerLineSize(name, value));
  writeHeaderLine(out.data() + at, name, value);
}

}  // namespace

void writeUpstreamRequestHead(std::string& out, const UpstreamRequest& r) {
  const auto& head = *r.head;
  const auto& fwd = *r.forwarding;
  const config::Route* route = r.route;
  const std::span<const http::Header> headers =
      r.headers ? *r.headers : std::span<const http::Header>(head.headers);
  out.clear();
  out.append(head.method);
  out.push_back(' ');
  out.append(r.path_and_query);
  out.append(" HTTP/1.1\r\n");
  appendHeader(out, "host", r.host);

  std::string xff;
  const ConnectionTokens connection_tokens(headers);
  for (const auto& h : headers) {
    std::string_view n = h.name;
    if (http::isHopByHop(n) || http::equalsLower(n, "host") || http::equalsLower(n, "content-length") ||
        http::equalsLower(n, "expect")) {
      continue;
    }
    if (connection_tokens.names(n)) {
      continue;
    }
    if (fwd.x_forwarded_for && http::equalsLower(n, "x-forwarded-for")) {
      if (!xff.empty()) {
        xff.append(", ");
      }
      xff.append(h.value);
      continue;
    }
    if (fwd.x_forwarded_proto && http::equalsLower(n, "x-forwarded-proto")) {
      continue;
    }
    if (route != nullptr &&
        (listed(route->request_headers_to_remove, n) || replacedBy(route->request_headers_to_add, n))) {
      continue;
    }
    appendHeader(out, n, h.value);
  }
  // A route that sets one of these headers (append: false) replaces what
  // pier would generate, not only what the client sent.
  auto routeReplaces = [&](std::string_view name) {
    return route != nullptr && replacedBy(route->request_headers_to_add, name);
  };
  if (fwd.x_forwarded_for && !routeReplaces("x-forwarded-for")) {
    if (!xff.empty()) {
      xff.append(", ");
    }
    xff.append(r.client_ip);
    appendHeader(out, "x-forwarded-for", xff);
  }
  if (fwd.x_forwarded_proto && !routeReplaces("x-forwarded-proto")) {
    appendHeader(out, "x-forwarded-proto", "http");
  }
  if (!r.request_id.empty() && !fwd.request_id_header.empty() &&
      http::findHeader(headers, fwd.request_id_header) == nullptr && !routeReplaces(fwd.request_id_header)) {
    appendHeader(out, fwd.request_id_header, r.request_id);
  }
  if (fwd.via && !routeReplaces("via")) {
    appendHeader(out, "via", head.version == http::Version::kHttp10 ? "1.0 pier" : "1.1 pier");
  }
  if (route != nullptr) {
    for (const auto& a : route->request_headers_to_add) {
      appendHeader(out, a.name, a.value);
    }
  }
  if (head.body == http::BodyKind::kChunked) {
    out.append("transfer-encoding: chunked\r\n");
  } else if (head.body == http::BodyKind::kContentLength) {
    char digits[20];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, head.content_length);
    appendHeader(out, "content-length", std::string_view(digits, static_cast<size_t>(end - digits)));
  } else if (head.method == "POST" || head.method == "PUT" || head.method == "PATCH") {
    out.append("content-length: 0\r\n");
  }
  if (head.upgrade && head.method != "CONNECT") {
    if (const auto* up = http::findHeader(headers, "upgrade")) {
      appendHeader(out, "connection", "upgrade");
      appendHeader(out, "upgrade", up->value);
    }
  }
  out.append("\r\n");
}

void writeDownstreamResponseHead(Buffer& out, const DownstreamResponse& r) {
  const auto& head = *r.head;
  const std::span<const http::Header> headers =
      r.headers ? *r.headers : std::span<const http::Header>(head.headers);
  const config::Route* route = r.route;
  auto reason = head.reason.empty() ? http::reasonPhrase(head.status) : head.reason;
  // "HTTP/1.1 200 OK\r\n": statuses are 100..999, three digits.
  char digits[12];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, head.status);
  const size_t status_size = static_cast<size_t>(end - digits);
  const size_t size = 9 + status_size + 1 + reason.size() + 2;
  char* p = out.prepare(size);
  std::memcpy(p, "HTTP/1.1 ", 9);
  std::memcpy(p + 9, digits, status_size);
  p += 9 + status_size;
  *p++ = ' ';
  if (!reason.empty()) std::memcpy(p, reason.data(), reason.size());
  p += reason.size();
  p[0] = '\r';
  p[1] = '\n';
  out.commit(size);
  const ConnectionTokens connection_tokens(headers);
  bool upgrading = head.status == 101;
  for (const auto& h : headers) {
    std::string_view n = h.name;
    if (http::isHopByHop(n)) {
      continue;
    }
    if (r.framing != DownstreamFraming::kAsIs && http::equalsLower(n, "content-length")) {
      continue;
    }
    if (connection_tokens.names(n)) {
      continue;
    }
    if (route != nullptr &&
        (listed(route->response_headers_to_remove, n) || replacedBy(route->response_headers_to_add, n))) {
      continue;
    }
    appendHeader(out, n, h.value);
  }
  if (route != nullptr) {
    for (const auto& a : route->response_headers_to_add) {
      appendHeader(out, a.name, a.value);
    }
  }
  if (!r.request_id.empty() && !r.request_id_header.empty() &&
      http::findHeader(headers, r.request_id_header) == nullptr &&
      !(route != nullptr && replacedBy(route->response_headers_to_add, r.request_id_header))) {
    appendHeader(out, r.request_id_header, r.request_id);
  }
  if (head.body == http::BodyKind::kChunked && r.framing == DownstreamFraming::kAsIs) {
    out.append("transfer-encoding: chunked\r\n");
  } else if (r.framing == DownstreamFraming::kChunked) {
    out.append("transfer-encoding: chunked\r\n");
  }
  if (upgrading) {
    out.append("connection: upgrade\r\n");
    if (const auto* up = http::findHeader(headers, "upgrade")) {
      appendHeader(out, "upgrade", up->value);
    }
  } else if (r.close) {
    out.append("connection: close\r\n");
  } else if (r.client_http10) {
    out.append("connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

std::string makeRequestId(uint64_t a, uint64_t b) {
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48,
                     b & 0xffffffffffffULL);
}

}  // namespace pier::proxy
