#include "src/filters/header_map.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace pier::filters {
namespace {

TEST(HeaderMap, NamesAreStoredLowerCase) {
  HeaderMap h;
  h.add("X-Foo", "1");
  EXPECT_EQ(h.entries()[0].name, "x-foo");
  EXPECT_EQ(*h.getFirst("x-FOO"), "1");
}

// For names the caller knows to be lower case already (the Lua fast path's
// remembered names): the same entries as add(), pseudo-headers first.
TEST(HeaderMap, AddLowerCaseAppendsLikeAdd) {
  HeaderMap h;
  h.add("X-A", "1");
  h.addLowerCase("x-b", "2");
  h.addLowerCase(":path", "/");
  h.addLowerCase("x-b", "");
  ASSERT_EQ(h.entries().size(), 4u);
  EXPECT_EQ(h.entries()[0].name, ":path");
  EXPECT_EQ(h.entries()[1].name, "x-a");
  EXPECT_EQ(h.entries()[2].name, "x-b");
  EXPECT_EQ(h.get("x-b"), "2,");
}

TEST(HeaderMap, GetJoinsRepeatedValuesWithComma) {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "x");
  h.add("A", "2");
  EXPECT_EQ(h.get("a"), "1,2");
  EXPECT_FALSE(h.get("missing").has_value());
}

TEST(HeaderMap, GetAtIndexIsZeroBased) {
  HeaderMap h;
  h.add("a", "1");
  h.add("a", "2");
  EXPECT_EQ(*h.getAtIndex("a", 0), "1");
  EXPECT_EQ(*h.getAtIndex("a", 1), "2");
  EXPECT_EQ(h.getAtIndex("a", 2), nullptr);
  EXPECT_EQ(h.count("a"), 2U);
}

TEST(HeaderMap, PseudoHeadersStayFirst) {
  HeaderMap h;
  h.add("host", "x");
  h.add(":method", "GET");
  h.add(":path", "/");
  ASSERT_EQ(h.size(), 3U);
  EXPECT_EQ(h.entries()[0].name, ":method");
  EXPECT_EQ(h.entries()[1].name, ":path");
  EXPECT_EQ(h.entries()[2].name, "host");
}

TEST(HeaderMap, ReplaceKeepsFirstPositionAndDropsOthers) {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "x");
  h.add("a", "2");
  h.replace("A", "3");
  ASSERT_EQ(h.size(), 2U);
  EXPECT_EQ(h.entries()[0].name, "a");
  EXPECT_EQ(h.entries()[0].value, "3");
}

TEST(HeaderMap, ReplaceAddsWhenMissing) {
  HeaderMap h;
  h.replace("a", "1");
  EXPECT_EQ(h.get("a"), "1");
}

TEST(HeaderMap, RemoveDropsEveryValue) {
  HeaderMap h;
  h.add("a", "1");
  h.add("a", "2");
  h.add("b", "3");
  h.remove("A");
  EXPECT_EQ(h.count("a"), 0U);
  EXPECT_EQ(h.size(), 1U);
}

TEST(HeaderMap, VersionChangesOnEveryEdit) {
  HeaderMap h;
  auto v0 = h.version();
  h.add("a", "1");
  auto v1 = h.version();
  h.replace("a", "2");
  auto v2 = h.version();
  h.remove("a");
  EXPECT_LT(v0, v1);
  EXPECT_LT(v1, v2);
  EXPECT_LT(v2, h.version());
}

// --- spare entries: a cleared map keeps its storage for the next message ------

using Pairs = std::vector<std::pair<std::string, std::string>>;

// takeHead() keeping every header.
constexpr auto kSkipNone = [](std::string_view) { return false; };

Pairs pairsOf(std::span<const HeaderMap::Entry> entries) {
  Pairs out;
  for (const auto& e : entries) out.emplace_back(e.name, e.value);
  return out;
}
Pairs pairsOf(const HeaderMap& h) { return pairsOf(h.entries()); }

// More and longer headers than the refill, so every spare entry holds text.
void fillFirstMessage(HeaderMap& h) {
  h.add(":method", "POST");
  h.add(":path", "/a-long-path-from-the-first-request");
  h.add("X-Old-Header-With-A-Long-Name", "an old value long enough to be on the heap");
  h.add("Cookie", "a=1");
  h.add("cookie", "b=2");
  h.add("accept", "*/*");
}

TEST(HeaderMap, RefilledAfterClearHoldsExactlyTheNewHeaders) {
  HeaderMap h;
  fillFirstMessage(h);
  h.clear();
  h.add(":method", "GET");
  h.add("Host", "b");
  EXPECT_EQ(pairsOf(h), (Pairs{{":method", "GET"}, {"host", "b"}}));
  EXPECT_EQ(h.size(), 2U);
  EXPECT_FALSE(h.empty());
}

TEST(HeaderMap, ClearedMapIsEmpty) {
  HeaderMap h;
  fillFirstMessage(h);
  h.clear();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.size(), 0U);
  EXPECT_TRUE(h.entries().empty());
}

TEST(HeaderMap, LookupsDoNotSeeHeadersFromBeforeClear) {
  HeaderMap h;
  fillFirstMessage(h);
  h.clear();
  h.add("accept", "text/html");
  EXPECT_FALSE(h.get("x-old-header-with-a-long-name").has_value());
  EXPECT_EQ(h.getFirst("cookie"), nullptr);
  EXPECT_EQ(h.getAtIndex("cookie", 0), nullptr);
  EXPECT_EQ(h.count("cookie"), 0U);
  EXPECT_EQ(h.count(":path"), 0U);
  // A name present before and after: only the new value.
  EXPECT_EQ(h.get("accept"), "text/html");
  EXPECT_EQ(h.count("accept"), 1U);
  EXPECT_EQ(h.getAtIndex("accept", 1), nullptr);
}

TEST(HeaderMap, ReusedEntriesHoldOnlyTheNewNameAndValue) {
  HeaderMap h;
  h.add("X-A-Much-Longer-Header-Name-Than-The-Next", "a much longer value than the next one, on the heap");
  h.clear();
  h.add("X-B", "1");
  ASSERT_EQ(h.size(), 1U);
  EXPECT_EQ(h.entries()[0].name, "x-b");
  EXPECT_EQ(h.entries()[0].value, "1");
  EXPECT_EQ(*h.getFirst("x-b"), "1");
}

TEST(HeaderMap, ReusedEntriesAreLowerCased) {
  HeaderMap h;
  h.add("a", "1");
  h.clear();
  h.add("X-UPPER", "V");
  EXPECT_EQ(h.entries()[0].name, "x-upper");
  EXPECT_EQ(h.entries()[0].value, "V");  // values keep their case
}

TEST(HeaderMap, RepeatedValuesAfterClearJoinOnlyTheNewOnes) {
  HeaderMap h;
  fillFirstMessage(h);
  h.clear();
  h.add("cookie", "c=3");
  EXPECT_EQ(h.get("cookie"), "c=3");
  h.add("cookie", "d=4");
  EXPECT_EQ(h.get("cookie"), "c=3,d=4");
  EXPECT_EQ(*h.getAtIndex("cookie", 1), "d=4");
}

TEST(HeaderMap, PseudoHeaderGoesFirstWhenSpareEntriesExist) {
  HeaderMap h;
  fillFirstMessage(h);
  h.clear();
  h.add("host", "x");
  h.add("accept", "*/*");
  h.add(":method", "GET");
  EXPECT_EQ(pairsOf(h), (Pairs{{":method", "GET"}, {"host", "x"}, {"accept", "*/*"}}));
}

TEST(HeaderMap, PseudoHeadersKeepTheirOrderAfterEarlierPseudoHeadersWithSpareEntries) {
  HeaderMap h;
  fillFirstMessage(h);
  h.clear();
  h.add(":method", "GET");
  h.add("host", "x");
  h.add(":path", "/");
  h.add("accept", "*/*");
  h.add(":scheme", "http");
  EXPECT_EQ(
      pairsOf(h),
      (Pairs{{":method", "GET"}, {":path", "/"}, {":scheme", "http"}, {"host", "x"}, {"accept", "*/*"}}));
}

TEST(HeaderMap, AddAfterRemoveReusesTheRemovedEntryCorrectly) {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "a value that is long enough to live on the heap");
  h.add("c", "3");
  h.add("b", "again");
  h.remove("b");
  h.add("d", "4");
  EXPECT_EQ(pairsOf(h), (Pairs{{"a", "1"}, {"c", "3"}, {"d", "4"}}));
  EXPECT_EQ(h.count("b"), 0U);
  EXPECT_EQ(h.getFirst("b"), nullptr);
  h.add("e", "5");
  h.add("f", "6");
  EXPECT_EQ(pairsOf(h), (Pairs{{"a", "1"}, {"c", "3"}, {"d", "4"}, {"e", "5"}, {"f", "6"}}));
}

TEST(HeaderMap, AddAfterReplaceReusesTheDroppedEntriesCorrectly) {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "x");
  h.add("a", "2");
  h.add("c", "y");
  h.add("a", "3");
  h.replace("a", "new");
  EXPECT_EQ(pairsOf(h), (Pairs{{"a", "new"}, {"b", "x"}, {"c", "y"}}));
  h.add("d", "z");
  h.add("a", "more");
  EXPECT_EQ(pairsOf(h), (Pairs{{"a", "new"}, {"b", "x"}, {"c", "y"}, {"d", "z"}, {"a", "more"}}));
  EXPECT_EQ(h.get("a"), "new,more");
}

TEST(HeaderMap, PseudoHeaderAddedAfterRemoveGoesBeforeRegularOnes) {
  HeaderMap h;
  h.add(":method", "GET");
  h.add("x", "1");
  h.add("y", "2");
  h.add("z", "3");
  h.remove("y");
  h.remove(":method");
  h.add(":path", "/");
  EXPECT_EQ(pairsOf(h), (Pairs{{":path", "/"}, {"x", "1"}, {"z", "3"}}));
}

TEST(HeaderMap, RemoveOfAnAbsentNameKeepsEveryHeader) {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "2");
  h.remove("c");
  EXPECT_EQ(pairsOf(h), (Pairs{{"a", "1"}, {"b", "2"}}));
}

TEST(HeaderMap, ClearResetsTheReasonPhrase) {
  HeaderMap h;
  h.add(":status", "200");
  h.setHttp1ReasonPhrase("Fine Thanks");
  h.clear();
  EXPECT_EQ(h.http1ReasonPhrase(), "");
}

TEST(HeaderMap, VersionChangesOnClear) {
  HeaderMap h;
  h.add("a", "1");
  auto before = h.version();
  h.clear();
  EXPECT_NE(h.version(), before);
}

TEST(HeaderMap, VersionChangesOnClearOfAnEmptyMap) {
  HeaderMap h;
  auto before = h.version();
  h.clear();
  EXPECT_NE(h.version(), before);
}

TEST(HeaderMap, ACopyHoldsOnlyTheUsedEntries) {
  HeaderMap h;
  fillFirstMessage(h);
  h.clear();
  h.add("a", "1");
  HeaderMap copy = h;
  EXPECT_EQ(pairsOf(copy), (Pairs{{"a", "1"}}));
  copy.add("b", "2");
  EXPECT_EQ(pairsOf(copy), (Pairs{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(pairsOf(h), (Pairs{{"a", "1"}}));  // the original is untouched
}

TEST(HeaderMap, AMovedToMapHoldsTheHeaders) {
  HeaderMap h;
  h.add("a", "1");
  h.add(":path", "/");
  HeaderMap moved = std::move(h);
  EXPECT_EQ(pairsOf(moved), (Pairs{{":path", "/"}, {"a", "1"}}));
}

// A map is moved into a chain and its variable is filled again for the next
// message; its storage went with the move, so it must say it is empty.
TEST(HeaderMap, AMovedFromMapIsEmptyAndCanBeRefilled) {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "2");
  HeaderMap moved = std::move(h);
  ASSERT_EQ(h.size(), 0U);  // NOLINT(bugprone-use-after-move): the point of the test
  ASSERT_TRUE(h.entries().empty());
  h.add("c", "3");
  EXPECT_EQ(pairsOf(h), (Pairs{{"c", "3"}}));
}

TEST(HeaderMap, NamesAreLowerCasedOnlyForAsciiLettersAtEveryPosition) {
  // Every byte value at every position of names from 1 to 20 bytes (the
  // lowering works on overlapping 4- and 8-byte words).
  for (size_t len = 1; len <= 20; ++len) {
    for (int c = 0; c < 256; ++c) {
      for (size_t pos = 0; pos < len; ++pos) {
        std::string name(len, 'K');
        name[pos] = static_cast<char>(c);
        std::string expected(len, 'k');
        expected[pos] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : static_cast<char>(c);
        HeaderMap h;
        h.add(name, "v");
        ASSERT_EQ(h.entries()[0].name, expected) << "byte " << c << " at " << pos << " of " << len;
      }
    }
  }
}

// --- the arena: a parsed head is copied once, and edits cannot grow it without bound ---

TEST(HeaderMap, HeadersFromAnAdoptedBlockAreCopiesOfIt) {
  std::string head = "GET / HTTP/1.1\r\nUser-Agent: Curl\r\nX-Id: 7\r\n\r\n";
  const std::string original = head;
  const std::string_view v(head);
  HeaderMap h;
  std::vector<http::Header> parsed = {{v.substr(16, 10), v.substr(28, 4)},  // User-Agent: Curl
                                      {v.substr(34, 4), v.substr(40, 1)}};  // X-Id: 7
  const HeaderMap::Entry pseudo[] = {{":method", v.substr(0, 3)}};
  h.takeHead(v, parsed, pseudo, kSkipNone);
  EXPECT_EQ(pairsOf(h), (Pairs{{":method", "GET"}, {"user-agent", "Curl"}, {"x-id", "7"}}));
  EXPECT_EQ(head, original);  // the parsed head itself is not touched
  head.assign(head.size(), '#');  // the connection reuses its input buffer
  EXPECT_EQ(pairsOf(h), (Pairs{{":method", "GET"}, {"user-agent", "Curl"}, {"x-id", "7"}}));
}

// The wire gets names as the peer sent them (as nginx and HAProxy forward
// them); scripts iterating see lower case, as in Envoy.
TEST(HeaderMap, NamesFromABlockGoOutAsReceivedAndIterateInLowerCase) {
  std::string head = "User-Agent: Curl\r\n";
  const std::string_view v(head);
  HeaderMap h;
  std::vector<http::Header> parsed = {{v.substr(0, 10), v.substr(12, 4)}};
  h.takeHead(v, parsed, {}, kSkipNone);
  h.add("X-Added", "1");
  ASSERT_EQ(h.entriesAnyCase().size(), 2U);
  EXPECT_EQ(h.entriesAnyCase()[0].name, "User-Agent");
  EXPECT_EQ(h.entriesAnyCase()[1].name, "x-added");  // what a filter adds is lower case
  const uint64_t version = h.version();
  EXPECT_EQ(pairsOf(h), (Pairs{{"user-agent", "Curl"}, {"x-added", "1"}}));
  EXPECT_EQ(h.version(), version);  // lowering is no change a reader can see
  EXPECT_EQ(h.entriesAnyCase()[0].name, "user-agent");
  EXPECT_EQ(head, "User-Agent: Curl\r\n");
}

TEST(HeaderMap, LookupsIgnoreTheCaseOfNamesFromABlock) {
  std::string head = "Content-Type: text/html\r\nX-A: 1\r\nx-a: 2\r\n";
  const std::string_view v(head);
  HeaderMap h;
  std::vector<http::Header> parsed = {{v.substr(0, 12), v.substr(14, 9)},
                                      {v.substr(25, 3), v.substr(30, 1)},
                                      {v.substr(33, 3), v.substr(38, 1)}};
  h.takeHead(v, parsed, {}, kSkipNone);
  ASSERT_NE(h.getFirst("content-type"), nullptr);
  EXPECT_EQ(*h.getFirst("content-type"), "text/html");
  EXPECT_EQ(h.count("X-a"), 2U);
  EXPECT_EQ(h.get("x-A"), "1,2");
  h.replace("x-a", "3");
  EXPECT_EQ(h.count("x-a"), 1U);
  EXPECT_EQ(*h.getFirst("x-a"), "3");
  h.remove("CONTENT-TYPE");
  EXPECT_EQ(pairsOf(h), (Pairs{{"x-a", "3"}}));
}

// borrowHead() views the head where it lies until ownBytes() copies it;
// what was added meanwhile, and pseudo values from elsewhere, are the map's.
TEST(HeaderMap, ABorrowedHeadIsViewedInPlaceUntilOwnBytesCopiesIt) {
  std::string head = "HTTP/1.1 200 OK\r\nServer: S\r\nX-Id: 7\r\n";
  const std::string_view v(head);
  std::string elsewhere = "extra";
  std::vector<http::Header> parsed = {{v.substr(17, 6), v.substr(25, 1)},   // Server: S
                                      {v.substr(28, 4), v.substr(34, 1)}};  // X-Id: 7
  const HeaderMap::Entry pseudo[] = {{":status", v.substr(9, 3)}, {":other", elsewhere}};
  HeaderMap h;
  h.borrowHead(v, parsed, pseudo, [](std::string_view name) { return name == "X-Id"; });
  EXPECT_TRUE(parsed.empty());
  EXPECT_TRUE(h.borrowing());
  EXPECT_TRUE(h.pseudoAsTaken());
  ASSERT_EQ(h.entriesAnyCase().size(), 3U);
  EXPECT_EQ(h.entriesAnyCase()[0].value.data(), head.data() + 9);  // in place
  EXPECT_EQ(h.entriesAnyCase()[2].name.data(), head.data() + 17);
  elsewhere.assign("#####");  // copied when the entries were laid out (the first read above)
  h.add("x-added", "1");
  EXPECT_EQ(pairsOf(h), (Pairs{{":status", "200"}, {":other", "extra"}, {"server", "S"}, {"x-added", "1"}}));
  h.ownBytes();
  EXPECT_FALSE(h.borrowing());
  head.assign(head.size(), '#');  // the buffer is reused
  EXPECT_EQ(pairsOf(h), (Pairs{{":status", "200"}, {":other", "extra"}, {"server", "S"}, {"x-added", "1"}}));
  h.ownBytes();  // once is enough
  EXPECT_EQ(pairsOf(h), (Pairs{{":status", "200"}, {":other", "extra"}, {"server", "S"}, {"x-added", "1"}}));
}

// A borrowed head stays as parsed while filters only add regular headers:
// the proxy sends it plus what was added, and nothing lays the entries out.
TEST(HeaderMap, ABorrowedHeadOnlyAddedToStaysAsParsed) {
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\nX-Id: 7\r\n";
  const std::string_view v(head);
  const std::vector<http::Header> as_parsed = {{v.substr(16, 4), v.substr(22, 1)},   // Host: h
                                               {v.substr(25, 4), v.substr(31, 1)}};  // X-Id: 7
  std::vector<http::Header> parsed = as_parsed;
  const HeaderMap::Entry pseudo[] = {{":method", v.substr(0, 3)}};
  HeaderMap h;
  h.borrowHead(v, parsed, pseudo, [](std::string_view name) { return name == "Host"; });
  EXPECT_TRUE(parsed.empty());
  EXPECT_TRUE(h.onlyAddedTo());
  h.add("X-Added", "1");
  h.add("x-more", "2");
  ASSERT_TRUE(h.onlyAddedTo());
  EXPECT_EQ(pairsOf(h.addedToHead()), (Pairs{{"x-added", "1"}, {"x-more", "2"}}));
  // As parsed: names as received, and what `skip` keeps out of the map too.
  EXPECT_EQ(pairsOf(h.headAndAdded()), (Pairs{{"Host", "h"}, {"X-Id", "7"}, {"x-added", "1"}, {"x-more", "2"}}));
  EXPECT_EQ(h.headAndAdded()[1].value.data(), head.data() + 31);
}

// Every reader lays the entries out first, as takeHead() would have.
TEST(HeaderMap, AnyReaderLaysABorrowedHeadOut) {
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\nX-Id: 7\r\n";
  const std::string_view v(head);
  const Pairs laid_out = {{":method", "GET"}, {":scheme", "http"}, {"x-id", "7"}, {"x-added", "1"}};
  const std::vector<std::pair<const char*, std::function<void(HeaderMap&)>>> readers = {
      {"entries", [](HeaderMap& h) { (void)h.entries(); }},
      {"entriesAnyCase", [](HeaderMap& h) { (void)h.entriesAnyCase(); }},
      {"pseudoEntries", [](HeaderMap& h) { (void)h.pseudoEntries(); }},
      {"regularEntriesAnyCase", [](HeaderMap& h) { (void)h.regularEntriesAnyCase(); }},
      {"size", [](HeaderMap& h) { (void)h.size(); }},
      {"empty", [](HeaderMap& h) { (void)h.empty(); }},
      {"get", [](HeaderMap& h) { EXPECT_EQ(h.get("x-id"), "7"); }},
      {"getFirst", [](HeaderMap& h) { EXPECT_EQ(*h.getFirst("x-id"), "7"); }},
      {"getAtIndex", [](HeaderMap& h) { EXPECT_EQ(*h.getAtIndex(":method", 0), "GET"); }},
      {"count", [](HeaderMap& h) { EXPECT_EQ(h.count("host"), 0U); }},
      {"ownBytes", [](HeaderMap& h) { h.ownBytes(); }},
      {"copy", [](HeaderMap& h) { EXPECT_EQ(pairsOf(HeaderMap(h)), (Pairs{{":method", "GET"}, {":scheme", "http"}, {"x-id", "7"}, {"x-added", "1"}})); }},
      {"move", [](HeaderMap& h) { h = HeaderMap(std::move(h)); }},
      {"add a pseudo-header", [](HeaderMap& h) { h.add(":path", "/"); }},
      {"remove", [](HeaderMap& h) { h.remove("absent"); }},
      {"replace", [](HeaderMap& h) { h.replace("x-added", "1"); }},
  };
  for (const auto& [what, read] : readers) {
    SCOPED_TRACE(what);
    std::vector<http::Header> parsed = {{v.substr(16, 4), v.substr(22, 1)}, {v.substr(25, 4), v.substr(31, 1)}};
    std::string scheme = "http";
    const HeaderMap::Entry pseudo[] = {{":method", v.substr(0, 3)}, {":scheme", scheme}};
    HeaderMap h;
    h.borrowHead(v, parsed, pseudo, [](std::string_view name) { return name == "Host"; });
    h.add("x-added", "1");
    read(h);
    EXPECT_FALSE(h.onlyAddedTo());
    scheme.assign("####");  // a pseudo value from elsewhere was copied when laid out
    Pairs expected = laid_out;
    if (std::string_view(what) == "add a pseudo-header") expected.insert(expected.begin() + 2, {":path", "/"});
    EXPECT_EQ(pairsOf(h), expected);
    EXPECT_EQ(h.pseudoEntries().size(), expected.size() - 2);
  }
}

TEST(HeaderMap, BorrowingEndsWithClearAndMovesWithTheMapButNotToCopies) {
  std::string head = "Server: S\r\n";
  const std::string_view v(head);
  auto borrowed = [&] {
    HeaderMap h;
    std::vector<http::Header> parsed = {{v.substr(0, 6), v.substr(8, 1)}};
    h.borrowHead(v, parsed, {}, kSkipNone);
    return h;
  };
  HeaderMap moved(borrowed());
  EXPECT_TRUE(moved.borrowing());
  const HeaderMap copy(moved);
  EXPECT_FALSE(copy.borrowing());
  EXPECT_NE(copy.entriesAnyCase()[0].name.data(), head.data());
  HeaderMap cleared = borrowed();
  cleared.clear();
  EXPECT_FALSE(cleared.borrowing());
  cleared.ownBytes();  // nothing to copy: the head may be gone by now
  EXPECT_TRUE(cleared.empty());
  HeaderMap taken = borrowed();
  std::vector<http::Header> parsed = {{v.substr(0, 6), v.substr(8, 1)}};
  taken.takeHead(v, parsed, {}, kSkipNone);
  EXPECT_FALSE(taken.borrowing());
  head.assign(head.size(), '#');
  EXPECT_EQ(pairsOf(copy), (Pairs{{"server", "S"}}));
  EXPECT_EQ(pairsOf(taken), (Pairs{{"server", "S"}}));
}

// The proxy reads back a map's pseudo-headers only when a filter touched
// one of them; whatever else changed, untouched ones are what it gave.
TEST(HeaderMap, PseudoAsTakenHoldsUntilAPseudoHeaderChanges) {
  std::string head = "GET / HTTP/1.1\r\nX-Id: 7\r\n";
  const std::string_view v(head);
  const HeaderMap::Entry pseudo[] = {{":method", v.substr(0, 3)}, {":path", v.substr(4, 1)}};
  auto taken = [&] {
    HeaderMap h;
    std::vector<http::Header> parsed = {{v.substr(16, 4), v.substr(22, 1)}};
    h.takeHead(v, parsed, pseudo, kSkipNone);
    return h;
  };
  EXPECT_FALSE(HeaderMap().pseudoAsTaken());
  HeaderMap added;
  added.add(":method", "GET");
  EXPECT_FALSE(added.pseudoAsTaken());  // filled otherwise

  HeaderMap h = taken();
  EXPECT_TRUE(h.pseudoAsTaken());
  h.add("x-new", "1");
  h.replace("x-id", "8");
  h.remove("x-new");
  EXPECT_TRUE(h.pseudoAsTaken());  // regular headers only
  HeaderMap copy(h);
  EXPECT_TRUE(copy.pseudoAsTaken());
  HeaderMap moved(std::move(copy));
  EXPECT_TRUE(moved.pseudoAsTaken());
  EXPECT_FALSE(copy.pseudoAsTaken());  // NOLINT(bugprone-use-after-move): a moved-from map is empty

  h = taken();
  h.add(":authority", "example.com");
  EXPECT_FALSE(h.pseudoAsTaken());
  h = taken();
  h.replace(":path", "/other");
  EXPECT_FALSE(h.pseudoAsTaken());
  h = taken();
  h.replace(":scheme", "https");  // absent: added
  EXPECT_FALSE(h.pseudoAsTaken());
  h = taken();
  h.remove(":method");
  EXPECT_FALSE(h.pseudoAsTaken());
  h = taken();
  h.remove(":nothing-like-it");
  EXPECT_FALSE(h.pseudoAsTaken());  // a pseudo name, even absent: the reader looks again
  h = taken();
  h.clear();
  EXPECT_FALSE(h.pseudoAsTaken());
}

TEST(HeaderMap, TakeHeadKeepsOrderPutsPseudoFirstSkipsWhatItIsToldAndCopiesViewsOutsideTheBlock) {
  std::string head = "Host: h\r\nA: 1\r\n";
  const std::string_view v(head);
  const std::string elsewhere = "B2";
  const std::string_view e(elsewhere);
  std::string method = "GET";
  HeaderMap h;
  h.add("stale", "x");  // whatever the map held goes
  std::vector<http::Header> parsed = {
      {v.substr(0, 4), v.substr(6, 1)}, {v.substr(9, 1), v.substr(12, 1)}, {e.substr(0, 1), e.substr(1, 1)}};
  const HeaderMap::Entry pseudo[] = {{":method", method}, {":path", v.substr(6, 1)}};
  h.takeHead(v, parsed, pseudo, [](std::string_view name) { return name == "Host"; });
  EXPECT_TRUE(parsed.empty());  // cleared, its storage kept for the parser
  head.assign(head.size(), '#');
  method.assign("###");
  EXPECT_EQ(pairsOf(h), (Pairs{{":method", "GET"}, {":path", "h"}, {"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(h.pseudoEntries().size(), 2U);
  ASSERT_EQ(h.regularEntriesAnyCase().size(), 2U);
  h.add(":scheme", "http");  // still in front of the regular ones
  EXPECT_EQ(h.pseudoEntries().size(), 3U);
  EXPECT_EQ(h.regularEntriesAnyCase()[0].value, "1");
}

TEST(HeaderMap, TakeHeadWithoutABlockCopiesEveryView) {
  std::string head = "A: 1\r\n";
  const std::string_view v(head);
  HeaderMap h;
  std::vector<http::Header> parsed = {{v.substr(0, 1), v.substr(3, 1)}};
  h.takeHead({}, parsed, {}, kSkipNone);
  head.assign(head.size(), '#');
  EXPECT_EQ(pairsOf(h), (Pairs{{"a", "1"}}));
}

TEST(HeaderMap, ACopyOfAMapWithNamesAsReceivedStandsAlone) {
  std::string head = "X-Id: 7\r\n";
  const std::string_view v(head);
  auto h = std::make_unique<HeaderMap>();
  std::vector<http::Header> parsed = {{v.substr(0, 4), v.substr(6, 1)}};
  h->takeHead(v, parsed, {}, kSkipNone);
  const HeaderMap copy(*h);
  h.reset();
  EXPECT_EQ(pairsOf(copy), (Pairs{{"x-id", "7"}}));
  EXPECT_EQ(*copy.getFirst("X-ID"), "7");
}

TEST(HeaderMap, ViewsOutsideTheAdoptedBlockAreCopied) {
  std::string head = "X-A: 1\r\n";
  std::string other = "Elsewhere";
  HeaderMap h;
  std::vector<http::Header> parsed = {{std::string_view(other).substr(0, 4), std::string_view(other)}};
  h.takeHead(head, parsed, {}, kSkipNone);
  other.assign(other.size(), '#');
  EXPECT_EQ(pairsOf(h), (Pairs{{"else", "Elsewhere"}}));
}

TEST(HeaderMap, AdoptedBlockEndsWithClear) {
  std::string head = "X-A: 1\r\n";
  const std::string_view v(head);
  HeaderMap h;
  std::vector<http::Header> first = {{v.substr(0, 3), v.substr(5, 1)}};
  h.takeHead(v, first, {}, kSkipNone);
  h.clear();
  std::vector<http::Header> again = {{v.substr(0, 3), v.substr(5, 1)}};
  h.takeHead({}, again, {}, kSkipNone);  // no block now: copied
  head.assign(head.size(), '#');
  EXPECT_EQ(pairsOf(h), (Pairs{{"x-a", "1"}}));
}

TEST(HeaderMap, APseudoHeaderFromABlockGoesBeforeRegularOnes) {
  std::string head = "x-a: 1\r\n";
  const std::string_view v(head);
  HeaderMap h;
  std::vector<http::Header> parsed = {{v.substr(0, 3), v.substr(5, 1)}};
  h.takeHead(v, parsed, {}, kSkipNone);
  h.add(":status", "200");
  EXPECT_EQ(pairsOf(h), (Pairs{{":status", "200"}, {"x-a", "1"}}));
  ASSERT_EQ(h.regularEntriesAnyCase().size(), 1U);
  EXPECT_EQ(h.regularEntriesAnyCase()[0].name, "x-a");
}

TEST(HeaderMap, RegularEntriesSkipOnlyThePseudoHeaders) {
  HeaderMap h;
  EXPECT_TRUE(h.regularEntriesAnyCase().empty());
  h.add(":path", "/");
  EXPECT_TRUE(h.regularEntriesAnyCase().empty());
  h.add("a", "1");
  h.add(":method", "GET");
  ASSERT_EQ(h.regularEntriesAnyCase().size(), 1U);
  EXPECT_EQ(h.regularEntriesAnyCase()[0].value, "1");
}

TEST(HeaderMap, PseudoEntriesFollowAddsRemovesReplacesCopiesAndMoves) {
  HeaderMap h;
  h.add("a", "1");
  h.add(":path", "/");      // goes in front of "a"
  h.add(":method", "GET");  // and after ":path"
  ASSERT_EQ(h.pseudoEntries().size(), 2U);
  EXPECT_EQ(h.pseudoEntries()[1].name, ":method");
  ASSERT_EQ(h.regularEntriesAnyCase().size(), 1U);
  h.remove(":path");
  ASSERT_EQ(h.pseudoEntries().size(), 1U);
  EXPECT_EQ(h.pseudoEntries()[0].name, ":method");
  h.add(":method", "PUT");
  h.replace(":method", "POST");  // the second one goes
  ASSERT_EQ(h.pseudoEntries().size(), 1U);
  EXPECT_EQ(h.pseudoEntries()[0].value, "POST");
  h.remove("a");
  EXPECT_TRUE(h.regularEntriesAnyCase().empty());
  const HeaderMap copy(h);
  EXPECT_EQ(copy.pseudoEntries().size(), 1U);
  HeaderMap moved(std::move(h));
  EXPECT_EQ(moved.pseudoEntries().size(), 1U);
  EXPECT_TRUE(h.pseudoEntries().empty());  // NOLINT(bugprone-use-after-move): a moved-from map is empty
  moved.clear();
  EXPECT_TRUE(moved.pseudoEntries().empty());
}

TEST(HeaderMap, ReplacingAValueInALoopKeepsTheArenaBounded) {
  HeaderMap h;
  h.add("keep", "me");
  const std::string big(1000, 'v');
  for (int i = 0; i < 10000; ++i) {
    h.replace("x-counter", big + std::to_string(i));
  }
  EXPECT_EQ(pairsOf(h), (Pairs{{"keep", "me"}, {"x-counter", big + "9999"}}));
  EXPECT_LT(h.arenaBytes(), 200U * 1024);  // 10 MB without compaction
}

TEST(HeaderMap, AddingAndRemovingInALoopKeepsTheArenaBounded) {
  HeaderMap h;
  const std::string big(1000, 'v');
  for (int i = 0; i < 10000; ++i) {
    h.add("x-temp", big);
    h.remove("x-temp");
  }
  h.add("last", "1");
  EXPECT_EQ(pairsOf(h), (Pairs{{"last", "1"}}));
  EXPECT_LT(h.arenaBytes(), 200U * 1024);
}

TEST(HeaderMap, ReplaceWithAValueOfTheMapItselfKeepsIt) {
  HeaderMap h;
  h.add("a", std::string(70000, 'x'));  // past the compaction floor
  h.add("b", "short");
  const std::string_view own = *h.getFirst("b");
  h.replace("a", own);
  EXPECT_EQ(pairsOf(h), (Pairs{{"a", "short"}, {"b", "short"}}));
}

TEST(HeaderMap, ACopyOwnsItsBytes) {
  HeaderMap h;
  h.add("a", "1");
  HeaderMap copy = h;
  h.clear();
  h.add("zz", "99");
  EXPECT_EQ(pairsOf(copy), (Pairs{{"a", "1"}}));
}

TEST(HeaderMap, ViewsSurviveAMoveOfTheMap) {
  HeaderMap h;
  h.add("a", "1");
  const std::string_view* value = h.getFirst("a");
  ASSERT_NE(value, nullptr);
  const std::string_view before = *value;
  HeaderMap moved = std::move(h);
  EXPECT_EQ(before, "1");
  EXPECT_EQ(before.data(), moved.getFirst("a")->data());
}

TEST(HeaderMap, LargeValuesGetTheirOwnChunk) {
  HeaderMap h;
  const std::string big(100000, 'c');
  h.add("cookie", big);
  h.add("a", "1");
  EXPECT_EQ(*h.getFirst("cookie"), big);
  EXPECT_EQ(*h.getFirst("a"), "1");
  h.clear();
  h.add("b", "2");
  EXPECT_EQ(pairsOf(h), (Pairs{{"b", "2"}}));
}

TEST(HeaderMap, ACopyOfEmptyNamesAndValuesIsEmptyToo) {
  HeaderMap h;
  h.add("", "");
  HeaderMap copy = h;
  EXPECT_EQ(pairsOf(copy), (Pairs{{"", ""}}));
}

}  // namespace
}  // namespace pier::filters
