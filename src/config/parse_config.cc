// The top level of the schema: admin, process settings, and the order in
// which sections are read (clusters before listeners, whatever the file's
// order, so that routes can be checked against the declared clusters).
#include "src/config/parse.h"
#include "src/config/values.h"

namespace pier::config {
namespace {

void parseAdmin(const Field& field, Admin& admin) {
  auto m = FieldMap::open(field, {"enabled", "address"});
  if (!m) return;
  m->read("enabled", admin.enabled);
  if (auto f = m->get("address")) {
    if (auto a = f->address()) admin.address = *a;
  }
}

}  // namespace

void checkClusterReference(const Field& field, const std::string& name, const ParseContext& context) {
  if (!context.clusters_known || context.cluster_set.contains(name)) return;
  const std::vector<std::string>& names = context.cluster_names;
  std::string what = "unknown cluster \"" + name + "\"";
  if (names.empty()) {
    what += " (no clusters are defined)";
  } else if (names.size() <= 1000) {  // hints cost an edit distance per name
    std::vector<std::string_view> candidates(names.begin(), names.end());
    if (auto hint = closestMatch(name, candidates)) what += "; did you mean \"" + std::string(*hint) + "\"?";
  }
  field.error(what);
}

bool addressesConflict(const SocketAddress& a, const SocketAddress& b) {
  if (a.port != b.port || a.ipv6 != b.ipv6) return false;
  auto wildcard = [](const SocketAddress& s) { return s.host == "0.0.0.0" || s.host == "::"; };
  return a.host == b.host || wildcard(a) || wildcard(b);
}

void parseConfig(const YAML::Node& root, Config& config, Diagnostics& diagnostics) {
  Field top(root, "", root.Mark(), &diagnostics);
  auto m = FieldMap::open(
      top, {"admin", "workers", "drain_timeout", "log_level", "listeners", "clusters", "virtual_ips"});
  if (!m) return;
  if (auto f = m->get("admin")) parseAdmin(*f, config.admin);
  m->read("workers", config.workers, 0, 256);
  m->readDuration("drain_timeout", config.drain_timeout);
  if (auto f = m->get("log_level")) {
    if (auto v = f->oneOf({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      config.log_level = *v;
  }

  ParseContext context;
  context.source = config.source;
  if (config.admin.enabled) context.admin_address = config.admin.address;
  if (auto f = m->get("clusters")) parseClusters(*f, config.clusters, context);
  auto listeners = m->get("listeners");
  if (listeners) parseListeners(*listeners, config.listeners, context);
  // Virtual IP services name listeners: read after them, whatever the file's order.
  if (auto f = m->get("virtual_ips")) {
    bool listeners_known = !listeners || listeners->isList();
    for (const Listener& l : config.listeners) listeners_known = listeners_known && !l.name.empty();
    parseVirtualIps(*f, config.virtual_ips, config.listeners, listeners_known, context);
  }
}

}  // namespace pier::config
