#include "src/proxy/access_log.h"

#include <unistd.h>

#include <chrono>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace pier::proxy {
namespace {

// The wall-clock time `ago` before now, as ISO 8601 UTC with milliseconds.
std::string iso8601Before(Duration ago) {
  auto now = std::chrono::system_clock::now() - std::chrono::duration_cast<std::chrono::system_clock::duration>(ago);
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, ms);
}

// The value of one field by its name (lower-case, as in JSON field lists).
std::string field(std::string_view name, const AccessLogEntry& e, std::string_view start_time) {
  if (name == "start_time") return std::string(start_time);
  if (name == "method") return std::string(e.method.empty() ? "-" : e.method);
  if (name == "path") return std::string(e.path.empty() ? "-" : e.path);
  if (name == "protocol") return std::string(e.protocol);
  if (name == "status") return std::to_string(e.status);
  if (name == "bytes_received") return std::to_string(e.bytes_received);
  if (name == "bytes_sent") return std::to_string(e.bytes_sent);
  if (name == "duration_ms") {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(e.duration).count());
  }
  if (name == "upstream_host") return std::string(e.upstream_host);
  if (name == "request_id") return std::string(e.request_id.empty() ? "-" : e.request_id);
  if (name == "route") return std::string(e.route);
  if (name == "downstream_remote") return e.downstream_remote;
  if (name == "host") return std::string(e.host.empty() ? "-" : e.host);
  if (name == "listener") return std::string(e.listener);
  return "-";
}

bool numeric(std::string_view name) {
  return name == "status" || name == "bytes_received" || name == "bytes_sent" || name == "duration_ms";
}

}  // namespace

std::string formatAccessLogLine(const config::AccessLog& log, const AccessLogEntry& e, std::string_view start_time) {
  if (log.format == config::AccessLog::Format::kJson) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& name : log.json_fields) {
      std::string v = field(name, e, start_time);
      if (numeric(name)) {
        j[name] = nlohmann::json::parse(v, nullptr, false);
      } else {
        j[name] = v;
      }
    }
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  std::string out;
  std::string_view t = log.text_format;
  while (!t.empty()) {
    size_t p = t.find('%');
    if (p == std::string_view::npos) {
      out.append(t);
      break;
    }
    out.append(t.substr(0, p));
    size_t q = t.find('%', p + 1);
    if (q == std::string_view::npos) {
      out.append(t.substr(p));
      break;
    }
    std::string name(t.substr(p + 1, q - p - 1));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.append(field(name, e, start_time));
    t.remove_prefix(q + 1);
  }
  out.push_back('\n');
  return out;
}

void writeAccessLogLine(int fd, const config::AccessLog& log, const AccessLogEntry& entry) {
  // START_TIME is when the request began, not when it was logged.
  std::string line = formatAccessLogLine(log, entry, iso8601Before(entry.duration));
  [[maybe_unused]] auto n = ::write(fd, line.data(), line.size());
}

}  // namespace pier::proxy
