// health_check and outlier_detection: how a cluster learns that an endpoint
// is unhealthy, by probing it (active) or by watching live traffic (passive).
#include "src/config/parse.h"
#include "src/config/values.h"

namespace pier::config {
namespace {

constexpr uint32_t kMaxThreshold = 1'000;
constexpr uint32_t kMaxConsecutiveFailures = 1'000'000;

constexpr std::string_view kStatusShape = "a status code such as 200 or a range such as \"200-299\"";

// The request target of an http check: starts with '/', may carry a query,
// and holds nothing that would break the request line.
std::optional<std::string> checkPath(const Field& field) {
  auto v = field.string();
  if (!v) return std::nullopt;
  if (!v->starts_with('/')) {
    field.error("must start with '/', got \"" + *v + "\"");
    return std::nullopt;
  }
  for (char c : *v) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#') {
      field.error("must not contain '#', whitespace or control characters");
      return std::nullopt;
    }
  }
  return v;
}

// 200 or "200-299" (inclusive).
std::optional<std::pair<int, int>> statusRange(const Field& item) {
  if (!item.isScalar()) {
    item.typeError(kStatusShape);
    return std::nullopt;
  }
  const std::string& text = item.node().Scalar();
  std::string_view low_text = text;
  std::string_view high_text = text;
  if (size_t dash = text.find('-'); dash != std::string::npos) {
    low_text = low_text.substr(0, dash);
    high_text = high_text.substr(dash + 1);
  }
  // Large enough to tell "out of range" from "not a number".
  constexpr uint64_t kBig = 1'000'000'000;
  auto low = parseUnsigned(low_text, kBig);
  auto high = parseUnsigned(high_text, kBig);
  if (!low.ok() || !high.ok()) {
    item.error("expected " + std::string(kStatusShape) + ", got \"" + text + "\"");
    return std::nullopt;
  }
  if (*low < 100 || *low > 599 || *high < 100 || *high > 599) {
    item.error("status codes must be between 100 and 599, got " + text);
    return std::nullopt;
  }
  if (*low > *high) {
    item.error("range " + text + " is empty: its first code is larger than its last");
    return std::nullopt;
  }
  return std::pair(static_cast<int>(*low), static_cast<int>(*high));
}

std::vector<std::pair<int, int>> parseExpectedStatuses(const Field& field) {
  std::vector<std::pair<int, int>> ranges;
  auto items = field.list();
  if (!items) return ranges;
  if (items->empty()) {
    field.error("must not be empty");
    return ranges;
  }
  for (const Field& item : *items) {
    if (auto range = statusRange(item)) ranges.push_back(*range);
  }
  return ranges;
}

}  // namespace

HealthCheck parseHealthCheck(const Field& field) {
  HealthCheck check;
  auto m =
      FieldMap::open(field, {"type", "interval", "timeout", "jitter", "healthy_threshold",
                             "unhealthy_threshold", "path", "host", "expected_statuses", "send", "expect"});
  if (!m) return check;
  bool interval_ok = m->readDuration("interval", check.interval, Millis(1));
  bool timeout_ok = m->readDuration("timeout", check.timeout, Millis(1));
  m->readDuration("jitter", check.jitter);
  m->read("healthy_threshold", check.healthy_threshold, 1, kMaxThreshold);
  m->read("unhealthy_threshold", check.unhealthy_threshold, 1, kMaxThreshold);
  // A probe still running when the next is due would overlap it.
  if (interval_ok && timeout_ok && check.timeout > check.interval) {
    if (auto f = m->get("timeout")) {
      f->error("must not be longer than interval (" + formatDuration(check.interval) + ")");
    } else {
      m->get("interval")
          ->error("is shorter than the default timeout (" + formatDuration(check.timeout) +
                  "); set a timeout no longer than the interval");
    }
  }

  std::string type_note = "";
  if (auto f = m->get("type")) {
    auto v = f->oneOf({"http", "tcp"});
    if (!v) return check;  // which other fields apply depends on the type
    check.kind = *v == "tcp" ? HealthCheck::Kind::kTcp : HealthCheck::Kind::kHttp;
  } else {
    type_note = " (the default)";
  }

  if (check.kind == HealthCheck::Kind::kTcp) {
    for (std::string_view key : {"path", "host", "expected_statuses"}) {
      if (auto f = m->get(key)) f->error("only applies to http health checks; this one has type: tcp");
    }
    m->read("send", check.send);
    m->read("expect", check.expect);
    return check;
  }
  for (std::string_view key : {"send", "expect"}) {
    if (auto f = m->get(key))
      f->error("only applies to tcp health checks; this one has type: http" + type_note);
  }
  if (auto f = m->get("path")) {
    if (auto v = checkPath(*f)) check.path = *v;
  }
  if (auto f = m->get("host")) {
    if (auto v = hostName(*f)) check.host = *v;
  }
  if (auto f = m->get("expected_statuses")) check.expected_statuses = parseExpectedStatuses(*f);
  return check;
}

void parseOutlierDetection(const Field& field, OutlierDetection& outlier) {
  auto m = FieldMap::open(field, {"enabled", "consecutive_5xx", "consecutive_gateway_failure",
                                  "base_ejection_time", "max_ejection_time", "max_ejection_percent"});
  if (!m) return;
  m->read("enabled", outlier.enabled);
  m->read("consecutive_5xx", outlier.consecutive_5xx, 0, kMaxConsecutiveFailures);
  m->read("consecutive_gateway_failure", outlier.consecutive_gateway_failure, 0, kMaxConsecutiveFailures);
  bool base_ok = m->readDuration("base_ejection_time", outlier.base_ejection_time, Millis(1));
  bool max_ok = m->readDuration("max_ejection_time", outlier.max_ejection_time, Millis(1));
  if (base_ok && max_ok && outlier.max_ejection_time < outlier.base_ejection_time) {
    if (auto f = m->get("max_ejection_time")) {
      f->error("must be at least base_ejection_time (" + formatDuration(outlier.base_ejection_time) +
               "), got \"" + f->node().Scalar() + "\"");
    } else {
      m->get("base_ejection_time")
          ->error("must not be longer than max_ejection_time (" + formatDuration(outlier.max_ejection_time) +
                  ", the default); raise max_ejection_time too");
    }
  }
  m->read("max_ejection_percent", outlier.max_ejection_percent, 0, 100);
}

}  // namespace pier::config
