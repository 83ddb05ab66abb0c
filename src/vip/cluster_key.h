#pragma once
// The cluster key: the shared secret heartbeats are authenticated with. Every
// node of a cluster loads the same file.
//
// File format: either hex (only hex digits and whitespace, so the output of
// `openssl rand -hex 32` or `xxd -p` works as is) or, if anything else is in
// the file, the raw bytes of the whole file, unmodified. At least 16 bytes of
// key either way.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/common/result.h"

namespace pier::vip {

class ClusterKey {
 public:
  static constexpr size_t kMinBytes = 16;
  // Larger files are not keys someone meant to point at.
  static constexpr size_t kMaxFileBytes = 4096;

  static Result<ClusterKey> fromBytes(std::span<const uint8_t> bytes);
  // `content` is a key file's content; `source` names it in error messages.
  static Result<ClusterKey> parse(std::string_view content, std::string_view source);
  static Result<ClusterKey> load(const std::string& path);

  ClusterKey(ClusterKey&& other) noexcept = default;
  ClusterKey& operator=(ClusterKey&& other) noexcept;
  ClusterKey(const ClusterKey&) = delete;
  ClusterKey& operator=(const ClusterKey&) = delete;
  ~ClusterKey();  // wipes the bytes

  std::span<const uint8_t> bytes() const { return bytes_; }

 private:
  explicit ClusterKey(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  void wipe();

  std::vector<uint8_t> bytes_;
};

}  // namespace pier::vip
