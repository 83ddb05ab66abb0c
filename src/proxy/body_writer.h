#pragma once
// Copies a decoded body to a buffer, re-framing it as chunked when asked.
// Re-framing (rather than relaying the sender's bytes) is what makes the
// message pier forwards unambiguous, whatever the sender wrote.
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "src/common/buffer.h"
#include "src/http/codec.h"

namespace pier::proxy {

class BodyWriter final : public http::BodySink {
 public:
  // `replay`, when set, receives a copy of everything written (for retries).
  BodyWriter(Buffer& out, bool chunked, bool trailers_allowed, std::string* replay = nullptr)
      : out_(out), chunked_(chunked), trailers_allowed_(trailers_allowed), replay_(replay) {}

  void onBodyData(std::string_view data) override {
    if (data.empty()) {
      return;
    }
    if (chunked_) {
      char size[24];
      auto* end = fmt::format_to_n(size, sizeof size, "{:x}\r\n", data.size()).out;
      write(std::string_view(size, static_cast<size_t>(end - size)));
    }
    write(data);
    if (chunked_) {
      write("\r\n");
    }
  }

  void onTrailers(std::span<const http::Header> trailers) override {
    if (!chunked_) {
      return;
    }
    write("0\r\n");
    if (trailers_allowed_) {
      for (const auto& t : trailers) {
        // Fields that frame or route a message have no business in trailers.
        if (http::isHopByHop(t.name) || http::equalsLower(t.name, "content-length") ||
            http::equalsLower(t.name, "host")) {
          continue;
        }
        write(t.name);
        write(": ");
        write(t.value);
        write("\r\n");
      }
    }
    write("\r\n");
  }

 private:
  void write(std::string_view s) {
    out_.append(s);
    if (replay_ != nullptr) {
      replay_->append(s);
    }
  }

  Buffer& out_;
  bool chunked_;
  bool trailers_allowed_;
  std::string* replay_;
};

}  // namespace pier::proxy
