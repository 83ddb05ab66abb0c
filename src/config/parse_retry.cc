// retry_policy: when a request is tried again, for routes and (as the default
// for routes without one) clusters.
#include <algorithm>
#include <array>

#include "src/config/parse.h"
#include "src/config/values.h"

namespace pier::config {
namespace {

// More tries than this only multiply an outage; the retry budget caps the
// total anyway.
constexpr uint32_t kMaxRetries = 10;
// Every retried request may hold this much memory until it completes.
constexpr uint64_t kMaxBufferedBodyBytes = 1ull << 30;

constexpr std::array<RetryOnName, 5> kRetryOn = {{
    {"connect-failure", RetryPolicy::kConnectFailure},
    {"reset", RetryPolicy::kReset},
    {"5xx", RetryPolicy::k5xx},
    {"gateway-error", RetryPolicy::kGatewayError},
    {"retriable-status-codes", RetryPolicy::kRetriableStatusCodes},
}};

// The conditions of `retry_on`, or nullopt if any entry is wrong (then the
// checks that depend on them are skipped rather than reported twice).
std::optional<uint32_t> parseRetryOn(const Field& field) {
  auto items = field.list();
  if (!items) return std::nullopt;
  if (items->empty()) {
    field.error("must not be empty; to turn retries off, set num_retries: 0");
    return std::nullopt;
  }
  uint32_t bits = 0;
  bool ok = true;
  for (const Field& item : *items) {
    auto v = item.oneOf({"connect-failure", "reset", "5xx", "gateway-error", "retriable-status-codes"});
    if (!v) {
      ok = false;
      continue;
    }
    for (const RetryOnName& on : kRetryOn) {
      if (on.name != *v) continue;
      if (bits & on.bit) {
        item.error("\"" + *v + "\" is listed twice");
        ok = false;
      }
      bits |= on.bit;
    }
  }
  if (!ok) return std::nullopt;
  return bits;
}

std::vector<int> parseStatusCodes(const Field& field) {
  std::vector<int> codes;
  auto items = field.list();
  if (!items) return codes;
  if (items->empty()) {
    field.error("must not be empty");
    return codes;
  }
  for (const Field& item : *items) {
    auto v = item.unsignedInt(100, 599);
    if (!v) continue;
    int code = static_cast<int>(*v);
    if (std::find(codes.begin(), codes.end(), code) != codes.end()) {
      item.error("status " + std::to_string(code) + " is listed twice");
      continue;
    }
    codes.push_back(code);
  }
  return codes;
}

}  // namespace

std::span<const RetryOnName> retryOnNames() { return kRetryOn; }

RetryPolicy parseRetryPolicy(const Field& field) {
  RetryPolicy policy;
  auto m = FieldMap::open(field, {"retry_on", "num_retries", "retriable_status_codes", "per_try_timeout",
                                  "max_buffered_body_bytes"});
  if (!m) return policy;
  bool retry_on_known = true;
  if (auto f = m->get("retry_on")) {
    auto bits = parseRetryOn(*f);
    retry_on_known = bits.has_value();
    if (bits) policy.retry_on = *bits;
  }
  m->read("num_retries", policy.num_retries, 0, kMaxRetries);
  if (auto f = m->get("per_try_timeout")) policy.per_try_timeout = f->duration(Millis(1));
  m->read("max_buffered_body_bytes", policy.max_buffered_body_bytes, 0, kMaxBufferedBodyBytes);

  if (!retry_on_known) return policy;
  bool wants_codes = (policy.retry_on & RetryPolicy::kRetriableStatusCodes) != 0;
  if (auto f = m->get("retriable_status_codes")) {
    if (wants_codes) {
      policy.retriable_status_codes = parseStatusCodes(*f);
    } else {
      f->error("only applies when retry_on lists retriable-status-codes");
    }
  } else if (wants_codes) {
    field.diagnostics().add(field.mark(), childPath(field.path(), "retriable_status_codes"),
                            "required when retry_on lists retriable-status-codes");
  }
  return policy;
}

}  // namespace pier::config
