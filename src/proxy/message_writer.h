#pragma once
// Serialises the heads pier sends: the request to an upstream and the response
// to a client. This is where hop-by-hop headers are dropped, forwarding headers
// added and route header rules applied.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "src/common/buffer.h"
#include "src/config/config.h"
#include "src/http/codec.h"

namespace pier::proxy {

struct UpstreamRequest {
  const http::RequestHead* head = nullptr;
  const config::ForwardingHeaders* forwarding = nullptr;
  const config::Route* route = nullptr;
  std::string_view path_and_query;  // after rewrites
  std::string_view host;            // after host_rewrite
  std::string_view client_ip;
  std::string_view request_id;      // empty: none
  // The headers to send instead of head->headers (see DownstreamResponse).
  std::optional<std::span<const http::Header>> headers;
};

void writeUpstreamRequestHead(std::string& out, const UpstreamRequest& request);

enum class DownstreamFraming { kAsIs, kChunked, kCloseDelimited };

struct DownstreamResponse {
  const http::ResponseHead* head = nullptr;
  const config::Route* route = nullptr;  // may be null
  DownstreamFraming framing = DownstreamFraming::kAsIs;
  bool close = false;
  bool client_http10 = false;
  std::string_view request_id;         // echoed when non-empty and not already present
  std::string_view request_id_header;  // its name (e.g. "x-request-id")
  // The headers to send instead of head->headers (a filter chain's map,
  // written without copying its entries into the head first).
  std::optional<std::span<const http::Header>> headers;
};

void writeDownstreamResponseHead(Buffer& out, const DownstreamResponse& response);

// A UUID version 4 from two random words.
std::string makeRequestId(uint64_t a, uint64_t b);

}  // namespace pier::proxy
