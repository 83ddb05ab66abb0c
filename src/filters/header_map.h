#pragma once
// Owned, ordered, mutable HTTP headers for filters. Names are stored in lower
// case (HTTP/1 names are case-insensitive; Envoy scripts see lower case), and
// pseudo-headers (":method", ":path", ":authority", ":scheme", ":status") come
// first, as in Envoy, so scripts iterate them the way they do there.
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pier::filters {

class HeaderMap {
 public:
  HeaderMap() = default;
  HeaderMap(const HeaderMap&) = default;
  HeaderMap& operator=(const HeaderMap&) = default;
  // A moved-from map is empty (its count goes with the storage).
  HeaderMap(HeaderMap&& other) noexcept
      : entries_(std::move(other.entries_)),
        used_(std::exchange(other.used_, 0)),
        reason_phrase_(std::move(other.reason_phrase_)),
        version_(other.version_ + 1) {}
  HeaderMap& operator=(HeaderMap&& other) noexcept {
    entries_ = std::move(other.entries_);
    used_ = std::exchange(other.used_, 0);
    reason_phrase_ = std::move(other.reason_phrase_);
    ++version_;
    other.entries_.clear();
    return *this;
  }

  struct Entry {
    std::string name;  // lower case
    std::string value;
  };

  // Appends a value (pseudo-headers go after the existing pseudo-headers).
  void add(std::string_view name, std::string_view value);
  // All values of `name` joined with ",", or nullopt when absent.
  std::optional<std::string> get(std::string_view name) const;
  // The first value, or nullptr (no joining, no allocation).
  const std::string* getFirst(std::string_view name) const;
  // The index-th (0-based) value of `name`, or nullptr.
  const std::string* getAtIndex(std::string_view name, size_t index) const;
  size_t count(std::string_view name) const;
  void remove(std::string_view name);
  // Sets a single value: the first occurrence keeps its place, the others go;
  // added when absent.
  void replace(std::string_view name, std::string_view value);

  std::span<const Entry> entries() const { return {entries_.data(), used_}; }
  size_t size() const { return used_; }
  bool empty() const { return used_ == 0; }
  // Keeps the entries' storage: a map refilled for the next message of a
  // connection allocates nothing for names and values that fit what it held.
  void clear();
  void reserve(size_t n) { entries_.reserve(n); }
  // Bumped on every change; iteration wrappers use it to detect edits.
  uint64_t version() const { return version_; }

  // Responses only: the reason phrase sent on HTTP/1 (empty: the standard one).
  void setHttp1ReasonPhrase(std::string_view reason) { reason_phrase_.assign(reason); }
  const std::string& http1ReasonPhrase() const { return reason_phrase_; }

 private:
  Entry& appendEntry();
  Entry* begin() { return entries_.data(); }
  Entry* end() { return entries_.data() + used_; }
  const Entry* begin() const { return entries_.data(); }
  const Entry* end() const { return entries_.data() + used_; }

  std::vector<Entry> entries_;  // the first used_ are the headers; the rest is spare storage
  size_t used_ = 0;
  std::string reason_phrase_;
  uint64_t version_ = 0;
};

}  // namespace pier::filters
