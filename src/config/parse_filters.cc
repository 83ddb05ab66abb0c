// HTTP filters: a listener's filter chain (only Lua entries for now), the
// routes' per-filter overrides, and route metadata for filters to read.
// Lua code is only carried here, with where it came from; the lua module
// compiles it and reports syntax errors against that origin.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

#include "src/config/nesting_scan.h"
#include "src/config/parse.h"
#include "src/config/values.h"

namespace pier::config {
namespace {

using nlohmann::json;

// Scripts are a few kilobytes; anything this big is a mistake (the config
// file itself has the same cap).
constexpr size_t kMaxScriptBytes = 16 * 1024 * 1024;

// "pier.yaml:12:9: listeners[0].filters[0]", the style of Diagnostics.
std::string originOf(const Field& field, const ParseContext& context) {
  const YAML::Mark& mark = field.mark();
  return context.source + ":" + std::to_string(mark.line < 0 ? 1 : mark.line + 1) + ":" +
         std::to_string(mark.column < 0 ? 1 : mark.column + 1) + ": " + field.path();
}

// An entry of a mapping whose keys are chosen by the user (names, namespaces).
struct Entry {
  std::string key;
  YAML::Mark key_mark;
  Field value;
  // Errors about the key itself (such as "no filter named") point at it.
  void keyError(std::string_view what) const { value.diagnostics().add(key_mark, value.path(), what); }
};

// The entries of a mapping with free-form keys; null reads as empty. Keys
// that are not strings, not UTF-8 or repeated are errors and skipped, and
// then `complete` is set to false. nullopt if `field` is not a mapping.
std::optional<std::vector<Entry>> entriesOf(const Field& field, bool* complete = nullptr) {
  Diagnostics& diagnostics = field.diagnostics();
  if (complete) *complete = true;
  if (!diagnostics.spend(field.mark())) return std::nullopt;
  std::vector<Entry> out;
  if (field.isNull()) return out;
  if (!field.isMap()) {
    field.typeError("a mapping");
    return std::nullopt;
  }
  auto fail = [&](const YAML::Mark& mark, const std::string& path, std::string_view what) {
    diagnostics.add(mark, path, what);
    if (complete) *complete = false;
  };
  for (const auto& item : field.node()) {
    const YAML::Node& key = item.first;
    const YAML::Node& value = item.second;
    if (!diagnostics.spend(key.Mark())) return std::nullopt;
    if (!key.IsScalar()) {
      fail(key.Mark(), field.path(), "mapping keys must be strings");
      continue;
    }
    const std::string& name = key.Scalar();
    std::string path = childPath(field.path(), name);
    if (!isValidUtf8(name)) {
      fail(key.Mark(), field.path(), "mapping keys must be valid UTF-8");
      continue;
    }
    auto first = std::find_if(out.begin(), out.end(), [&](const Entry& e) { return e.key == name; });
    if (first != out.end()) {
      fail(key.Mark(), path,
           "duplicate key (first set at line " + std::to_string(first->key_mark.line + 1) + ")");
      continue;
    }
    // As FieldMap does: an empty value has the next token's position.
    YAML::Mark mark = value.Mark();
    if (value.IsNull() && mark.line != key.Mark().line) mark = key.Mark();
    out.push_back(Entry{name, key.Mark(), Field(value, std::move(path), mark, &diagnostics)});
  }
  return out;
}

// Reports the second of several mutually exclusive keys; returns the single
// present key, or nullopt when none or several are.
std::optional<std::string_view> exactlyOne(const FieldMap& m, std::initializer_list<std::string_view> keys,
                                           std::string_view what) {
  auto found = m.present(keys);
  if (found.size() == 1) return found[0];
  if (found.empty()) {
    m.self().error("needs " + std::string(what));
  } else {
    m.get(found[1])->error("conflicts with \"" + std::string(found[0]) + "\": " + std::string(what));
  }
  return std::nullopt;
}

// The whole file, or an error message.
Result<std::string> readScript(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{std::strerror(errno)};
  std::string text;
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      return Error{std::strerror(saved)};
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxScriptBytes) {
      ::close(fd);
      return Error{"larger than " + std::to_string(kMaxScriptBytes / (1024 * 1024)) + " MiB"};
    }
  }
  ::close(fd);
  return text;
}

// Envoy's DataSource: "code", { inline_string: "code" } or { filename: path }.
// `inline_chunk` names inline code in Lua's messages. Always returns a
// DataSource (empty code when invalid) so that its name stays known.
DataSource parseDataSource(const Field& field, std::string inline_chunk, const ParseContext& context) {
  DataSource source;
  source.origin = originOf(field, context);
  source.chunk_name = std::move(inline_chunk);
  if (field.isScalar()) {
    if (auto v = field.string()) source.code = *v;
    return source;
  }
  if (!field.isMap()) {
    field.typeError("Lua code, { inline_string: ... } or { filename: ... }");
    return source;
  }
  auto m = FieldMap::open(field, {"inline_string", "filename"});
  if (!m) return source;
  auto kind = exactlyOne(*m, {"inline_string", "filename"}, "exactly one of inline_string or filename");
  if (!kind) return source;
  Field f = *m->get(*kind);
  if (*kind == "inline_string") {
    if (auto v = f.string()) source.code = *v;
    return source;
  }
  auto path = f.nonEmptyString();
  if (!path) return source;
  source.filename = *path;
  source.chunk_name = *path;
  auto text = readScript(*path);
  if (!text.ok()) {
    f.error("cannot read " + quote(*path) + ": " + text.error());
    return source;
  }
  source.code = std::move(*text);
  return source;
}

// Returns false when the source_codes section had errors that may hide names.
bool parseLua(const Field& field, LuaFilter& lua, const ParseContext& context) {
  auto m = FieldMap::open(field, {"default_source_code", "source_codes", "fail_closed", "sandbox",
                                  "metadata_namespace", "stat_prefix"});
  if (!m) return false;
  if (auto f = m->get("default_source_code")) {
    lua.default_source_code = parseDataSource(*f, "default_source_code", context);
  }
  bool source_codes_known = true;
  if (auto f = m->get("source_codes")) {
    auto entries = entriesOf(*f, &source_codes_known);
    if (!entries) return false;
    for (const Entry& e : *entries) {
      if (e.key.empty()) {
        e.keyError("source code names must not be empty");
        continue;
      }
      lua.source_codes.emplace(e.key, parseDataSource(e.value, "source_codes." + e.key, context));
    }
  }
  m->read("fail_closed", lua.fail_closed);
  m->read("sandbox", lua.sandbox);
  if (auto f = m->get("metadata_namespace")) {
    if (auto v = f->nonEmptyString()) lua.metadata_namespace = *v;
  }
  m->read("stat_prefix", lua.stat_prefix);
  return source_codes_known;
}

constexpr std::string_view kFilterTypes[] = {"lua"};

// One chain entry: an optional `name` and exactly one type key. Returns
// false when its name could not be determined.
bool parseFilter(const Field& field, HttpFilter& filter, bool& source_codes_known,
                 const ParseContext& context) {
  filter.origin = originOf(field, context);
  if (!field.isMap()) {
    field.typeError("a mapping with a filter type (lua) and optionally a name");
    return false;
  }
  auto entries = entriesOf(field);
  if (!entries) return false;
  std::optional<Entry> name;
  std::optional<Entry> type;
  bool ok = true;
  for (const Entry& e : *entries) {
    if (e.key == "name") {
      name = e;
    } else if (std::find(std::begin(kFilterTypes), std::end(kFilterTypes), e.key) == std::end(kFilterTypes)) {
      std::string what = "unknown filter type " + quote(e.key);
      if (auto hint = closestMatch(e.key, kFilterTypes)) {
        what += "; did you mean " + quote(*hint) + "?";
      } else {
        what += "; the only type is \"lua\"";
      }
      e.keyError(what);
      ok = false;
    } else if (type) {
      e.keyError("conflicts with " + quote(type->key) + ": a filter entry has exactly one type");
    } else {
      type = e;
    }
  }
  if (!type) {
    if (ok) field.error("needs a filter type: lua");
    return false;
  }
  filter.type = HttpFilter::Type::kLua;
  source_codes_known = parseLua(type->value, filter.lua, context);
  filter.name = type->key;
  if (name) {
    auto v = name->value.name();
    if (!v) return false;
    filter.name = *v;
  }
  return true;
}

// YAML 1.2 core schema integers and floats, decimal only.
bool looksInteger(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

bool looksFloat(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  size_t i = 0;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exponent = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exponent;
    if (exponent == 0) return false;
  }
  return i == s.size();
}

// A plain (unquoted, untagged) scalar as YAML would type it, with pier's
// booleans (no yes/no/on/off). Numbers too large or too small for a double,
// .inf and .nan stay strings: JSON has no such numbers.
json plainScalar(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  std::string_view digits = s;
  if (digits.starts_with('+')) digits.remove_prefix(1);
  const char* begin = digits.data();
  const char* end = digits.data() + digits.size();
  if (looksInteger(s)) {
    int64_t i = 0;
    if (auto r = std::from_chars(begin, end, i); r.ec == std::errc() && r.ptr == end) return i;
    uint64_t u = 0;
    if (auto r = std::from_chars(begin, end, u); r.ec == std::errc() && r.ptr == end) return u;
  }
  if (looksInteger(s) || looksFloat(s)) {
    double d = 0;
    if (auto r = std::from_chars(begin, end, d); r.ec == std::errc() && r.ptr == end && std::isfinite(d))
      return d;
  }
  return s;
}

bool resolvesAsPlain(const std::string& tag) {
  if (tag == "?") return true;
  constexpr std::string_view kCore = "tag:yaml.org,2002:";
  return tag.starts_with(kCore) && tag != std::string(kCore) + "str";
}

// Any YAML value as JSON. Quoted scalars are strings; see plainScalar for
// the rest. Aliases may make a tree cyclic, so depth is capped.
std::optional<json> yamlToJson(const Field& field, int depth = 0) {
  if (!field.diagnostics().spend(field.mark())) return std::nullopt;
  if (depth > kMaxYamlNesting) {
    field.error("nested more than " + std::to_string(kMaxYamlNesting) + " levels deep (through aliases?)");
    return std::nullopt;
  }
  if (field.isNull()) return json(nullptr);
  if (field.isScalar()) {
    auto s = field.string();
    if (!s) return std::nullopt;
    if (resolvesAsPlain(field.node().Tag())) return plainScalar(*s);
    return json(*s);
  }
  bool ok = true;
  if (field.isList()) {
    auto items = field.list();
    if (!items) return std::nullopt;
    json out = json::array();
    for (const Field& item : *items) {
      auto v = yamlToJson(item, depth + 1);
      if (!v) {
        ok = false;
        continue;
      }
      out.push_back(std::move(*v));
    }
    if (!ok) return std::nullopt;
    return out;
  }
  auto entries = entriesOf(field, &ok);
  if (!entries) return std::nullopt;
  json out = json::object();
  for (const Entry& e : *entries) {
    auto v = yamlToJson(e.value, depth + 1);
    if (!v) {
      ok = false;
      continue;
    }
    out[e.key] = std::move(*v);
  }
  if (!ok) return std::nullopt;
  return out;
}

// A mapping (null reads as empty) as a JSON object.
std::optional<json> objectOf(const Field& field) {
  if (!field.isNull() && !field.isMap()) {
    field.typeError("a mapping");
    return std::nullopt;
  }
  if (field.isNull()) return json::object();
  return yamlToJson(field);
}

// "routes[2].filters.lua.source_code" from "listeners[0].routes[2]...":
// shorter in Lua's messages, while the origin has the full path.
std::string listenerRelative(const std::string& path) {
  size_t dot = path.find('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

RouteFilterOverride parseOverride(const Field& field, const HttpFilter* filter, const FilterChainScope& chain,
                                  size_t filter_index, const ParseContext& context) {
  RouteFilterOverride out;
  out.origin = originOf(field, context);
  auto m = FieldMap::open(field, {"disabled", "name", "source_code", "filter_context"});
  if (!m) return out;
  if (auto f = m->get("filter_context")) {
    if (auto v = objectOf(*f)) out.filter_context = std::make_shared<const json>(std::move(*v));
  }
  auto kind =
      exactlyOne(*m, {"disabled", "name", "source_code"}, "exactly one of disabled, name or source_code");
  if (!kind) return out;
  Field f = *m->get(*kind);
  if (*kind == "disabled") {
    if (auto v = f.boolean()) {
      // As in Envoy: only `true` is an override; to run the filter, leave the entry out.
      if (*v) {
        out.disabled = true;
      } else {
        f.error("must be true (to run the filter on this route, remove the override)");
      }
    }
  } else if (*kind == "name") {
    auto v = f.nonEmptyString();
    if (!v) return out;
    out.name = *v;
    if (filter && filter_index < chain.source_codes_known.size() && chain.source_codes_known[filter_index] &&
        !filter->lua.source_codes.contains(*v)) {
      std::string where = itemPath(chain.path, filter_index) + ".lua.source_codes";
      std::string what = "no source code named " + quote(*v) + " in " + where;
      std::vector<std::string_view> names;
      for (const auto& [name, code] : filter->lua.source_codes) names.push_back(name);
      if (auto hint = closestMatch(*v, names)) what += "; did you mean " + quote(*hint) + "?";
      f.error(what);
    }
  } else {
    out.source_code = parseDataSource(f, listenerRelative(f.path()), context);
  }
  return out;
}

}  // namespace

FilterChainScope parseHttpFilters(const Field& field, std::vector<HttpFilter>& filters,
                                  const ParseContext& context) {
  FilterChainScope chain;
  chain.filters = &filters;
  chain.path = field.path();
  auto items = field.list();
  if (!items) {
    chain.names_known = false;
    return chain;
  }
  Taken names;
  for (const Field& item : *items) {
    HttpFilter filter;
    bool source_codes_known = false;
    if (!parseFilter(item, filter, source_codes_known, context)) {
      chain.names_known = false;
    } else if (const std::string* other = names.claim(filter.name, item.path())) {
      item.error("duplicate filter name " + quote(filter.name) + " (also " + *other +
                 "); give each entry its own `name`");
    }
    // Every item has an entry, so that indexes match the YAML's.
    filters.push_back(std::move(filter));
    chain.source_codes_known.push_back(source_codes_known);
  }
  return chain;
}

std::map<std::string, RouteFilterOverride> parseRouteFilters(const Field& field,
                                                             const FilterChainScope& chain,
                                                             const ParseContext& context) {
  std::map<std::string, RouteFilterOverride> out;
  auto entries = entriesOf(field);
  if (!entries) return out;
  for (const Entry& e : *entries) {
    const HttpFilter* filter = nullptr;
    size_t index = 0;
    if (chain.filters) {
      for (; index < chain.filters->size(); ++index) {
        if ((*chain.filters)[index].name == e.key) {
          filter = &(*chain.filters)[index];
          break;
        }
      }
    }
    if (!filter && chain.names_known) {
      std::string what = "no filter named " + quote(e.key) + " in " + chain.path;
      std::vector<std::string_view> names;
      if (chain.filters) {
        for (const HttpFilter& f : *chain.filters) names.push_back(f.name);
      }
      if (names.empty()) {
        what += " (the listener has no filters)";
      } else if (auto hint = closestMatch(e.key, names)) {
        what += "; did you mean " + quote(*hint) + "?";
      }
      e.keyError(what);
    }
    out.emplace(e.key, parseOverride(e.value, filter, chain, index, context));
  }
  return out;
}

std::shared_ptr<const nlohmann::json> parseRouteMetadata(const Field& field) {
  auto m = FieldMap::open(field, {"filter_metadata"});
  if (!m) return nullptr;
  json namespaces = json::object();
  if (auto f = m->get("filter_metadata")) {
    auto entries = entriesOf(*f);
    if (!entries) return nullptr;
    for (const Entry& e : *entries) {
      // Envoy's filter_metadata values are Structs: objects.
      if (auto v = objectOf(e.value)) namespaces[e.key] = std::move(*v);
    }
  }
  return std::make_shared<const json>(std::move(namespaces));
}

}  // namespace pier::config
