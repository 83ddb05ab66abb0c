// The Lua 5.2 pieces pier adds on top of Debian's LuaJIT (lua_compat.h).
#include <gtest/gtest.h>

#include "src/lua/lua_vm.h"
#include "tests/lua/lua_test_util.h"

namespace pier::lua {
namespace {

using testing::eval;

class CompatTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto vm = LuaVm::create("", "compat", LuaVm::Options{.sandbox = GetParam()});
    ASSERT_TRUE(vm.ok()) << vm.error();
    vm_ = std::move(vm.value());
  }
  lua_State* L() { return vm_->state(); }
  std::unique_ptr<LuaVm> vm_;
};

// Envoy's header map is userdata whose metatable has __pairs.
TEST_P(CompatTest, PairsHonoursPairsOnUserdata) {
  EXPECT_EQ(eval(L(), R"(
    local h = newproxy(true)
    local data = {[":path"] = "/", host = "a"}
    getmetatable(h).__pairs = function(self) return next, data, nil end
    local seen = {}
    for k, v in pairs(h) do seen[#seen + 1] = k .. "=" .. v end
    table.sort(seen)
    return table.concat(seen, " "))"),
            ":path=/ host=a");
}

TEST_P(CompatTest, PairsHonoursPairsOnTables) {
  EXPECT_EQ(eval(L(), R"(
    local t = setmetatable({}, {__pairs = function(t)
      return function(_, k) if k == nil then return "only", 1 end end, t, nil
    end})
    local out = ""
    for k, v in pairs(t) do out = out .. k .. v end
    return out)"),
            "only1");
}

// Like Lua 5.2, the lookup is raw: a __metatable field hiding the metatable
// from getmetatable() does not hide __pairs.
TEST_P(CompatTest, PairsIgnoresMetatableProtection) {
  EXPECT_EQ(eval(L(), R"(
    local t = setmetatable({}, {__metatable = false,
      __pairs = function(t) return next, {x = 1}, nil end})
    for k in pairs(t) do return k end)"),
            "x");
}

TEST_P(CompatTest, PairsOnPlainTableUnchanged) {
  EXPECT_EQ(eval(L(), "local n = 0 for _ in pairs({1, 2, a = 3}) do n = n + 1 end return n"), "3");
  EXPECT_EQ(eval(L(), "return select(1, pairs({})) == next"), "true");
}

TEST_P(CompatTest, PairsRejectsNonTables) {
  EXPECT_EQ(eval(L(), "local f = pairs(nil) return f"),
            "error: test:1: bad argument #1 to 'pairs' (table expected, got nil)");
}

TEST_P(CompatTest, TableUnpackAndPack) {
  EXPECT_EQ(eval(L(), "return select('#', table.unpack({1, 2, 3}))"), "3");
  EXPECT_EQ(eval(L(), "local p = table.pack(1, nil, 3) return p.n .. ':' .. p[3]"), "3:3");
}

INSTANTIATE_TEST_SUITE_P(SandboxOnAndOff, CompatTest, ::testing::Bool());

}  // namespace
}  // namespace pier::lua
