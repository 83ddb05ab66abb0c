// The objects scripts get from a stream handle: headers, body buffers, route
// metadata, streamInfo (with dynamic metadata and filter state) and the
// connection; plus JSON <-> Lua conversion for the metadata kinds.
#include <array>
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "src/config/config.h"
#include "src/lua/lua_bindings.h"

namespace pier::lua {
namespace {

constexpr int kMaxJsonDepth = 64;

// An explicit nil, so tostring(f()) works as scripts expect.
int pushNil(lua_State* L) {
  lua_pushnil(L);
  return 1;
}

// --- headers ----------------------------------------------------------------

constexpr TypeName kHeaders{ObjectKind::kHeaders, "headers"};

// A headers method's self and the side it belongs to (or a Lua error).
struct HeadersSelf {
  const StreamObject& object;
  StreamSide& side;
};

HeadersSelf headersSelf(lua_State* L) {
  LuaScript& script = scriptOf(L);
  const StreamObject& o = selfObject(L, script, kHeaders);
  return {o, sideOf(L, script, o)};
}

// A headers method's self; methods with arguments resolve its side after
// checking them, so argument errors come first whatever the object's state.
StreamObject& headersObject(lua_State* L, LuaScript& script) { return selfObject(L, script, kHeaders); }

filters::HeaderMap& readableHeaders(lua_State* L, const StreamObject& o, StreamSide& s) {
  if (o.variant == kHeadersTrailers) {
    if (s.trailers == nullptr) luaL_error(L, "trailers are no longer available");
    return *s.trailers;
  }
  if (s.headers != nullptr) return *s.headers;
  if (s.headers_copy != nullptr) return *s.headers_copy;
  luaL_error(L, "headers are no longer available");
  return *s.headers;  // unreachable
}

filters::HeaderMap& readableHeaders(lua_State* L, LuaScript& script, const StreamObject& o) {
  return readableHeaders(L, o, sideOf(L, script, o));
}

filters::HeaderMap& writableHeaders(lua_State* L, LuaScript& script, const StreamObject& o) {
  StreamSide& s = sideOf(L, script, o);
  if (o.variant == kHeadersTrailers) {
    if (s.trailers == nullptr) luaL_error(L, "trailers are no longer modifiable");
    return *s.trailers;
  }
  if (s.headers == nullptr) luaL_error(L, "headers are no longer modifiable");
  return *s.headers;
}

std::string_view checkName(lua_State* L, int index) {
  std::string_view name = checkView(L, index);
  if (!validHeaderName(name)) luaL_error(L, "invalid header name");
  return name;
}

std::string_view checkValue(lua_State* L, int index) {
  std::string_view value = checkView(L, index);
  if (!validHeaderValue(value)) luaL_error(L, "invalid header value (CR, LF and NUL are not allowed)");
  return value;
}

int headersAdd(lua_State* L) {
  LuaScript& script = scriptOf(L);
  StreamObject& o = headersObject(L, script);
  std::string_view name = checkName(L, 2);
  std::string_view value = checkValue(L, 3);
  writableHeaders(L, script, o).add(name, value);
  return 0;
}

int headersGet(lua_State* L) {
  LuaScript& script = scriptOf(L);
  StreamObject& o = headersObject(L, script);
  std::string_view name = checkView(L, 2);
  const filters::HeaderMap& h = readableHeaders(L, script, o);
  const std::string_view* first = h.getFirst(name);
  if (first == nullptr) {
    lua_pushnil(L);
  } else if (h.count(name) == 1) {
    lua_pushlstring(L, first->data(), first->size());
  } else {
    const std::string joined = *h.get(name);
    lua_pushlstring(L, joined.data(), joined.size());
  }
  return 1;
}

int headersGetAtIndex(lua_State* L) {
  LuaScript& script = scriptOf(L);
  StreamObject& o = headersObject(L, script);
  std::string_view name = checkView(L, 2);
  const lua_Integer index = luaL_checkinteger(L, 3);
  const std::string_view* v =
      index < 0 ? nullptr : readableHeaders(L, script, o).getAtIndex(name, static_cast<size_t>(index));
  if (v == nullptr) {
    lua_pushnil(L);
  } else {
    lua_pushlstring(L, v->data(), v->size());
  }
  return 1;
}

int headersGetNumValues(lua_State* L) {
  LuaScript& script = scriptOf(L);
  StreamObject& o = headersObject(L, script);
  std::string_view name = checkView(L, 2);
  lua_pushinteger(L, static_cast<lua_Integer>(readableHeaders(L, script, o).count(name)));
  return 1;
}

int headersRemove(lua_State* L) {
  LuaScript& script = scriptOf(L);
  StreamObject& o = headersObject(L, script);
  std::string_view name = checkView(L, 2);
  writableHeaders(L, script, o).remove(name);
  return 0;
}

int headersReplace(lua_State* L) {
  LuaScript& script = scriptOf(L);
  StreamObject& o = headersObject(L, script);
  std::string_view name = checkName(L, 2);
  std::string_view value = checkValue(L, 3);
  writableHeaders(L, script, o).replace(name, value);
  return 0;
}

int headersSetReasonPhrase(lua_State* L) {
  LuaScript& script = scriptOf(L);
  StreamObject& o = headersObject(L, script);
  std::string_view reason = checkValue(L, 2);
  if (!sideOf(L, script, o).response || o.variant != kHeadersMain) {
    return luaL_error(L, "setHttp1ReasonPhrase() applies to response headers only");
  }
  writableHeaders(L, script, o).setHttp1ReasonPhrase(reason);
  return 0;
}

// Upvalues: script, metatable, next index, headers version at pairs().
int headersNext(lua_State* L) {
  const HeadersSelf self = headersSelf(L);
  const filters::HeaderMap& h = readableHeaders(L, self.object, self.side);
  if (static_cast<double>(h.version()) != lua_tonumber(L, lua_upvalueindex(4))) {
    return luaL_error(L, "headers were modified during iteration");
  }
  const auto index = static_cast<size_t>(lua_tointeger(L, lua_upvalueindex(3)));
  if (index >= h.size()) return pushNil(L);
  const auto& e = h.entries()[index];
  lua_pushinteger(L, static_cast<lua_Integer>(index + 1));
  lua_replace(L, lua_upvalueindex(3));
  lua_pushlstring(L, e.name.data(), e.name.size());
  lua_pushlstring(L, e.value.data(), e.value.size());
  return 2;
}

int headersPairs(lua_State* L) {
  const HeadersSelf self = headersSelf(L);
  const filters::HeaderMap& h = readableHeaders(L, self.object, self.side);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushinteger(L, 0);
  lua_pushnumber(L, static_cast<double>(h.version()));
  lua_pushcclosure(L, headersNext, 4);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

// --- body buffers -----------------------------------------------------------

constexpr TypeName kBuffer{ObjectKind::kBuffer, "buffer"};

struct BufferTarget {
  std::string* data;
  size_t offset;
  StreamSide* side;
};

BufferTarget bufferTarget(lua_State* L, const StreamObject& o) {
  StreamSide& s = sideOf(L, o);
  switch (o.variant) {
    case kBufferBody: {
      std::string* body = s.shared->body(s);
      if (body == nullptr || o.epoch != s.body_epoch) luaL_error(L, "body buffer is no longer available");
      return {body, 0, &s};
    }
    case kBufferChunk:
      if (s.chunk == nullptr || o.epoch != s.chunk_epoch) {
        luaL_error(L, "body chunk is no longer available (a chunk is valid until the next one is requested)");
      }
      return {s.chunk, s.chunk_offset, &s};
    default:
      return {&s.empty_body, 0, &s};
  }
}

int bufferLength(lua_State* L) {
  StreamObject& o = selfObject(L, kBuffer);
  BufferTarget t = bufferTarget(L, o);
  lua_pushinteger(L, static_cast<lua_Integer>(t.data->size() - t.offset));
  return 1;
}

int bufferGetBytes(lua_State* L) {
  StreamObject& o = selfObject(L, kBuffer);
  const lua_Integer start = luaL_checkinteger(L, 2);
  const lua_Integer length = luaL_checkinteger(L, 3);
  BufferTarget t = bufferTarget(L, o);
  const auto size = static_cast<lua_Integer>(t.data->size() - t.offset);
  if (start < 0 || length < 0 || start > size || length > size - start) {
    return luaL_error(L, "index out of range: getBytes(%d, %d) on %d bytes", static_cast<int>(start),
                      static_cast<int>(length), static_cast<int>(size));
  }
  lua_pushlstring(L, t.data->data() + t.offset + start, static_cast<size_t>(length));
  return 1;
}

int bufferSetBytes(lua_State* L) {
  StreamObject& o = selfObject(L, kBuffer);
  std::string_view bytes = checkView(L, 2);
  BufferTarget t = bufferTarget(L, o);
  t.data->replace(t.offset, std::string::npos, bytes.data(), bytes.size());
  // The whole body changed size; headers still held here can say so.
  if (o.variant == kBufferBody && t.side->headers != nullptr) {
    t.side->headers->replace("content-length", std::to_string(t.data->size()));
  }
  lua_pushinteger(L, static_cast<lua_Integer>(t.data->size() - t.offset));
  return 1;
}

// --- route metadata -----------------------------------------------------------

constexpr TypeName kMetadata{ObjectKind::kMetadata, "metadata"};

const nlohmann::json* routeMetadata(lua_State* L, const StreamObject& o) {
  StreamSide& s = sideOf(L, o);
  const StreamShared& shared = *s.shared;
  const config::Route* route = shared.callbacks->route();
  if (route == nullptr) route = shared.route;
  if (route == nullptr || route->metadata == nullptr || !route->metadata->is_object()) return nullptr;
  auto it = route->metadata->find(shared.settings->metadata_namespace);
  if (it == route->metadata->end() || !it->is_object()) return nullptr;
  return &*it;
}

int metadataGet(lua_State* L) {
  StreamObject& o = selfObject(L, kMetadata);
  std::string_view key = checkView(L, 2);
  const nlohmann::json* md = routeMetadata(L, o);
  if (md == nullptr) return pushNil(L);
  auto it = md->find(std::string(key));
  if (it == md->end()) return pushNil(L);
  pushJson(L, *it);
  return 1;
}

// pairs() over a snapshot table, iterated with the builtin next.
int pairsOverTable(lua_State* L) {
  lua_getglobal(L, "next");
  lua_insert(L, -2);
  lua_pushnil(L);
  return 3;
}

int metadataPairs(lua_State* L) {
  StreamObject& o = selfObject(L, kMetadata);
  const nlohmann::json* md = routeMetadata(L, o);
  if (md == nullptr) {
    lua_newtable(L);
  } else {
    pushJson(L, *md);
  }
  return pairsOverTable(L);
}

// --- streamInfo -------------------------------------------------------------

constexpr TypeName kStreamInfo{ObjectKind::kStreamInfo, "streamInfo"};

filters::StreamInfo& streamInfoOf(lua_State* L, const StreamObject& o) {
  return sideOf(L, o).shared->callbacks->streamInfo();
}

void pushString(lua_State* L, const std::string& s) { lua_pushlstring(L, s.data(), s.size()); }

int infoProtocol(lua_State* L) {
  pushString(L, streamInfoOf(L, selfObject(L, kStreamInfo)).protocol);
  return 1;
}
int infoRouteName(lua_State* L) {
  pushString(L, streamInfoOf(L, selfObject(L, kStreamInfo)).route_name);
  return 1;
}
int infoLocalAddress(lua_State* L) {
  pushString(L, streamInfoOf(L, selfObject(L, kStreamInfo)).downstream_local_address);
  return 1;
}
int infoRemoteAddress(lua_State* L) {
  pushString(L, streamInfoOf(L, selfObject(L, kStreamInfo)).downstream_remote_address);
  return 1;
}
int infoDirectRemoteAddress(lua_State* L) {
  pushString(L, streamInfoOf(L, selfObject(L, kStreamInfo)).downstream_direct_remote_address);
  return 1;
}
int infoRequestedServerName(lua_State* L) {
  pushString(L, streamInfoOf(L, selfObject(L, kStreamInfo)).requested_server_name);
  return 1;
}
int infoVirtualClusterName(lua_State* L) {
  selfObject(L, kStreamInfo);
  lua_pushliteral(L, "");
  return 1;
}
int infoNil(lua_State* L) {
  selfObject(L, kStreamInfo);
  return pushNil(L);
}
int infoDrainConnection(lua_State* L) {
  streamInfoOf(L, selfObject(L, kStreamInfo)).drain_connection = true;
  return 0;
}

int infoDynamicMetadata(lua_State* L) {
  StreamObject& o = selfObject(L, kStreamInfo);
  scriptOf(L).pushStreamObject(L, ObjectKind::kDynamicMetadata, o.side);
  return 1;
}

int infoFilterState(lua_State* L) {
  StreamObject& o = selfObject(L, kStreamInfo);
  scriptOf(L).pushStreamObject(L, ObjectKind::kFilterState, o.side);
  return 1;
}

// --- dynamic metadata ---------------------------------------------------------

constexpr TypeName kDynamicMetadata{ObjectKind::kDynamicMetadata, "dynamicMetadata"};

int dynamicGet(lua_State* L) {
  StreamObject& o = selfObject(L, kDynamicMetadata);
  std::string_view ns = checkView(L, 2);
  const nlohmann::json* all = streamInfoOf(L, o).dynamicMetadataIfAny();
  if (all == nullptr || !all->is_object()) return pushNil(L);
  auto it = all->find(std::string(ns));
  if (it == all->end()) return pushNil(L);
  pushJson(L, *it);
  return 1;
}

int dynamicSet(lua_State* L) {
  StreamObject& o = selfObject(L, kDynamicMetadata);
  std::string_view ns = checkView(L, 2);
  std::string_view key = checkView(L, 3);
  luaL_checkany(L, 4);
  nlohmann::json value;
  std::string error;
  if (!toJson(L, 4, value, error)) return luaL_error(L, "dynamicMetadata():set(): %s", error.c_str());
  nlohmann::json& all = streamInfoOf(L, o).dynamicMetadata();
  if (!all.is_object()) all = nlohmann::json::object();
  nlohmann::json& space = all[std::string(ns)];
  if (!space.is_object()) space = nlohmann::json::object();
  space[std::string(key)] = std::move(value);
  return 0;
}

int dynamicPairs(lua_State* L) {
  StreamObject& o = selfObject(L, kDynamicMetadata);
  const nlohmann::json* all = streamInfoOf(L, o).dynamicMetadataIfAny();
  if (all == nullptr) {
    lua_newtable(L);
  } else {
    pushJson(L, *all);
  }
  return pairsOverTable(L);
}

// --- filter state -------------------------------------------------------------

constexpr TypeName kFilterState{ObjectKind::kFilterState, "filterState"};

int filterStateGet(lua_State* L) {
  StreamObject& o = selfObject(L, kFilterState);
  std::string_view name = checkView(L, 2);
  const auto& state = streamInfoOf(L, o).filter_state;
  auto it = state.find(std::string(name));
  if (it == state.end()) return pushNil(L);
  pushString(L, it->second);
  return 1;
}

// --- connection ---------------------------------------------------------------

constexpr TypeName kConnection{ObjectKind::kConnection, "connection"};

int connectionSsl(lua_State* L) {
  sideOf(L, selfObject(L, kConnection));
  return pushNil(L);  // no TLS yet: Envoy returns nil for plaintext connections
}

// Header name (RFC 9110 tchar) and value (anything but CR, LF and NUL)
// bytes, as a table: every header a script adds is checked.
constexpr uint8_t kValue = 1;
constexpr uint8_t kToken = 2;
constexpr auto kHeaderChars = [] {
  std::array<uint8_t, 256> t{};
  for (size_t c = 0; c < t.size(); ++c) t[c] = kValue;
  t['\r'] = t['\n'] = t['\0'] = 0;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<size_t>(c)] |= kToken;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<size_t>(c)] |= kToken;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] |= kToken;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] |= kToken;
  return t;
}();

// Whether every byte of `text` has `bit` in kHeaderChars. Branch-free over
// the bytes, four at a time and the last four (overlapping) at once: names
// and values are short and almost always valid.
bool allHave(std::string_view text, uint8_t bit) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  if (n < 4) {
    // The first, middle and last bytes are all of them.
    return n == 0 || (kHeaderChars[p[0]] & kHeaderChars[p[n / 2]] & kHeaderChars[p[n - 1]] & bit) != 0;
  }
  const unsigned char* last = p + n - 4;
  unsigned a = bit & kHeaderChars[last[0]] & kHeaderChars[last[1]];
  unsigned b = bit & kHeaderChars[last[2]] & kHeaderChars[last[3]];
  for (; p < last; p += 4) {
    a &= kHeaderChars[p[0]] & kHeaderChars[p[1]];
    b &= kHeaderChars[p[2]] & kHeaderChars[p[3]];
  }
  return (a & b) != 0;
}

// --- JSON ---------------------------------------------------------------------

void pushJsonAt(lua_State* L, const nlohmann::json& v, int depth) {
  if (depth > kMaxJsonDepth || !lua_checkstack(L, 3)) {
    lua_pushnil(L);
    return;
  }
  switch (v.type()) {
    case nlohmann::json::value_t::boolean:
      lua_pushboolean(L, v.get<bool>() ? 1 : 0);
      return;
    case nlohmann::json::value_t::number_integer:
      lua_pushnumber(L, static_cast<double>(v.get<int64_t>()));
      return;
    case nlohmann::json::value_t::number_unsigned:
      lua_pushnumber(L, static_cast<double>(v.get<uint64_t>()));
      return;
    case nlohmann::json::value_t::number_float:
      lua_pushnumber(L, v.get<double>());
      return;
    case nlohmann::json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      return;
    }
    case nlohmann::json::value_t::array: {
      lua_createtable(L, static_cast<int>(v.size()), 0);
      int i = 1;
      for (const auto& item : v) {
        pushJsonAt(L, item, depth + 1);
        lua_rawseti(L, -2, i++);
      }
      return;
    }
    case nlohmann::json::value_t::object:
      lua_createtable(L, 0, static_cast<int>(v.size()));
      for (auto it = v.begin(); it != v.end(); ++it) {
        lua_pushlstring(L, it.key().data(), it.key().size());
        pushJsonAt(L, it.value(), depth + 1);
        lua_rawset(L, -3);
      }
      return;
    default:  // null, binary, discarded
      lua_pushnil(L);
      return;
  }
}

bool toJsonAt(lua_State* L, int index, nlohmann::json& out, std::string& error, int depth) {
  switch (lua_type(L, index)) {
    case LUA_TNIL:
      out = nullptr;
      return true;
    case LUA_TBOOLEAN:
      out = lua_toboolean(L, index) != 0;
      return true;
    case LUA_TNUMBER: {
      const double n = lua_tonumber(L, index);
      if (!std::isfinite(n)) {
        error = "numbers must be finite";
        return false;
      }
      if (n == std::floor(n) && std::fabs(n) < 9007199254740992.0) {
        out = static_cast<int64_t>(n);
      } else {
        out = n;
      }
      return true;
    }
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(L, index, &len);
      out = std::string(s, len);
      return true;
    }
    case LUA_TTABLE:
      break;
    default:
      error = std::string("cannot store a ") + luaL_typename(L, index) + " value";
      return false;
  }
  if (depth >= kMaxJsonDepth || !lua_checkstack(L, 4)) {
    error = "table nested too deeply (or cyclic)";
    return false;
  }
  if (index < 0) index = lua_gettop(L) + index + 1;
  // A table whose keys are exactly 1..n is an array; anything else an object.
  size_t count = 0;
  bool sequence = true;
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    lua_pop(L, 1);
    ++count;
    if (lua_type(L, -1) != LUA_TNUMBER) {
      sequence = false;
    } else {
      const double k = lua_tonumber(L, -1);
      if (k < 1 || k != std::floor(k)) sequence = false;
    }
  }
  if (sequence) sequence = count > 0 && lua_objlen(L, index) == count;
  if (sequence) {
    out = nlohmann::json::array();
    for (size_t i = 1; i <= count; ++i) {
      lua_rawgeti(L, index, static_cast<int>(i));
      nlohmann::json item;
      const bool ok = toJsonAt(L, -1, item, error, depth + 1);
      lua_pop(L, 1);
      if (!ok) return false;
      out.push_back(std::move(item));
    }
    return true;
  }
  out = nlohmann::json::object();
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    std::string key;
    if (lua_type(L, -2) == LUA_TSTRING) {
      size_t len = 0;
      const char* k = lua_tolstring(L, -2, &len);
      key.assign(k, len);
    } else if (lua_type(L, -2) == LUA_TNUMBER) {
      // Not lua_tolstring on the key itself: that would confuse lua_next.
      lua_pushvalue(L, -2);
      key = lua_tostring(L, -1);
      lua_pop(L, 1);
    } else {
      error = std::string("table keys must be strings or numbers, not ") + luaL_typename(L, -2);
      lua_pop(L, 2);
      return false;
    }
    nlohmann::json item;
    if (!toJsonAt(L, -1, item, error, depth + 1)) {
      lua_pop(L, 2);
      return false;
    }
    out[key] = std::move(item);
    lua_pop(L, 1);
  }
  return true;
}

}  // namespace

bool validHeaderName(std::string_view name) {
  if (!name.empty() && name.front() == ':') name.remove_prefix(1);
  return !name.empty() && allHave(name, kToken);
}

bool validHeaderValue(std::string_view value) { return allHave(value, kValue); }

void pushJson(lua_State* L, const nlohmann::json& value) { pushJsonAt(L, value, 0); }

bool toJson(lua_State* L, int index, nlohmann::json& out, std::string& error) {
  return toJsonAt(L, index, out, error, 0);
}

void pushHeaders(lua_State* L, const StreamSide& side, HeadersVariant variant) {
  if (variant == kHeadersMain) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, side.co->headers_ref);
  } else {
    side.shared->script->pushStreamObject(L, ObjectKind::kHeaders, side.ref, 0, variant);
  }
}

namespace {

// A response to HEAD, or a 1xx, 204 or 304, has no body on the wire whatever
// a script sets (bytes sent after it would corrupt the connection).
bool mayCarryBody(const StreamSide& side) {
  if (!side.response) return true;
  const filters::HeaderMap* request = side.shared->callbacks->requestHeaders();
  const std::string_view* method = request != nullptr ? request->getFirst(":method") : nullptr;
  if (method != nullptr && *method == "HEAD") return false;
  const std::string_view* status = side.headers->getFirst(":status");
  if (status == nullptr) return true;
  return !(*status == "204" || *status == "304" || (status->size() == 3 && status->front() == '1'));
}

}  // namespace

void pushBody(lua_State* L, StreamSide& side, bool always_wrap) {
  const std::string* body = side.shared->body(side);
  const bool has_body = body != nullptr && (side.saw_body || !body->empty());
  // body(true) without a body while the headers are still held here wraps the
  // (empty) held body, so setBytes() gives the message one, with its
  // content-length, as Envoy's always_wrap buffer does; the chain sends what
  // this filter holds after the headers.
  const bool wrap_held =
      always_wrap && !has_body && body != nullptr && side.headers != nullptr && mayCarryBody(side);
  if (has_body || wrap_held) {
    side.shared->script->pushStreamObject(L, ObjectKind::kBuffer, side.ref, side.body_epoch, kBufferBody);
  } else if (always_wrap) {
    side.empty_body.clear();
    side.shared->script->pushStreamObject(L, ObjectKind::kBuffer, side.ref, 0, kBufferEmpty);
  } else {
    lua_pushnil(L);
  }
}

void pushChunk(lua_State* L, StreamSide& side, std::string* data, size_t offset) {
  side.chunk = data;
  side.chunk_offset = offset;
  ++side.chunk_epoch;
  side.shared->script->pushStreamObject(L, ObjectKind::kBuffer, side.ref, side.chunk_epoch, kBufferChunk);
}

void registerObjectTypes(LuaScript& script) {
  static const luaL_Reg kHeadersMethods[] = {
      {"add", headersAdd},
      {"get", headersGet},
      {"getAtIndex", headersGetAtIndex},
      {"getNumValues", headersGetNumValues},
      {"remove", headersRemove},
      {"replace", headersReplace},
      {"setHttp1ReasonPhrase", headersSetReasonPhrase},
      {"__pairs", headersPairs},
      {nullptr, nullptr},
  };
  static const luaL_Reg kBufferMethods[] = {
      {"length", bufferLength},
      {"getBytes", bufferGetBytes},
      {"setBytes", bufferSetBytes},
      {nullptr, nullptr},
  };
  static const luaL_Reg kMetadataMethods[] = {
      {"get", metadataGet},
      {"__pairs", metadataPairs},
      {nullptr, nullptr},
  };
  static const luaL_Reg kStreamInfoMethods[] = {
      {"protocol", infoProtocol},
      {"routeName", infoRouteName},
      {"virtualClusterName", infoVirtualClusterName},
      {"downstreamLocalAddress", infoLocalAddress},
      {"downstreamDirectLocalAddress", infoLocalAddress},
      {"downstreamRemoteAddress", infoRemoteAddress},
      {"downstreamDirectRemoteAddress", infoDirectRemoteAddress},
      {"requestedServerName", infoRequestedServerName},
      {"downstreamSslConnection", infoNil},
      {"dynamicTypedMetadata", infoNil},
      {"drainConnectionUponCompletion", infoDrainConnection},
      {"dynamicMetadata", infoDynamicMetadata},
      {"filterState", infoFilterState},
      {nullptr, nullptr},
  };
  static const luaL_Reg kDynamicMetadataMethods[] = {
      {"get", dynamicGet},
      {"set", dynamicSet},
      {"__pairs", dynamicPairs},
      {nullptr, nullptr},
  };
  static const luaL_Reg kFilterStateMethods[] = {
      {"get", filterStateGet},
      {nullptr, nullptr},
  };
  static const luaL_Reg kConnectionMethods[] = {
      {"ssl", connectionSsl},
      {nullptr, nullptr},
  };
  script.defineType(ObjectKind::kHeaders, kHeaders.name, kHeadersMethods);
  script.defineType(ObjectKind::kBuffer, kBuffer.name, kBufferMethods);
  script.defineType(ObjectKind::kMetadata, kMetadata.name, kMetadataMethods);
  script.defineType(ObjectKind::kStreamInfo, kStreamInfo.name, kStreamInfoMethods);
  script.defineType(ObjectKind::kDynamicMetadata, kDynamicMetadata.name, kDynamicMetadataMethods);
  script.defineType(ObjectKind::kFilterState, kFilterState.name, kFilterStateMethods);
  script.defineType(ObjectKind::kConnection, kConnection.name, kConnectionMethods);
}

}  // namespace pier::lua
