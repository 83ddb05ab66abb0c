#include "src/common/log.h"

namespace pier::log {

bool setLevel(const std::string& name) {
  auto level = spdlog::level::from_str(name);
  if (level == spdlog::level::off && name != "off") {
    return false;
  }
  spdlog::set_level(level);
  return true;
}

}  // namespace pier::log
