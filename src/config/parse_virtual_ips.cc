// virtual_ips: the addresses this node may announce on the LAN with ARP and
// NDP, who it is among the nodes, and how the nodes hear from each other.
// Pools and services have files of their own (parse_vip_pools.cc,
// parse_vip_services.cc).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "src/config/ip_range.h"
#include "src/config/parse.h"
#include "src/config/values.h"

namespace pier::config {
namespace {

constexpr Millis kMinHeartbeatInterval{10};
constexpr Millis kMaxHeartbeatInterval{10'000};
// Re-announcing every address more often than this would flood the LAN.
constexpr Millis kMinRefreshInterval{1'000};
// Heartbeats carry the node name; this is what fits their wire format.
constexpr size_t kMaxNodeNameBytes = 253;


// Node names travel in heartbeats, which allow these characters only (a
// Kubernetes node name or a host name fits).
std::optional<std::string> checkNodeName(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > kMaxNodeNameBytes) return "must be at most 253 characters long";
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return "may only contain letters, digits, '.', '_' and '-'";
  }
  return std::nullopt;
}

void readNodeName(const FieldMap& m, std::string& node_name) {
  if (auto f = m.get("node_name")) {
    auto v = f->string();
    if (!v) return;
    if (auto problem = checkNodeName(*v)) {
      f->error("invalid node name " + quote(*v) + ": " + *problem);
      return;
    }
    node_name = *v;
    return;
  }
  const Field& self = m.self();
  std::string path = childPath(self.path(), "node_name");
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0) {
    self.diagnostics().add(
        self.mark(), path,
        std::string("cannot read the host name (") + std::strerror(errno) + "); set node_name");
    return;
  }
  if (auto problem = checkNodeName(host)) {
    self.diagnostics().add(
        self.mark(), path,
        "the host name " + quote(host) + " cannot be a node name (" + *problem + "); set node_name");
    return;
  }
  node_name = host;
}

// The key itself is read and checked at start; a missing file is caught here
// so that `pier validate` reports it with the others.
void readKeyFile(const Field& field, std::string& key_file) {
  auto path = field.nonEmptyString();
  if (!path) return;
  key_file = *path;
  const std::string hint = "; create one with: openssl rand -hex 32 > " + *path;
  // stat before open: opening a device or a FIFO by mistake can block or
  // have effects (a watchdog device starts counting when opened).
  struct stat st {};
  if (::stat(path->c_str(), &st) != 0) {
    int saved = errno;
    field.error("cannot read " + quote(*path) + ": " + std::strerror(saved) + (saved == ENOENT ? hint : ""));
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    field.error("cannot read " + quote(*path) + ": not a regular file");
    return;
  }
  int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    field.error("cannot read " + quote(*path) + ": " + std::strerror(errno));
    return;
  }
  ::close(fd);
  if (st.st_size == 0) field.error("the cluster key file " + quote(*path) + " is empty" + hint);
}

void parseHeartbeat(const Field& field, VirtualIps& vips) {
  auto m = FieldMap::open(field, {"interval", "dead_after_missed", "port", "group", "peers"});
  if (!m) return;
  if (auto f = m->get("interval")) {
    if (auto v = f->duration(kMinHeartbeatInterval)) {
      if (*v > kMaxHeartbeatInterval) {
        f->error("must be at most " + formatDuration(kMaxHeartbeatInterval) + ", got " +
                 quote(f->node().Scalar()));
      } else {
        vips.heartbeat_interval = *v;
      }
    }
  }
  m->read("dead_after_missed", vips.dead_after_missed, 2, 20);
  uint32_t port = vips.heartbeat_port;
  m->read("port", port, 1, 65535);
  vips.heartbeat_port = static_cast<uint16_t>(port);

  bool peers_ok = true;
  if (auto f = m->get("peers")) {
    auto items = f->list();
    peers_ok = items.has_value();
    Taken seen;
    for (const Field& item : items.value_or(std::vector<Field>{})) {
      auto v = item.string();
      if (!v) {
        peers_ok = false;
        continue;
      }
      auto ip = parseIp(*v);
      if (!ip) {
        item.error(quote(*v) + " is not an IP address");
        peers_ok = false;
        continue;
      }
      std::string canonical = formatIp(*ip);
      if (const std::string* other = seen.claim(canonical, item.path())) {
        item.error("peer " + canonical + " is listed twice (also " + *other + ")");
        continue;
      }
      vips.peers.push_back(canonical);
    }
  }
  if (auto f = m->get("group")) {
    auto v = f->string();
    if (!v) return;
    if (v->empty()) {
      vips.heartbeat_group.clear();
      if (peers_ok && vips.peers.empty())
        f->error("is empty, which sends heartbeats to the peers only, but heartbeat.peers lists none");
      return;
    }
    auto ip = parseIp(*v);
    if (!ip || ip->v6 || (ip->value >> 28) != 0xe) {
      f->error("must be an IPv4 multicast address (224.0.0.0/4), or empty to send to the peers only; got " +
               quote(*v));
      return;
    }
    vips.heartbeat_group = formatIp(*ip);
  }
}

void parseAnnounce(const Field& field, VirtualIps& vips) {
  auto m = FieldMap::open(field, {"repeats", "spacing", "refresh_interval"});
  if (!m) return;
  m->read("repeats", vips.announce_repeats, 1, 20);
  m->readDuration("spacing", vips.announce_spacing);
  if (auto f = m->get("refresh_interval")) {
    if (auto v = f->duration(Millis(0))) {
      if (*v != Millis(0) && *v < kMinRefreshInterval) {
        f->error("must be 0s (off) or at least " + formatDuration(kMinRefreshInterval) + ", got " +
                 quote(f->node().Scalar()));
      } else {
        vips.refresh_interval = *v;
      }
    }
  }
}

}  // namespace

bool parseInterfaceNames(const Field& field, std::vector<std::string>& out) {
  auto items = field.list();
  if (!items) return false;
  if (items->empty()) {
    field.error("must not be empty");
    return false;
  }
  bool ok = true;
  Taken seen;
  for (const Field& item : *items) {
    auto v = item.string();
    if (!v) {
      ok = false;
      continue;
    }
    std::optional<std::string> problem;
    if (v->empty()) {
      problem = "must not be empty";
    } else if (v->size() > 15) {
      problem = "must be at most 15 characters long";
    } else if (*v == "." || *v == "..") {
      problem = "must not be \".\" or \"..\"";
    } else {
      for (char c : *v) {
        auto u = static_cast<unsigned char>(c);
        if (c == '/' || c == ':' || u <= 0x20 || u == 0x7f)
          problem = "must not contain '/', ':', spaces or control characters";
      }
    }
    if (problem) {
      item.error("invalid interface name " + quote(*v) + ": " + *problem);
      ok = false;
      continue;
    }
    if (const std::string* other = seen.claim(*v, item.path())) {
      item.error("interface " + quote(*v) + " is listed twice (also " + *other + ")");
      continue;
    }
    out.push_back(*v);
  }
  return ok;
}

void parseVirtualIps(const Field& field, VirtualIps& vips, const std::vector<Listener>& listeners,
                     bool listeners_known, const ParseContext& context) {
  auto m = FieldMap::open(field, {"node_name", "key_file", "interfaces", "heartbeat", "announce",
                                  "manage_host", "pools", "services"});
  if (!m) return;
  vips.enabled = true;
  readNodeName(*m, vips.node_name);
  if (auto f = m->required("key_file")) readKeyFile(*f, vips.key_file);
  bool interfaces_ok = false;
  if (auto f = m->required("interfaces")) interfaces_ok = parseInterfaceNames(*f, vips.interfaces);
  if (auto f = m->get("heartbeat")) parseHeartbeat(*f, vips);
  if (auto f = m->get("announce")) parseAnnounce(*f, vips);
  m->read("manage_host", vips.manage_host);
  VipPoolScope pools;
  if (auto f = m->required("pools")) {
    pools = parseVipPools(*f, vips.pools, interfaces_ok ? &vips.interfaces : nullptr);
  } else {
    pools.complete = false;
  }
  if (auto f = m->get("services"))
    parseVipServices(*f, vips.services, vips.pools, pools, listeners, listeners_known, context);
}

}  // namespace pier::config
