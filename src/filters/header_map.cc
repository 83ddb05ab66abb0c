#include "src/filters/header_map.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "src/common/short_copy.h"

namespace pier::filters {
namespace {

bool sameName(std::string_view stored, std::string_view name) { return http::iequals(stored, name); }

bool isPseudoName(std::string_view name) { return !name.empty() && name.front() == ':'; }
bool isPseudo(const HeaderMap::Entry& e) { return isPseudoName(e.name); }

constexpr size_t kFirstChunk = 512;
constexpr size_t kMaxGrowth = 64 * 1024;
// Below this the arena is never compacted: a message's head fits many times.
constexpr size_t kCompactFloor = 64 * 1024;

}  // namespace

HeaderMap::HeaderMap(const HeaderMap& other) { copyFrom(other); }

HeaderMap& HeaderMap::operator=(const HeaderMap& other) {
  if (this != &other) {
    clear();
    copyFrom(other);
  }
  return *this;
}

// A moved map's head is laid out first (moves are rare: none on the way of
// a request), so the unlaid state never has to move.
HeaderMap::HeaderMap(HeaderMap&& other) noexcept
    : entries_((other.layOut(), std::move(other.entries_))),
      pseudo_count_(std::exchange(other.pseudo_count_, 0)),
      pseudo_as_taken_(std::exchange(other.pseudo_as_taken_, false)),
      names_lowered_(std::exchange(other.names_lowered_, true)),
      borrowed_(std::exchange(other.borrowed_, false)),
      chunks_(std::move(other.chunks_)),
      chunk_next_(std::exchange(other.chunk_next_, nullptr)),
      chunk_free_(std::exchange(other.chunk_free_, 0)),
      arena_bytes_(std::exchange(other.arena_bytes_, 0)),
      block_(std::exchange(other.block_, {})),
      block_copy_(std::exchange(other.block_copy_, nullptr)),
      reason_phrase_(std::move(other.reason_phrase_)),
      version_(other.version_ + 1) {
  other.entries_.clear();
  other.chunks_.clear();
  ++other.version_;
}

HeaderMap& HeaderMap::operator=(HeaderMap&& other) noexcept {
  if (this == &other) return *this;
  other.layOut();
  unlaid_ = false;
  entries_ = std::move(other.entries_);
  pseudo_count_ = std::exchange(other.pseudo_count_, 0);
  pseudo_as_taken_ = std::exchange(other.pseudo_as_taken_, false);
  chunks_ = std::move(other.chunks_);
  chunk_next_ = std::exchange(other.chunk_next_, nullptr);
  chunk_free_ = std::exchange(other.chunk_free_, 0);
  arena_bytes_ = std::exchange(other.arena_bytes_, 0);
  block_ = std::exchange(other.block_, {});
  block_copy_ = std::exchange(other.block_copy_, nullptr);
  borrowed_ = std::exchange(other.borrowed_, false);
  reason_phrase_ = std::move(other.reason_phrase_);
  names_lowered_ = std::exchange(other.names_lowered_, true);
  ++version_;
  other.entries_.clear();
  other.chunks_.clear();
  ++other.version_;
  return *this;
}

HeaderMap::~HeaderMap() = default;

void HeaderMap::copyFrom(const HeaderMap& other) {
  other.layOut();
  entries_ = other.entries_;  // views into `other`, until moved below
  pseudo_count_ = other.pseudo_count_;
  pseudo_as_taken_ = other.pseudo_as_taken_;
  moveEntriesIntoOneChunk();
  names_lowered_ = other.names_lowered_;
  reason_phrase_ = other.reason_phrase_;
  ++version_;
}

void HeaderMap::moveEntriesIntoOneChunk() {
  size_t bytes = 0;
  for (const auto& e : entries_) bytes += e.name.size() + e.value.size();
  if (bytes == 0) {
    for (auto& e : entries_) e = Entry{};  // all empty: nothing to copy (nor to memcpy from)
    return;
  }
  char* p = allocate(bytes);
  for (auto& e : entries_) {
    std::memcpy(p, e.name.data(), e.name.size());
    e.name = {p, e.name.size()};
    p += e.name.size();
    std::memcpy(p, e.value.data(), e.value.size());
    e.value = {p, e.value.size()};
    p += e.value.size();
  }
}

char* HeaderMap::allocateChunk(size_t n) {
  const size_t grown = chunks_.empty() ? kFirstChunk : std::min(chunks_.back().size * 2, kMaxGrowth);
  const size_t size = std::max(n, grown);
  chunks_.push_back(Chunk{std::make_unique_for_overwrite<char[]>(size), size});
  chunk_next_ = chunks_.back().data.get();
  chunk_free_ = size;
  return allocate(n);
}

std::string_view HeaderMap::store(std::string_view bytes) {
  if (bytes.empty()) return {};
  char* p = allocate(bytes.size());
  std::memcpy(p, bytes.data(), bytes.size());
  return {p, bytes.size()};
}

void HeaderMap::compactIfWasteful() {
  if (arena_bytes_ < kCompactFloor) return;
  size_t live = 0;
  for (const auto& e : entries_) live += e.name.size() + e.value.size();
  if (live * 2 > arena_bytes_) return;
  layOut();  // the waiting pseudo-headers may view the old chunks too
  std::vector<Chunk> old;
  old.swap(chunks_);
  chunk_next_ = nullptr;
  chunk_free_ = 0;
  arena_bytes_ = 0;
  block_ = {};
  block_copy_ = nullptr;
  borrowed_ = false;
  moveEntriesIntoOneChunk();  // reads the old chunks, which go after it
}

void HeaderMap::dropOlderChunks() {
  chunks_.erase(chunks_.begin(), chunks_.end() - 1);  // the last is the largest
}

void HeaderMap::clearFilled() {
  entries_.clear();
  unlaid_ = false;
  pseudo_count_ = 0;
  pseudo_as_taken_ = false;
  resetArena();
  block_ = {};
  block_copy_ = nullptr;
  borrowed_ = false;
  reason_phrase_.clear();
  names_lowered_ = true;
}

void HeaderMap::lowerNames() const {
  for (const auto& e : entries_) {
    // Regular names all lie in memory the map owns (its copy of the head,
    // or a chunk); a pseudo-header's may be a literal, and is lower case.
    if (e.name.empty() || e.name.front() == ':') continue;
    http::lowerInPlace(const_cast<char*>(e.name.data()), e.name.size());
  }
  names_lowered_ = true;
}

void HeaderMap::appendPseudoBehindRegular(std::string_view lower_name, std::string_view value) {
  entries_.push_back(Entry{lower_name, value});
  const auto first_regular = entries_.begin() + static_cast<std::ptrdiff_t>(pseudo_count_);
  std::rotate(first_regular, entries_.end() - 1, entries_.end());
  ++pseudo_count_;
}

void HeaderMap::recountPseudo() {
  size_t i = 0;
  while (i < entries_.size() && isPseudo(entries_[i])) ++i;
  pseudo_count_ = static_cast<uint32_t>(i);
}

[[gnu::always_inline]] inline void HeaderMap::addCopy(std::string_view name, std::string_view value, bool lower) {
  // Name and value side by side in one piece of the arena (filters add
  // headers on every request: one allocation, not two).
  const size_t n = name.size();
  const size_t total = n + value.size();
  char* p = total != 0 ? allocate(total) : nullptr;
  if (lower) {
    http::copyLower(p, name.data(), n);
  } else {
    copyShort(p, name.data(), n);
  }
  copyShort(p + n, value.data(), value.size());
  append(std::string_view(p, n), std::string_view(p + n, value.size()));
  if (arena_bytes_ >= kCompactFloor) compactIfWasteful();
}

void HeaderMap::add(std::string_view name, std::string_view value) { addCopy(name, value, true); }

void HeaderMap::addLowerCase(std::string_view lower_name, std::string_view value) {
  addCopy(lower_name, value, false);
}

void HeaderMap::layOutHead() {
  unlaid_ = false;
  spare_entries_.resize(unlaid_pseudo_count_ + entries_.size());
  Entry* out = spare_entries_.data();
  for (const Entry& p : std::span(unlaid_pseudo_, unlaid_pseudo_count_)) {
    *out++ = Entry{p.name, blockOffset(p.value) != std::string_view::npos ? p.value : store(p.value)};
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (i >= unlaid_parsed_ || !unlaid_skip_(entries_[i].name)) *out++ = entries_[i];
  }
  spare_entries_.resize(static_cast<size_t>(out - spare_entries_.data()));
  entries_.swap(spare_entries_);
  spare_entries_.clear();
  pseudo_count_ = unlaid_pseudo_count_;
}

void HeaderMap::copyBorrowedBlock() {
  borrowed_ = false;
  const std::string_view block = block_;
  adoptBlock(block);
  // What was added since lies in the arena already and stays.
  for (auto& e : entries_) {
    if (blockOffset(e.name) != std::string_view::npos) e.name = blockOrCopy(e.name);
    if (blockOffset(e.value) != std::string_view::npos) e.value = blockOrCopy(e.value);
  }
}

void HeaderMap::adoptBlock(std::string_view block) {
  block_copy_ = nullptr;
  if (!block.empty()) {
    block_copy_ = allocate(block.size());
    std::memcpy(block_copy_, block.data(), block.size());
  }
  block_ = block;
}

std::optional<std::string> HeaderMap::get(std::string_view name) const {
  layOut();
  std::optional<std::string> out;
  for (const auto& e : entries_) {
    if (!sameName(e.name, name)) continue;
    if (out) {
      out->push_back(',');
      out->append(e.value);
    } else {
      out.emplace(e.value);
    }
  }
  return out;
}

const std::string_view* HeaderMap::getFirst(std::string_view name) const {
  layOut();
  for (const auto& e : entries_) {
    if (sameName(e.name, name)) return &e.value;
  }
  return nullptr;
}

const std::string_view* HeaderMap::getAtIndex(std::string_view name, size_t index) const {
  layOut();
  for (const auto& e : entries_) {
    if (sameName(e.name, name) && index-- == 0) return &e.value;
  }
  return nullptr;
}

size_t HeaderMap::count(std::string_view name) const {
  layOut();
  return static_cast<size_t>(std::count_if(entries_.begin(), entries_.end(),
                                           [&](const Entry& e) { return sameName(e.name, name); }));
}

void HeaderMap::remove(std::string_view name) {
  layOut();
  ++version_;
  if (isPseudoName(name)) pseudo_as_taken_ = false;
  std::erase_if(entries_, [&](const Entry& e) { return sameName(e.name, name); });
  recountPseudo();
}

void HeaderMap::replace(std::string_view name, std::string_view value) {
  layOut();
  auto first =
      std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return sameName(e.name, name); });
  if (first == entries_.end()) {
    add(name, value);
    return;
  }
  ++version_;
  if (isPseudoName(name)) pseudo_as_taken_ = false;
  first->value = store(value);
  auto rest =
      std::remove_if(first + 1, entries_.end(), [&](const Entry& e) { return sameName(e.name, name); });
  entries_.erase(rest, entries_.end());
  recountPseudo();
  compactIfWasteful();
}

}  // namespace pier::filters
