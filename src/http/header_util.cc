// Helpers shared by the codec and the proxy.
#include <cstdint>
#include <cstring>

#include "src/http/chars.h"
#include "src/http/codec.h"
#include "src/http/field_lines.h"

namespace pier::http {

namespace {

// Equal after folding case (letters only).
struct SameFolded {
  template <typename Word>
  static bool equal(const char* a, const char* b) {
    const Word x = detail::loadWord<Word>(a);
    const Word y = detail::loadWord<Word>(b);
    return x == y || detail::foldWord(x) == detail::foldWord(y);
  }
};

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && detail::sameBytes<SameFolded>(a.data(), b.data(), a.size());
}

bool isHopByHop(std::string_view name) {
  switch (name.size()) {
    case 2:
      return equalsLower(name, "te");
    case 7:
      return equalsLower(name, "trailer") || equalsLower(name, "upgrade");
    case 10:
      return equalsLower(name, "connection") || equalsLower(name, "keep-alive");
    case 16:
      return equalsLower(name, "proxy-connection");
    case 17:
      return equalsLower(name, "transfer-encoding");
    default:
      return false;
  }
}

bool headerHasToken(std::string_view list, std::string_view token) {
  while (true) {
    const size_t comma = list.find(',');
    if (iequals(detail::trimOws(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

const Header* findHeader(std::span<const Header> headers, std::string_view name) {
  for (const Header& h : headers) {
    if (iequals(h.name, name)) return &h;
  }
  return nullptr;
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void appendChunkHeader(std::string& out, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[sizeof(size_t) * 2];
  size_t n = 0;
  do {
    buf[sizeof(buf) - 1 - n] = kHex[size & 0xf];
    size >>= 4;
    ++n;
  } while (size != 0);
  out.append(buf + sizeof(buf) - n, n);
  out.append("\r\n", 2);
}

void appendLastChunk(std::string& out, std::span<const Header> trailers) {
  out.append("0\r\n", 3);
  for (const Header& h : trailers) {
    out.append(h.name);
    out.append(": ", 2);
    out.append(h.value);
    out.append("\r\n", 2);
  }
  out.append("\r\n", 2);
}

}  // namespace pier::http
