// Pins down how Debian built its LuaJIT (see the comment in src/lua/lua_vm.h).
// These run on a bare state without pier's shims: if Debian flips
// LUAJIT_ENABLE_LUA52COMPAT or changes branch, a test here fails and the
// compat layer can be revisited.
#include <gtest/gtest.h>

#include <memory>

#include "src/lua/lua_headers.h"
#include "tests/lua/lua_test_util.h"

namespace pier::lua {
namespace {

using testing::eval;

class LuaJitBuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    L_.reset(luaL_newstate());
    ASSERT_NE(L_, nullptr);
    luaL_openlibs(L_.get());
  }
  struct Closer {
    void operator()(lua_State* L) const { lua_close(L); }
  };
  std::unique_ptr<lua_State, Closer> L_;
  lua_State* L() { return L_.get(); }
};

TEST_F(LuaJitBuildTest, IsOpenRestyLuaJit21) {
  EXPECT_STREQ(LUAJIT_VERSION, "LuaJIT 2.1.0-beta3");
  EXPECT_EQ(eval(L(), "return _VERSION"), "Lua 5.1");
}

// The decisive finding: without LUA52COMPAT, pairs() ignores __pairs, which
// Envoy's header and metadata iteration depends on.
TEST_F(LuaJitBuildTest, PairsIgnoresPairsMetamethod) {
  EXPECT_EQ(eval(L(), R"(
    local used = false
    local t = setmetatable({}, {__pairs = function(t) used = true; return next, t, nil end})
    for _ in pairs(t) do end
    return used)"),
            "false");
}

TEST_F(LuaJitBuildTest, IpairsIgnoresIpairsMetamethod) {
  EXPECT_EQ(eval(L(), R"(
    local used = false
    local t = setmetatable({}, {__ipairs = function(t) used = true; return ipairs(t) end})
    for _ in ipairs(t) do end
    return used)"),
            "false");
}

TEST_F(LuaJitBuildTest, LengthIgnoresLenMetamethodOnTables) {
  EXPECT_EQ(eval(L(), "return #setmetatable({}, {__len = function() return 5 end})"), "0");
}

TEST_F(LuaJitBuildTest, Lua52LibraryAdditionsMissing) {
  EXPECT_EQ(eval(L(), "return type(table.unpack)"), "nil");
  EXPECT_EQ(eval(L(), "return type(table.pack)"), "nil");
  EXPECT_EQ(eval(L(), "return type(rawlen)"), "nil");
  EXPECT_EQ(eval(L(), "return type(package.searchers)"), "nil");
}

// goto is part of LuaJIT 2.x itself, not of the 5.2-compat switch.
TEST_F(LuaJitBuildTest, GotoAccepted) {
  EXPECT_EQ(eval(L(), "local n = 0 ::again:: n = n + 1 if n < 3 then goto again end return n"), "3");
}

TEST_F(LuaJitBuildTest, UnconditionalLuaJit21Extensions) {
  EXPECT_EQ(eval(L(), "return load('return x', 'c', 't', {x = 7})()"), "7");
  EXPECT_EQ(eval(L(), "return select(2, xpcall(function(a) return a end, print, 9))"), "9");
  EXPECT_EQ(eval(L(), "return math.log(8, 2)"), "3");
  EXPECT_EQ(eval(L(), "return string.rep('a', 3, ',')"), "a,a,a");
  EXPECT_EQ(eval(L(), "return type(table.move)"), "function");
}

TEST_F(LuaJitBuildTest, BitAndJitAreGlobalsFfiOnlyThroughRequire) {
  EXPECT_EQ(eval(L(), "return type(bit)"), "table");
  EXPECT_EQ(eval(L(), "return bit.band(0xff, 0x0f)"), "15");
  EXPECT_EQ(eval(L(), "return type(jit)"), "table");
  EXPECT_EQ(eval(L(), "return type(ffi)"), "nil");
  EXPECT_EQ(eval(L(), "return type(require('ffi').cdef)"), "function");
}

TEST_F(LuaJitBuildTest, Gc64AndJitEnabled) {
  EXPECT_EQ(eval(L(), "return require('ffi').abi('gc64')"), "true");
  EXPECT_EQ(eval(L(), "return (jit.status())"), "true");
}

// LuaScript keeps the hook functions and the handle at the bottom of an idle
// thread's stack and starts each run above them: LuaJIT starts a function
// above the base of a thread with status 0, and a finished coroutine's base
// is the bottom of its stack again, with the slots below the function kept.
TEST_F(LuaJitBuildTest, FinishedCoroutineKeepsSlotsBelowItsFunction) {
  ASSERT_EQ(luaL_dostring(L(), "function f(x) if x == 2 then coroutine.yield() end return x, x end"), 0);
  lua_State* T = lua_newthread(L());
  lua_getglobal(T, "f");
  lua_pushliteral(T, "kept");
  for (int run = 1; run <= 3; ++run) {
    lua_pushvalue(T, 1);
    lua_pushinteger(T, run);
    int rc = lua_resume(T, 1);
    if (run == 2) {
      ASSERT_EQ(rc, LUA_YIELD);
      lua_settop(T, 0);
      rc = lua_resume(T, 0);
    }
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(lua_status(T), 0);
    ASSERT_EQ(lua_gettop(T), 4);  // the two slots and the two results
    EXPECT_EQ(lua_tointeger(T, 3), run);
    lua_settop(T, 2);
    EXPECT_TRUE(lua_isfunction(T, 1));
    EXPECT_STREQ(lua_tostring(T, 2), "kept");
  }
  lua_pop(L(), 1);
}

}  // namespace
}  // namespace pier::lua
