#include "src/config/yaml_reader.h"

#include <algorithm>
#include <cstdio>

#include "src/config/values.h"

namespace pier::config {
namespace {

// Messages quote user input; keep each on one line and of sane length.
std::string sanitize(std::string_view text) {
  constexpr size_t kMaxLength = 400;
  std::string out;
  out.reserve(std::min(text.size(), kMaxLength));
  for (char c : text) {
    if (out.size() >= kMaxLength) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", u);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out;
}

std::string joined(std::span<const std::string_view> words) {
  std::string out;
  for (std::string_view w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

}  // namespace

std::string childPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

std::string itemPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

void Diagnostics::add(const YAML::Mark& mark, std::string_view path, std::string_view what) {
  std::string prefix = path.empty() ? std::string("(top level)") : std::string(path);
  addRaw(mark.line < 0 ? 1 : mark.line + 1, mark.column < 0 ? 1 : mark.column + 1,
         prefix + ": " + std::string(what));
}

void Diagnostics::addRaw(int line, int column, std::string_view what, bool always) {
  std::string text = sanitize(source_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                              std::string(what));
  for (const Entry& e : entries_) {
    if (e.text == text) return;  // the same node reached again through an alias
  }
  ++total_;
  if (entries_.size() < kMaxErrors) {
    entries_.push_back(Entry{line, column, std::move(text)});
  } else if (always) {
    entries_.back() = Entry{line, column, std::move(text)};
  }
}

std::string Diagnostics::render() const {
  std::vector<Entry> sorted = entries_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  std::string out;
  for (const Entry& e : sorted) {
    if (!out.empty()) out += "\n";
    out += e.text;
  }
  if (total_ > sorted.size()) {
    out += "\n" + source_ + ": " + std::to_string(total_ - sorted.size()) + " more errors not shown";
  }
  return out;
}

bool Diagnostics::spend(const YAML::Mark& mark) {
  if (nodes_ > max_nodes_ || total_ >= kStopAfterErrors) return false;
  if (++nodes_ > max_nodes_) {
    addRaw(mark.line < 0 ? 1 : mark.line + 1, mark.column < 0 ? 1 : mark.column + 1,
           "(top level): the configuration is too large (more than " + std::to_string(max_nodes_) +
               " nodes, counting every use of a YAML alias)",
           true);
    return false;
  }
  return true;
}

std::string Field::describe() const {
  if (isNull()) return "null";
  if (isList()) return "a list";
  if (isMap()) return "a mapping";
  return quote(node_.Scalar());
}

void Field::typeError(std::string_view expected) const {
  error("expected " + std::string(expected) + ", got " + describe());
}

std::optional<std::string> Field::string() const {
  if (!isScalar()) {
    typeError("a string");
    return std::nullopt;
  }
  if (!isValidUtf8(node_.Scalar())) {
    error("is not valid UTF-8");
    return std::nullopt;
  }
  return node_.Scalar();
}

std::optional<std::string> Field::nonEmptyString() const {
  auto s = string();
  if (s && s->empty()) {
    error("must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> Field::name() const {
  auto s = string();
  if (!s) return std::nullopt;
  if (auto problem = checkName(*s)) {
    error("invalid name " + quote(*s) + ": " + *problem);
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> Field::token(std::string_view what) const {
  auto s = string();
  if (!s) return std::nullopt;
  if (!isToken(*s)) {
    error("invalid " + std::string(what) + " " + quote(*s) +
          ": only letters, digits and !#$%&'*+-.^_`|~ are allowed");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> Field::oneOf(std::initializer_list<std::string_view> choices) const {
  auto s = string();
  if (!s) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *s) != choices.end()) return s;
  std::span<const std::string_view> all(choices.begin(), choices.size());
  std::string what = "must be one of " + joined(all) + "; got " + quote(*s);
  if (auto hint = closestMatch(*s, all)) what += " (did you mean " + quote(*hint) + "?)";
  error(what);
  return std::nullopt;
}

std::optional<bool> Field::boolean() const {
  if (isScalar()) {
    const std::string& s = node_.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  typeError("true or false");
  return std::nullopt;
}

std::optional<uint64_t> Field::unsignedInt(uint64_t min, uint64_t max) const {
  if (!isScalar()) {
    typeError("an integer");
    return std::nullopt;
  }
  const std::string& s = node_.Scalar();
  std::string range = "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + s;
  if (s.size() > 1 && s[0] == '-' && parseUnsigned(std::string_view(s).substr(1), UINT64_MAX).ok()) {
    error("must not be negative, got " + s);
    return std::nullopt;
  }
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) {
    typeError("an integer");
    return std::nullopt;
  }
  auto value = parseUnsigned(s, max);
  if (!value.ok() || *value < min) {
    error(range);
    return std::nullopt;
  }
  return *value;
}

std::optional<Millis> Field::duration(Millis min) const {
  if (!isScalar()) {
    typeError("a duration such as \"10s\"");
    return std::nullopt;
  }
  auto value = parseDuration(node_.Scalar());
  if (!value.ok()) {
    error(value.error());
    return std::nullopt;
  }
  if (*value < min) {
    error(min == Millis(1) ? "must be greater than 0"
                           : "must be at least " + formatDuration(min) + ", got " + quote(node_.Scalar()));
    return std::nullopt;
  }
  return *value;
}

std::optional<SocketAddress> Field::address() const {
  if (!isScalar()) {
    typeError("an address such as \"127.0.0.1:8080\"");
    return std::nullopt;
  }
  auto value = parseSocketAddress(node_.Scalar());
  if (!value.ok()) {
    error(value.error());
    return std::nullopt;
  }
  return *value;
}

std::optional<std::vector<Field>> Field::list() const {
  if (!isList()) {
    typeError("a list");
    return std::nullopt;
  }
  std::vector<Field> items;
  size_t index = 0;
  for (const YAML::Node& item : node_) {
    if (!diagnostics_->spend(item.Mark())) return std::nullopt;
    items.emplace_back(item, itemPath(path_, index++), item.Mark(), diagnostics_);
  }
  return items;
}

std::optional<FieldMap> FieldMap::open(const Field& field, std::initializer_list<std::string_view> known) {
  Diagnostics& diagnostics = field.diagnostics();
  if (!diagnostics.spend(field.mark())) return std::nullopt;
  FieldMap map(field);
  if (field.isNull()) return map;
  if (!field.isMap()) {
    field.typeError("a mapping");
    return std::nullopt;
  }
  std::span<const std::string_view> known_span(known.begin(), known.size());
  for (const auto& entry : field.node()) {
    const YAML::Node& key = entry.first;
    const YAML::Node& value = entry.second;
    if (!diagnostics.spend(key.Mark())) return std::nullopt;
    if (!key.IsScalar()) {
      diagnostics.add(key.Mark(), field.path(), "mapping keys must be strings");
      continue;
    }
    const std::string& name = key.Scalar();
    std::string path = childPath(field.path(), name);
    if (const Field* first = map.find(name)) {
      diagnostics.add(key.Mark(), path,
                      "duplicate key (first set at line " + std::to_string(first->mark().line + 1) + ")");
      continue;
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string what = "unknown field";
      if (auto hint = closestMatch(name, known_span)) {
        what += "; did you mean " + quote(*hint) + "?";
      } else {
        what += "; expected one of " + joined(known_span);
      }
      diagnostics.add(key.Mark(), path, what);
      continue;
    }
    // An empty value ("name:") has no position of its own; yaml-cpp gives it
    // the next token's, usually on a later line, so point at the key instead.
    YAML::Mark mark = value.Mark();
    if (value.IsNull() && mark.line != key.Mark().line) mark = key.Mark();
    map.entries_.emplace_back(name, Field(value, std::move(path), mark, &diagnostics));
  }
  return map;
}

const Field* FieldMap::find(std::string_view key) const {
  for (const auto& [name, field] : entries_) {
    if (name == key) return &field;
  }
  return nullptr;
}

std::optional<Field> FieldMap::get(std::string_view key) const {
  if (const Field* f = find(key)) return *f;
  return std::nullopt;
}

std::optional<Field> FieldMap::required(std::string_view key) const {
  if (const Field* f = find(key)) return *f;
  self_.diagnostics().add(self_.mark(), childPath(self_.path(), key), "required field is missing");
  return std::nullopt;
}

std::vector<std::string_view> FieldMap::present(std::initializer_list<std::string_view> keys) const {
  std::vector<std::string_view> out;
  for (std::string_view k : keys) {
    if (has(k)) out.push_back(k);
  }
  return out;
}

void FieldMap::read(std::string_view key, std::string& out) const {
  if (auto f = get(key)) {
    if (auto v = f->string()) out = std::move(*v);
  }
}

void FieldMap::read(std::string_view key, bool& out) const {
  if (auto f = get(key)) {
    if (auto v = f->boolean()) out = *v;
  }
}

void FieldMap::read(std::string_view key, uint32_t& out, uint32_t min, uint32_t max) const {
  if (auto f = get(key)) {
    if (auto v = f->unsignedInt(min, max)) out = static_cast<uint32_t>(*v);
  }
}

void FieldMap::read(std::string_view key, uint64_t& out, uint64_t min, uint64_t max) const {
  if (auto f = get(key)) {
    if (auto v = f->unsignedInt(min, max)) out = *v;
  }
}

bool FieldMap::readDuration(std::string_view key, Millis& out, Millis min) const {
  auto f = get(key);
  if (!f) return true;
  auto v = f->duration(min);
  if (v) out = *v;
  return v.has_value();
}

}  // namespace pier::config
