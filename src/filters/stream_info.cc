#include <nlohmann/json.hpp>

#include "src/filters/filter.h"

namespace pier::filters {

StreamInfo::StreamInfo() = default;
StreamInfo::~StreamInfo() = default;

void StreamInfo::forgetFilterData() {
  dynamic_metadata_.reset();
  filter_state.clear();
}

nlohmann::json& StreamInfo::dynamicMetadata() {
  if (!dynamic_metadata_) {
    dynamic_metadata_ = std::make_unique<nlohmann::json>(nlohmann::json::object());
  }
  return *dynamic_metadata_;
}

}  // namespace pier::filters
