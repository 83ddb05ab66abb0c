#include "src/vip/cluster_key.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <openssl/crypto.h>

namespace pier::vip {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Hex digits separated by any whitespace; false if anything else appears.
bool looksHex(std::string_view s, size_t& digits) {
  digits = 0;
  for (char c : s) {
    if (hexValue(c) >= 0) {
      ++digits;
    } else if (!isSpace(c)) {
      return false;
    }
  }
  return digits > 0;
}

std::string tooShort(std::string_view source, size_t have, std::string_view what) {
  return fmt::format(
      "cluster key{}{}: {} bytes of key{}, at least {} needed (create one with `openssl rand -hex 32`)",
      source.empty() ? "" : " ", source, have, what, ClusterKey::kMinBytes);
}

}  // namespace

Result<ClusterKey> ClusterKey::fromBytes(std::span<const uint8_t> bytes) {
  if (bytes.size() < kMinBytes) return Error{tooShort("", bytes.size(), "")};
  return ClusterKey(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

Result<ClusterKey> ClusterKey::parse(std::string_view content, std::string_view source) {
  if (content.empty()) return Error{fmt::format("cluster key {}: empty", source)};
  if (content.size() > kMaxFileBytes) {
    return Error{fmt::format("cluster key {}: {} bytes, more than a key file may hold ({})", source,
                             content.size(), kMaxFileBytes)};
  }
  size_t digits = 0;
  if (!looksHex(content, digits)) {
    if (content.size() < kMinBytes) return Error{tooShort(source, content.size(), " (raw)")};
    return ClusterKey(std::vector<uint8_t>(content.begin(), content.end()));
  }
  if (digits % 2 != 0) {
    return Error{fmt::format("cluster key {}: odd number of hex digits ({}); a hex key is whole bytes",
                             source, digits)};
  }
  if (digits / 2 < kMinBytes) return Error{tooShort(source, digits / 2, " (hex)")};
  std::vector<uint8_t> key;
  key.reserve(digits / 2);
  int high = -1;
  for (char c : content) {
    const int v = hexValue(c);
    if (v < 0) continue;
    if (high < 0) {
      high = v;
    } else {
      key.push_back(static_cast<uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  return ClusterKey(std::move(key));
}

Result<ClusterKey> ClusterKey::load(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{fmt::format("cluster key {}: cannot open: {}", path, std::strerror(errno))};
  // One byte more than allowed tells an oversized file from a full one.
  std::vector<char> buf(kMaxFileBytes + 1);
  size_t have = 0;
  int err = 0;
  while (have < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      break;
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  ::close(fd);
  if (err != 0) {
    OPENSSL_cleanse(buf.data(), buf.size());
    return Error{fmt::format("cluster key {}: cannot read: {}", path, std::strerror(err))};
  }
  auto key = parse(std::string_view(buf.data(), have), path);
  OPENSSL_cleanse(buf.data(), buf.size());
  return key;
}

ClusterKey& ClusterKey::operator=(ClusterKey&& other) noexcept {
  if (this != &other) {
    wipe();
    bytes_ = std::move(other.bytes_);
  }
  return *this;
}

ClusterKey::~ClusterKey() { wipe(); }

void ClusterKey::wipe() {
  if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

}  // namespace pier::vip
