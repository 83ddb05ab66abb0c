#include "src/filters/header_map.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace pier::filters {
namespace {

// Branch-free, so copying a name lower-cased vectorizes.
char lower(char c) {
  const auto u = static_cast<unsigned char>(c);
  return static_cast<char>(u + (static_cast<unsigned char>(u - 'A') < 26u ? 32u : 0u));
}

bool sameName(std::string_view stored_lower, std::string_view name) {
  if (stored_lower.size() != name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (stored_lower[i] != lower(name[i])) return false;
  }
  return true;
}

// clear() + append() reuses the string's storage on the short path; assign()
// takes libstdc++'s general replace path, several times slower for the short
// strings headers are.
void copyInto(std::string& out, std::string_view text) {
  out.clear();
  out.append(text.data(), text.size());
}

// Lower-cases the word at p in place, a byte at a time in parallel: a byte
// gets 0x20 added when it is in 'A'..'Z'. Idempotent, so words may overlap.
template <typename Word>
void lowerWord(char* p) {
  constexpr Word kOnes = static_cast<Word>(0x0101010101010101ull);
  Word x;
  std::memcpy(&x, p, sizeof x);
  const Word low7 = x & (0x7f * kOnes);
  const Word above_z = low7 + (0x7f - 'Z') * kOnes;  // high bit: byte > 'Z'
  const Word from_a = low7 + (0x80 - 'A') * kOnes;   // high bit: byte >= 'A'
  const Word upper = from_a & ~above_z & ~x & (0x80 * kOnes);  // ASCII only
  x |= upper >> 2;
  std::memcpy(p, &x, sizeof x);
}

// Every header name of every filtered message passes here: whole words, the
// last one overlapping the one before, instead of a byte loop.
void lowerInPlace(char* p, size_t n) {
  if (n >= 8) {
    for (size_t i = 0; i + 8 <= n; i += 8) lowerWord<uint64_t>(p + i);
    lowerWord<uint64_t>(p + n - 8);
  } else if (n >= 4) {
    lowerWord<uint32_t>(p);
    lowerWord<uint32_t>(p + n - 4);
  } else {
    for (size_t i = 0; i < n; ++i) p[i] = lower(p[i]);
  }
}

void assignLowered(std::string& out, std::string_view name) {
  copyInto(out, name);
  lowerInPlace(out.data(), name.size());
}

bool isPseudo(const HeaderMap::Entry& e) { return !e.name.empty() && e.name.front() == ':'; }

}  // namespace

void HeaderMap::clear() {
  ++version_;
  used_ = 0;
  reason_phrase_.clear();
}

HeaderMap::Entry& HeaderMap::appendEntry() {
  if (used_ == entries_.size()) entries_.emplace_back();
  return entries_[used_++];
}

void HeaderMap::add(std::string_view name, std::string_view value) {
  ++version_;
  Entry& e = appendEntry();
  assignLowered(e.name, name);
  copyInto(e.value, value);
  if (!name.empty() && name.front() == ':') {
    // Pseudo-headers go after the existing pseudo-headers.
    Entry* first_regular = std::find_if_not(begin(), end() - 1, isPseudo);
    std::rotate(first_regular, end() - 1, end());
  }
}

std::optional<std::string> HeaderMap::get(std::string_view name) const {
  std::optional<std::string> out;
  for (const auto& e : entries()) {
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
  for (const auto& e : entries()) {
    if (sameName(e.name, name)) return &e.value;
  }
  return nullptr;
}

const std::string* HeaderMap::getAtIndex(std::string_view name, size_t index) const {
  for (const auto& e : entries()) {
    if (sameName(e.name, name) && index-- == 0) return &e.value;
  }
  return nullptr;
}

size_t HeaderMap::count(std::string_view name) const {
  return static_cast<size_t>(std::count_if(begin(), end(), [&](const Entry& e) { return sameName(e.name, name); }));
}

void HeaderMap::remove(std::string_view name) {
  ++version_;
  Entry* rest = std::remove_if(begin(), end(), [&](const Entry& e) { return sameName(e.name, name); });
  used_ = static_cast<size_t>(rest - begin());
}

void HeaderMap::replace(std::string_view name, std::string_view value) {
  Entry* first = std::find_if(begin(), end(), [&](const Entry& e) { return sameName(e.name, name); });
  if (first == end()) {
    add(name, value);
    return;
  }
  ++version_;
  first->value.assign(value);
  Entry* rest = std::remove_if(first + 1, end(), [&](const Entry& e) { return sameName(e.name, name); });
  used_ = static_cast<size_t>(rest - begin());
}

}  // namespace pier::filters
