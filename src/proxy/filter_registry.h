#pragma once
// Every built-in HTTP filter, by its config type: the one place a filter is
// added (no self-registration, so what a binary can run is read here).
#include <memory>
#include <vector>

#include "src/common/result.h"
#include "src/config/config.h"
#include "src/filters/filter.h"

namespace pier::proxy {

// The factories of a listener's chain, in order. Errors (a script that does
// not compile, say) read "<file>:<line>:<col>: <path>: <message>".
Result<std::vector<std::unique_ptr<filters::FilterFactory>>> buildFilterFactories(const config::Listener& listener);

// For `pier validate`: builds and discards every listener's factories, and
// reports every error, one per line.
Status checkFilters(const config::Config& config);

}  // namespace pier::proxy
