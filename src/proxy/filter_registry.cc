#include "src/proxy/filter_registry.h"

#include "src/lua/lua_filter.h"

namespace pier::proxy {

Result<std::vector<std::unique_ptr<filters::FilterFactory>>> buildFilterFactories(const config::Listener& listener) {
  std::vector<std::unique_ptr<filters::FilterFactory>> out;
  std::string errors;
  for (const auto& f : listener.filters) {
    switch (f.type) {
      case config::HttpFilter::Type::kLua: {
        auto factory = lua::LuaFilterFactory::create(f, listener);
        if (!factory) {
          errors += (errors.empty() ? "" : "\n") + factory.error();
          continue;
        }
        out.push_back(std::move(factory.value()));
        break;
      }
    }
  }
  if (!errors.empty()) {
    return Error{errors};
  }
  return out;
}

Status checkFilters(const config::Config& config) {
  std::string errors;
  for (const auto& l : config.listeners) {
    auto built = buildFilterFactories(l);
    if (!built) {
      errors += (errors.empty() ? "" : "\n") + built.error();
    }
  }
  if (!errors.empty()) {
    return Error{errors};
  }
  return {};
}

}  // namespace pier::proxy
