#pragma once
// Parses and validates YAML into a Config. Every error names the file, line,
// column and the field's path, e.g.
//   "pier.yaml:12:15: listeners[0].routes[1].match.prefix: must start with '/'".
// A config is validated whole: cross references (route -> cluster), duplicate
// names and addresses, ranges and regexes (compiled with RE2).
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "src/common/result.h"
#include "src/config/config.h"

namespace pier::config {

Result<Config> loadFile(const std::string& path);
// `source` names the text in error messages.
Result<Config> loadString(const std::string& yaml, const std::string& source);

// The running config as JSON (for the admin /config endpoint).
nlohmann::json toJson(const Config& config);

}  // namespace pier::config
