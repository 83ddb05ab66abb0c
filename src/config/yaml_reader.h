#pragma once
// Typed, position-aware access to a parsed YAML tree. Every read either
// yields a value or records an error of the form
//   "<source>:<line>:<column>: <field.path[0].like.this>: <what is wrong>"
// and yields nothing, so that parsing can go on and report every problem.
// Internal to src/config.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "src/config/config.h"

namespace pier::config {

class Diagnostics {
 public:
  // At most this many errors are kept; the rest are only counted.
  static constexpr size_t kMaxErrors = 20;
  // Nodes visited, counting every expansion of a YAML alias: without a cap a
  // few nested aliases could make a small file take hours to check.
  static constexpr size_t kDefaultMaxNodes = 1'000'000;
  // Past this many errors reading stops: the rest would only be noise.
  static constexpr size_t kStopAfterErrors = 1'000;

  explicit Diagnostics(std::string source, size_t max_nodes = kDefaultMaxNodes)
      : source_(std::move(source)), max_nodes_(max_nodes) {}

  // `mark` is yaml-cpp's (0-based); an empty path means the document itself.
  void add(const YAML::Mark& mark, std::string_view path, std::string_view what);
  // An error that is not about a field, such as a YAML syntax error.
  // `always` keeps the error even when kMaxErrors are already kept.
  void addRaw(int line, int column, std::string_view what, bool always = false);
  bool empty() const { return total_ == 0; }
  // All kept errors, one per line, in document order.
  std::string render() const;

  // Counts one visited node; false (after recording one error) once the
  // node budget is spent, or once there are so many errors that reading on
  // is pointless.
  bool spend(const YAML::Mark& mark);

 private:
  struct Entry {
    int line;
    int column;
    std::string text;
  };
  std::string source_;
  size_t max_nodes_;
  std::vector<Entry> entries_;
  size_t total_ = 0;
  size_t nodes_ = 0;
};

// A node with the path that led to it.
class Field {
 public:
  Field(YAML::Node node, std::string path, YAML::Mark mark, Diagnostics* diagnostics)
      : node_(std::move(node)), path_(std::move(path)), mark_(mark), diagnostics_(diagnostics) {}

  const std::string& path() const { return path_; }
  const YAML::Mark& mark() const { return mark_; }
  const YAML::Node& node() const { return node_; }
  Diagnostics& diagnostics() const { return *diagnostics_; }
  void error(std::string_view what) const { diagnostics_->add(mark_, path_, what); }

  bool isNull() const { return !node_.IsDefined() || node_.IsNull(); }
  bool isMap() const { return node_.IsMap(); }
  bool isList() const { return node_.IsSequence(); }
  bool isScalar() const { return node_.IsScalar(); }

  // Any scalar, so that `name: 8080` reads as the string "8080".
  std::optional<std::string> string() const;
  std::optional<std::string> nonEmptyString() const;
  // A listener, cluster, virtual host or route name (see checkName).
  std::optional<std::string> name() const;
  // An RFC 9110 token such as a header name.
  std::optional<std::string> token(std::string_view what) const;
  // One of `choices`, with a "did you mean" hint otherwise.
  std::optional<std::string> oneOf(std::initializer_list<std::string_view> choices) const;
  // true/false (also True/TRUE/False/FALSE).
  std::optional<bool> boolean() const;
  std::optional<uint64_t> unsignedInt(uint64_t min, uint64_t max) const;
  std::optional<Millis> duration(Millis min) const;
  std::optional<SocketAddress> address() const;
  // The items of a sequence; a scalar or mapping is an error.
  std::optional<std::vector<Field>> list() const;

  // "expected <what>, got <description of this node>" at this node.
  void typeError(std::string_view expected) const;

 private:
  std::string describe() const;

  YAML::Node node_;
  std::string path_;
  YAML::Mark mark_;  // of the value, or of its key when the value is an implicit null
  Diagnostics* diagnostics_;
};

// A mapping whose keys are checked against the fields the schema allows.
class FieldMap {
 public:
  // Records an error and returns nullopt if `field` is not a mapping. A null
  // value ("access_log:" with nothing after it) reads as an empty mapping.
  // Unknown keys (with a "did you mean" hint), duplicate keys and non-string
  // keys are errors; the remaining keys are still readable.
  static std::optional<FieldMap> open(const Field& field, std::initializer_list<std::string_view> known);

  const Field& self() const { return self_; }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  std::optional<Field> get(std::string_view key) const;
  // get(), or an error at this mapping naming the missing field.
  std::optional<Field> required(std::string_view key) const;
  // Which of `keys` are present, in the order given.
  std::vector<std::string_view> present(std::initializer_list<std::string_view> keys) const;

  // Each of these leaves `out` unchanged when the key is absent or invalid.
  void read(std::string_view key, std::string& out) const;
  void read(std::string_view key, bool& out) const;
  void read(std::string_view key, uint32_t& out, uint32_t min, uint32_t max) const;
  void read(std::string_view key, uint64_t& out, uint64_t min, uint64_t max) const;
  // False when the key is present but invalid, so that checks comparing it
  // with another field can be skipped instead of comparing with a default.
  bool readDuration(std::string_view key, Millis& out, Millis min = Millis(0)) const;

 private:
  explicit FieldMap(Field self) : self_(std::move(self)) {}
  const Field* find(std::string_view key) const;

  Field self_;
  std::vector<std::pair<std::string, Field>> entries_;
};

// Path helpers: "listeners[0]" + "name" -> "listeners[0].name".
std::string childPath(std::string_view parent, std::string_view key);
std::string itemPath(std::string_view parent, size_t index);

}  // namespace pier::config
