#pragma once
// The outcome of parsing one untrusted packet: the value, or a typed reason
// it was dropped. Typed (not a string) so responders can count drops per
// reason without allocating on every bad packet; describe(reason) gives the
// text for logs.
#include <string_view>
#include <utility>
#include <variant>

namespace pier::vip {

template <typename T, typename Reason>
class ParseResult {
 public:
  ParseResult(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  ParseResult(Reason reason) : v_(reason) {}      // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T* operator->() const { return &value(); }
  const T& operator*() const { return value(); }
  // Valid only when !ok().
  Reason reason() const { return std::get<Reason>(v_); }
  // Found by argument-dependent lookup next to the Reason enum.
  std::string_view error() const { return describe(reason()); }

 private:
  std::variant<T, Reason> v_;
};

}  // namespace pier::vip
