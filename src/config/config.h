#pragma once
// pier's configuration as plain structs. A Config is parsed from YAML by
// loader.h, validated whole, and then never changes: a reload builds a new one.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

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

// When and how often a request is tried again on another endpoint. Only
// requests that are safe to replay are retried: idempotent methods (or any
// method for connect failures, where nothing was sent), a body no larger than
// `max_buffered_body_bytes`, and never after any response byte went downstream.
struct RetryPolicy {
  enum On : uint32_t {
    kConnectFailure = 1,      // connect refused / timed out (always safe)
    kReset = 2,               // connection reset or closed before response headers
    k5xx = 4,                 // any 5xx response
    kGatewayError = 8,        // 502, 503, 504 responses
    kRetriableStatusCodes = 16,  // the codes listed in retriable_status_codes
  };
  uint32_t retry_on = kConnectFailure | kReset;
  uint32_t num_retries = 1;
  std::vector<int> retriable_status_codes;
  std::optional<Millis> per_try_timeout;        // response-header timeout for each try
  uint64_t max_buffered_body_bytes = 64 * 1024;  // bodies up to this are kept for replay
};

// Script text for a filter, inline in the YAML or read from a file at load.
struct DataSource {
  std::string code;
  std::string filename;  // empty when inline
  // Where it was configured, for errors: "pier.yaml:12:9: listeners[0].filters[0].lua.default_source_code".
  std::string origin;
  // The name scripts' error messages start with: the file name, or the config
  // path for inline code (e.g. "default_source_code").
  std::string chunk_name;
};

// The Lua filter (Envoy's envoy.filters.http.lua, same field names).
struct LuaFilter {
  std::optional<DataSource> default_source_code;
  std::map<std::string, DataSource> source_codes;  // by name, for routes' `name:`
  bool fail_closed = false;  // a script error answers 500 (Envoy: the request continues)
  bool sandbox = false;      // withhold io, os.execute, require, loadfile... from scripts
  // Key of the route metadata that metadata() returns (Envoy's filter name).
  std::string metadata_namespace = "envoy.filters.http.lua";
  std::string stat_prefix;
};

// One entry of a listener's HTTP filter chain.
struct HttpFilter {
  enum class Type { kLua };
  std::string name;  // unique in the listener; routes override the filter under it. Default: the type
  Type type = Type::kLua;
  LuaFilter lua;
  std::string origin;  // "file:line:col: listeners[0].filters[1]"
};

// A route's override of one chain entry (Envoy's LuaPerRoute).
struct RouteFilterOverride {
  bool disabled = false;
  std::string name;                         // run this key of source_codes instead
  std::optional<DataSource> source_code;    // run this inline code instead
  std::shared_ptr<const nlohmann::json> filter_context;  // Envoy's filter_context (object), or null
  std::string origin;
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
  std::optional<RetryPolicy> retry_policy;  // absent: the cluster's default (connect failures only)
  std::map<std::string, RouteFilterOverride> filters;  // by filter name
  // Envoy's metadata.filter_metadata: namespace -> object. Null when absent.
  std::shared_ptr<const nlohmann::json> metadata;
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
  Millis request_timeout{0};                       // whole request until the response ends; 0: none (over: 504/408)
  // Body bytes filters may hold (body(), buffering): over gives 413 on
  // requests and 500 on responses, as Envoy's buffer limit does.
  uint64_t filter_buffer_bytes = 1024 * 1024;
};

struct ForwardingHeaders {
  bool x_forwarded_for = true;
  bool x_forwarded_proto = true;
  std::string request_id_header = "x-request-id";  // empty: none; kept if the client sent one
  bool via = false;
};

enum class Protocol { kHttp, kTcp, kUdp };

struct Listener {
  std::string name;
  SocketAddress address;
  Protocol protocol = Protocol::kHttp;
  std::vector<VirtualHost> virtual_hosts;  // `routes:` at the listener becomes one vhost matching "*"
  HttpLimits limits;
  ForwardingHeaders forwarding;
  AccessLog access_log;
  std::string cluster;        // for protocol tcp and udp
  bool accept_proxy_protocol = false;  // expect a PROXY v1/v2 header first (behind another load balancer)
  Millis tcp_idle_timeout{3'600'000};  // tcp: no bytes either way; udp: per-client session idle
  std::vector<HttpFilter> filters;     // http only: the filter chain, in order
};

struct Endpoint {
  SocketAddress address;
  uint32_t weight = 1;
};

// Active health checking, run once per process (not per worker).
struct HealthCheck {
  enum class Kind { kHttp, kTcp } kind = Kind::kHttp;
  Millis interval{5'000};
  Millis timeout{1'000};
  Millis jitter{0};                  // up to this much is added to each interval, at random
  uint32_t healthy_threshold = 2;    // consecutive passes to become healthy
  uint32_t unhealthy_threshold = 3;  // consecutive failures to become unhealthy
  // http: GET `path` with Host `host` (default: the endpoint address); pass if the status is in a range.
  std::string path = "/";
  std::string host;
  std::vector<std::pair<int, int>> expected_statuses = {{200, 399}};  // inclusive ranges
  // tcp: connect; if `send` is set, write it; if `expect` is set, the reply must contain it.
  std::string send;
  std::string expect;
};

// Passive health: endpoints that fail live traffic are ejected for a while.
struct OutlierDetection {
  bool enabled = true;
  uint32_t consecutive_5xx = 5;              // 0: off
  uint32_t consecutive_gateway_failure = 3;  // connect errors, resets, timeouts, 502-504; 0: off
  Millis base_ejection_time{5'000};          // grows linearly with each repeated ejection
  Millis max_ejection_time{300'000};
  uint32_t max_ejection_percent = 50;        // at most this share of a cluster ejected at once (at least one)
};

// Overflow is answered 503 at once and counted. 0: unlimited. Per process.
struct CircuitBreakers {
  uint32_t max_connections = 0;
  uint32_t max_pending_requests = 0;  // waiting for an upstream connection
  uint32_t max_requests = 0;          // in flight
};

// Retries may add at most `budget_percent` of the active requests (but always
// allow `min_retry_concurrency`), so retries can't multiply an outage.
struct RetryBudget {
  uint32_t budget_percent = 20;
  uint32_t min_retry_concurrency = 3;
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
  std::optional<HealthCheck> health_check;
  OutlierDetection outlier_detection;
  CircuitBreakers circuit_breakers;
  RetryBudget retry_budget;
  uint32_t panic_threshold_percent = 50;  // below this share of healthy endpoints, use all of them
  enum class ProxyProtocol { kNone, kV1, kV2 } send_proxy_protocol = ProxyProtocol::kNone;
  RetryPolicy default_retry_policy;  // for routes without retry_policy
};

struct Admin {
  bool enabled = true;
  SocketAddress address{"127.0.0.1", 9901, false};
};

// Virtual IPs announced on the LAN with ARP/NDP (docs/virtual-ips.md).
struct VipPool {
  std::string name;
  // Expanded from CIDRs ("192.0.2.0/28", "2001:db8::/124") and ranges
  // ("192.0.2.10-192.0.2.20"); text form, canonical. At most 65536 per pool.
  std::vector<std::string> addresses;
  std::vector<std::string> interfaces;  // empty: the virtual_ips.interfaces
  std::vector<std::string> cidrs;       // as written (CIDR form; ranges become covering CIDRs) for the local route
};

struct VipServicePort {
  uint16_t port = 0;
  Protocol protocol = Protocol::kTcp;  // tcp or udp (http listeners are tcp)
  std::string listener;                // a pier listener serving it; empty: announce only
};

struct VipService {
  std::string name;
  std::string pool;     // take an address from this pool (first free, services in name order)...
  std::string address;  // ...or this one (must be in some pool). Services naming one address share it.
  std::string assigned;  // filled at load: the address the service got
  std::vector<VipServicePort> ports;
  // Clusters whose health makes this node eligible (any healthy endpoint).
  // Empty: the clusters of the listeners named in ports; none: always eligible.
  std::vector<std::string> clusters;
  std::string origin;
};

struct VirtualIps {
  bool enabled = false;
  std::string node_name;           // default: the host name
  std::string key_file;            // cluster key (hex or raw, >= 16 bytes); required
  std::vector<std::string> interfaces;  // where ARP/NDP are answered and heartbeats sent
  Millis heartbeat_interval{100};
  uint32_t dead_after_missed = 3;  // a node is dead after this many intervals without a heartbeat
  uint16_t heartbeat_port = 7946;
  std::string heartbeat_group = "239.255.80.80";  // IPv4 multicast group; empty with peers: unicast
  std::vector<std::string> peers;  // unicast heartbeat targets (IPs), instead of / besides multicast
  uint32_t announce_repeats = 5;   // gratuitous ARP / unsolicited NA on takeover
  Millis announce_spacing{1100};   // > 1 s: Linux ignores neighbour updates within its 1 s locktime
  Millis refresh_interval{0};      // periodic re-announcement for switches whose tables age out; 0: off
  bool manage_host = true;         // add local routes for pools and set arp_ignore/arp_announce
  std::vector<VipPool> pools;
  std::vector<VipService> services;
};

struct Config {
  std::string source;  // file path (or "<string>") the config came from
  Admin admin;
  uint32_t workers = 0;  // 0: one per core
  Millis drain_timeout{10'000};
  std::string log_level = "info";
  std::vector<Listener> listeners;
  std::vector<Cluster> clusters;
  VirtualIps virtual_ips;

  const Cluster* findCluster(const std::string& name) const;
};

const char* toString(LbPolicy p);
const char* toString(Protocol p);

// The fields an access log may name: JSON keys as listed here, text
// placeholders between percent signs in any case ("%START_TIME%").
std::span<const std::string_view> accessLogFields();

}  // namespace pier::config
