#pragma once
// Owned, ordered, mutable HTTP headers for filters. Names compare without
// regard to case (HTTP/1 names are case-insensitive) and read in lower case
// through entries(), as Envoy scripts see them; the writers send names as
// they came. Pseudo-headers (":method", ":path", ":authority", ":scheme",
// ":status") come first, as in Envoy, so scripts iterate them the way they
// do there.
//
// Names and values live in the map's own arena: a few chunks that only grow
// until clear(). Filling a map is then a copy into the arena per header (or
// one copy of a whole parsed head, see takeHead()), not a string per name
// and value. Views from entries() and the lookups stay valid until the map
// next changes.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/http/codec.h"

namespace pier::filters {

class HeaderMap {
 public:
  HeaderMap() = default;
  HeaderMap(const HeaderMap& other);
  HeaderMap& operator=(const HeaderMap& other);
  // A moved-from map is empty. Views into a moved map stay valid: its arena
  // chunks move, their bytes do not.
  HeaderMap(HeaderMap&& other) noexcept;
  HeaderMap& operator=(HeaderMap&& other) noexcept;
  ~HeaderMap();

  // The writers' type, so a map's entries are their header list as it is.
  using Entry = http::Header;

  // Appends a value (pseudo-headers go after the existing pseudo-headers).
  void add(std::string_view name, std::string_view value);
  // add() of a name known to hold no upper-case letter: copied as it is.
  void addLowerCase(std::string_view lower_name, std::string_view value);
  // All values of `name` joined with ",", or nullopt when absent.
  std::optional<std::string> get(std::string_view name) const;
  // The first value, or nullptr (no joining, no allocation).
  const std::string_view* getFirst(std::string_view name) const;
  // The index-th (0-based) value of `name`, or nullptr.
  const std::string_view* getAtIndex(std::string_view name, size_t index) const;
  size_t count(std::string_view name) const;
  void remove(std::string_view name);
  // Sets a single value: the first occurrence keeps its place, the others go;
  // added when absent.
  void replace(std::string_view name, std::string_view value);

  // Fills the map from a parsed message head at the cost of one copy of its
  // bytes: `block` (the head) is copied into the arena, and each header of
  // `parsed` (views into `block`) becomes an entry pointing at that copy, in
  // one pass into storage the map kept from its last message (an insert of
  // the pseudo-headers in front would cost more than the pass). `parsed` is
  // cleared; its storage stays for the parser. Headers that `skip(name)`
  // refuses are left out; `pseudo` (lower-case literal names) go in front.
  // Views outside `block` are copied.
  template <typename Skip>
  void takeHead(std::string_view block, std::vector<http::Header>& parsed, std::span<const Entry> pseudo,
                Skip skip) {
    if (!entries_.empty() || arena_bytes_ != 0) clear();
    adoptBlock(block);
    ++version_;
    entries_.resize(pseudo.size() + parsed.size());
    Entry* out = entries_.data();
    for (const Entry& p : pseudo) *out++ = Entry{p.name, blockOrCopy(p.value)};
    for (const Entry& h : parsed) {
      if (!skip(h.name)) *out++ = Entry{blockOrCopy(h.name), blockOrCopy(h.value)};
    }
    entries_.resize(static_cast<size_t>(out - entries_.data()));
    parsed.clear();
    pseudo_count_ = static_cast<uint32_t>(pseudo.size());
    pseudo_as_taken_ = true;
    names_lowered_ = false;
  }
  // Like takeHead(), without the copy and, until a reader needs them,
  // without the entries: the map takes `parsed` (views of `block` only;
  // `parsed` gets the map's old storage) and keeps viewing `pseudo`. The
  // caller keeps the bytes of `block`, and `pseudo` with what its values
  // view (values outside `block` are copied when the entries are laid out),
  // unchanged until ownBytes(), or reads the map no more before it is
  // refilled or cleared: for a head that usually leaves the chain before
  // anything can touch its buffer.
  //
  // A filter that only adds headers (most do) never makes the map lay out
  // its entries: the writer sends the head as parsed plus what was added
  // (onlyAddedTo()). Every reader lays them out first, as takeHead() does.
  using SkipName = bool (*)(std::string_view name);
  // (Inline: every filtered request and response passes here.)
  void borrowHead(std::string_view block, std::vector<http::Header>& parsed, std::span<const Entry> pseudo,
                  SkipName skip) {
    // What clear() does, less what is overwritten here anyway.
    ++version_;
    if (arena_bytes_ != 0) resetArena();
    if (!reason_phrase_.empty()) reason_phrase_.clear();
    block_ = block;
    block_copy_ = nullptr;
    borrowed_ = true;
    // The parser's list becomes the map's; the parser gets the map's storage.
    entries_.swap(parsed);
    parsed.clear();
    unlaid_pseudo_ = pseudo.data();
    unlaid_pseudo_count_ = static_cast<uint32_t>(pseudo.size());
    unlaid_parsed_ = static_cast<uint32_t>(entries_.size());
    unlaid_skip_ = skip;
    unlaid_ = true;
    pseudo_count_ = 0;
    pseudo_as_taken_ = true;
    names_lowered_ = false;
  }
  // True while the map holds a head from borrowHead() as parsed, and
  // nothing but regular headers was added since: then headAndAdded() is the
  // head's headers as parsed (names as received, including those `skip`
  // keeps out of the map) followed by the added ones, and addedToHead() the
  // added ones alone.
  bool onlyAddedTo() const { return unlaid_; }
  std::span<const Entry> addedToHead() const {
    return std::span<const Entry>(entries_).subspan(unlaid_parsed_);
  }
  std::span<const Entry> headAndAdded() const { return entries_; }
  // A map filled by borrowHead() copies the bytes it views into its arena,
  // and lives on its own from here; nothing changes for any other map.
  void ownBytes() {
    if (borrowed_) {
      layOut();
      copyBorrowedBlock();
    }
  }
  bool borrowing() const { return borrowed_; }

  // The pseudo-headers are still exactly the ones takeHead() or borrowHead()
  // put in: none was added, replaced or removed since (false for a map
  // filled otherwise). A reader that gave them can use what it gave instead
  // of looking.
  bool pseudoAsTaken() const { return pseudo_as_taken_; }

  // Every entry, names in lower case.
  std::span<const Entry> entries() const {
    layOut();
    if (!names_lowered_) lowerNames();
    return entries_;
  }
  // Every entry, names in the case they came with (lower case if a filter
  // added them): what goes on the wire.
  std::span<const Entry> entriesAnyCase() const {
    layOut();
    return entries_;
  }
  // The pseudo-headers (which always come first; their names are lower case).
  std::span<const Entry> pseudoEntries() const {
    layOut();
    return std::span<const Entry>(entries_).first(pseudo_count_);
  }
  // The entries after the pseudo-headers, names in any case.
  std::span<const Entry> regularEntriesAnyCase() const {
    layOut();
    return std::span<const Entry>(entries_).subspan(pseudo_count_);
  }
  size_t size() const {
    layOut();
    return entries_.size();
  }
  bool empty() const {
    layOut();
    return entries_.empty();
  }
  // Keeps the entry vector and the largest arena chunk: a map refilled for
  // the next message of a connection usually allocates nothing.
  void clear() {
    ++version_;
    pseudo_as_taken_ = false;
    borrowed_ = false;
    unlaid_ = false;
    if (entries_.empty() && arena_bytes_ == 0 && reason_phrase_.empty()) return;  // e.g. unused trailers
    clearFilled();
  }
  void reserve(size_t n) { entries_.reserve(n); }
  // Bumped on every change; iteration wrappers use it to detect edits.
  uint64_t version() const { return version_; }

  // Responses only: the reason phrase sent on HTTP/1 (empty: the standard one).
  void setHttp1ReasonPhrase(std::string_view reason) { reason_phrase_.assign(reason); }
  const std::string& http1ReasonPhrase() const { return reason_phrase_; }

  // Bytes the arena holds (for tests of its bound).
  size_t arenaBytes() const { return arena_bytes_; }

 private:
  struct Chunk {
    std::unique_ptr<char[]> data;
    size_t size = 0;
  };
  // Stable storage for n bytes until clear().
  char* allocate(size_t n) {
    if (chunk_free_ < n) return allocateChunk(n);
    char* p = chunk_next_;
    chunk_next_ += n;
    chunk_free_ -= n;
    arena_bytes_ += n;
    return p;
  }
  char* allocateChunk(size_t n);
  void clearFilled();
  // Keeps the largest chunk, empty.
  // Inline: every head a chain gets empties its maps' arenas.
  void resetArena() {
    if (chunks_.size() > 1) dropOlderChunks();
    chunk_next_ = chunks_.empty() ? nullptr : chunks_.back().data.get();
    chunk_free_ = chunks_.empty() ? 0 : chunks_.back().size;
    arena_bytes_ = 0;
  }
  void dropOlderChunks();
  // Lays out the entries of a head borrowHead() left as parsed. Not a change
  // a reader could see (the entries are what they would have been), so it
  // may happen in a const reader; a map in that state is never a const
  // object (borrowHead() put it there).
  void layOut() const {
    if (unlaid_) const_cast<HeaderMap*>(this)->layOutHead();
  }
  void layOutHead();
  void copyBorrowedBlock();
  // Copies `block` (a parsed head's bytes) into the arena, for blockOrCopy().
  void adoptBlock(std::string_view block);
  // Lower-cases the names that came with a parsed head (in the map's own
  // copy of it, or copied into a chunk). Not a change a reader could see (names compare without
  // case), so version() stays.
  void lowerNames() const;
  std::string_view store(std::string_view bytes);
  // Offset of `view` in the adopted block, or npos when it is not inside.
  size_t blockOffset(std::string_view view) const {
    const size_t offset = static_cast<size_t>(reinterpret_cast<uintptr_t>(view.data()) -
                                              reinterpret_cast<uintptr_t>(block_.data()));
    return offset < block_.size() && view.size() <= block_.size() - offset ? offset : std::string_view::npos;
  }
  std::string_view blockOrCopy(std::string_view value) {
    const size_t offset = blockOffset(value);
    return offset != std::string_view::npos ? std::string_view(block_copy_ + offset, value.size())
                                            : store(value);
  }
  [[gnu::always_inline]] void append(std::string_view lower_name, std::string_view value) {
    ++version_;
    // Pseudo-headers go after the existing pseudo-headers; a map filled in
    // order (the usual case) never has to move one.
    if (!lower_name.empty() && lower_name.front() == ':') {
      layOut();
      pseudo_as_taken_ = false;
      if (pseudo_count_ != entries_.size()) {
        appendPseudoBehindRegular(lower_name, value);
        return;
      }
      ++pseudo_count_;
    }
    // An lvalue: libstdc++ inlines push_back(const&), not emplace_back.
    const Entry entry{lower_name, value};
    entries_.push_back(entry);
  }
  void appendPseudoBehindRegular(std::string_view lower_name, std::string_view value);
  void addCopy(std::string_view name, std::string_view value, bool lower);
  // Rewrites the live headers into one fresh chunk once dead bytes (values
  // replaced, headers removed) dominate, so a script that edits a header in
  // a loop cannot grow the arena without bound.
  void compactIfWasteful();
  void copyFrom(const HeaderMap& other);
  // Copies every entry's bytes into one new chunk and points the entries there.
  void moveEntriesIntoOneChunk();

  // Recounts the pseudo-headers at the front after entries went.
  void recountPseudo();

  std::vector<Entry> entries_;
  uint32_t pseudo_count_ = 0;     // entries_ starts with this many pseudo-headers
  bool pseudo_as_taken_ = false;  // see pseudoAsTaken()
  mutable bool names_lowered_ = true;  // false: some names are as received
  bool borrowed_ = false;  // viewing block_ where it lies (borrowHead)
  // borrowHead()'s head not laid out yet (see onlyAddedTo()): entries_ is
  // the head as parsed (its first unlaid_parsed_ entries, which unlaid_skip_
  // may leave out), then what was added; the pseudo-headers are still the
  // caller's (unlaid_pseudo_).
  bool unlaid_ = false;
  uint32_t unlaid_parsed_ = 0;
  uint32_t unlaid_pseudo_count_ = 0;
  const Entry* unlaid_pseudo_ = nullptr;
  std::vector<Chunk> chunks_;   // the last one is being filled
  char* chunk_next_ = nullptr;  // its free part
  size_t chunk_free_ = 0;
  size_t arena_bytes_ = 0;  // bytes handed out since clear()
  std::string_view block_;  // what adoptBlock() copied, and where to
  char* block_copy_ = nullptr;  // null while borrowing block_ (borrowHead)
  SkipName unlaid_skip_ = nullptr;
  // layOutHead() lays the entries out here and swaps it with entries_ (the
  // storage stays for the next head).
  std::vector<Entry> spare_entries_;
  std::string reason_phrase_;
  uint64_t version_ = 0;
};

}  // namespace pier::filters
