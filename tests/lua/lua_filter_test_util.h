#pragma once
// Drives a Lua filter directly: a fake FilterCallbacks that records what the
// filter asks of its stream (continues, local replies, http calls) and lets a
// test answer calls, plus a harness that builds the filter from script text.
//
// The fake follows the chain's contract where the filter relies on it: while
// the filter is stopped, the `data` it gets is the held body (the test passes
// `cb.held_request`), and sendLocalReply ends the filter (onDestroy).
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/config/config.h"
#include "src/filters/filter.h"
#include "src/lua/lua_filter.h"
#include "src/lua/lua_headers.h"
#include "src/lua/lua_script.h"

namespace pier::lua::testing {

struct CallState {
  filters::HttpCallRequest request;
  filters::HttpCallDone done;
  bool cancelled = false;
  bool answered = false;
};

class FakeCallHandle final : public filters::HttpCallHandle {
 public:
  explicit FakeCallHandle(std::shared_ptr<CallState> state) : state_(std::move(state)) {}
  ~FakeCallHandle() override {
    if (!state_->answered) state_->cancelled = true;
  }

 private:
  std::shared_ptr<CallState> state_;
};

struct LocalReplyRecord {
  int status = 0;
  std::string body;
  filters::HeaderMap headers;
  std::string details;
};

class FakeCallbacks final : public filters::FilterCallbacks {
 public:
  void continueRequest() override { ++continued_request; }
  void continueResponse() override { ++continued_response; }
  std::string& heldRequestBody() override { return held_request; }
  std::string& heldResponseBody() override { return held_response; }
  bool requestComplete() const override { return request_complete; }
  bool responseComplete() const override { return response_complete; }
  filters::HeaderMap* requestTrailers() override { return request_trailers; }
  filters::HeaderMap* responseTrailers() override { return response_trailers; }
  const filters::HeaderMap* requestHeaders() const override { return nullptr; }
  void sendLocalReply(int status, std::string_view body, const filters::HeaderMap& headers,
                      std::string_view details) override {
    reply = LocalReplyRecord{status, std::string(body), headers, std::string(details)};
    if (filter != nullptr) filter->onDestroy();
  }
  bool responseStarted() const override { return response_started; }
  filters::StreamInfo& streamInfo() override { return *info; }
  const config::Route* route() const override { return current_route; }
  void clearRouteCache() override { ++route_cache_cleared; }
  Result<std::unique_ptr<filters::HttpCallHandle>> httpCall(filters::HttpCallRequest request,
                                                            filters::HttpCallDone done) override {
    if (!clusters.contains(request.cluster)) return Error{"unknown cluster '" + request.cluster + "'"};
    auto state = std::make_shared<CallState>();
    state->request = std::move(request);
    state->done = std::move(done);
    calls.push_back(state);
    auto handle = std::make_unique<FakeCallHandle>(state);
    if (answer_at_once) answer(calls.size() - 1, *answer_at_once, "at once");
    return std::unique_ptr<filters::HttpCallHandle>(std::move(handle));
  }

  // Completes call `index` (unless it was cancelled) with a status and body.
  void answer(size_t index, int status, const std::string& body,
              std::vector<std::pair<std::string, std::string>> extra = {}) {
    CallState& c = *calls.at(index);
    if (c.cancelled || c.answered) return;
    c.answered = true;
    filters::HttpCallResponse response;
    response.headers.add(":status", std::to_string(status));
    for (const auto& [k, v] : extra) response.headers.add(k, v);
    response.body = body;
    // The callback may end the stream; copy it so the fake stays valid.
    filters::HttpCallDone done = c.done;
    done(std::move(response));
  }

  int continued_request = 0;
  int continued_response = 0;
  std::string held_request;
  std::string held_response;
  bool request_complete = false;
  bool response_complete = false;
  filters::HeaderMap* request_trailers = nullptr;
  filters::HeaderMap* response_trailers = nullptr;
  std::optional<LocalReplyRecord> reply;
  bool response_started = false;
  filters::StreamInfo own_info;
  filters::StreamInfo* info = &own_info;
  const config::Route* current_route = nullptr;
  int route_cache_cleared = 0;
  std::set<std::string> clusters = {"auth", "logs"};
  std::vector<std::shared_ptr<CallState>> calls;
  std::optional<int> answer_at_once;
  filters::HttpFilter* filter = nullptr;
};

inline config::DataSource inlineSource(
    std::string code, std::string chunk = "test.lua",
    std::string origin = "test.yaml:4:7: listeners[0].filters[0].lua.default_source_code") {
  config::DataSource d;
  d.code = std::move(code);
  d.chunk_name = std::move(chunk);
  d.origin = std::move(origin);
  return d;
}

inline config::HttpFilter luaFilterConfig(std::string code, std::string name = "lua") {
  config::HttpFilter f;
  f.name = std::move(name);
  f.origin = "test.yaml:3:5: listeners[0].filters[0]";
  f.lua.default_source_code = inlineSource(std::move(code));
  return f;
}

inline filters::HeaderMap requestHeaders(std::vector<std::pair<std::string, std::string>> extra = {}) {
  filters::HeaderMap h;
  h.add(":method", "GET");
  h.add(":path", "/hello");
  h.add(":authority", "example.com");
  h.add(":scheme", "http");
  for (const auto& [k, v] : extra) h.add(k, v);
  return h;
}

inline filters::HeaderMap responseHeaders(std::vector<std::pair<std::string, std::string>> extra = {}) {
  filters::HeaderMap h;
  h.add(":status", "200");
  for (const auto& [k, v] : extra) h.add(k, v);
  return h;
}

// One filter of one Lua entry on one stream, with a worker cache.
class Harness {
 public:
  explicit Harness(config::HttpFilter filter_config) : config_(std::move(filter_config)) {
    listener_.name = "web";
  }
  Harness(const std::string& code) : Harness(luaFilterConfig(code)) {}  // NOLINT

  config::HttpFilter& config() { return config_; }
  config::Listener& listener() { return listener_; }

  // Builds the factory (once) and a filter for `route`; nullptr when the
  // factory makes none. ASSERTs are the caller's: check the result.
  filters::HttpFilter* make(const config::Route* route = nullptr) {
    if (!factory_) {
      auto f = LuaFilterFactory::create(config_, listener_);
      if (!f.ok()) {
        error_ = f.error();
        return nullptr;
      }
      factory_ = std::move(f.value());
    }
    filter_ = factory_->create(cache_, route);
    if (filter_) {
      filter_->setCallbacks(cb);
      cb.filter = filter_.get();
      cb.current_route = route;
    }
    return filter_.get();
  }
  filters::HttpFilter& filter() { return *filter_; }
  void destroyFilter() {
    if (filter_) filter_->onDestroy();
    filter_.reset();
    cb.filter = nullptr;
  }
  const std::string& error() const { return error_; }
  filters::WorkerCache& cache() { return cache_; }
  LuaFilterFactory& factory() { return *factory_; }

  // tostring(<global name>) in the script's state ("nil" when unset).
  std::string global(const std::string& name, const std::string& code_key = "") {
    const std::string key = code_key.empty() ? LuaFilterFactory::cacheKey(
                                                   config_.lua.default_source_code->code, config_.lua.sandbox)
                                             : code_key;
    auto script = std::static_pointer_cast<LuaScript>(cache_.find(key));
    if (!script || !script->ok()) return "<no state>";
    lua_State* L = script->state();
    lua_getglobal(L, "tostring");
    lua_getglobal(L, name.c_str());
    lua_call(L, 1, 1);
    std::string out = lua_tostring(L, -1);
    lua_pop(L, 1);
    return out;
  }
  // Calls global function `name` in the script's state (outside any hook).
  void call(const char* name) {
    lua_State* L = script()->state();
    lua_getglobal(L, name);
    lua_call(L, 0, 0);
  }
  std::shared_ptr<LuaScript> script() {
    return std::static_pointer_cast<LuaScript>(
        cache_.find(LuaFilterFactory::cacheKey(config_.lua.default_source_code->code, config_.lua.sandbox)));
  }

  FakeCallbacks cb;

 private:
  config::HttpFilter config_;
  config::Listener listener_;
  filters::WorkerCache cache_;
  std::unique_ptr<LuaFilterFactory> factory_;
  std::unique_ptr<filters::HttpFilter> filter_;
  std::string error_;
};

// Header values as "name=value" lines, for compact expectations.
inline std::string dump(const filters::HeaderMap& h) {
  std::string out;
  for (const auto& e : h.entries()) out.append(e.name).append("=").append(e.value).append("\n");
  return out;
}

}  // namespace pier::lua::testing
