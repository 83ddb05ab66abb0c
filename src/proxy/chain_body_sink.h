#pragma once
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "src/filters/header_map.h"
#include "src/http/codec.h"

namespace pier::proxy {

// Collects a decoded body piece for the filter chain. The chain runs only
// after decode() returns: a filter may answer and end the request, which must
// not happen while the decoder still reads the connection's input buffer.
class ChainBodySink final : public http::BodySink {
 public:
  // `data`: a buffer of the connection's, reused for every piece.
  explicit ChainBodySink(std::string& data) : data_(data) { data_.clear(); }
  void onBodyData(std::string_view data) override { data_.append(data); }
  void onTrailers(std::span<const http::Header> trailers) override {
    if (trailers.empty()) return;
    trailers_ = std::make_unique<filters::HeaderMap>();
    for (const auto& t : trailers) {
      if (http::isHopByHop(t.name) || http::equalsLower(t.name, "content-length") ||
          http::equalsLower(t.name, "host")) {
        continue;
      }
      trailers_->add(t.name, t.value);
    }
  }
  std::string& data() { return data_; }
  std::unique_ptr<filters::HeaderMap> takeTrailers() { return std::move(trailers_); }

 private:
  std::string& data_;
  std::unique_ptr<filters::HeaderMap> trailers_;
};


}  // namespace pier::proxy
