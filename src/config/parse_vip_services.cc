// virtual_ips.services: what is served on each virtual IP. A service takes
// the first free address of a pool or names one; services that name the same
// address share it (and are always announced from the same node). Addresses
// are assigned at load, so every node of a cluster, given the same file,
// gives each service the same address.
#include <algorithm>
#include <cstdint>
#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "src/config/ip_range.h"
#include "src/config/parse.h"
#include "src/config/values.h"

namespace pier::config {
namespace {


std::string originOf(const Field& field, const ParseContext& context) {
  const YAML::Mark& mark = field.mark();
  return context.source + ":" + std::to_string(mark.line < 0 ? 1 : mark.line + 1) + ":" +
         std::to_string(mark.column < 0 ? 1 : mark.column + 1) + ": " + field.path();
}

std::string portText(const VipServicePort& port) {
  return std::to_string(port.port) + "/" + toString(port.protocol);
}

// A service's fields as read, kept with their positions until addresses are
// assigned and the listeners can be checked against them.
struct PendingPort {
  Field item;
  const Listener* listener = nullptr;
  std::optional<Field> listener_field;
  bool duplicate = false;  // of an earlier port of the same service
};

struct PendingService {
  Field item;
  std::optional<Field> pool_field;
  size_t pool = SIZE_MAX;  // index, when `pool` names a known one
  bool has_address = false;
  std::vector<PendingPort> ports;
};

void reportUnknown(const Field& field, std::string_view what, const std::string& name,
                   const std::vector<std::string_view>& known) {
  std::string message = "unknown " + std::string(what) + " " + quote(name);
  if (known.empty()) {
    message += " (no " + std::string(what) + "s are defined)";
  } else if (auto hint = closestMatch(name, known)) {
    message += "; did you mean " + quote(*hint) + "?";
  }
  field.error(message);
}

// The listeners ports may name, by name.
struct ListenerScope {
  ListenerScope(const std::vector<Listener>& listeners, bool complete) : known(complete) {
    for (const Listener& l : listeners) {
      by_name.emplace(l.name, &l);  // the first of duplicates, as reported there
      names.push_back(l.name);
    }
  }
  const Listener* find(const std::string& name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  }

  bool known;  // false: unknown names are not reported (see parseVirtualIps)
  std::unordered_map<std::string, const Listener*> by_name;
  std::vector<std::string_view> names;  // for hints
};

// A listener serves a port of a service when it listens on that port, with
// that transport (http is tcp).
void checkListenerPort(const Field& field, const Listener& listener, const VipServicePort& port) {
  if (listener.address.port == 0) return;  // its address had an error of its own
  bool udp = listener.protocol == Protocol::kUdp;
  if (udp != (port.protocol == Protocol::kUdp)) {
    std::string kind = toString(listener.protocol);
    field.error("listener " + quote(listener.name) + " is " + (kind == "http" ? "an " : "a ") + kind +
                " listener, so it cannot serve " + portText(port));
  } else if (listener.address.port != port.port) {
    field.error("listener " + quote(listener.name) + " listens on " + listener.address.text() +
                ", not on port " + std::to_string(port.port));
  }
}

// ...and on the service's address, or on the wildcard of its family.
void checkListenerHost(const Field& field, const Listener& listener, const VipServicePort& port,
                       const std::string& assigned) {
  if (listener.address.port != port.port) return;  // reported already
  bool v6 = assigned.find(':') != std::string::npos;
  const char* wildcard = v6 ? "::" : "0.0.0.0";
  if (listener.address.host == assigned || (listener.address.ipv6 == v6 && listener.address.host == wildcard))
    return;
  SocketAddress own{assigned, port.port, v6};
  SocketAddress any{wildcard, port.port, v6};
  field.error("listener " + quote(listener.name) + " listens on " + listener.address.text() +
              ", which does not receive traffic for " + assigned + "; it must listen on " + own.text() +
              " or " + any.text());
}

void parsePorts(const Field& field, VipService& service, PendingService& pending,
                const ListenerScope& listeners) {
  auto items = field.list();
  if (!items) return;
  if (items->empty()) {
    field.error("must not be empty");
    return;
  }
  Taken seen;
  for (const Field& item : *items) {
    auto m = FieldMap::open(item, {"port", "protocol", "listener"});
    if (!m) continue;
    VipServicePort port;
    PendingPort entry{item};
    auto port_field = m->required("port");
    if (!port_field) continue;
    auto number = port_field->unsignedInt(1, 65535);
    if (!number) continue;
    port.port = static_cast<uint16_t>(*number);
    if (auto f = m->get("protocol")) {
      auto v = f->oneOf({"tcp", "udp"});
      if (!v) continue;
      port.protocol = *v == "udp" ? Protocol::kUdp : Protocol::kTcp;
    }
    if (const std::string* other = seen.claim(portText(port), item.path())) {
      item.error("port " + portText(port) + " is listed twice (also " + *other + ")");
      entry.duplicate = true;
    }
    if (auto f = m->get("listener")) {
      if (auto v = f->name()) {
        port.listener = *v;
        entry.listener = listeners.find(*v);
        entry.listener_field = *f;
        if (entry.listener) {
          checkListenerPort(*f, *entry.listener, port);
        } else if (listeners.known) {
          reportUnknown(*f, "listener", *v, listeners.names);
        }
      }
    }
    service.ports.push_back(port);
    pending.ports.push_back(std::move(entry));
  }
}

void parseClusterNames(const Field& field, std::vector<std::string>& clusters, const ParseContext& context) {
  auto items = field.list();
  if (!items) return;
  Taken seen;
  for (const Field& item : *items) {
    auto v = item.name();
    if (!v) continue;
    if (const std::string* other = seen.claim(*v, item.path())) {
      item.error("cluster " + quote(*v) + " is listed twice (also " + *other + ")");
      continue;
    }
    checkClusterReference(item, *v, context);
    clusters.push_back(*v);
  }
}

VipService parseService(const Field& item, PendingService& pending, Taken& names,
                        const std::vector<VipPool>& pools, const VipPoolScope& scope,
                        const ListenerScope& listeners, const ParseContext& context) {
  VipService service;
  service.origin = originOf(item, context);
  auto m = FieldMap::open(item, {"name", "pool", "address", "ports", "clusters"});
  if (!m) return service;
  if (auto f = m->required("name")) {
    if (auto v = f->name()) {
      service.name = *v;
      if (const std::string* other = names.claim(service.name, item.path()))
        f->error("duplicate service name " + quote(service.name) + " (also " + *other + ")");
    }
  }
  auto pool = m->get("pool");
  auto address = m->get("address");
  if (pool && address) {
    address->error("conflicts with \"pool\": a service takes an address from a pool or names one, not both");
  } else if (!pool && !address) {
    item.error("needs pool (take a free address from it) or address (use this one)");
  } else if (pool) {
    pending.pool_field = pool;
    if (auto v = pool->name()) {
      service.pool = *v;
      if (auto it = scope.by_name.find(*v); it != scope.by_name.end()) {
        pending.pool = it->second;
      } else if (scope.complete) {
        std::vector<std::string_view> known;
        for (const VipPool& p : pools) known.push_back(p.name);
        reportUnknown(*pool, "pool", *v, known);
      }
    }
  } else if (auto v = address->string()) {
    auto ip = parseIp(*v);
    if (!ip) {
      address->error(quote(*v) + " is not an IP address");
    } else {
      std::string canonical = formatIp(*ip);
      if (scope.by_address.contains(canonical)) {
        service.address = canonical;
        pending.has_address = true;
      } else if (scope.complete) {
        address->error(canonical + " is not in any pool; add it to one of virtual_ips.pools");
      }
    }
  }
  if (auto f = m->required("ports")) parsePorts(*f, service, pending, listeners);
  if (auto f = m->get("clusters")) parseClusterNames(*f, service.clusters, context);
  return service;
}

// Services naming an address get it; then, in name order (so that the
// result does not depend on the order of the file), each pool service gets
// its pool's first address that no other service has.
void assignAddresses(std::vector<VipService>& services, const std::vector<PendingService>& pending,
                     const std::vector<VipPool>& pools, const VipPoolScope& scope) {
  std::unordered_set<std::string> taken;
  std::vector<size_t> from_pools;
  for (size_t i = 0; i < services.size(); ++i) {
    if (pending[i].has_address) {
      services[i].assigned = services[i].address;
      taken.insert(services[i].address);
    } else if (pending[i].pool != SIZE_MAX) {
      from_pools.push_back(i);
    }
  }
  std::stable_sort(from_pools.begin(), from_pools.end(),
                   [&](size_t a, size_t b) { return services[a].name < services[b].name; });
  // Per pool, where the search for a free address resumes: addresses before
  // it are taken, and taken addresses are never given back.
  std::vector<size_t> next(pools.size(), 0);
  for (size_t i : from_pools) {
    const VipPool& pool = pools[pending[i].pool];
    size_t& at = next[pending[i].pool];
    while (at < pool.addresses.size() && taken.contains(pool.addresses[at])) ++at;
    if (at == pool.addresses.size()) {
      // A pool with errors may have lost the addresses this service would get.
      if (scope.complete) {
        pending[i].pool_field->error(
            "pool " + quote(pool.name) + " has no free address left for service " + quote(services[i].name) +
            ": its " + std::to_string(pool.addresses.size()) + " addresses are all taken by other services");
      }
      continue;
    }
    services[i].assigned = pool.addresses[at];
    taken.insert(pool.addresses[at]);
  }
}

// Services sharing an address share its ports: each port/protocol pair may
// be served by one of them only.
void checkSharedPorts(const std::vector<VipService>& services, const std::vector<PendingService>& pending) {
  std::map<std::tuple<std::string, uint16_t, Protocol>, size_t> owners;  // -> service index
  for (size_t i = 0; i < services.size(); ++i) {
    const VipService& service = services[i];
    if (service.assigned.empty()) continue;
    for (size_t p = 0; p < service.ports.size(); ++p) {
      if (pending[i].ports[p].duplicate) continue;
      const VipServicePort& port = service.ports[p];
      auto [it, inserted] = owners.emplace(std::tuple(service.assigned, port.port, port.protocol), i);
      if (inserted) continue;
      const PendingService& other = pending[it->second];
      pending[i].ports[p].item.error("service " + quote(service.name) + " and service " +
                                     quote(services[it->second].name) + " (" + other.item.path() +
                                     ") both serve " + portText(port) + " on " + service.assigned +
                                     "; services sharing an address need different ports");
    }
  }
}

}  // namespace

void parseVipServices(const Field& field, std::vector<VipService>& services,
                      const std::vector<VipPool>& pools, const VipPoolScope& scope,
                      const std::vector<Listener>& listeners, bool listeners_known,
                      const ParseContext& context) {
  auto items = field.list();
  if (!items) return;
  Taken names;
  ListenerScope listener_scope(listeners, listeners_known);
  std::vector<PendingService> pending;
  for (const Field& item : *items) {
    pending.push_back(PendingService{item});
    services.push_back(parseService(item, pending.back(), names, pools, scope, listener_scope, context));
  }
  assignAddresses(services, pending, pools, scope);
  checkSharedPorts(services, pending);
  for (size_t i = 0; i < services.size(); ++i) {
    if (services[i].assigned.empty()) continue;
    for (size_t p = 0; p < services[i].ports.size(); ++p) {
      const PendingPort& port = pending[i].ports[p];
      if (port.listener)
        checkListenerHost(*port.listener_field, *port.listener, services[i].ports[p], services[i].assigned);
    }
  }
}

}  // namespace pier::config
