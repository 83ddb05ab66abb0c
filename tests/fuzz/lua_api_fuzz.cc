// Untrusted request and response bytes through a fixed Lua script that
// exercises the headers and body APIs (iteration, get/add/replace with names
// and values taken from the input, body/chunk reads and rewrites, trailers).
// Whatever arrives, the filter must not crash, and a script must never be
// able to put CR, LF or NUL into a header or a malformed name into the map.
//
// Input: an options byte, then headers (count, then name/value pairs), body
// chunks and optional trailers, read with FuzzedDataProvider.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "src/common/log.h"
#include "src/lua/lua_bindings.h"
#include "tests/lua/lua_filter_test_util.h"

namespace pier::lua::fuzz {
namespace {

#define LUA_FUZZ_CHECK(cond)                                                        \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

constexpr const char* kScript = R"lua(
function envoy_on_request(h)
  local hd = h:headers()
  local names = {}
  for k, v in pairs(hd) do
    names[#names + 1] = k
    local _ = hd:get(k), hd:getNumValues(k), hd:getAtIndex(k, 0), hd:getAtIndex(k, #v)
  end
  for _, k in ipairs(names) do
    pcall(hd.add, hd, k, hd:get(k) or '')
    pcall(hd.replace, hd, 'x-copy-' .. k, k)
    pcall(hd.add, hd, hd:get(k) or 'x', k)
  end
  local path = hd:get(':path') or ''
  pcall(hd.replace, hd, path, path)
  if hd:get('x-remove') then hd:remove(hd:get('x-remove')) end
  local b = h:body(#names % 2 == 0)
  if b then
    local n = b:length()
    local s = b:getBytes(0, n)
    pcall(b.getBytes, b, n % 7, n)
    pcall(b.getBytes, b, -1, 1)
    b:setBytes(s:reverse())
    pcall(hd.replace, hd, 'x-body', s)
  end
  local t = h:trailers()
  if t then
    for k, v in pairs(t) do pcall(t.add, t, v, k) end
  end
  if path == '/respond' then h:respond({[':status'] = '200', [names[1] or 'x'] = s or 'v'}, 'r') end
end

function envoy_on_response(h)
  for c in h:bodyChunks() do
    local s = c:getBytes(0, c:length())
    c:setBytes(s .. s:sub(1, 3))
    pcall(h.headers(h).add, h:headers(), 'x-late', s)
  end
  local t = h:trailers()
  if t then
    for k, v in pairs(t) do pcall(t.replace, t, k, v .. v) end
  end
end
)lua";

size_t badEntries(const filters::HeaderMap& h) {
  size_t bad = 0;
  for (const auto& e : h.entries()) {
    if (!validHeaderName(e.name) || !validHeaderValue(e.value)) ++bad;
  }
  return bad;
}

// Scripts only add well-formed entries (copies of malformed input are refused).
bool wellFormed(const filters::HeaderMap& h, size_t bad_in_input) { return badEntries(h) <= bad_in_input; }

filters::HeaderMap readHeaders(FuzzedDataProvider& in, bool response) {
  filters::HeaderMap h;
  if (response) {
    h.add(":status", "200");
  } else {
    h.add(":method", "GET");
    h.add(":path", in.ConsumeRandomLengthString(64));
  }
  const size_t n = in.ConsumeIntegralInRange<size_t>(0, 12);
  for (size_t i = 0; i < n; ++i) {
    std::string name = in.ConsumeRandomLengthString(32);
    std::string value = in.ConsumeRandomLengthString(64);
    h.add(name, value);
  }
  return h;
}

// One worker's state, shared by all runs as on a real worker.
struct Worker {
  Worker() {
    spdlog::set_level(spdlog::level::off);
    auto f = LuaFilterFactory::create(testing::luaFilterConfig(kScript), listener);
    LUA_FUZZ_CHECK(f.ok());
    factory = std::move(f.value());
  }
  config::Listener listener;
  filters::WorkerCache cache;
  std::unique_ptr<LuaFilterFactory> factory;
};

void runOnce(FuzzedDataProvider& in) {
  static Worker worker;
  testing::FakeCallbacks cb;
  std::unique_ptr<filters::HttpFilter> filter = worker.factory->create(worker.cache, nullptr);
  LUA_FUZZ_CHECK(filter != nullptr);
  filter->setCallbacks(cb);
  cb.filter = filter.get();

  // Request: headers, then chunks delivered as the chain would (held while stopped).
  filters::HeaderMap headers = readHeaders(in, false);
  const size_t bad_before = badEntries(headers);
  const size_t chunks = in.ConsumeIntegralInRange<size_t>(0, 4);
  const bool trailers = in.ConsumeBool();
  bool stopped = filter->onRequestHeaders(headers, chunks == 0 && !trailers) == filters::HeadersStatus::kStop;
  LUA_FUZZ_CHECK(wellFormed(headers, bad_before));
  for (size_t i = 0; i < chunks && !cb.reply; ++i) {
    std::string chunk = in.ConsumeRandomLengthString(256);
    const bool end = i + 1 == chunks && !trailers;
    std::string* data = &chunk;
    if (stopped) {
      cb.held_request += chunk;
      data = &cb.held_request;
    }
    const auto status = filter->onRequestData(*data, end);
    stopped = status != filters::DataStatus::kContinue;
    if (!stopped) cb.held_request.clear();
  }
  filters::HeaderMap request_trailers;
  if (trailers && !cb.reply) {
    request_trailers = readHeaders(in, true);
    request_trailers.remove(":status");
    const size_t bad = badEntries(request_trailers);
    filter->onRequestTrailers(request_trailers);
    LUA_FUZZ_CHECK(wellFormed(request_trailers, bad));
  }
  if (!cb.reply) {
    LUA_FUZZ_CHECK(wellFormed(headers, bad_before));
  } else {
    LUA_FUZZ_CHECK(wellFormed(cb.reply->headers, 0));
  }

  // Response: streamed chunks.
  if (!cb.reply) {
    filters::HeaderMap response = readHeaders(in, true);
    const size_t bad_response = badEntries(response);
    const size_t rchunks = in.ConsumeIntegralInRange<size_t>(0, 4);
    filter->onResponseHeaders(response, rchunks == 0);
    for (size_t i = 0; i < rchunks; ++i) {
      std::string chunk = in.ConsumeRandomLengthString(256);
      const std::string before = chunk;
      filter->onResponseData(chunk, i + 1 == rchunks);
      LUA_FUZZ_CHECK(chunk == before + before.substr(0, 3));
    }
    LUA_FUZZ_CHECK(wellFormed(response, bad_response));
  }
  filter->onDestroy();
}

}  // namespace
}  // namespace pier::lua::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  pier::lua::fuzz::runOnce(in);
  return 0;
}
