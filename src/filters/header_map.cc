#include "src/filters/header_map.h"

#include <algorithm>

namespace pier::filters {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool sameName(std::string_view stored_lower, std::string_view name) {
  if (stored_lower.size() != name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (stored_lower[i] != lower(name[i])) return false;
  }
  return true;
}

std::string lowered(std::string_view name) {
  std::string out(name);
  for (char& c : out) c = lower(c);
  return out;
}

}  // namespace

void HeaderMap::add(std::string_view name, std::string_view value) {
  ++version_;
  if (!name.empty() && name.front() == ':') {
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [](const Entry& e) { return e.name.empty() || e.name.front() != ':'; });
    entries_.insert(it, Entry{lowered(name), std::string(value)});
    return;
  }
  entries_.push_back(Entry{lowered(name), std::string(value)});
}

std::optional<std::string> HeaderMap::get(std::string_view name) const {
  std::optional<std::string> out;
  for (const auto& e : entries_) {
    if (!sameName(e.name, name)) continue;
    if (out) {
      out->push_back(',');
      out->append(e.value);
    } else {
      out = e.value;
    }
  }
  return out;
}

const std::string* HeaderMap::getFirst(std::string_view name) const {
  for (const auto& e : entries_) {
    if (sameName(e.name, name)) return &e.value;
  }
  return nullptr;
}

const std::string* HeaderMap::getAtIndex(std::string_view name, size_t index) const {
  for (const auto& e : entries_) {
    if (sameName(e.name, name) && index-- == 0) return &e.value;
  }
  return nullptr;
}

size_t HeaderMap::count(std::string_view name) const {
  return static_cast<size_t>(
      std::count_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return sameName(e.name, name); }));
}

void HeaderMap::remove(std::string_view name) {
  ++version_;
  std::erase_if(entries_, [&](const Entry& e) { return sameName(e.name, name); });
}

void HeaderMap::replace(std::string_view name, std::string_view value) {
  auto first = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return sameName(e.name, name); });
  if (first == entries_.end()) {
    add(name, value);
    return;
  }
  ++version_;
  first->value.assign(value);
  auto rest = std::remove_if(first + 1, entries_.end(), [&](const Entry& e) { return sameName(e.name, name); });
  entries_.erase(rest, entries_.end());
}

}  // namespace pier::filters
