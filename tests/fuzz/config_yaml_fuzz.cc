// Arbitrary bytes as a config file. Besides "no crash, no sanitizer report",
// it checks two properties:
//  - every error line has the documented "<file>:<line>:<col>: " form;
//  - a config that loads survives toJson -> dump -> load unchanged.
// Deep nesting is rejected by loadString's pre-scan (src/config/nesting_scan.h)
// before yaml-cpp's recursive parser sees it.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "src/config/loader.h"

namespace {

bool isDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// "fuzz.yaml:<line>:<col>: ..." or the "fuzz.yaml: N more errors not shown" trailer.
bool wellFormedErrorLine(std::string_view line) {
  constexpr std::string_view kPrefix = "fuzz.yaml:";
  if (!line.starts_with(kPrefix)) return false;
  line.remove_prefix(kPrefix.size());
  if (line.starts_with(" ") && line.ends_with(" more errors not shown")) return true;
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || !isDigits(line.substr(0, colon))) return false;
  line.remove_prefix(colon + 1);
  colon = line.find(':');
  if (colon == std::string_view::npos || !isDigits(line.substr(0, colon))) return false;
  return line.substr(colon + 1).starts_with(" ");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto config = pier::config::loadString(text, "fuzz.yaml");
  if (!config.ok()) {
    std::string_view rest = config.error();
    while (!rest.empty()) {
      size_t end = rest.find('\n');
      if (!wellFormedErrorLine(rest.substr(0, end))) std::abort();
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
    }
    return 0;
  }
  nlohmann::json json = pier::config::toJson(*config);
  std::string dumped = json.dump();  // throws (and so aborts) on invalid UTF-8
  auto again = pier::config::loadString(dumped, "dump.json");
  if (!again.ok() || pier::config::toJson(*again) != json) std::abort();
  return 0;
}
