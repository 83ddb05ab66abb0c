#pragma once
// Access log lines, as text (a template with %FIELD% placeholders) or JSON.
#include <cstdint>
#include <string>
#include <string_view>

#include "src/common/clock.h"
#include "src/config/config.h"

namespace pier::proxy {

struct AccessLogEntry {
  MonoTime start;
  Duration duration{};
  std::string_view method;
  std::string_view path;
  std::string_view protocol;
  int status = 0;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  std::string_view upstream_host;
  std::string_view request_id;
  std::string_view route;
  std::string downstream_remote;
  std::string_view host;
  std::string_view listener;
};

// Formats one line (with the trailing newline).
std::string formatAccessLogLine(const config::AccessLog& log, const AccessLogEntry& entry,
                                std::string_view start_time);
// Formats and writes it with one write(2) (O_APPEND keeps lines whole).
void writeAccessLogLine(int fd, const config::AccessLog& log, const AccessLogEntry& entry);

}  // namespace pier::proxy
