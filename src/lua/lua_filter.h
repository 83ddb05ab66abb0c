#pragma once
// The Lua HTTP filter: runs scripts written for Envoy's envoy.filters.http.lua
// (envoy_on_request / envoy_on_response and the stream handle API) in the
// filter chain. See docs in notes/lua-spec.md and src/lua/stream_handle.cc.
//
// Each worker keeps one LuaJIT state per distinct code block, in its
// WorkerCache under cacheKey(); it is created on first use there.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "src/common/result.h"
#include "src/config/config.h"
#include "src/filters/filter.h"

namespace pier::lua {

struct FilterSettings;

class LuaFilterFactory final : public filters::FilterFactory {
 public:
  // Checks every code block the filter can run: default_source_code, every
  // source_codes entry, and the inline source_code overrides of the
  // listener's routes that target this filter. Each is compiled and its top
  // level run once in a throwaway state, so load-time runtime errors are
  // config errors too. Errors read "<origin>: <chunk_name>:<line>: <message>".
  // A route override naming a missing source_codes key is an error as well.
  static Result<std::unique_ptr<LuaFilterFactory>> create(const config::HttpFilter& filter,
                                                          const config::Listener& listener);
  ~LuaFilterFactory() override;

  const std::string& name() const override;
  // Must outlive the filters it makes (it holds their settings); the
  // snapshot owning it does, as streams finish on the snapshot they began on.
  std::unique_ptr<filters::HttpFilter> create(filters::WorkerCache& cache,
                                              const config::Route* route) const override;
  bool recycle(filters::HttpFilter& filter, filters::WorkerCache& cache, const config::Route* route) const override;

  // The WorkerCache key of a code block's state.
  static std::string cacheKey(std::string_view code, bool sandbox);

 private:
  struct Code {
    config::DataSource source;
    std::string key;
  };
  // What a route runs: its code, the code's cache key (null when none was
  // made at load), and the route's filter_context.
  struct Choice {
    const config::DataSource* source;
    const std::string* key;
    const nlohmann::json* context;
  };
  LuaFilterFactory();
  std::optional<Choice> choose(const config::Route* route) const;
  // `lasting_key`: `key` when it lives as long as the factory (the filter
  // can then be recycled), else null.
  std::unique_ptr<filters::HttpFilter> makeFilter(filters::WorkerCache& cache,
                                                  const config::DataSource& source, const std::string& key,
                                                  const std::string* lasting_key, const config::Route* route,
                                                  const nlohmann::json* filter_context) const;

  std::unique_ptr<FilterSettings> settings_;
  std::optional<Code> default_code_;
  std::map<std::string, Code, std::less<>> named_codes_;
  // Keys of the routes' inline source_code overrides, computed once.
  std::unordered_map<const config::Route*, std::string> route_keys_;
};

}  // namespace pier::lua
