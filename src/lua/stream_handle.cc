// The stream handle scripts receive as request_handle / response_handle.
//
// Calls that wait (body, bodyChunks iteration, trailers, a synchronous
// httpCall) and respond() record in the StreamSide why they stop and yield;
// the filter acts on it after lua_resume returns, so no stream callback that
// can end the stream runs while Lua is on the stack. Waits that can be served
// at once (the body already complete, say) return without yielding.
#include <chrono>
#include <string>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "src/lua/lua_bindings.h"

namespace pier::lua {

int handleBase64Escape(lua_State* L);
int handleImportPublicKey(lua_State* L);
int handleVerifySignature(lua_State* L);

namespace {

constexpr TypeName kHandle{ObjectKind::kHandle, "stream handle"};

StreamSide& handleSide(lua_State* L) {
  LuaScript& script = scriptOf(L);
  return sideOf(L, script, selfObject(L, script, kHandle));
}

// Waiting suspends the stream's own coroutine; a yield from a coroutine the
// script made itself (or another stream's) would resume the wrong code.
void checkOwnThread(lua_State* L, const StreamSide& s, const char* what) {
  if (L != s.thread) {
    luaL_error(L, "%s must be called from the hook's own coroutine", what);
  }
}

int handleHeaders(lua_State* L) {
  StreamSide& s = handleSide(L);
  if (s.headers == nullptr && s.headers_copy == nullptr)
    return luaL_error(L, "headers are no longer available");
  pushHeaders(L, s, kHeadersMain);
  return 1;
}

int handleBody(lua_State* L) {
  StreamSide& s = handleSide(L);
  const bool always_wrap = lua_toboolean(L, 2) != 0;
  if (s.streaming) return luaL_error(L, "body() cannot be used after bodyChunks()");
  if (s.shared->complete(s)) {
    pushBody(L, s, always_wrap);
    return 1;
  }
  checkOwnThread(L, s, "body()");
  s.always_wrap = always_wrap;
  s.wait = Wait::kBody;
  return lua_yield(L, 0);
}

// Upvalues: script, handle metatable, the handle.
int bodyChunksNext(lua_State* L) {
  auto* o = static_cast<StreamObject*>(lua_touserdata(L, lua_upvalueindex(3)));
  StreamSide& s = sideOf(L, *o);
  StreamShared& shared = *s.shared;
  // The previous chunk is done with; if it was held here, the script has now seen all of it.
  if (s.stopped && s.chunk != nullptr && s.chunk == &shared.held(s)) s.held_consumed = s.chunk->size();
  auto retire = [&s] {
    s.chunk = nullptr;
    ++s.chunk_epoch;
  };
  if (s.stopped) {
    // Data that arrived while the script waited for something else.
    std::string& held = shared.held(s);
    if (held.size() > s.held_consumed) {
      retire();
      pushChunk(L, s, &held, s.held_consumed);
      return 1;
    }
  }
  if (shared.complete(s)) {
    // The end: the last chunk stays valid for the rest of the script (Envoy
    // scripts rewrite it after the loop).
    lua_pushnil(L);
    return 1;
  }
  retire();
  checkOwnThread(L, s, "bodyChunks()");
  s.wait = Wait::kBodyChunk;
  return lua_yield(L, 0);
}

int handleBodyChunks(lua_State* L) {
  StreamSide& s = handleSide(L);
  if (s.response && !s.streaming && s.headers != nullptr && !s.headers_only) {
    // The headers leave before the body, whose length a script rewriting
    // chunks can change: a content-length sent now could turn out wrong, so
    // the proxy frames the response itself (chunked) instead. Requests keep
    // theirs, as in Envoy (some upstreams refuse chunked requests with 411);
    // a rewrite that changes a request's length then gets a 500.
    s.headers->remove("content-length");
  }
  s.streaming = true;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, bodyChunksNext, 3);
  return 1;
}

int handleTrailers(lua_State* L) {
  StreamSide& s = handleSide(L);
  if (s.trailers == nullptr && s.shared->complete(s)) s.trailers = s.shared->chainTrailers(s);
  if (s.trailers != nullptr) {
    pushHeaders(L, s, kHeadersTrailers);
    return 1;
  }
  if (s.shared->complete(s)) {
    lua_pushnil(L);
    return 1;
  }
  checkOwnThread(L, s, "trailers()");
  s.wait = Wait::kTrailers;
  return lua_yield(L, 0);
}

int pushSideObject(lua_State* L, ObjectKind kind) {
  LuaScript& script = scriptOf(L);
  StreamObject& o = selfObject(L, script, kHandle);
  sideOf(L, script, o);
  script.pushStreamObject(L, kind, o.side);
  return 1;
}

int handleMetadata(lua_State* L) { return pushSideObject(L, ObjectKind::kMetadata); }
int handleStreamInfo(lua_State* L) { return pushSideObject(L, ObjectKind::kStreamInfo); }
int handleConnection(lua_State* L) { return pushSideObject(L, ObjectKind::kConnection); }

template <spdlog::level::level_enum Level>
int handleLog(lua_State* L) {
  StreamSide& s = handleSide(L);
  std::string_view message = checkView(L, 2);
  if (spdlog::should_log(Level)) {
    spdlog::log(Level, "lua [{}/{}]: {}", s.shared->settings->listener, s.shared->settings->name, message);
  }
  return 0;
}

// Adds the headers of the table at `index` (values: string or array of
// strings) to `out`. `skip_pseudo` leaves out names starting with ':'.
void readHeaderTable(lua_State* L, int index, filters::HeaderMap& out, bool skip_pseudo, const char* what) {
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "%s: header names must be strings", what);
    size_t name_len = 0;
    const char* name_data = lua_tolstring(L, -2, &name_len);
    const std::string_view name(name_data, name_len);
    if (!validHeaderName(name)) luaL_error(L, "%s: invalid header name", what);
    const bool skip = skip_pseudo && name.front() == ':';
    auto add = [&](int value_index) {
      const int type = lua_type(L, value_index);
      if (type != LUA_TSTRING && type != LUA_TNUMBER) {
        luaL_error(L, "%s: header values must be strings or arrays of strings", what);
      }
      size_t len = 0;
      const char* v = lua_tolstring(L, value_index, &len);
      if (!validHeaderValue({v, len})) luaL_error(L, "%s: invalid header value", what);
      if (!skip) out.add(name, {v, len});
    };
    if (lua_type(L, -1) == LUA_TTABLE) {
      const size_t n = lua_objlen(L, -1);
      for (size_t i = 1; i <= n; ++i) {
        lua_rawgeti(L, -1, static_cast<int>(i));
        add(-1);
        lua_pop(L, 1);
      }
    } else {
      add(-1);
    }
    lua_pop(L, 1);
  }
}

struct CallOptions {
  int64_t timeout_ms = 0;
  bool asynchronous = false;
  bool return_duplicate_headers = false;
};

CallOptions readCallOptions(lua_State* L) {
  CallOptions options;
  if (lua_type(L, 5) == LUA_TTABLE) {
    lua_getfield(L, 5, "timeout_ms");
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "httpCall(): timeout_ms must be a number");
      options.timeout_ms = static_cast<int64_t>(lua_tonumber(L, -1));
    }
    lua_getfield(L, 5, "asynchronous");
    options.asynchronous = lua_toboolean(L, -1) != 0;
    lua_getfield(L, 5, "return_duplicate_headers");
    options.return_duplicate_headers = lua_toboolean(L, -1) != 0;
    lua_pop(L, 3);
  } else if (!lua_isnoneornil(L, 5)) {
    options.timeout_ms = static_cast<int64_t>(luaL_checknumber(L, 5));
    options.asynchronous = lua_toboolean(L, 6) != 0;
  }
  if (options.timeout_ms < 0) luaL_error(L, "httpCall(): timeout_ms must not be negative");
  return options;
}

int handleHttpCall(lua_State* L) {
  StreamSide& s = handleSide(L);
  StreamShared& shared = *s.shared;
  std::string_view cluster = checkView(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  std::string_view body;
  if (!lua_isnoneornil(L, 4)) body = checkView(L, 4);
  const CallOptions options = readCallOptions(L);
  if (!options.asynchronous) checkOwnThread(L, s, "httpCall()");

  filters::HttpCallRequest request;
  request.cluster.assign(cluster);
  request.body.assign(body);
  request.timeout = std::chrono::milliseconds(options.timeout_ms);
  readHeaderTable(L, 3, request.headers, false, "httpCall()");
  for (const char* required : {":method", ":path", ":authority"}) {
    if (request.headers.getFirst(required) == nullptr) {
      return luaL_error(L, "httpCall(): headers must include %s", required);
    }
  }

  if (options.asynchronous) {
    // Fire and forget: the call outlives the stream if need be (as in Envoy).
    Status started = shared.async_calls.start(*shared.callbacks, std::move(request));
    if (!started.ok()) return luaL_error(L, "httpCall(): %s", started.error().c_str());
    return 0;
  }
  s.call_result.reset();
  s.call_answered = false;
  s.return_duplicate_headers = options.return_duplicate_headers;
  StreamShared* shared_ptr = &shared;
  StreamSide* side_ptr = &s;
  auto started =
      shared.callbacks->httpCall(std::move(request), [shared_ptr, side_ptr](filters::HttpCallResponse r) {
        shared_ptr->onHttpCallDone(*side_ptr, std::move(r));
      });
  if (!started.ok()) return luaL_error(L, "httpCall(): %s", started.error().c_str());
  if (s.call != nullptr) shared.answered_calls.push_back(std::move(s.call));
  s.call = std::move(started.value());
  s.wait = Wait::kHttpCall;
  return lua_yield(L, 0);
}

int handleRespond(lua_State* L) {
  StreamSide& s = handleSide(L);
  StreamShared& shared = *s.shared;
  luaL_checktype(L, 2, LUA_TTABLE);
  std::string_view body;
  if (!lua_isnoneornil(L, 3)) body = checkView(L, 3);
  if (!s.response && s.headers == nullptr) {
    return luaL_error(L, "respond() is only allowed before the request headers are continued");
  }
  if (s.response && shared.callbacks->responseStarted()) {
    return luaL_error(L, "respond() is not allowed once the response has started");
  }
  checkOwnThread(L, s, "respond()");

  lua_getfield(L, 2, ":status");
  const int type = lua_type(L, -1);
  const double status = (type == LUA_TNUMBER || type == LUA_TSTRING) ? lua_tonumber(L, -1) : 0;
  lua_pop(L, 1);
  if (!(status >= 200 && status <= 599) || status != static_cast<int>(status)) {
    return luaL_error(L, "respond(): :status must be a number from 200 to 599");
  }
  LocalReply reply;
  reply.status = static_cast<int>(status);
  reply.body.assign(body);
  reply.details = "lua_response";
  readHeaderTable(L, 2, reply.headers, true, "respond()");
  // The body given here is the whole body; the reply's framing is the proxy's.
  reply.headers.remove("content-length");
  reply.headers.remove("transfer-encoding");
  s.reply = std::move(reply);
  s.wait = Wait::kRespond;
  return lua_yield(L, 0);
}

// "millisecond" (default) or "microsecond"; any case.
bool wantMicroseconds(lua_State* L) {
  if (lua_isnoneornil(L, 2)) return false;
  std::string unit(checkView(L, 2));
  for (char& c : unit) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (unit == "millisecond") return false;
  if (unit == "microsecond") return true;
  luaL_error(L, "timestamp resolution must be EnvoyTimestampResolution.MILLISECOND or MICROSECOND");
  return false;
}

int64_t now(bool micros) {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return micros ? std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count()
                : std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
}

int handleTimestamp(lua_State* L) {
  handleSide(L);
  lua_pushnumber(L, static_cast<double>(now(wantMicroseconds(L))));
  return 1;
}

int handleTimestampString(lua_State* L) {
  handleSide(L);
  const std::string text = std::to_string(now(wantMicroseconds(L)));
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

int handleClearRouteCache(lua_State* L) {
  StreamSide& s = handleSide(L);
  // Routing happens once the request headers leave the chain; afterwards
  // (and on the response path) there is nothing to redo.
  if (!s.response && s.headers != nullptr) s.shared->callbacks->clearRouteCache();
  return 0;
}

int handleFilterContext(lua_State* L) {
  StreamSide& s = handleSide(L);
  if (s.shared->filter_context != nullptr && s.shared->filter_context->is_object()) {
    pushJson(L, *s.shared->filter_context);
  } else {
    lua_newtable(L);
  }
  return 1;
}

}  // namespace

int pushHttpCallResponse(lua_State* L, const filters::HttpCallResponse& response,
                         bool duplicate_headers_as_arrays) {
  lua_createtable(L, 0, static_cast<int>(response.headers.size()));
  for (const auto& e : response.headers.entries()) {
    lua_pushlstring(L, e.name.data(), e.name.size());
    if (duplicate_headers_as_arrays) {
      lua_pushvalue(L, -1);
      lua_rawget(L, -3);
      if (lua_isstring(L, -1)) {  // second value: turn it into an array
        lua_createtable(L, 2, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
        lua_pushlstring(L, e.value.data(), e.value.size());
        lua_rawseti(L, -2, 2);
        lua_rawset(L, -3);
        continue;
      }
      if (lua_istable(L, -1)) {  // third or later value
        lua_pushlstring(L, e.value.data(), e.value.size());
        lua_rawseti(L, -2, static_cast<int>(lua_objlen(L, -2) + 1));
        lua_pop(L, 2);
        continue;
      }
      lua_pop(L, 1);
    }
    lua_pushlstring(L, e.value.data(), e.value.size());
    lua_rawset(L, -3);  // last one wins
  }
  if (response.body.empty()) {
    lua_pushnil(L);
  } else {
    lua_pushlstring(L, response.body.data(), response.body.size());
  }
  return 2;
}

void registerHandleType(LuaScript& script) {
  static const luaL_Reg kMethods[] = {
      {"headers", handleHeaders},
      {"body", handleBody},
      {"bodyChunks", handleBodyChunks},
      {"trailers", handleTrailers},
      {"metadata", handleMetadata},
      {"streamInfo", handleStreamInfo},
      {"connection", handleConnection},
      {"connectionStreamInfo", handleStreamInfo},
      {"logTrace", handleLog<spdlog::level::trace>},
      {"logDebug", handleLog<spdlog::level::debug>},
      {"logInfo", handleLog<spdlog::level::info>},
      {"logWarn", handleLog<spdlog::level::warn>},
      {"logErr", handleLog<spdlog::level::err>},
      {"logCritical", handleLog<spdlog::level::critical>},
      {"httpCall", handleHttpCall},
      {"respond", handleRespond},
      {"timestamp", handleTimestamp},
      {"timestampString", handleTimestampString},
      {"base64Escape", handleBase64Escape},
      {"importPublicKey", handleImportPublicKey},
      {"verifySignature", handleVerifySignature},
      {"clearRouteCache", handleClearRouteCache},
      {"filterContext", handleFilterContext},
      {nullptr, nullptr},
  };
  script.defineType(ObjectKind::kHandle, kHandle.name, kMethods);
}

}  // namespace pier::lua
