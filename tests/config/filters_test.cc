// HTTP filters in the config: listeners' filter chains (Lua), routes'
// per-filter overrides and metadata, and limits.filter_buffer_bytes. Error
// tests pin the whole message, "<file>:<line>:<column>: <path>: <what>".
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/config/loader.h"

namespace pier::config {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const std::string kClusters = R"(
clusters:
  - name: app
    endpoints: [127.0.0.1:18081]
)";

std::string errorOf(const std::string& yaml) {
  auto result = loadString(yaml + kClusters, "t.yaml");
  if (result.ok()) return "<loaded without error>";
  return result.error();
}

Config load(const std::string& yaml) {
  auto result = loadString(yaml + kClusters, "t.yaml");
  EXPECT_TRUE(result.ok()) << result.error();
  return result.ok() ? std::move(*result) : Config{};
}

// An http listener with `filters` (indented as listener fields) and routes.
std::string listenerWith(const std::string& filters, const std::string& routes) {
  return "listeners:\n"
         "  - name: web\n"
         "    address: 127.0.0.1:8080\n" +
         filters + "    routes:\n" + routes;
}

const std::string kLuaChain =
    "    filters:\n"
    "      - lua:\n"
    "          default_source_code: \"function envoy_on_request(h) end\"\n"
    "          source_codes: { other.lua: \"x = 1\" }\n";

const std::string kPlainRoute =
    "      - match: { prefix: / }\n"
    "        cluster: app\n";

class FiltersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "pier-filters-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string writeFile(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

// --- the spec's example ---

TEST_F(FiltersTest, SpecExampleLoadsEveryField) {
  std::string other = writeFile("other.lua", "function envoy_on_request(h) h:headers():add('o', '1') end\n");
  std::string auth = writeFile("auth.lua", "-- auth\n");
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    protocol: http
    limits: { filter_buffer_bytes: 2048 }
    filters:
      - lua:
          default_source_code: |
            function envoy_on_request(request_handle)
              request_handle:headers():add("foo", "bar")
            end
          source_codes:
            other.lua: { filename: )" +
                     other + R"( }
            inline.lua: { inline_string: "function envoy_on_request(h) end" }
          fail_closed: true
          sandbox: true
          metadata_namespace: my.ns
          stat_prefix: web_lua
      - name: auth
        lua: { default_source_code: { filename: )" +
                     auth + R"( } }
    routes:
      - match: { prefix: /nolua }
        cluster: app
        filters: { lua: { disabled: true } }
      - match: { prefix: /other }
        cluster: app
        filters: { lua: { name: other.lua } }
      - match: { prefix: /inline }
        cluster: app
        filters: { lua: { source_code: { inline_string: "function envoy_on_request(h) h:headers():add('x','y') end" } } }
      - match: { prefix: /meta }
        cluster: app
        metadata:
          filter_metadata:
            envoy.filters.http.lua: { foo: bar, nested: { n: 1 } }
)";
  Config config = load(yaml);
  ASSERT_EQ(config.listeners.size(), 1u);
  const Listener& l = config.listeners[0];
  EXPECT_EQ(l.limits.filter_buffer_bytes, 2048u);
  ASSERT_EQ(l.filters.size(), 2u);

  const HttpFilter& lua = l.filters[0];
  EXPECT_EQ(lua.name, "lua");
  EXPECT_EQ(lua.type, HttpFilter::Type::kLua);
  EXPECT_EQ(lua.origin, "t.yaml:7:9: listeners[0].filters[0]");
  ASSERT_TRUE(lua.lua.default_source_code);
  const DataSource& code = *lua.lua.default_source_code;
  EXPECT_EQ(
      code.code,
      "function envoy_on_request(request_handle)\n  request_handle:headers():add(\"foo\", \"bar\")\nend\n");
  EXPECT_EQ(code.filename, "");
  EXPECT_EQ(code.chunk_name, "default_source_code");
  EXPECT_EQ(code.origin, "t.yaml:8:32: listeners[0].filters[0].lua.default_source_code");
  ASSERT_EQ(lua.lua.source_codes.size(), 2u);
  const DataSource& from_file = lua.lua.source_codes.at("other.lua");
  EXPECT_EQ(from_file.code, "function envoy_on_request(h) h:headers():add('o', '1') end\n");
  EXPECT_EQ(from_file.filename, other);
  EXPECT_EQ(from_file.chunk_name, other);
  EXPECT_EQ(from_file.origin, "t.yaml:13:24: listeners[0].filters[0].lua.source_codes.other.lua");
  const DataSource& inline_code = lua.lua.source_codes.at("inline.lua");
  EXPECT_EQ(inline_code.code, "function envoy_on_request(h) end");
  EXPECT_EQ(inline_code.chunk_name, "source_codes.inline.lua");
  EXPECT_TRUE(lua.lua.fail_closed);
  EXPECT_TRUE(lua.lua.sandbox);
  EXPECT_EQ(lua.lua.metadata_namespace, "my.ns");
  EXPECT_EQ(lua.lua.stat_prefix, "web_lua");

  const HttpFilter& auth_filter = l.filters[1];
  EXPECT_EQ(auth_filter.name, "auth");
  ASSERT_TRUE(auth_filter.lua.default_source_code);
  EXPECT_EQ(auth_filter.lua.default_source_code->code, "-- auth\n");

  const std::vector<Route>& routes = l.virtual_hosts.at(0).routes;
  ASSERT_EQ(routes.size(), 4u);
  EXPECT_TRUE(routes[0].filters.at("lua").disabled);
  EXPECT_EQ(routes[0].filters.at("lua").origin, "t.yaml:24:25: listeners[0].routes[0].filters.lua");
  EXPECT_EQ(routes[1].filters.at("lua").name, "other.lua");
  EXPECT_FALSE(routes[1].filters.at("lua").disabled);
  const auto& inline_override = routes[2].filters.at("lua").source_code;
  ASSERT_TRUE(inline_override);
  EXPECT_EQ(inline_override->code, "function envoy_on_request(h) h:headers():add('x','y') end");
  EXPECT_EQ(inline_override->chunk_name, "routes[2].filters.lua.source_code");
  EXPECT_EQ(inline_override->origin, "t.yaml:30:40: listeners[0].routes[2].filters.lua.source_code");
  EXPECT_EQ(routes[2].filters.at("lua").filter_context, nullptr);
  EXPECT_EQ(routes[0].metadata, nullptr);
  ASSERT_NE(routes[3].metadata, nullptr);
  EXPECT_EQ(*routes[3].metadata,
            json::parse(R"({"envoy.filters.http.lua": {"foo": "bar", "nested": {"n": 1}}})"));
}

TEST_F(FiltersTest, LuaFieldsHaveEnvoysDefaults) {
  Config config =
      load(listenerWith("    filters: [ { lua: { default_source_code: \"x = 1\" } } ]\n", kPlainRoute));
  const Listener& l = config.listeners.at(0);
  ASSERT_EQ(l.filters.size(), 1u);
  const LuaFilter& lua = l.filters[0].lua;
  EXPECT_FALSE(lua.fail_closed);
  EXPECT_FALSE(lua.sandbox);
  EXPECT_EQ(lua.metadata_namespace, "envoy.filters.http.lua");
  EXPECT_EQ(lua.stat_prefix, "");
  EXPECT_TRUE(lua.source_codes.empty());
  EXPECT_TRUE(l.virtual_hosts.at(0).routes.at(0).filters.empty());
}

TEST_F(FiltersTest, ListenerWithoutFiltersHasAnEmptyChain) {
  Config config = load(listenerWith("", kPlainRoute));
  EXPECT_TRUE(config.listeners.at(0).filters.empty());
}

TEST_F(FiltersTest, DefaultSourceCodeIsOptional) {
  // Envoy allows it: then only routes with their own code run a script.
  Config config = load(listenerWith("    filters: [ { lua: } ]\n", kPlainRoute));
  ASSERT_EQ(config.listeners.at(0).filters.size(), 1u);
  EXPECT_FALSE(config.listeners[0].filters[0].lua.default_source_code);
}

// --- the chain ---

TEST_F(FiltersTest, UnknownFilterTypeIsAnError) {
  EXPECT_EQ(
      errorOf(listenerWith("    filters:\n      - buffer: {}\n", kPlainRoute)),
      "t.yaml:5:9: listeners[0].filters[0].buffer: unknown filter type \"buffer\"; the only type is \"lua\"");
}

TEST_F(FiltersTest, MisspelledFilterTypeGetsAHint) {
  EXPECT_EQ(errorOf(listenerWith("    filters:\n      - luaa: {}\n", kPlainRoute)),
            "t.yaml:5:9: listeners[0].filters[0].luaa: unknown filter type \"luaa\"; did you mean \"lua\"?");
}

TEST_F(FiltersTest, SecondTypeInOneEntryIsAnError) {
  EXPECT_EQ(
      errorOf(listenerWith("    filters:\n      - lua: {}\n        grpc: {}\n", kPlainRoute)),
      "t.yaml:6:9: listeners[0].filters[0].grpc: unknown filter type \"grpc\"; the only type is \"lua\"");
}

TEST_F(FiltersTest, EntryWithoutTypeIsAnError) {
  EXPECT_EQ(errorOf(listenerWith("    filters:\n      - name: auth\n", kPlainRoute)),
            "t.yaml:5:9: listeners[0].filters[0]: needs a filter type: lua");
}

TEST_F(FiltersTest, EntryMustBeAMapping) {
  EXPECT_EQ(
      errorOf(listenerWith("    filters: [lua]\n", kPlainRoute)),
      "t.yaml:4:15: listeners[0].filters[0]: expected a mapping with a filter type (lua) and optionally a "
      "name, got \"lua\"");
}

TEST_F(FiltersTest, FiltersMustBeAList) {
  EXPECT_EQ(errorOf(listenerWith("    filters: { lua: {} }\n", kPlainRoute)),
            "t.yaml:4:14: listeners[0].filters: expected a list, got a mapping");
}

TEST_F(FiltersTest, DefaultNamesCollide) {
  EXPECT_EQ(
      errorOf(listenerWith("    filters:\n      - lua: {}\n      - lua: {}\n", kPlainRoute)),
      "t.yaml:6:9: listeners[0].filters[1]: duplicate filter name \"lua\" (also listeners[0].filters[0]); "
      "give each entry its own `name`");
}

TEST_F(FiltersTest, ExplicitNameMayNotRepeatADefaultName) {
  EXPECT_EQ(
      errorOf(listenerWith("    filters:\n      - lua: {}\n      - { name: lua, lua: {} }\n", kPlainRoute)),
      "t.yaml:6:9: listeners[0].filters[1]: duplicate filter name \"lua\" (also listeners[0].filters[0]); "
      "give each entry its own `name`");
}

TEST_F(FiltersTest, NamedEntriesOfTheSameTypeLoad) {
  Config config =
      load(listenerWith("    filters:\n      - lua: {}\n      - { name: second, lua: {} }\n", kPlainRoute));
  ASSERT_EQ(config.listeners.at(0).filters.size(), 2u);
  EXPECT_EQ(config.listeners[0].filters[0].name, "lua");
  EXPECT_EQ(config.listeners[0].filters[1].name, "second");
}

TEST_F(FiltersTest, EntryNameFollowsNameRules) {
  EXPECT_EQ(errorOf(listenerWith("    filters: [ { name: \"a b\", lua: {} } ]\n", kPlainRoute)),
            "t.yaml:4:24: listeners[0].filters[0].name: invalid name \"a b\": must not contain spaces or "
            "control characters");
}

TEST_F(FiltersTest, UnknownLuaFieldIsAnError) {
  EXPECT_EQ(errorOf(listenerWith("    filters: [ { lua: { inline_code: x } } ]\n", kPlainRoute)),
            "t.yaml:4:25: listeners[0].filters[0].lua.inline_code: unknown field; expected one of "
            "default_source_code, source_codes, fail_closed, sandbox, metadata_namespace, stat_prefix");
}

TEST_F(FiltersTest, LuaBooleansAreChecked) {
  EXPECT_EQ(errorOf(listenerWith("    filters: [ { lua: { sandbox: yes } } ]\n", kPlainRoute)),
            "t.yaml:4:34: listeners[0].filters[0].lua.sandbox: expected true or false, got \"yes\"");
}

TEST_F(FiltersTest, MetadataNamespaceMustNotBeEmpty) {
  EXPECT_EQ(errorOf(listenerWith("    filters: [ { lua: { metadata_namespace: \"\" } } ]\n", kPlainRoute)),
            "t.yaml:4:45: listeners[0].filters[0].lua.metadata_namespace: must not be empty");
}

TEST_F(FiltersTest, FiltersOnTcpListenerAreAnError) {
  EXPECT_EQ(
      errorOf("listeners:\n"
              "  - name: db\n"
              "    address: 127.0.0.1:5432\n"
              "    protocol: tcp\n"
              "    cluster: app\n"
              "    filters: [ { lua: {} } ]\n"),
      "t.yaml:6:14: listeners[0].filters: only applies to http listeners; a tcp listener forwards to its "
      "\"cluster\"");
}

// --- DataSource ---

TEST_F(FiltersTest, SourceCodeMapNeedsInlineStringOrFilename) {
  EXPECT_EQ(
      errorOf(listenerWith("    filters: [ { lua: { default_source_code: {} } } ]\n", kPlainRoute)),
      "t.yaml:4:46: listeners[0].filters[0].lua.default_source_code: needs exactly one of inline_string or "
      "filename");
}

TEST_F(FiltersTest, SourceCodeMapWithBothIsAnError) {
  EXPECT_EQ(errorOf(listenerWith(
                "    filters: [ { lua: { default_source_code: { inline_string: x, filename: /a.lua } } } ]\n",
                kPlainRoute)),
            "t.yaml:4:76: listeners[0].filters[0].lua.default_source_code.filename: conflicts with "
            "\"inline_string\": exactly one of inline_string or filename");
}

TEST_F(FiltersTest, SourceCodeListIsAnError) {
  EXPECT_EQ(errorOf(listenerWith("    filters: [ { lua: { default_source_code: [a] } } ]\n", kPlainRoute)),
            "t.yaml:4:46: listeners[0].filters[0].lua.default_source_code: expected Lua code, "
            "{ inline_string: ... } or { filename: ... }, got a list");
}

TEST_F(FiltersTest, InlineStringMapIsInlineCode) {
  Config config = load(listenerWith(
      "    filters: [ { lua: { default_source_code: { inline_string: \"y = 2\" } } } ]\n", kPlainRoute));
  const DataSource& code = *config.listeners.at(0).filters.at(0).lua.default_source_code;
  EXPECT_EQ(code.code, "y = 2");
  EXPECT_EQ(code.filename, "");
  EXPECT_EQ(code.chunk_name, "default_source_code");
  EXPECT_EQ(code.origin, "t.yaml:4:46: listeners[0].filters[0].lua.default_source_code");
}

TEST_F(FiltersTest, FilenameIsReadAtLoad) {
  std::string path = writeFile("hook.lua", "function envoy_on_response(h) end\n");
  Config config = load(listenerWith(
      "    filters: [ { lua: { default_source_code: { filename: " + path + " } } } ]\n", kPlainRoute));
  const DataSource& code = *config.listeners.at(0).filters.at(0).lua.default_source_code;
  EXPECT_EQ(code.code, "function envoy_on_response(h) end\n");
  EXPECT_EQ(code.filename, path);
  EXPECT_EQ(code.chunk_name, path);
  EXPECT_EQ(code.origin, "t.yaml:4:46: listeners[0].filters[0].lua.default_source_code");
}

TEST_F(FiltersTest, MissingFileIsAnErrorNamingFileAndPlace) {
  std::string path = (dir_ / "missing.lua").string();
  EXPECT_EQ(
      errorOf(listenerWith("    filters: [ { lua: { default_source_code: { filename: " + path + " } } } ]\n",
                           kPlainRoute)),
      "t.yaml:4:58: listeners[0].filters[0].lua.default_source_code.filename: cannot read \"" + path +
          "\": No such file or directory");
}

TEST_F(FiltersTest, DirectoryAsFilenameIsAnError) {
  std::string path = dir_.string();
  EXPECT_EQ(
      errorOf(listenerWith(
          "    filters:\n      - lua:\n          source_codes:\n            a: { filename: " + path + " }\n",
          kPlainRoute)),
      "t.yaml:7:28: listeners[0].filters[0].lua.source_codes.a.filename: cannot read \"" + path +
          "\": Is a directory");
}

TEST_F(FiltersTest, EmptyFilenameIsAnError) {
  EXPECT_EQ(errorOf(listenerWith("    filters: [ { lua: { default_source_code: { filename: \"\" } } } ]\n",
                                 kPlainRoute)),
            "t.yaml:4:58: listeners[0].filters[0].lua.default_source_code.filename: must not be empty");
}

TEST_F(FiltersTest, SourceCodesMustBeAMapping) {
  EXPECT_EQ(errorOf(listenerWith("    filters: [ { lua: { source_codes: [a] } } ]\n", kPlainRoute)),
            "t.yaml:4:39: listeners[0].filters[0].lua.source_codes: expected a mapping, got a list");
}

TEST_F(FiltersTest, DuplicateSourceCodeNameIsAnError) {
  EXPECT_EQ(errorOf(listenerWith(
                "    filters:\n      - lua:\n          source_codes:\n            a: x\n            a: y\n",
                kPlainRoute)),
            "t.yaml:8:13: listeners[0].filters[0].lua.source_codes.a: duplicate key (first set at line 7)");
}

// --- limits.filter_buffer_bytes ---

TEST_F(FiltersTest, FilterBufferBytesDefaultsToOneMebibyte) {
  Config config = load(listenerWith("", kPlainRoute));
  EXPECT_EQ(config.listeners.at(0).limits.filter_buffer_bytes, 1024u * 1024u);
}

TEST_F(FiltersTest, FilterBufferBytesIsRead) {
  Config config = load(listenerWith("    limits: { filter_buffer_bytes: 65536 }\n", kPlainRoute));
  EXPECT_EQ(config.listeners.at(0).limits.filter_buffer_bytes, 65536u);
}

TEST_F(FiltersTest, FilterBufferBytesZeroIsAnError) {
  EXPECT_EQ(errorOf(listenerWith("    limits: { filter_buffer_bytes: 0 }\n", kPlainRoute)),
            "t.yaml:4:36: listeners[0].limits.filter_buffer_bytes: must be between 1 and 4294967295, got 0");
}

// --- per-route overrides ---

TEST_F(FiltersTest, OverrideOfUnknownEntryIsAnError) {
  EXPECT_EQ(
      errorOf(listenerWith(kLuaChain,
                           "      - match: { prefix: / }\n"
                           "        cluster: app\n"
                           "        filters: { auth: { disabled: true } }\n")),
      "t.yaml:11:20: listeners[0].routes[0].filters.auth: no filter named \"auth\" in listeners[0].filters");
}

TEST_F(FiltersTest, OverrideOfMisspelledEntryGetsAHint) {
  EXPECT_EQ(errorOf(listenerWith(kLuaChain,
                                 "      - match: { prefix: / }\n"
                                 "        cluster: app\n"
                                 "        filters: { luaa: { disabled: true } }\n")),
            "t.yaml:11:20: listeners[0].routes[0].filters.luaa: no filter named \"luaa\" in "
            "listeners[0].filters; did "
            "you mean \"lua\"?");
}

TEST_F(FiltersTest, OverrideOnListenerWithoutFiltersIsAnError) {
  EXPECT_EQ(
      errorOf(listenerWith("",
                           "      - match: { prefix: / }\n"
                           "        cluster: app\n"
                           "        filters: { lua: { disabled: true } }\n")),
      "t.yaml:7:20: listeners[0].routes[0].filters.lua: no filter named \"lua\" in listeners[0].filters (the "
      "listener has no filters)");
}

TEST_F(FiltersTest, OverrideInVirtualHostIsChecked) {
  std::string yaml =
      "listeners:\n"
      "  - name: web\n"
      "    address: 127.0.0.1:8080\n" +
      kLuaChain +
      "    virtual_hosts:\n"
      "      - name: v\n"
      "        domains: [\"*\"]\n"
      "        routes:\n"
      "          - match: { prefix: / }\n"
      "            cluster: app\n"
      "            filters: { auth: { disabled: true } }\n";
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:14:24: listeners[0].virtual_hosts[0].routes[0].filters.auth: no filter named \"auth\" in "
            "listeners[0].filters");
}

TEST_F(FiltersTest, OverrideInVirtualHostLoads) {
  std::string yaml =
      "listeners:\n"
      "  - name: web\n"
      "    address: 127.0.0.1:8080\n" +
      kLuaChain +
      "    virtual_hosts:\n"
      "      - name: v\n"
      "        domains: [\"*\"]\n"
      "        routes:\n"
      "          - match: { prefix: / }\n"
      "            cluster: app\n"
      "            filters: { lua: { source_code: \"z = 3\" } }\n";
  Config config = load(yaml);
  const RouteFilterOverride& o = config.listeners.at(0).virtual_hosts.at(0).routes.at(0).filters.at("lua");
  ASSERT_TRUE(o.source_code);
  EXPECT_EQ(o.source_code->code, "z = 3");
  EXPECT_EQ(o.source_code->chunk_name, "virtual_hosts[0].routes[0].filters.lua.source_code");
}

TEST_F(FiltersTest, OverrideNameMustBeASourceCodesKey) {
  EXPECT_EQ(errorOf(listenerWith(kLuaChain,
                                 "      - match: { prefix: / }\n"
                                 "        cluster: app\n"
                                 "        filters: { lua: { name: other.lau } }\n")),
            "t.yaml:11:33: listeners[0].routes[0].filters.lua.name: no source code named \"other.lau\" in "
            "listeners[0].filters[0].lua.source_codes; did you mean \"other.lua\"?");
}

TEST_F(FiltersTest, OverrideNameIsCheckedInTheNamedEntry) {
  // "other.lua" exists, but in the first entry, not in "second".
  std::string chain = kLuaChain + "      - { name: second, lua: {} }\n";
  EXPECT_EQ(errorOf(listenerWith(chain,
                                 "      - match: { prefix: / }\n"
                                 "        cluster: app\n"
                                 "        filters: { second: { name: other.lua } }\n")),
            "t.yaml:12:36: listeners[0].routes[0].filters.second.name: no source code named \"other.lua\" in "
            "listeners[0].filters[1].lua.source_codes");
}

TEST_F(FiltersTest, OverrideWithTwoKindsIsAnError) {
  EXPECT_EQ(
      errorOf(listenerWith(kLuaChain,
                           "      - match: { prefix: / }\n"
                           "        cluster: app\n"
                           "        filters: { lua: { disabled: true, name: other.lua } }\n")),
      "t.yaml:11:49: listeners[0].routes[0].filters.lua.name: conflicts with \"disabled\": exactly one of "
      "disabled, name or source_code");
}

TEST_F(FiltersTest, OverrideWithNoKindIsAnError) {
  EXPECT_EQ(
      errorOf(listenerWith(kLuaChain,
                           "      - match: { prefix: / }\n"
                           "        cluster: app\n"
                           "        filters: { lua: { filter_context: { a: 1 } } }\n")),
      "t.yaml:11:25: listeners[0].routes[0].filters.lua: needs exactly one of disabled, name or source_code");
}

TEST_F(FiltersTest, DisabledFalseIsAnError) {
  EXPECT_EQ(
      errorOf(listenerWith(kLuaChain,
                           "      - match: { prefix: / }\n"
                           "        cluster: app\n"
                           "        filters: { lua: { disabled: false } }\n")),
      "t.yaml:11:37: listeners[0].routes[0].filters.lua.disabled: must be true (to run the filter on this "
      "route, remove the override)");
}

TEST_F(FiltersTest, UnknownOverrideFieldIsAnError) {
  EXPECT_EQ(
      errorOf(listenerWith(kLuaChain,
                           "      - match: { prefix: / }\n"
                           "        cluster: app\n"
                           "        filters: { lua: { disable: true } }\n")),
      // Like a route without an action: the typo also leaves the override without a kind.
      "t.yaml:11:25: listeners[0].routes[0].filters.lua: needs exactly one of disabled, name or source_code\n"
      "t.yaml:11:27: listeners[0].routes[0].filters.lua.disable: unknown field; did you mean \"disabled\"?");
}

TEST_F(FiltersTest, OverrideSourceCodeFromFile) {
  std::string path = writeFile("route.lua", "r = 1\n");
  Config config = load(listenerWith(kLuaChain,
                                    "      - match: { prefix: / }\n"
                                    "        cluster: app\n"
                                    "        filters: { lua: { source_code: { filename: " +
                                        path + " } } }\n"));
  const RouteFilterOverride& o = config.listeners.at(0).virtual_hosts.at(0).routes.at(0).filters.at("lua");
  ASSERT_TRUE(o.source_code);
  EXPECT_EQ(o.source_code->code, "r = 1\n");
  EXPECT_EQ(o.source_code->chunk_name, path);
  EXPECT_EQ(o.source_code->filename, path);
}

TEST_F(FiltersTest, FilterContextBecomesAJsonObject) {
  Config config = load(listenerWith(kLuaChain,
                                    "      - match: { prefix: / }\n"
                                    "        cluster: app\n"
                                    "        filters:\n"
                                    "          lua:\n"
                                    "            name: other.lua\n"
                                    "            filter_context: { user: alice, level: 3, tags: [a, b] }\n"));
  const RouteFilterOverride& o = config.listeners.at(0).virtual_hosts.at(0).routes.at(0).filters.at("lua");
  ASSERT_NE(o.filter_context, nullptr);
  EXPECT_EQ(*o.filter_context, json::parse(R"({"user": "alice", "level": 3, "tags": ["a", "b"]})"));
}

TEST_F(FiltersTest, FilterContextMustBeAMapping) {
  EXPECT_EQ(
      errorOf(listenerWith(kLuaChain,
                           "      - match: { prefix: / }\n"
                           "        cluster: app\n"
                           "        filters: { lua: { disabled: true, filter_context: [1] } }\n")),
      "t.yaml:11:59: listeners[0].routes[0].filters.lua.filter_context: expected a mapping, got a list");
}

TEST_F(FiltersTest, BrokenChainDoesNotCascadeIntoRoutes) {
  // The entry with the unknown type may be the one the route means.
  EXPECT_EQ(errorOf(listenerWith("    filters: [ { name: auth, luaa: {} } ]\n",
                                 "      - match: { prefix: / }\n"
                                 "        cluster: app\n"
                                 "        filters: { auth: { disabled: true } }\n")),
            "t.yaml:4:30: listeners[0].filters[0].luaa: unknown filter type \"luaa\"; did you mean \"lua\"?");
}

// --- route metadata ---

TEST_F(FiltersTest, MetadataScalarsGetYamlTypes) {
  Config config = load(listenerWith("",
                                    "      - match: { prefix: / }\n"
                                    "        cluster: app\n"
                                    "        metadata:\n"
                                    "          filter_metadata:\n"
                                    "            ns:\n"
                                    "              t: true\n"
                                    "              f: False\n"
                                    "              i: 1\n"
                                    "              neg: -42\n"
                                    "              big: 18446744073709551615\n"
                                    "              x: 1.5\n"
                                    "              e: 2e3\n"
                                    "              q: \"1\"\n"
                                    "              sq: 'true'\n"
                                    "              s: hello\n"
                                    "              yes_is_text: yes\n"
                                    "              hex: 0x10\n"
                                    "              inf: .inf\n"
                                    "              n: ~\n"
                                    "              empty:\n"
                                    "              tagged: !!str 7\n"
                                    "              list: [1, two, { three: 3 }]\n"
                                    "              block: |\n"
                                    "                line\n"));
  const auto& metadata = config.listeners.at(0).virtual_hosts.at(0).routes.at(0).metadata;
  ASSERT_NE(metadata, nullptr);
  const json& ns = metadata->at("ns");
  EXPECT_EQ(ns.at("t"), json(true));
  EXPECT_EQ(ns.at("f"), json(false));
  EXPECT_TRUE(ns.at("i").is_number_integer());
  EXPECT_EQ(ns.at("i"), json(1));
  EXPECT_EQ(ns.at("neg"), json(-42));
  EXPECT_EQ(ns.at("big"), json(uint64_t{18446744073709551615u}));
  EXPECT_TRUE(ns.at("x").is_number_float());
  EXPECT_EQ(ns.at("x"), json(1.5));
  EXPECT_EQ(ns.at("e"), json(2000.0));
  EXPECT_EQ(ns.at("q"), json("1"));
  EXPECT_EQ(ns.at("sq"), json("true"));
  EXPECT_EQ(ns.at("s"), json("hello"));
  EXPECT_EQ(ns.at("yes_is_text"), json("yes"));
  EXPECT_EQ(ns.at("hex"), json("0x10"));
  EXPECT_EQ(ns.at("inf"), json(".inf"));
  EXPECT_TRUE(ns.at("n").is_null());
  EXPECT_TRUE(ns.at("empty").is_null());
  EXPECT_EQ(ns.at("tagged"), json("7"));
  EXPECT_EQ(ns.at("list"), json::parse(R"([1, "two", {"three": 3}])"));
  EXPECT_EQ(ns.at("block"), json("line\n"));
}

TEST_F(FiltersTest, MetadataWithoutFilterMetadataIsEmpty) {
  Config config = load(listenerWith("",
                                    "      - match: { prefix: / }\n"
                                    "        cluster: app\n"
                                    "        metadata: {}\n"));
  const auto& metadata = config.listeners.at(0).virtual_hosts.at(0).routes.at(0).metadata;
  ASSERT_NE(metadata, nullptr);
  EXPECT_EQ(*metadata, json::object());
}

TEST_F(FiltersTest, UnknownMetadataFieldIsAnError) {
  EXPECT_EQ(errorOf(listenerWith("",
                                 "      - match: { prefix: / }\n"
                                 "        cluster: app\n"
                                 "        metadata: { filter_metdata: {} }\n")),
            "t.yaml:7:21: listeners[0].routes[0].metadata.filter_metdata: unknown field; did you mean "
            "\"filter_metadata\"?");
}

TEST_F(FiltersTest, MetadataNamespaceMustBeAMapping) {
  EXPECT_EQ(errorOf(listenerWith("",
                                 "      - match: { prefix: / }\n"
                                 "        cluster: app\n"
                                 "        metadata: { filter_metadata: { ns: 3 } }\n")),
            "t.yaml:7:44: listeners[0].routes[0].metadata.filter_metadata.ns: expected a mapping, got \"3\"");
}

TEST_F(FiltersTest, MetadataDuplicateKeyIsAnError) {
  EXPECT_EQ(errorOf(listenerWith("",
                                 "      - match: { prefix: / }\n"
                                 "        cluster: app\n"
                                 "        metadata: { filter_metadata: { ns: { a: 1, a: 2 } } }\n")),
            "t.yaml:7:52: listeners[0].routes[0].metadata.filter_metadata.ns.a: duplicate key (first set at "
            "line 7)");
}

TEST_F(FiltersTest, CyclicAliasInMetadataIsAnErrorNotACrash) {
  std::string error =
      errorOf(listenerWith("",
                           "      - match: { prefix: / }\n"
                           "        cluster: app\n"
                           "        metadata: { filter_metadata: { ns: { a: &x [1, *x] } } }\n"));
  EXPECT_THAT(error, HasSubstr("nested more than 64 levels deep"));
}

}  // namespace
}  // namespace pier::config
