#include <nlohmann/json.hpp>

#include "src/filters/filter.h"

namespace pier::filters {

StreamInfo::StreamInfo() = default;
StreamInfo::~StreamInfo() = default;

void StreamInfo::resetForNextStream() {
  // route_name: the stream's owner sets it for every stream.
  if (dynamic_metadata_) dynamic_metadata_.reset();
  if (!filter_state.empty()) filter_state.clear();
  drain_connection = false;
}

nlohmann::json& StreamInfo::dynamicMetadata() {
  if (!dynamic_metadata_) {
    dynamic_metadata_ = std::make_unique<nlohmann::json>(nlohmann::json::object());
  }
  return *dynamic_metadata_;
}

}  // namespace pier::filters
