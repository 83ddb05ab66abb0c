#pragma once
// Logging goes through spdlog; this header fixes the one logger pier uses so
// that call sites stay short and tests can silence it.
#include <spdlog/spdlog.h>

namespace pier::log {

// Sets the level from a name (trace, debug, info, warn, error, off); false if unknown.
bool setLevel(const std::string& name);

}  // namespace pier::log

#define PIER_LOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define PIER_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define PIER_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define PIER_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define PIER_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
