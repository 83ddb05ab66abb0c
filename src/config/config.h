#pragma once
// pier's configuration as plain structs. A Config is parsed from YAML by
// loader.h, validated whole, and then never changes: a reload builds a new one.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pier::config {

using Millis = std::chrono::milliseconds;

// "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80". Host is a literal IP (no DNS).
struct SocketAddress {
  std::string host;  // without brackets
  uint16_t port = 0;
  bool ipv6 = false;
  std::string text() const;  // canonical "host:port" / "[host]:port"
};

struct StringMatch {
  enum class Kind { kExact, kPrefix, kSuffix, kRegex, kPresent };
  Kind kind = Kind::kPresent;
  std::string value;  // unused for kPresent
};

// Matches a request header (or query parameter) by name; `invert` negates.
struct KeyValueMatch {
  std::string name;
  StringMatch match;
  bool invert = false;
};

struct RouteMatch {
  enum class PathKind { kPrefix, kExact, kRegex };
  PathKind path_kind = PathKind::kPrefix;
  std::string path = "/";
  bool case_sensitive = true;
  std::vector<std::string> methods;  // empty: any
  std::vector<KeyValueMatch> headers;
  std::vector<KeyValueMatch> query_params;
};

struct HeaderToAdd {
  std::string name;
  std::string value;
  bool append = false;  // false: replace an existing header of that name
};

struct WeightedCluster {
  std::string cluster;
  uint32_t weight = 1;
};

struct Redirect {
  std::optional<std::string> scheme;
  std::optional<std::string> host;
  std::optional<uint16_t> port;
  std::optional<std::string> path;            // replaces the whole path
  std::optional<std::string> prefix_rewrite;  // replaces the matched prefix
  bool strip_query = false;
  int status = 301;  // 301, 302, 303, 307, 308
};

struct DirectResponse {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain";
};

struct Route {
  std::string name;  // default: "<listener>/<index>"
  RouteMatch match;

  // Exactly one action: cluster, weighted_clusters, redirect or direct_response.
  std::string cluster;
  std::vector<WeightedCluster> weighted_clusters;
  std::optional<Redirect> redirect;
  std::optional<DirectResponse> direct_response;

  std::optional<std::string> prefix_rewrite;
  std::optional<std::string> host_rewrite;
  std::vector<HeaderToAdd> request_headers_to_add;
  std::vector<std::string> request_headers_to_remove;
  std::vector<HeaderToAdd> response_headers_to_add;
  std::vector<std::string> response_headers_to_remove;
  std::optional<Millis> timeout;  // overrides the cluster's response timeout; 0 disables
};

// Hosts are matched exactly ("api.example.com"), by leading wildcard
// ("*.example.com"), trailing wildcard ("api.*") or "*" (any). Port is ignored.
struct VirtualHost {
  std::string name;
  std::vector<std::string> domains;
  std::vector<Route> routes;
};

struct AccessLog {
  bool enabled = false;
  std::string path = "stdout";  // "stdout", "stderr" or a file path
  enum class Format { kText, kJson } format = Format::kText;
  // Text template with %FIELD% placeholders, or, for JSON, the list of fields.
  std::string text_format =
      "%START_TIME% \"%METHOD% %PATH% %PROTOCOL%\" %STATUS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION_MS% "
      "\"%UPSTREAM_HOST%\" \"%REQUEST_ID%\"";
  std::vector<std::string> json_fields = {
      "start_time", "method",      "path",          "protocol",   "status", "bytes_received",
      "bytes_sent", "duration_ms", "upstream_host", "request_id", "route",  "downstream_remote"};
};

struct HttpLimits {
  uint32_t max_request_headers_bytes = 64 * 1024;  // over: 431
  uint32_t max_headers = 100;                      // over: 431
  uint64_t max_request_body_bytes = 0;             // over: 413; 0 means unlimited
  uint32_t max_chunk_extension_bytes = 256;        // over: 400
  Millis request_headers_timeout{10'000};          // slow client: 408
  Millis idle_timeout{60'000};                     // keep-alive idle downstream connection
  uint32_t max_requests_per_connection = 0;        // 0: unlimited
};

struct ForwardingHeaders {
  bool x_forwarded_for = true;
  bool x_forwarded_proto = true;
  std::string request_id_header = "x-request-id";  // empty: none; kept if the client sent one
  bool via = false;
};

enum class Protocol { kHttp, kTcp };

struct Listener {
  std::string name;
  SocketAddress address;
  Protocol protocol = Protocol::kHttp;
  std::vector<VirtualHost> virtual_hosts;  // `routes:` at the listener becomes one vhost matching "*"
  HttpLimits limits;
  ForwardingHeaders forwarding;
  AccessLog access_log;
  std::string cluster;  // for protocol tcp
};

struct Endpoint {
  SocketAddress address;
  uint32_t weight = 1;
};

enum class LbPolicy { kRoundRobin, kLeastRequest, kRandom, kRingHash, kMaglev };

// What consistent-hashing policies hash on.
struct HashOn {
  enum class Kind { kSourceIp, kHeader, kCookie };
  Kind kind = Kind::kSourceIp;
  std::string name;  // header or cookie name
};

struct Cluster {
  std::string name;
  LbPolicy lb = LbPolicy::kRoundRobin;
  HashOn hash_on;
  std::vector<Endpoint> endpoints;
  Millis connect_timeout{2'000};          // over: 503
  Millis response_timeout{15'000};        // until response headers; over: 504. 0 disables
  Millis idle_timeout{60'000};            // pooled upstream connection
  uint32_t max_idle_per_endpoint = 1024;  // per worker
};

struct Admin {
  bool enabled = true;
  SocketAddress address{"127.0.0.1", 9901, false};
};

struct Config {
  std::string source;  // file path (or "<string>") the config came from
  Admin admin;
  uint32_t workers = 0;  // 0: one per core
  Millis drain_timeout{10'000};
  std::string log_level = "info";
  std::vector<Listener> listeners;
  std::vector<Cluster> clusters;

  const Cluster* findCluster(const std::string& name) const;
};

const char* toString(LbPolicy p);
const char* toString(Protocol p);

// The fields an access log may name: JSON keys as listed here, text
// placeholders between percent signs in any case ("%START_TIME%").
std::span<const std::string_view> accessLogFields();

}  // namespace pier::config
