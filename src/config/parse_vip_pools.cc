// virtual_ips.pools: named sets of addresses that services take their
// virtual IPs from, written as CIDR blocks, ranges or single addresses and
// expanded at load into individual addresses (for election and announcing)
// and covering CIDR blocks (for the host's local routes).
#include <algorithm>

#include "src/config/ip_range.h"
#include "src/config/parse.h"
#include "src/config/values.h"

namespace pier::config {
namespace {

// Every address is elected, announced and kept in memory on its own; these
// keep the work (and the gratuitous ARP bursts of a takeover) bounded.
constexpr Uint128 kMaxPoolAddresses = 65'536;
constexpr Uint128 kMaxTotalAddresses = 100'000;


std::string count(Uint128 n) { return std::to_string(static_cast<uint64_t>(n)); }

// Which entry of which pool took each address, for overlap messages.
struct Entries {
  struct Entry {
    std::string path;
    size_t pool;
  };
  std::vector<Entry> entries;
  std::unordered_map<std::string, size_t> by_address;  // -> index in entries
  Uint128 total = 0;
};

// One written entry of `pool`: false when it had an error.
bool addEntry(const Field& item, size_t pool_index, std::vector<VipPool>& pools, Uint128& pool_total,
              Entries& taken) {
  VipPool& pool = pools[pool_index];
  auto text = item.string();
  if (!text) return false;
  auto span = parseIpSpan(*text);
  if (!span.ok()) {
    item.error(span.error());
    return false;
  }
  if (auto reserved = reservedAddressIn(*span)) {
    item.error(*reserved);
    return false;
  }
  const std::string pool_label = pool.name.empty() ? "this pool" : "pool " + quote(pool.name);
  if (span->sizeMinusOne() >= kMaxPoolAddresses) {
    item.error(quote(*text) + " holds more than " + count(kMaxPoolAddresses) +
               " addresses, the most a pool may hold");
    return false;
  }
  Uint128 size = span->sizeMinusOne() + 1;
  if (pool_total + size > kMaxPoolAddresses) {
    item.error(pool_label + " would hold more than " + count(kMaxPoolAddresses) +
               " addresses, the most a pool may hold");
    return false;
  }
  if (taken.total + size > kMaxTotalAddresses) {
    item.error("all pools together would hold more than " + count(kMaxTotalAddresses) +
               " addresses, the most pier announces");
    return false;
  }
  std::vector<std::string> addresses;
  addresses.reserve(static_cast<size_t>(size));
  for (Uint128 offset = 0; offset < size; ++offset) {
    std::string address = formatIp({span->first.v6, span->first.value + offset});
    if (auto it = taken.by_address.find(address); it != taken.by_address.end()) {
      const Entries::Entry& other = taken.entries[it->second];
      if (other.pool == pool_index) {
        item.error("address " + address + " is listed twice in this pool (also " + other.path + ")");
      } else {
        const std::string& other_name = pools[other.pool].name;
        item.error("address " + address + " is already in " +
                   (other_name.empty() ? std::string("another pool") : "pool " + quote(other_name)) + " (" +
                   other.path + "); an address may belong to one pool only");
      }
      return false;
    }
    addresses.push_back(std::move(address));
  }
  size_t entry_index = taken.entries.size();
  taken.entries.push_back({item.path(), pool_index});
  for (std::string& address : addresses) {
    taken.by_address.emplace(address, entry_index);
    pool.addresses.push_back(std::move(address));
  }
  for (const IpBlock& block : coverSpan(*span)) pool.cidrs.push_back(formatBlock(block));
  pool_total += size;
  taken.total += size;
  return true;
}

void parsePoolInterfaces(const Field& field, VipPool& pool, const std::vector<std::string>* allowed) {
  std::vector<std::string> names;
  parseInterfaceNames(field, names);
  auto items = field.list();
  for (const std::string& name : names) {
    if (allowed && std::find(allowed->begin(), allowed->end(), name) == allowed->end()) {
      // Point at the entry that names it.
      for (const Field& item : items.value_or(std::vector<Field>{})) {
        if (item.isScalar() && item.node().Scalar() == name) {
          std::string all;
          for (const std::string& a : *allowed) all += (all.empty() ? "" : ", ") + a;
          item.error("interface " + quote(name) + " is not one of virtual_ips.interfaces (" + all + ")");
          break;
        }
      }
      continue;
    }
    pool.interfaces.push_back(name);
  }
}

}  // namespace

VipPoolScope parseVipPools(const Field& field, std::vector<VipPool>& pools,
                           const std::vector<std::string>* interfaces) {
  VipPoolScope scope;
  auto items = field.list();
  if (!items) {
    scope.complete = false;
    return scope;
  }
  if (items->empty()) {
    field.error("must not be empty: services take their addresses from pools");
    scope.complete = false;  // services naming a pool were told already
    return scope;
  }
  Taken names;
  Entries taken;
  for (const Field& item : *items) {
    size_t index = pools.size();
    pools.emplace_back();
    auto m = FieldMap::open(item, {"name", "addresses", "interfaces"});
    if (!m) {
      scope.complete = false;
      continue;
    }
    VipPool& pool = pools.back();
    if (auto f = m->required("name")) {
      if (auto v = f->name()) {
        pool.name = *v;
        if (const std::string* other = names.claim(pool.name, item.path())) {
          f->error("duplicate pool name " + quote(pool.name) + " (also " + *other + ")");
        } else {
          scope.by_name.emplace(pool.name, index);
        }
      } else {
        scope.complete = false;
      }
    } else {
      scope.complete = false;
    }
    if (auto f = m->required("addresses")) {
      auto entries = f->list();
      if (!entries) {
        scope.complete = false;
      } else if (entries->empty()) {
        f->error("must not be empty");
      }
      Uint128 pool_total = 0;
      for (const Field& entry : entries.value_or(std::vector<Field>{})) {
        if (!addEntry(entry, index, pools, pool_total, taken)) scope.complete = false;
      }
    } else {
      scope.complete = false;
    }
    if (auto f = m->get("interfaces")) parsePoolInterfaces(*f, pools.back(), interfaces);
  }
  for (size_t i = 0; i < pools.size(); ++i) {
    for (const std::string& address : pools[i].addresses) scope.by_address.emplace(address, i);
  }
  return scope;
}

}  // namespace pier::config
