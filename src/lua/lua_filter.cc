#include "src/lua/lua_filter.h"

#include <cstdint>
#include <set>

#include <nlohmann/json.hpp>

#include "src/common/hash.h"
#include "src/common/log.h"
#include "src/lua/lua_bindings.h"
#include "src/lua/lua_script.h"
#include "src/lua/stream_side.h"

namespace pier::lua {
namespace {

// One stream's run of the script, in both directions.
//
// Each direction's hook is a coroutine. A wait in the script (body(),
// trailers(), a synchronous httpCall) makes the filter return a stop status
// and hold what it has; the event that satisfies the wait resumes the
// coroutine. Stream callbacks that may run other filters or end the stream
// (continue*, sendLocalReply) are only made after lua_resume returned, and
// are the last thing a method does.
class LuaFilter final : public filters::HttpFilter, private StreamShared {
 public:
  // `key`: the factory's cache key of the code, by address (null when it
  // has none that lasts: such a filter is never recycled).
  LuaFilter(std::shared_ptr<LuaScript> script, filters::WorkerCache& cache, const FilterSettings& settings,
            const config::Route* route, const nlohmann::json* filter_context, const std::string* key)
      : script_(std::move(script)), cache_(cache), key_(key), executions_(settings.executions.cellOfThisThread()) {
    StreamShared::settings = &settings;
    StreamShared::route = route;
    StreamShared::filter_context = filter_context;
    StreamShared::script = script_.get();
    request_.shared = this;
    response_.shared = this;
    response_.response = true;
  }

  ~LuaFilter() override {
    for (StreamSide* s : {&request_, &response_}) {
      if (s->active()) endRun(*s, false);
      if (s->co) script_->recycleThread(std::move(s->co));
      if (s->live_slot != StreamSide::kNoSlot) script_->live().release(s->live_slot);
    }
  }

  void setCallbacks(filters::FilterCallbacks& cb) override { callbacks = &cb; }

  // Made ready for another stream (see FilterFactory::recycle): only when
  // the code is the same and nothing of the last stream lives on here (no
  // coroutine, no call), so the new stream starts as a new filter would.
  bool recycle(const std::string* key, const config::Route* route, const nlohmann::json* filter_context) {
    if (key_ == nullptr || key != key_ || !destroyed) return false;
    if (request_.active() || response_.active() || request_.call || response_.call || !answered_calls.empty() ||
        async_calls.outstanding() > 0) {
      return false;
    }
    request_.resetForNextStream();
    response_.resetForNextStream();
    StreamShared::route = route;
    StreamShared::filter_context = filter_context;
    callbacks = nullptr;
    in_lua = false;
    destroyed = false;
    return true;
  }

  // Recycling for the route of the last stream: the factory would choose
  // the same code and context again.
  bool recycleForSameRoute(const config::Route* route) {
    return route == StreamShared::route && recycle(key_, route, StreamShared::filter_context);
  }

  filters::HeadersStatus onRequestHeaders(filters::HeaderMap& headers, bool end_stream) override {
    if (!script_->ok()) {
      // Only made for fail_closed filters: the script could not be loaded here.
      sendReply(LocalReply{500, "lua script error\n", {}, "lua_error"});
      return filters::HeadersStatus::kStop;
    }
    return onHeaders(request_, headers, end_stream);
  }
  filters::DataStatus onRequestData(std::string& data, bool end_stream) override {
    return onData(request_, data, end_stream);
  }
  filters::TrailersStatus onRequestTrailers(filters::HeaderMap& trailers) override {
    return onTrailers(request_, trailers);
  }
  filters::HeadersStatus onResponseHeaders(filters::HeaderMap& headers, bool end_stream) override {
    if (!script_->ok()) return filters::HeadersStatus::kContinue;
    return onHeaders(response_, headers, end_stream);
  }
  filters::DataStatus onResponseData(std::string& data, bool end_stream) override {
    return onData(response_, data, end_stream);
  }
  filters::TrailersStatus onResponseTrailers(filters::HeaderMap& trailers) override {
    return onTrailers(response_, trailers);
  }
  // A response hook that finished wants nothing more of the response.
  bool wantsResponseBody() const override { return response_.active(); }

  void onDestroy() override {
    destroyed = true;
    // Asynchronous calls go on without the stream. The worker's cache (not
    // this script's state, which may go with this stream after a reload)
    // holds them.
    if (async_calls.outstanding() > 0) async_calls.moveTo(AsyncCalls::detached(cache_));
    // Synchronous calls end with the stream. An answered one may be
    // delivering its answer right now (this stream ending from inside its
    // callback), so it is left to the destructor.
    endCall(request_);
    endCall(response_);
  }

 private:
  enum class Step { kFinished, kWaiting, kReply };

  static void endCall(StreamSide& s) {
    if (s.call && !s.call_answered) s.call.reset();
  }

  [[gnu::always_inline]] filters::HeadersStatus onHeaders(StreamSide& s, filters::HeaderMap& headers,
                                                           bool end_stream) {
    s.end_seen = end_stream;
    s.headers_only = end_stream;
    const bool has_hook = s.response ? script_->hasOnResponse() : script_->hasOnRequest();
    if (!has_hook) return filters::HeadersStatus::kContinue;
    s.headers = &headers;
    s.body = nullptr;
    s.body_is_held = true;  // looked up if the script asks (StreamShared::body)
    const Step step = start(s);
    switch (step) {
      case Step::kFinished:
        release(s);
        return filters::HeadersStatus::kContinue;
      case Step::kReply:
        sendReply(std::move(s.reply));
        return filters::HeadersStatus::kStop;
      case Step::kWaiting:
        break;
    }
    if (s.wait == Wait::kBodyChunk) {
      release(s);
      return filters::HeadersStatus::kContinue;
    }
    s.stopped = true;
    return s.wait == Wait::kHttpCall ? filters::HeadersStatus::kStopAndWatermark
                                     : filters::HeadersStatus::kStop;
  }

  filters::DataStatus onData(StreamSide& s, std::string& data, bool end_stream) {
    if (end_stream) s.end_seen = true;
    if (!s.active()) return filters::DataStatus::kContinue;
    if (!data.empty()) s.saw_body = true;
    // While stopped, `data` is everything held here (the chain's held body).
    s.body = s.stopped ? &data : nullptr;
    s.body_is_held = false;
    switch (s.wait) {
      case Wait::kBody:
        if (!end_stream) return filters::DataStatus::kStopAndBuffer;
        lua_settop(s.thread, 0);
        pushBody(s.thread, s, s.always_wrap);
        break;
      case Wait::kTrailers:
        if (!end_stream) return filters::DataStatus::kStopAndBuffer;
        lua_settop(s.thread, 0);
        lua_pushnil(s.thread);
        break;
      case Wait::kBodyChunk:
        // Every piece is a chunk, even the empty one that ends the body (as
        // in Envoy): it is the last chunk scripts may rewrite after the loop.
        lua_settop(s.thread, 0);
        pushChunk(s.thread, s, &data, 0);
        break;
      case Wait::kHttpCall:
        // Envoy's StopIterationAndWatermark: the body waits here, and the
        // stream stops reading at the buffer limit instead of failing.
        return filters::DataStatus::kStopAndWatermark;
      case Wait::kNone:
      case Wait::kRespond:
        return filters::DataStatus::kContinue;
    }
    const Step step = run(s, 1);
    switch (step) {
      case Step::kFinished:
        release(s);
        return filters::DataStatus::kContinue;
      case Step::kReply:
        sendReply(std::move(s.reply));
        return filters::DataStatus::kStop;
      case Step::kWaiting:
        break;
    }
    if (s.wait == Wait::kBodyChunk) {
      release(s);
      return filters::DataStatus::kContinue;
    }
    // Waiting for a call (or more body): this chunk, seen by the script, stays here.
    // The chain moves it into the held body, where a last chunk the script
    // still has lives on.
    if (s.chunk == &data) s.chunk = &held(s);
    if (!s.stopped) s.held_consumed = data.size();
    s.stopped = true;
    return s.wait == Wait::kHttpCall ? filters::DataStatus::kStopAndWatermark
                                     : filters::DataStatus::kStopAndBuffer;
  }

  filters::TrailersStatus onTrailers(StreamSide& s, filters::HeaderMap& trailers) {
    s.end_seen = true;
    if (!s.active()) return filters::TrailersStatus::kContinue;
    s.trailers = &trailers;
    s.body = s.stopped ? &held(s) : nullptr;
    s.body_is_held = false;
    switch (s.wait) {
      case Wait::kBody:
        lua_settop(s.thread, 0);
        pushBody(s.thread, s, s.always_wrap);
        break;
      case Wait::kTrailers:
        lua_settop(s.thread, 0);
        pushHeaders(s.thread, s, kHeadersTrailers);
        break;
      case Wait::kBodyChunk:
        lua_settop(s.thread, 0);
        lua_pushnil(s.thread);
        break;
      case Wait::kHttpCall:
        return filters::TrailersStatus::kStop;
      case Wait::kNone:
      case Wait::kRespond:
        return filters::TrailersStatus::kContinue;
    }
    const Step step = run(s, 1);
    switch (step) {
      case Step::kFinished:
        release(s);
        return filters::TrailersStatus::kContinue;
      case Step::kReply:
        sendReply(std::move(s.reply));
        return filters::TrailersStatus::kStop;
      case Step::kWaiting:
        break;
    }
    // Only a call can still be waited for: the stream is complete.
    if (!s.stopped) s.held_consumed = held(s).size();
    s.stopped = true;
    return filters::TrailersStatus::kStop;
  }

  void onHttpCallDone(StreamSide& s, filters::HttpCallResponse response) override {
    s.call_answered = true;
    if (destroyed) return;
    if (in_lua) {
      // Answered before httpCall() even yielded; run() picks it up.
      s.call_result = std::make_unique<filters::HttpCallResponse>(std::move(response));
      return;
    }
    if (!s.active() || s.wait != Wait::kHttpCall) return;
    s.body = s.stopped ? &held(s) : nullptr;
    s.body_is_held = false;
    lua_settop(s.thread, 0);
    const int nargs = pushHttpCallResponse(s.thread, response, s.return_duplicate_headers);
    const Step step = run(s, nargs);
    switch (step) {
      case Step::kFinished:
        continueIfStopped(s);
        return;
      case Step::kReply:
        sendReply(std::move(s.reply));
        return;
      case Step::kWaiting:
        break;
    }
    if (s.wait == Wait::kBodyChunk) {
      continueIfStopped(s);
    } else if (s.wait == Wait::kBody || s.wait == Wait::kTrailers) {
      // The body waited at the watermark during the call; now the script
      // wants all of it. Last action: over the limit this ends the stream.
      if (s.response) {
        callbacks->needWholeResponseBody();
      } else {
        callbacks->needWholeRequestBody();
      }
    }
    // Waiting for body, trailers or another call: still stopped, and the
    // chain keeps offering data and trailers as they arrive.
  }

  [[gnu::always_inline]] Step start(StreamSide& s) {
    executions_.add();
    if (s.live_slot == StreamSide::kNoSlot) s.live_slot = script_->live().reserve();
    s.ref = script_->live().claim(s.live_slot, &s);
    if (!s.co) s.co = script_->takeThread();
    script_->startRun(*s.co, s.response, s.ref);
    s.thread = s.co->L;
    return run(s, 0);  // the run closure passes the handle
  }

  // Runs the side's coroutine until it finishes, waits or fails. Inlined,
  // with the resume: nearly every hook run finishes at once, and then costs
  // no call more than lua_resume (afterResume handles the rest).
  [[gnu::always_inline]] Step run(StreamSide& s, int nargs) {
    const int rc = resume(s, nargs);
    if (rc == 0 && s.chunk == nullptr) {
      endRun(s, true);
      return Step::kFinished;
    }
    return afterResume(s, rc);
  }

  [[gnu::always_inline]] int resume(StreamSide& s, int nargs) {
    s.wait = Wait::kNone;
    in_lua = true;
    script_->enterRun(*s.co, s.headers, s.headers != nullptr || s.headers_copy != nullptr);
    const int rc = lua_resume(s.thread, nargs);
    script_->leaveRun();
    in_lua = false;
    return rc;
  }

  [[gnu::noinline]] Step afterResume(StreamSide& s, int rc) {
    for (;;) {
      if (s.chunk != nullptr) {
        // A chunk lives until the next one is asked for or the script waits;
        // the last chunk of the body until the script ends (it is held here
        // while the script waits for a call).
        if (s.stopped && s.chunk == &held(s)) s.held_consumed = s.chunk->size();
        const bool last_chunk_kept = rc == LUA_YIELD && s.wait == Wait::kHttpCall && complete(s);
        if (!last_chunk_kept) {
          s.chunk = nullptr;
          ++s.chunk_epoch;
        }
      }
      if (rc == LUA_YIELD) {
        if (s.wait == Wait::kHttpCall && s.call_result) {
          filters::HttpCallResponse response = std::move(*s.call_result);
          s.call_result.reset();
          lua_settop(s.thread, 0);
          rc = resume(s, pushHttpCallResponse(s.thread, response, s.return_duplicate_headers));
          continue;
        }
        if (s.wait == Wait::kRespond) {
          endRun(s, false);
          return Step::kReply;
        }
        if (s.wait == Wait::kNone) {
          return fail(
              s, "the hook yielded outside a stream handle call (coroutine.yield is not supported here)");
        }
        return Step::kWaiting;
      }
      if (rc == 0) {
        endRun(s, true);
        return Step::kFinished;
      }
      return fail(s, errorText(s.thread));
    }
  }

  static std::string errorText(lua_State* T) {
    const int type = lua_type(T, -1);
    if (type == LUA_TSTRING || type == LUA_TNUMBER) {
      size_t len = 0;
      const char* s = lua_tolstring(T, -1, &len);
      return {s, len};
    }
    return std::string("(error object is a ") + luaL_typename(T, -1) + " value)";
  }

  Step fail(StreamSide& s, const std::string& message) {
    settings->errors.add();
    PIER_LOG_ERROR("lua filter '{}' (listener '{}'): {} failed: {}", settings->name, settings->listener,
                   s.response ? "envoy_on_response" : "envoy_on_request", message);
    endRun(s, false);
    if (settings->fail_closed) {
      // After the response started the stream can only be reset, which
      // sendLocalReply does then: the client never sees a half-filtered answer.
      s.reply = LocalReply{500, "lua script error\n", {}, "lua_error"};
      return Step::kReply;
    }
    return Step::kFinished;  // fail open: the stream goes on with the edits made so far
  }

  // The hook's coroutine is gone: every object the script got dies with it.
  // Inlined (as release() is): every hook run that finishes passes here, and
  // the call costs more than the few stores.
  [[gnu::always_inline]] void endRun(StreamSide& s, bool finished_normally) {
    script_->live().retire(s.ref);
    // A finished thread stays for the side's next run; a suspended or failed
    // one is the garbage collector's.
    if (!finished_normally) script_->dropThread(std::move(s.co));
    s.thread = nullptr;
    s.headers_copy.reset();
    s.chunk = nullptr;
  }

  // The stream moves on past this filter: held headers, body and trailers
  // are no longer this filter's to change. A script still running (reading
  // chunks) keeps a read-only copy of the headers.
  [[gnu::always_inline]] void release(StreamSide& s) {
    if (s.headers != nullptr && s.active()) s.headers_copy = std::make_unique<filters::HeaderMap>(*s.headers);
    s.headers = nullptr;
    s.body = nullptr;
    s.body_is_held = false;
    ++s.body_epoch;
    s.trailers = nullptr;
    s.stopped = false;
    s.held_consumed = 0;
  }

  void continueIfStopped(StreamSide& s) {
    const bool was_stopped = s.stopped;
    release(s);
    if (!was_stopped) return;
    // Last action: continuing may run the rest of the chain, even end the stream.
    if (s.response) {
      callbacks->continueResponse();
    } else {
      callbacks->continueRequest();
    }
  }

  // Last action: the stream ends every filter's work (onDestroy) before this returns.
  void sendReply(LocalReply reply) {
    callbacks->sendLocalReply(reply.status, reply.body, reply.headers, reply.details);
  }

  std::string& held(const StreamSide& s) const { return StreamShared::held(s); }

  std::shared_ptr<LuaScript> script_;  // first: outlives the coroutines of the sides
  filters::WorkerCache& cache_;        // the worker's: outlives its streams
  const std::string* key_;
  // settings->executions on this worker: counted on every hook run.
  stats::CounterCell executions_;
  StreamSide request_;
  StreamSide response_;
};

// LuaVm::create appends a traceback to load errors; config errors want one line.
std::string firstLine(const std::string& text) {
  const size_t end = text.find("\nstack traceback:");
  return end == std::string::npos ? text : text.substr(0, end);
}

// One LuaFilter is allocated per stream: glibc serves blocks up to 1032
// bytes from a per-thread cache in a few instructions, larger ones from its
// arena lists at several times the cost.
static_assert(sizeof(LuaFilter) <= 1024, "keep LuaFilter within glibc's per-thread cache sizes");

}  // namespace

LuaFilterFactory::LuaFilterFactory() : settings_(std::make_unique<FilterSettings>()) {}
LuaFilterFactory::~LuaFilterFactory() = default;

const std::string& LuaFilterFactory::name() const { return settings_->name; }

std::string LuaFilterFactory::cacheKey(std::string_view code, bool sandbox) {
  // 128 bits of hash, not the code itself: the key is looked up for every
  // stream. (Not OpenSSL's SHA-256: initialising libcrypto costs ~2 MiB of RSS
  // in a process that may never verify a signature.)
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key = sandbox ? "lua:s:" : "lua:u:";
  for (uint64_t part : {hashBytes(code, 0x6c7561636f646531ull), hashBytes(code, 0x6c7561636f646532ull)}) {
    for (int shift = 60; shift >= 0; shift -= 4) key.push_back(kHex[(part >> shift) & 0xf]);
  }
  return key;
}

Result<std::unique_ptr<LuaFilterFactory>> LuaFilterFactory::create(const config::HttpFilter& filter,
                                                                   const config::Listener& listener) {
  const config::LuaFilter& lua = filter.lua;
  std::set<std::string> checked;
  auto check = [&](const config::DataSource& source) -> Status {
    if (!checked.insert(cacheKey(source.code, lua.sandbox)).second) return {};
    auto vm = LuaVm::create(source.code, source.chunk_name,
                            LuaVm::Options{.sandbox = lua.sandbox, .prepare = defineTimestampResolution});
    if (vm.ok()) return {};
    const std::string& origin = source.origin.empty() ? filter.origin : source.origin;
    return Error{origin + ": " + firstLine(vm.error())};
  };

  std::unique_ptr<LuaFilterFactory> factory(new LuaFilterFactory());
  if (lua.default_source_code) {
    if (Status s = check(*lua.default_source_code); !s) return Error{s.error()};
    factory->default_code_ =
        Code{*lua.default_source_code, cacheKey(lua.default_source_code->code, lua.sandbox)};
  }
  for (const auto& [name, source] : lua.source_codes) {
    if (Status s = check(source); !s) return Error{s.error()};
    factory->named_codes_.emplace(name, Code{source, cacheKey(source.code, lua.sandbox)});
  }
  for (const auto& vhost : listener.virtual_hosts) {
    for (const auto& route : vhost.routes) {
      auto it = route.filters.find(filter.name);
      if (it == route.filters.end() || it->second.disabled) continue;
      const config::RouteFilterOverride& o = it->second;
      if (!o.name.empty()) {
        if (!lua.source_codes.contains(o.name)) {
          return Error{(o.origin.empty() ? filter.origin : o.origin) + ": filter '" + filter.name +
                       "' has no source_codes entry named '" + o.name + "'"};
        }
      } else if (o.source_code) {
        if (Status s = check(*o.source_code); !s) return Error{s.error()};
        factory->route_keys_.emplace(&route, cacheKey(o.source_code->code, lua.sandbox));
      }
    }
  }

  FilterSettings& settings = *factory->settings_;
  settings.name = filter.name;
  settings.listener = listener.name;
  settings.metadata_namespace = lua.metadata_namespace;
  settings.fail_closed = lua.fail_closed;
  settings.sandbox = lua.sandbox;
  const stats::Labels labels = {{"listener", listener.name},
                                {"filter", lua.stat_prefix.empty() ? filter.name : lua.stat_prefix}};
  auto& store = stats::Store::instance();
  settings.executions =
      store.counter("pier_lua_executions_total", labels, "Lua hook runs (envoy_on_request/response)");
  settings.errors = store.counter("pier_lua_errors_total", labels, "Lua script errors (runtime and load)");
  return factory;
}

std::optional<LuaFilterFactory::Choice> LuaFilterFactory::choose(const config::Route* route) const {
  const config::RouteFilterOverride* override_config = nullptr;
  if (route != nullptr) {
    auto it = route->filters.find(settings_->name);
    if (it != route->filters.end()) override_config = &it->second;
  }
  if (override_config == nullptr) {
    if (!default_code_) return std::nullopt;
    return Choice{&default_code_->source, &default_code_->key, nullptr};
  }
  if (override_config->disabled) return std::nullopt;
  const nlohmann::json* context = override_config->filter_context.get();
  if (!override_config->name.empty()) {
    auto it = named_codes_.find(override_config->name);
    if (it == named_codes_.end()) return std::nullopt;  // rejected by create(); a different listener's route
    return Choice{&it->second.source, &it->second.key, context};
  }
  if (override_config->source_code) {
    auto key = route_keys_.find(route);
    return Choice{&*override_config->source_code, key != route_keys_.end() ? &key->second : nullptr, context};
  }
  if (!default_code_) return std::nullopt;
  return Choice{&default_code_->source, &default_code_->key, context};
}

std::unique_ptr<filters::HttpFilter> LuaFilterFactory::create(filters::WorkerCache& cache,
                                                              const config::Route* route) const {
  const std::optional<Choice> choice = choose(route);
  if (!choice) return nullptr;
  if (choice->key == nullptr) {
    // A route of another listener with its own inline code: no key made at load.
    const std::string key = cacheKey(choice->source->code, settings_->sandbox);
    return makeFilter(cache, *choice->source, key, nullptr, route, choice->context);
  }
  return makeFilter(cache, *choice->source, *choice->key, choice->key, route, choice->context);
}

bool LuaFilterFactory::recycle(filters::HttpFilter& filter, filters::WorkerCache& cache,
                               const config::Route* route) const {
  (void)cache;  // the filter keeps its script: same key, same code
  // Only this factory's filters are offered to it, and it makes LuaFilters only.
  auto& lua = static_cast<LuaFilter&>(filter);
  if (lua.recycleForSameRoute(route)) return true;
  const std::optional<Choice> choice = choose(route);
  if (!choice || choice->key == nullptr) return false;
  return lua.recycle(choice->key, route, choice->context);
}

std::unique_ptr<filters::HttpFilter> LuaFilterFactory::makeFilter(
    filters::WorkerCache& cache, const config::DataSource& source, const std::string& key,
    const std::string* lasting_key, const config::Route* route, const nlohmann::json* filter_context) const {
  std::shared_ptr<LuaScript> script = std::static_pointer_cast<LuaScript>(cache.find(key));
  if (script == nullptr) {
    script = LuaScript::create(source.code, source.chunk_name, settings_->sandbox);
    if (!script->ok()) {
      // Checked at config load, so only a script that fails differently here
      // (memory, time-dependent top level) gets this far. Kept in the cache
      // so it is not retried on every request.
      settings_->errors.add();
      PIER_LOG_ERROR("lua filter '{}' (listener '{}'): cannot load {}: {}", settings_->name,
                     settings_->listener, source.chunk_name, firstLine(script->loadError()));
    }
    cache.put(key, script);
  }
  if (!script->ok()) {
    if (!settings_->fail_closed) return nullptr;
  } else if (!script->hasOnRequest() && !script->hasOnResponse()) {
    return nullptr;  // nothing to run: no cost per stream
  }
  return std::make_unique<LuaFilter>(std::move(script), cache, *settings_, route, filter_context, lasting_key);
}

}  // namespace pier::lua
