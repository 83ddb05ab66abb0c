// listeners: where pier accepts connections, and for HTTP the virtual hosts,
// limits, forwarding headers and access log of each.
#include <algorithm>
#include <cctype>
#include <map>
#include <tuple>
#include <unordered_map>

#include "src/config/parse.h"
#include "src/config/values.h"

namespace pier::config {
namespace {

std::string lowered(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string uppered(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// Listener addresses by transport, family and port. Binding the same address
// twice, or any address of a family next to that family's wildcard, would
// either fail or silently split the traffic between two listeners. TCP and
// UDP ports are separate: a udp listener may share a tcp listener's address.
class AddressBook {
 public:
  // "<address> of <path>" of an earlier listener that `address` collides
  // with, or nullopt after recording `address` for `path`.
  std::optional<std::string> claim(bool udp, const SocketAddress& address, const std::string& path) {
    Port& port = ports_[{udp, address.ipv6, address.port}];
    bool wildcard = address.host == "0.0.0.0" || address.host == "::";
    if (port.wildcard) return *port.wildcard;
    if (wildcard && port.first) return *port.first;
    if (auto it = port.hosts.find(address.host); it != port.hosts.end()) return it->second;
    std::string owner = address.text() + " of " + path;
    if (wildcard) {
      port.wildcard = owner;
    } else {
      port.hosts.emplace(address.host, owner);
      if (!port.first) port.first = owner;
    }
    return std::nullopt;
  }

 private:
  struct Port {
    std::optional<std::string> wildcard;
    std::optional<std::string> first;  // of the specific hosts
    std::unordered_map<std::string, std::string> hosts;
  };
  std::map<std::tuple<bool, bool, uint16_t>, Port> ports_;
};

// "*", "example.com", "*.example.com", "api.*"; returns what is wrong.
std::optional<std::string> checkDomain(const std::string& domain) {
  if (domain.empty()) return "must not be empty";
  if (domain == "*") return std::nullopt;
  size_t stars = std::count(domain.begin(), domain.end(), '*');
  bool leading = domain.front() == '*';
  bool trailing = domain.back() == '*';
  if (stars > 1 || (stars == 1 && !leading && !trailing)) {
    return "a wildcard '*' may only appear once, at the start or at the end";
  }
  for (char c : domain) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("-._:[]*").find(c) == std::string_view::npos) {
      return "invalid character in domain \"" + domain + "\"";
    }
  }
  return std::nullopt;
}

// `check_names` is false when the route names would repeat an error already
// reported (a duplicate virtual host name makes its default route names repeat).
void parseRoutes(const Field& field, const std::string& name_prefix, std::vector<Route>& routes,
                 Taken& route_names, bool check_names, const ParseContext& context,
                 const FilterChainScope& chain) {
  auto items = field.list();
  if (!items) return;
  if (items->empty()) {
    field.error("must not be empty");
    return;
  }
  for (size_t i = 0; i < items->size(); ++i) {
    const Field& item = (*items)[i];
    Route route = parseRoute(item, name_prefix + std::to_string(i), context, chain);
    const std::string* other = route_names.claim(route.name, item.path());
    if (other && check_names) {
      item.error("duplicate route name \"" + route.name + "\" (also " + *other + ")");
    }
    routes.push_back(std::move(route));
  }
}

void parseVirtualHosts(const Field& field, const std::string& listener_name, std::vector<VirtualHost>& hosts,
                       Taken& route_names, const ParseContext& context, const FilterChainScope& chain) {
  auto items = field.list();
  if (!items) return;
  if (items->empty()) {
    field.error("must not be empty");
    return;
  }
  Taken vhost_names;
  Taken domains;  // domain -> path of the virtual host that has it
  for (const Field& item : *items) {
    VirtualHost vhost;
    auto m = FieldMap::open(item, {"name", "domains", "routes"});
    if (!m) continue;
    bool unique_name = true;
    if (auto f = m->required("name")) {
      if (auto v = f->name()) {
        vhost.name = *v;
        if (const std::string* other = vhost_names.claim(vhost.name, item.path())) {
          unique_name = false;
          f->error("duplicate virtual host name \"" + vhost.name + "\" (also " + *other + ")");
        }
      }
    }
    if (auto f = m->required("domains")) {
      if (auto list = f->list()) {
        if (list->empty()) f->error("must not be empty");
        for (const Field& d : *list) {
          auto v = d.string();
          if (!v) continue;
          // Host names are case-insensitive; keep one spelling for matching.
          std::string domain = lowered(*v);
          if (auto problem = checkDomain(domain)) {
            d.error(*problem);
            continue;
          }
          if (const std::string* other = domains.claim(domain, item.path())) {
            d.error("domain \"" + domain + "\" is already used by " + *other);
            continue;
          }
          vhost.domains.push_back(domain);
        }
      }
    }
    if (auto f = m->required("routes")) {
      parseRoutes(*f, listener_name + "/" + vhost.name + "/", vhost.routes, route_names, unique_name, context,
                  chain);
    }
    hosts.push_back(std::move(vhost));
  }
}

void parseLimits(const Field& field, HttpLimits& limits) {
  auto m = FieldMap::open(field, {"max_request_headers_bytes", "max_headers", "max_request_body_bytes",
                                  "max_chunk_extension_bytes", "request_headers_timeout", "idle_timeout",
                                  "max_requests_per_connection", "request_timeout", "filter_buffer_bytes"});
  if (!m) return;
  constexpr uint32_t kMax32 = UINT32_MAX;
  m->read("max_request_headers_bytes", limits.max_request_headers_bytes, 1, kMax32);
  m->read("max_headers", limits.max_headers, 1, kMax32);
  m->read("max_request_body_bytes", limits.max_request_body_bytes, 0, UINT64_MAX);
  m->read("max_chunk_extension_bytes", limits.max_chunk_extension_bytes, 0, kMax32);
  m->readDuration("request_headers_timeout", limits.request_headers_timeout, Millis(1));
  m->readDuration("idle_timeout", limits.idle_timeout, Millis(1));
  m->read("max_requests_per_connection", limits.max_requests_per_connection, 0, kMax32);
  m->readDuration("request_timeout", limits.request_timeout);
  m->read("filter_buffer_bytes", limits.filter_buffer_bytes, 1, kMax32);
}

void parseForwarding(const Field& field, ForwardingHeaders& forwarding) {
  auto m = FieldMap::open(field, {"x_forwarded_for", "x_forwarded_proto", "request_id_header", "via"});
  if (!m) return;
  m->read("x_forwarded_for", forwarding.x_forwarded_for);
  m->read("x_forwarded_proto", forwarding.x_forwarded_proto);
  m->read("via", forwarding.via);
  if (auto f = m->get("request_id_header")) {
    // Empty turns request ids off.
    if (auto v = f->string(); v && (v->empty() || f->token("header name"))) forwarding.request_id_header = *v;
  }
}

bool isLogField(std::string_view name) {
  auto fields = accessLogFields();
  return std::find(fields.begin(), fields.end(), name) != fields.end();
}

// As the access log formats it: each '%' opens a placeholder that the next
// '%' closes, and the name between (in any case) must be a field; a final
// unpaired '%' is literal.
void checkTextFormat(const Field& field, const std::string& format) {
  size_t open = format.find('%');
  while (open != std::string::npos) {
    size_t close = format.find('%', open + 1);
    if (close == std::string::npos) return;
    std::string name = format.substr(open + 1, close - open - 1);
    if (!isLogField(lowered(name))) {
      std::string what = "unknown placeholder %" + name + "%";
      if (auto hint = closestMatch(lowered(name), accessLogFields()))
        what += "; did you mean %" + uppered(*hint) + "%?";
      field.error(what + " (every '%' starts a placeholder that the next '%' ends)");
      return;
    }
    open = format.find('%', close + 1);
  }
}

void parseAccessLog(const Field& field, AccessLog& log) {
  auto m = FieldMap::open(field, {"enabled", "path", "format", "text_format", "json_fields"});
  if (!m) return;
  log.enabled = true;  // writing the section turns the log on
  m->read("enabled", log.enabled);
  if (auto f = m->get("path")) {
    if (auto v = f->nonEmptyString()) log.path = *v;
  }
  if (auto f = m->get("format")) {
    if (auto v = f->oneOf({"text", "json"}))
      log.format = *v == "json" ? AccessLog::Format::kJson : AccessLog::Format::kText;
  }
  if (auto f = m->get("text_format")) {
    if (auto v = f->nonEmptyString()) {
      checkTextFormat(*f, *v);
      log.text_format = *v;
    }
  }
  if (auto f = m->get("json_fields")) {
    auto items = f->list();
    if (!items) return;
    if (items->empty()) {
      f->error("must not be empty");
      return;
    }
    std::vector<std::string> fields;
    for (const Field& item : *items) {
      auto v = item.string();
      if (!v) continue;
      if (!isLogField(*v)) {
        std::string what = "unknown access log field \"" + *v + "\"";
        if (auto hint = closestMatch(lowered(*v), accessLogFields()))
          what += "; did you mean \"" + std::string(*hint) + "\"?";
        item.error(what);
        continue;
      }
      if (std::find(fields.begin(), fields.end(), *v) != fields.end()) {
        item.error("field \"" + *v + "\" is listed twice");
        continue;
      }
      fields.push_back(*v);
    }
    log.json_fields = std::move(fields);
  }
}

std::optional<Protocol> protocol(const Field& field) {
  auto v = field.oneOf({"http", "tcp", "udp"});
  if (!v) return std::nullopt;
  if (*v == "tcp") return Protocol::kTcp;
  if (*v == "udp") return Protocol::kUdp;
  return Protocol::kHttp;
}

// tcp and udp listeners: forward every connection (or datagram session) to
// one cluster.
void parseForwarder(const FieldMap& m, Listener& listener, const ParseContext& context) {
  const std::string kind = toString(listener.protocol);
  for (std::string_view key : {"routes", "virtual_hosts", "limits", "forwarding", "filters"}) {
    if (auto f = m.get(key))
      f->error("only applies to http listeners; a " + kind + " listener forwards to its \"cluster\"");
  }
  // UDP has no close: an idle session is the only end a client gives, and
  // DNS-like traffic wants it short, so udp listeners default to 60s.
  if (listener.protocol == Protocol::kUdp) {
    listener.tcp_idle_timeout = Millis(60'000);
  }
  m.readDuration("tcp_idle_timeout", listener.tcp_idle_timeout, Millis(1));
  if (auto f = m.required("cluster")) {
    if (auto v = f->name()) {
      listener.cluster = *v;
      checkClusterReference(*f, *v, context);
      if (listener.protocol == Protocol::kUdp && context.proxy_protocol_clusters.contains(*v)) {
        f->error("cluster \"" + *v + "\" sends a PROXY protocol header (send_proxy_protocol), which udp " +
                 "listeners do not support");
      }
    }
  }
}

void parseHttp(const Field& field, const FieldMap& m, Listener& listener, const ParseContext& context) {
  if (auto f = m.get("cluster")) {
    f->error("only applies to tcp and udp listeners; an http listener picks clusters in its routes");
  }
  if (auto f = m.get("tcp_idle_timeout")) {
    f->error("only applies to tcp and udp listeners; an http listener has limits.idle_timeout");
  }
  if (auto f = m.get("limits")) parseLimits(*f, listener.limits);
  if (auto f = m.get("forwarding")) parseForwarding(*f, listener.forwarding);
  // Before the routes, whose per-filter overrides name the chain's entries.
  FilterChainScope chain;
  chain.filters = &listener.filters;
  chain.path = childPath(field.path(), "filters");
  if (auto f = m.get("filters")) chain = parseHttpFilters(*f, listener.filters, context);
  Taken route_names;
  auto routes = m.get("routes");
  auto vhosts = m.get("virtual_hosts");
  if (routes && vhosts) {
    vhosts->error(
        "conflicts with \"routes\": use routes (one virtual host for every domain) or virtual_hosts, not "
        "both");
  } else if (routes) {
    VirtualHost vhost;
    vhost.name = "default";
    vhost.domains = {"*"};
    parseRoutes(*routes, listener.name + "/", vhost.routes, route_names, true, context, chain);
    listener.virtual_hosts.push_back(std::move(vhost));
  } else if (vhosts) {
    parseVirtualHosts(*vhosts, listener.name, listener.virtual_hosts, route_names, context, chain);
  } else {
    field.error("an http listener needs routes or virtual_hosts");
  }
}

Listener parseListener(const Field& field, Taken& names, AddressBook& addresses,
                       const ParseContext& context) {
  Listener listener;
  auto m = FieldMap::open(
      field, {"name", "address", "protocol", "routes", "virtual_hosts", "cluster", "limits", "forwarding",
              "access_log", "accept_proxy_protocol", "tcp_idle_timeout", "filters"});
  if (!m) return listener;
  if (auto f = m->required("name")) {
    if (auto v = f->name()) {
      listener.name = *v;
      if (const std::string* other = names.claim(listener.name, field.path())) {
        f->error("duplicate listener name \"" + listener.name + "\" (also " + *other + ")");
      }
    }
  }
  // What else is allowed, and which addresses collide, depends on the protocol.
  bool protocol_known = true;
  if (auto f = m->get("protocol")) {
    auto v = protocol(*f);
    protocol_known = v.has_value();
    if (v) listener.protocol = *v;
  }
  bool udp = listener.protocol == Protocol::kUdp;
  if (auto f = m->required("address")) {
    if (auto a = f->address()) {
      listener.address = *a;
      // Collisions depend on the transport, so with an unknown protocol they
      // are not checked. The admin API is TCP: a udp listener may share its port.
      if (protocol_known) {
        if (!udp && context.admin_address && addressesConflict(*context.admin_address, *a)) {
          f->error("address " + a->text() + " conflicts with the admin address " +
                   context.admin_address->text());
        } else if (auto other = addresses.claim(udp, *a, field.path())) {
          f->error("address " + a->text() + " conflicts with " + *other);
        }
      }
    }
  }
  if (!protocol_known) return listener;

  if (auto f = m->get("access_log")) {
    if (udp) {
      f->error("only applies to http and tcp listeners; a udp listener writes no access log");
    } else {
      parseAccessLog(*f, listener.access_log);
    }
  }
  if (auto f = m->get("accept_proxy_protocol")) {
    if (udp) {
      f->error("only applies to http and tcp listeners");
    } else if (auto v = f->boolean()) {
      listener.accept_proxy_protocol = *v;
    }
  }
  if (listener.protocol == Protocol::kHttp) {
    parseHttp(field, *m, listener, context);
  } else {
    parseForwarder(*m, listener, context);
  }
  return listener;
}

}  // namespace

void parseListeners(const Field& field, std::vector<Listener>& listeners, const ParseContext& context) {
  auto items = field.list();
  if (!items) return;
  Taken names;
  AddressBook addresses;
  for (const Field& item : *items) listeners.push_back(parseListener(item, names, addresses, context));
}

}  // namespace pier::config
